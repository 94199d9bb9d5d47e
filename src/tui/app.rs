//! The model and `update`: no I/O, no await. Events in, state changes and effects out.

use std::collections::HashMap;

use crossterm::event::{
    Event as CtEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};

use super::action::Action;
use super::effect::{Effect, RunForm};
use super::event::Event;
use super::input::{self, Edit};
use super::keymap::{Keymap, Mode};
use super::theme::Theme;
use crate::browse::{EpisodeDetail, EpisodeRow, RunRow, Transition};
use crate::domain::{EpisodeId, EpisodeStatus, Item, Label, LabelSchema, Queue, Role, RunId, Turn};
use crate::metrics::{Comparison, MetricsReport};
use crate::runner::RunEvent;

/// Which screen is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Runs,
    Episodes,
    Episode,
    Metrics,
    Help,
    Step,
    NewRun,
}

/// Panels of the metrics screen, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsPanel {
    /// Transitions, rates with intervals, per-round chart, critique confusion.
    Summary,
    /// Reliability diagram of one confidence source, and the what-if curve.
    Calibration,
    /// The open run against the marked one: paired differences and McNemar.
    Compare,
    /// Human-label counts per transition cell, override agreement and Cohen's κ.
    Labels,
}

impl MetricsPanel {
    pub const ALL: [MetricsPanel; 4] = [
        MetricsPanel::Summary,
        MetricsPanel::Calibration,
        MetricsPanel::Compare,
        MetricsPanel::Labels,
    ];

    pub fn label(self) -> &'static str {
        match self {
            MetricsPanel::Summary => "Summary",
            MetricsPanel::Calibration => "Calibration",
            MetricsPanel::Compare => "Compare",
            MetricsPanel::Labels => "Labels",
        }
    }
}

/// Stepping through items by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct StepState {
    /// The run the stepped turns are saved in.
    pub run: RunId,
    /// Name of the run it was made from.
    pub source: String,
    pub items: Vec<Item>,
    pub sel: usize,
    /// Stored turns of the selected item.
    pub turns: Vec<Turn>,
    /// Text streaming in for the turn being generated.
    pub streaming: String,
    pub busy: bool,
    pub done: bool,
    /// The critique being typed, when writing one.
    pub editing: Option<String>,
    /// A question being typed (`question => reference`), when asking one.
    pub asking: Option<String>,
}

/// Episode table filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Cell(Transition),
    Failed,
    Unlabelled,
}

impl Filter {
    pub const ALL: [Filter; 7] = [
        Filter::All,
        Filter::Cell(Transition::RightRight),
        Filter::Cell(Transition::RightWrong),
        Filter::Cell(Transition::WrongRight),
        Filter::Cell(Transition::WrongWrong),
        Filter::Failed,
        Filter::Unlabelled,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Cell(t) => t.label(),
            Filter::Failed => "failed",
            Filter::Unlabelled => "unlabelled",
        }
    }

    fn keeps(self, row: &EpisodeRow) -> bool {
        match self {
            Filter::All => true,
            Filter::Cell(t) => row.transition == Some(t),
            Filter::Failed => row.status == EpisodeStatus::Failed,
            Filter::Unlabelled => row.effective_labels() == 0,
        }
    }
}

/// Orders of the episodes table (`o` cycles them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// As stored: item, then sample.
    #[default]
    Item,
    /// c→c, c→w, w→c, w→w, then unfinished.
    Transition,
    /// Fewest labels first (what is left to label on top).
    Labels,
    /// By question text.
    Question,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Item, Sort::Transition, Sort::Labels, Sort::Question];

    pub fn label(self) -> &'static str {
        match self {
            Sort::Item => "item",
            Sort::Transition => "t1→t2",
            Sort::Labels => "labels",
            Sort::Question => "question",
        }
    }

    fn next(self) -> Sort {
        let i = Sort::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Sort::ALL[(i + 1) % Sort::ALL.len()]
    }
}

/// Live counts of a background run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live {
    pub done: u64,
    pub failed: u64,
    pub total: u64,
    pub running: bool,
    /// In flight, concurrency, tokens/s, retries, ETA (from the runner's progress).
    pub signs: Option<crate::runner::Live>,
}

/// The confidence sources of a report: the usual ones first, in a fixed order, then any other.
pub fn calibration_sources(report: &MetricsReport) -> Vec<&str> {
    const ORDER: [&str; 4] = ["verbalized", "p_true", "p_true_raw", "agreement"];
    let mut sources: Vec<&str> = report.calibration.keys().map(String::as_str).collect();
    sources.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
    sources
}

/// Which labels a turn role accepts (DESIGN §6).
/// The longest critique or question typed in step mode, in characters.
const EDIT_LIMIT: usize = 20_000;

/// How often the runs screen re-reads a running run's headline numbers.
const LIVE_RELOAD_MS: u64 = 3_000;

pub struct App {
    pub screen: Screen,
    history: Vec<Screen>,
    pub keymap: Keymap,
    pub theme: Theme,
    /// The label schema: which fields, values and keys, on which turns.
    pub schema: LabelSchema,
    /// Who labels; `None` until named (asked on the first label).
    pub annotator: Option<String>,
    /// Where a name typed at the prompt is saved.
    pub config_file: Option<std::path::PathBuf>,
    /// The prompt for the annotator's name, with the label that waits for it.
    pub naming: Option<Naming>,
    /// The open run's annotation queue, when it has one.
    pub queue: Option<Queue>,
    /// Show every entry of the selected turn's labels.
    pub show_history: bool,
    pub runs: Vec<RunRow>,
    pub runs_loaded: bool,
    /// A reload of the runs table for live numbers is in flight, and when it was asked (ms).
    runs_reloading: bool,
    runs_reloaded_at: u64,
    /// Quick sim runs started in this session (each gets its own seed).
    quick_runs: u64,
    pub run_sel: usize,
    pub live: HashMap<RunId, Live>,
    /// The run whose episodes / metrics are shown.
    pub run: Option<RunId>,
    pub episodes: Vec<EpisodeRow>,
    pub episodes_loading: bool,
    pub filter: Filter,
    pub sort: Sort,
    pub search: String,
    pub searching: bool,
    /// Indices into `episodes` that pass the filter and search.
    pub visible: Vec<usize>,
    pub ep_sel: usize,
    pub detail: Option<EpisodeDetail>,
    /// The open episode's turn texts as screen lines (highlighted once, when it arrives).
    pub turn_bodies: Vec<Vec<ratatui::text::Line<'static>>>,
    /// The episode screen shows the first and the final attempt side by side.
    pub side_by_side: bool,
    /// The selected turn changed: the episode screen scrolls it into view when it draws.
    pub follow_turn: bool,
    /// The item id being typed after `:` on the episodes table.
    pub jumping: Option<String>,
    pub turn_sel: usize,
    pub scroll: u16,
    pub blind: bool,
    /// Once the open episode's labels are complete, open the next one to label.
    pub auto_advance: bool,
    /// Labels written in this session, newest last (undo).
    undo: Vec<(EpisodeId, Label)>,
    pub metrics: Option<(RunId, MetricsReport)>,
    /// A second run to show beside the first on the metrics screen.
    pub compare: Option<RunId>,
    pub compare_report: Option<(RunId, MetricsReport)>,
    /// `(a, b, result)`: the open run `b` against the marked run `a`.
    pub comparison: Option<(RunId, RunId, Result<Comparison, String>)>,
    pub metrics_panel: MetricsPanel,
    /// Confidence source chosen on the calibration panel (`None`: the first there is).
    pub calibration_source: Option<String>,
    pub status: Option<(String, bool)>,
    pub step: Option<StepState>,
    /// The new-run form and its focused field.
    pub form: RunForm,
    /// The config's `[profiles.NAME]`, for the form's profile picker.
    pub profiles: Vec<String>,
    pub form_focus: usize,
    pub spinner: usize,
    /// Milliseconds since the epoch; injected so tests are deterministic.
    pub clock: fn() -> u64,
    quit: bool,
    dirty: bool,
}

impl App {
    pub fn new(
        keymap: Keymap,
        schema: LabelSchema,
        theme: Theme,
        annotator: Option<String>,
        clock: fn() -> u64,
    ) -> App {
        App {
            screen: Screen::Runs,
            history: Vec::new(),
            keymap,
            theme,
            schema,
            annotator,
            config_file: None,
            naming: None,
            queue: None,
            show_history: false,
            runs: Vec::new(),
            runs_loaded: false,
            runs_reloading: false,
            runs_reloaded_at: 0,
            quick_runs: 0,
            run_sel: 0,
            live: HashMap::new(),
            run: None,
            episodes: Vec::new(),
            episodes_loading: false,
            filter: Filter::All,
            sort: Sort::Item,
            search: String::new(),
            searching: false,
            visible: Vec::new(),
            ep_sel: 0,
            detail: None,
            turn_bodies: Vec::new(),
            side_by_side: false,
            follow_turn: false,
            jumping: None,
            turn_sel: 0,
            scroll: 0,
            blind: false,
            auto_advance: true,
            undo: Vec::new(),
            metrics: None,
            compare: None,
            compare_report: None,
            comparison: None,
            metrics_panel: MetricsPanel::Summary,
            calibration_source: None,
            status: None,
            step: None,
            form: RunForm::default(),
            profiles: Vec::new(),
            form_focus: 0,
            spinner: 0,
            clock,
            quit: false,
            dirty: true,
        }
    }

    /// Effects to run once at start.
    pub fn init(&self) -> Vec<Effect> {
        vec![Effect::LoadRuns]
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether a redraw is due; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn mode(&self) -> Mode {
        match self.screen {
            Screen::Runs => Mode::Runs,
            Screen::Episodes => Mode::Episodes,
            Screen::Episode => Mode::Episode,
            Screen::Metrics => Mode::Metrics,
            Screen::Step => Mode::Step,
            Screen::NewRun => Mode::Global,
            Screen::Help => Mode::Global,
        }
    }

    pub fn selected_run(&self) -> Option<&RunRow> {
        self.runs.get(self.run_sel)
    }

    pub fn current_run(&self) -> Option<&RunRow> {
        let id = self.run?;
        self.runs.iter().find(|r| r.record.id == id)
    }

    /// The confidence source the calibration panel shows: the chosen one when the open run's
    /// report has it, else its first.
    pub fn shown_calibration_source(&self) -> Option<&str> {
        let (_, report) = self.metrics.as_ref()?;
        let sources = calibration_sources(report);
        let chosen = self.calibration_source.as_deref();
        chosen.and_then(|c| sources.iter().find(|s| **s == c)).or(sources.first()).copied()
    }

    /// The comparison of the open run with the marked one, if it is for that pair.
    pub fn current_comparison(&self) -> Option<&Result<Comparison, String>> {
        let (a, b, result) = self.comparison.as_ref()?;
        (Some(*a) == self.compare && Some(*b) == self.run).then_some(result)
    }

    pub fn selected_episode(&self) -> Option<&EpisodeRow> {
        self.visible.get(self.ep_sel).and_then(|&i| self.episodes.get(i))
    }

    fn info(&mut self, msg: impl Into<String>) {
        self.status = Some((msg.into(), false));
    }

    fn error(&mut self, msg: impl Into<String>) {
        self.status = Some((msg.into(), true));
    }

    fn go(&mut self, screen: Screen) {
        if self.screen != screen {
            self.history.push(self.screen);
            self.screen = screen;
        }
    }

    /// Recomputes the visible episodes after their labels changed: the selected one stays
    /// selected while it is visible.
    fn refilter_keeping(&mut self) {
        let selected =
            self.visible.get(self.ep_sel).and_then(|&i| self.episodes.get(i)).map(|r| r.id);
        self.refilter();
        let kept = selected.and_then(|id| {
            self.visible.iter().position(|&i| self.episodes.get(i).is_some_and(|r| r.id == id))
        });
        if let Some(p) = kept {
            self.ep_sel = p;
        }
    }

    fn refilter(&mut self) {
        let q = self.search.to_lowercase();
        self.visible = self
            .episodes
            .iter()
            .enumerate()
            .filter(|(_, r)| self.filter.keeps(r))
            .filter(|(_, r)| {
                q.is_empty()
                    || r.item_id.to_lowercase().contains(&q)
                    || r.question.to_lowercase().contains(&q)
            })
            .map(|(i, _)| i)
            .collect();
        // Stable sorts: ties keep the stored (item, sample) order.
        let rows = &self.episodes;
        match self.sort {
            Sort::Item => {}
            Sort::Transition => self.visible.sort_by_key(|&i| {
                rows[i].transition.map_or(4, |t| match t {
                    Transition::RightRight => 0,
                    Transition::RightWrong => 1,
                    Transition::WrongRight => 2,
                    Transition::WrongWrong => 3,
                })
            }),
            Sort::Labels => self.visible.sort_by_key(|&i| rows[i].effective_labels()),
            Sort::Question => self.visible.sort_by(|&a, &b| {
                rows[a].question.to_lowercase().cmp(&rows[b].question.to_lowercase())
            }),
        }
        self.ep_sel = self.ep_sel.min(self.visible.len().saturating_sub(1));
    }

    /// Feeds one event; returns the I/O it needs.
    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Term(CtEvent::Key(k)) if k.kind != KeyEventKind::Release => {
                self.dirty = true;
                // In raw mode ctrl-c is a key: it quits even while text is being typed.
                if k.code == KeyCode::Char('c')
                    && k.modifiers.contains(crossterm::event::KeyModifiers::CONTROL)
                {
                    self.quit = true;
                    return Vec::new();
                }
                if self.searching {
                    return self.search_key(&k);
                }
                if self.jumping.is_some() {
                    return self.jump_key(&k);
                }
                if self.naming.is_some() {
                    return self.name_key(&k);
                }
                if self.screen == Screen::Step
                    && self.step.as_ref().is_some_and(|s| s.editing.is_some() || s.asking.is_some())
                {
                    return self.edit_key(&k);
                }
                if self.screen == Screen::NewRun
                    && let Some(fx) = self.form_key(&k)
                {
                    return fx;
                }
                match self.keymap.action(self.mode(), &k) {
                    Some(a) => self.act(a),
                    None => Vec::new(),
                }
            }
            Event::Term(CtEvent::Mouse(m)) => match m.kind {
                MouseEventKind::ScrollDown => {
                    self.dirty = true;
                    self.act(Action::Down)
                }
                MouseEventKind::ScrollUp => {
                    self.dirty = true;
                    self.act(Action::Up)
                }
                _ => Vec::new(),
            },
            Event::Term(CtEvent::Resize(..)) => {
                self.dirty = true;
                Vec::new()
            }
            Event::Term(_) => Vec::new(),
            Event::Tick => {
                let running = self.live.values().any(|l| l.running);
                if running || !self.runs_loaded {
                    self.spinner = self.spinner.wrapping_add(1);
                    self.dirty = true;
                }
                // A running run's headline numbers follow it on the runs screen.
                let now = (self.clock)();
                if running
                    && self.screen == Screen::Runs
                    && !self.runs_reloading
                    && now.saturating_sub(self.runs_reloaded_at) >= LIVE_RELOAD_MS
                {
                    self.runs_reloading = true;
                    self.runs_reloaded_at = now;
                    return vec![Effect::LoadRuns];
                }
                Vec::new()
            }
            Event::Runs(mut rows) => {
                self.dirty = true;
                let first = !self.runs_loaded;
                if rows.iter().any(|r| r.measured) {
                    self.runs_reloading = false;
                }
                // The quick list (names and counts) keeps the numbers already shown until the
                // measured list replaces them: no blank `— → —` on every return.
                for row in rows.iter_mut().filter(|r| !r.measured) {
                    if let Some(old) =
                        self.runs.iter().find(|o| o.record.id == row.record.id && o.measured)
                    {
                        (row.acc_t1, row.acc_t2, row.cl, row.cs) =
                            (old.acc_t1, old.acc_t2, old.cl, old.cs);
                        row.queue = old.queue.clone();
                        row.measured = true;
                    }
                }
                self.runs = rows;
                self.runs_loaded = true;
                self.run_sel = self.run_sel.min(self.runs.len().saturating_sub(1));
                if first && self.runs.is_empty() {
                    self.info(
                        "first launch: creating the demo run (sim provider, bundled dataset)…",
                    );
                    return vec![Effect::StartSimRun { name: "demo".into(), limit: None, seed: 0 }];
                }
                Vec::new()
            }
            Event::Episodes { run, rows, queue } => {
                if self.run != Some(run) {
                    return Vec::new();
                }
                self.dirty = true;
                self.episodes = rows;
                self.set_queue(queue);
                self.episodes_loading = false;
                self.refilter();
                Vec::new()
            }
            Event::Episode(d) => {
                if self.run != Some(d.id.run) {
                    return Vec::new();
                }
                self.dirty = true;
                if self.detail.as_ref().map(|x| x.id) != Some(d.id) {
                    self.turn_sel = d
                        .first_and_final()
                        .map_or(0, |(_, f)| f.min(d.turns.len().saturating_sub(1)));
                    self.turn_sel = first_labelable(&d).unwrap_or(self.turn_sel);
                    self.scroll = 0;
                }
                // A reload of the same episode (labels changed) keeps the turns' lines.
                let same = self
                    .detail
                    .as_ref()
                    .is_some_and(|x| x.id == d.id && x.turns.len() == d.turns.len())
                    && self.turn_bodies.len() == d.turns.len();
                if !same {
                    self.turn_bodies = d
                        .turns
                        .iter()
                        .map(|t| super::highlight::turn_body(&t.content, &self.theme))
                        .collect();
                }
                self.detail = Some(*d);
                Vec::new()
            }
            Event::Metrics { run, report } => {
                self.dirty = true;
                if Some(run) == self.compare && Some(run) != self.run {
                    self.compare_report = Some((run, *report));
                } else if Some(run) == self.run {
                    self.metrics = Some((run, *report));
                }
                Vec::new()
            }
            Event::Comparison { a, b, result } => {
                // The mark or the open run changed while it was computed.
                if self.compare != Some(a) || self.run != Some(b) {
                    return Vec::new();
                }
                self.dirty = true;
                self.comparison = Some((a, b, result.map(|c| *c)));
                Vec::new()
            }
            Event::LabelSaved { id, seq, label, undo } => self.label_saved(id, seq, label, undo),
            Event::AnnotatorSaved(msg) => {
                self.dirty = true;
                self.info(msg);
                Vec::new()
            }
            Event::Run(ev) => self.run_event(ev),
            // Another annotator's label: show it where this episode is in view.
            Event::LabelChanged(id) => {
                let mut fx = Vec::new();
                if self.run == Some(id.run) {
                    fx.push(Effect::LoadEpisodes(id.run));
                    if self.detail.as_ref().map(|d| d.id) == Some(id) {
                        fx.push(Effect::LoadEpisode { run: id.run, id });
                    }
                }
                fx
            }
            Event::RunsChanged => vec![Effect::LoadRuns],
            Event::Reconnected => {
                self.info("reconnected to the database's server");
                let mut fx = vec![Effect::LoadRuns];
                if let Some(run) = self.run {
                    fx.push(Effect::LoadEpisodes(run));
                    if let Some(d) = &self.detail {
                        fx.push(Effect::LoadEpisode { run, id: d.id });
                    }
                }
                fx
            }
            Event::StepReady { run, source, items } => {
                self.dirty = true;
                self.info(format!(
                    "stepping through {source}: enter = next turn, w = write the critique yourself"
                ));
                self.step = Some(StepState {
                    run,
                    source,
                    items,
                    sel: 0,
                    turns: Vec::new(),
                    streaming: String::new(),
                    busy: false,
                    done: false,
                    editing: None,
                    asking: None,
                });
                vec![Effect::LoadRuns]
            }
            Event::StepItemAdded { run, item } => {
                let Some(s) = self.step.as_mut().filter(|s| s.run == run) else {
                    return Vec::new();
                };
                s.items.push(*item);
                s.sel = s.items.len() - 1;
                s.turns.clear();
                s.streaming.clear();
                s.done = false;
                self.dirty = true;
                self.info("question added: enter asks for the first answer");
                Vec::new()
            }
            Event::StepTurns { run, item, turns } => {
                if let Some(s) = self.step.as_mut().filter(|s| s.run == run && s.sel as u32 == item)
                {
                    self.dirty = true;
                    s.turns = turns;
                }
                Vec::new()
            }
            Event::StepDelta { run, item, text } => {
                if let Some(s) = self.step.as_mut().filter(|s| s.run == run && s.sel as u32 == item)
                {
                    self.dirty = true;
                    s.streaming.push_str(&text);
                }
                Vec::new()
            }
            Event::StepTurn { run, item, turn, done } => {
                let Some(s) = self.step.as_mut().filter(|s| s.run == run) else {
                    return Vec::new();
                };
                s.busy = false;
                if s.sel as u32 == item {
                    s.streaming.clear();
                    s.turns.push(*turn);
                    s.done = done;
                }
                self.dirty = true;
                self.info(if done {
                    "episode complete: pick another item (↑/↓)"
                } else {
                    "turn saved"
                });
                Vec::new()
            }
            Event::StepFailed { run, error, .. } => {
                if let Some(s) = self.step.as_mut().filter(|s| s.run == run) {
                    s.busy = false;
                    s.streaming.clear();
                }
                self.dirty = true;
                self.error(error);
                Vec::new()
            }
            Event::Error(e) => {
                self.dirty = true;
                self.error(e);
                Vec::new()
            }
            Event::Info(m) => {
                self.dirty = true;
                self.info(m);
                Vec::new()
            }
        }
    }

    /// The runs seen executing and not yet finished (named on quit).
    pub fn running_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .live
            .iter()
            .filter(|(_, l)| l.running)
            .map(|(id, _)| {
                self.runs
                    .iter()
                    .find(|r| r.record.id == *id)
                    .map_or_else(|| format!("#{}", id.0), |r| r.record.name.clone())
            })
            .collect();
        names.sort();
        names
    }

    fn run_event(&mut self, ev: RunEvent) -> Vec<Effect> {
        self.dirty = true;
        match ev {
            RunEvent::Started { run, total, done } => {
                self.live.insert(run, Live { done, failed: 0, total, running: true, signs: None });
                // A run started by another process: list it.
                if self.runs.iter().any(|r| r.record.id == run) {
                    Vec::new()
                } else {
                    vec![Effect::LoadRuns]
                }
            }
            RunEvent::Progress { run, done, failed, total, live } => {
                self.live
                    .insert(run, Live { done, failed, total, running: true, signs: Some(live) });
                Vec::new()
            }
            RunEvent::Finished { run, done, failed, total, cancelled } => {
                self.live.insert(run, Live { done, failed, total, running: false, signs: None });
                let name =
                    self.runs.iter().find(|r| r.record.id == run).map(|r| r.record.name.clone());
                let name = name.unwrap_or_else(|| "run".into());
                self.info(if cancelled {
                    format!("{name} cancelled")
                } else {
                    format!("{name} finished")
                });
                let mut fx = vec![Effect::LoadRuns];
                if self.run == Some(run) {
                    fx.push(Effect::LoadEpisodes(run));
                }
                fx
            }
            RunEvent::Failed { run, error } => {
                if let Some(l) = self.live.get_mut(&run) {
                    l.running = false;
                    l.signs = None;
                }
                let name =
                    self.runs.iter().find(|r| r.record.id == run).map(|r| r.record.name.clone());
                self.error(format!("{} stopped: {error}", name.unwrap_or_else(|| "run".into())));
                vec![Effect::LoadRuns]
            }
        }
    }

    /// Keys on the new-run form: typing edits the focused field; `None` for a chord that is
    /// no editing key (the keymap has it).
    fn form_key(&mut self, k: &KeyEvent) -> Option<Vec<Effect>> {
        let n = self.form.fields().len();
        match k.code {
            KeyCode::Tab | KeyCode::Down => self.form_focus = (self.form_focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => self.form_focus = (self.form_focus + n - 1) % n,
            KeyCode::Left | KeyCode::Right => {
                let Some(choices) = self.form_choices(self.form_focus) else {
                    return Some(Vec::new());
                };
                let forward = k.code == KeyCode::Right;
                let Some(field) = self.form.field_mut(self.form_focus) else {
                    return Some(Vec::new());
                };
                let n = choices.len();
                // A typed value not in the list starts the cycle at its first entry.
                let next = match choices.iter().position(|c| c == field.trim()) {
                    Some(i) if forward => (i + 1) % n,
                    Some(i) => (i + n - 1) % n,
                    None => 0,
                };
                if let Some(c) = choices.get(next) {
                    field.clone_from(c);
                }
                // A profile names an endpoint: the provider follows.
                if super::effect::FORM_FIELDS[self.form_focus] == "profile"
                    && !self.form.profile.is_empty()
                {
                    self.form.provider = "openai".into();
                    self.form.sim.clear();
                }
            }
            _ => {
                let mut scratch = String::new();
                let field = match self.form.field_mut(self.form_focus) {
                    Some(f) => f,
                    None => &mut scratch,
                };
                match input::edit(field, k, false, 200) {
                    Edit::Cancel => self.back(),
                    Edit::Submit => {
                        let form = self.form.clone();
                        self.back();
                        self.info(format!("starting {}…", form.name));
                        return Some(vec![Effect::StartRun(Box::new(form))]);
                    }
                    Edit::Changed => {}
                    Edit::Other if k.modifiers.contains(KeyModifiers::CONTROL) => return None,
                    Edit::Other => {}
                }
            }
        }
        Some(Vec::new())
    }

    /// Keys while typing a critique (or a question) in step mode; several lines allowed.
    fn edit_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let annotator = self.annotator.clone().unwrap_or_else(|| "unnamed".into());
        let Some(s) = self.step.as_mut() else { return Vec::new() };
        if let Some(text) = s.asking.as_mut() {
            match input::edit(text, k, true, EDIT_LIMIT) {
                Edit::Cancel => s.asking = None,
                Edit::Submit if text.trim().is_empty() => {}
                Edit::Submit => {
                    let text = s.asking.take().unwrap_or_default();
                    return vec![Effect::StepAddQuestion { run: s.run, text }];
                }
                Edit::Changed | Edit::Other => {}
            }
            return Vec::new();
        }
        let Some(text) = s.editing.as_mut() else { return Vec::new() };
        match input::edit(text, k, true, EDIT_LIMIT) {
            Edit::Cancel => s.editing = None,
            Edit::Submit if text.trim().is_empty() => {}
            Edit::Submit => {
                let critique = s.editing.take();
                s.busy = true;
                return vec![Effect::StepNext {
                    run: s.run,
                    item: s.sel as u32,
                    critique,
                    annotator,
                }];
            }
            Edit::Changed | Edit::Other => {}
        }
        Vec::new()
    }

    /// `/` search: Enter keeps the query, Esc clears it.
    fn search_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        match input::edit(&mut self.search, k, false, 200) {
            Edit::Submit => self.searching = false,
            Edit::Cancel => {
                self.search.clear();
                self.searching = false;
            }
            Edit::Changed | Edit::Other => {}
        }
        self.refilter();
        Vec::new()
    }

    /// A new seed each time: two quick runs are two samples, not one run twice.
    fn next_seed(&mut self) -> u64 {
        self.quick_runs += 1;
        (self.clock)() / 1000 * 100 + self.quick_runs % 100
    }

    /// What ←/→ pick from on a form field, when it has a fixed set of values.
    pub fn form_choices(&self, field: usize) -> Option<Vec<String>> {
        let owned = |v: Vec<&str>| v.into_iter().map(str::to_string).collect();
        match *super::effect::FORM_FIELDS.get(field)? {
            "dataset" => Some(owned(crate::dataset::bundled().iter().map(|b| b.name).collect())),
            "protocol" => Some(owned(crate::protocol::preset_names())),
            "provider" => Some(owned(vec!["sim", "openai"])),
            "profile" => {
                Some(std::iter::once(String::new()).chain(self.profiles.clone()).collect())
            }
            _ => None,
        }
    }

    /// `:` item id: Enter goes to the item's first episode, Esc gives up.
    fn jump_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let Some(text) = self.jumping.as_mut() else { return Vec::new() };
        match input::edit(text, k, false, 200) {
            Edit::Submit => {
                let id = self.jumping.take().unwrap_or_default();
                self.jump_to_item(id.trim());
            }
            Edit::Cancel => self.jumping = None,
            Edit::Changed | Edit::Other => {}
        }
        Vec::new()
    }

    /// Selects the first episode of the item with this id (exact, else the first id that
    /// starts with it; case ignored). An item hidden by the filter or search clears them.
    fn jump_to_item(&mut self, id: &str) {
        if id.is_empty() {
            return;
        }
        let q = id.to_lowercase();
        let rows = &self.episodes;
        let find = |order: &[usize]| {
            let id_of = |i: &usize| rows.get(*i).map(|r| r.item_id.to_lowercase());
            order
                .iter()
                .position(|i| id_of(i).is_some_and(|x| x == q))
                .or_else(|| order.iter().position(|i| id_of(i).is_some_and(|x| x.starts_with(&q))))
        };
        if let Some(p) = find(&self.visible) {
            self.ep_sel = p;
            return;
        }
        let all: Vec<usize> = (0..self.episodes.len()).collect();
        let Some(row) = find(&all) else {
            self.error(format!("no item `{}` in this run", super::text::inert(id)));
            return;
        };
        let target = self.episodes[row].id;
        self.filter = Filter::All;
        self.search.clear();
        self.refilter();
        if let Some(p) = self.visible.iter().position(|&i| self.episodes[i].id == target) {
            self.ep_sel = p;
        }
        self.info("filter and search cleared to show the item");
    }

    fn move_sel(&mut self, delta: isize) -> Vec<Effect> {
        if self.screen == Screen::Step {
            let Some(s) = self.step.as_mut() else { return Vec::new() };
            if s.busy || s.items.is_empty() {
                return Vec::new();
            }
            let next = (s.sel as isize + delta).clamp(0, s.items.len() as isize - 1) as usize;
            if next != s.sel {
                s.sel = next;
                s.turns.clear();
                s.streaming.clear();
                s.done = false;
                return vec![Effect::StepLoadTurns { run: s.run, item: next as u32 }];
            }
            return Vec::new();
        }
        self.move_list(delta);
        Vec::new()
    }

    fn move_list(&mut self, delta: isize) {
        let (sel, len) = match self.screen {
            Screen::Runs => (&mut self.run_sel, self.runs.len()),
            Screen::Episodes => (&mut self.ep_sel, self.visible.len()),
            Screen::Episode | Screen::Metrics | Screen::Help => {
                // Views clamp the scroll to the text they draw; u16 is their unit.
                let lines = u16::try_from(delta.unsigned_abs()).unwrap_or(u16::MAX);
                self.scroll = if delta < 0 {
                    self.scroll.saturating_sub(lines)
                } else {
                    self.scroll.saturating_add(lines)
                };
                return;
            }
            _ => return,
        };
        if len == 0 {
            *sel = 0;
            return;
        }
        let next = (*sel as isize + delta).clamp(0, len as isize - 1);
        *sel = next as usize;
    }

    /// The run a screen key means: the selected row on the runs screen, else the open run.
    fn target_run(&self) -> Option<RunId> {
        let selected = self.selected_run().map(|r| r.record.id);
        if self.screen == Screen::Runs { selected.or(self.run) } else { self.run.or(selected) }
    }

    fn open_run(&mut self, id: RunId) -> Vec<Effect> {
        if self.run != Some(id) {
            self.run = Some(id);
            self.episodes.clear();
            self.visible.clear();
            self.ep_sel = 0;
            self.detail = None;
            self.metrics = None;
            self.comparison = None;
            self.episodes_loading = true;
            // Metrics are computed when the metrics screen asks: on a large run both loads
            // decode every turn, and the episodes table should not wait for the metrics.
            return vec![Effect::LoadEpisodes(id)];
        }
        Vec::new()
    }

    /// Loads the marked run's report and its comparison with the open run, when they differ.
    fn comparison_effects(&mut self) -> Vec<Effect> {
        let (Some(a), Some(b)) = (self.compare, self.run) else { return Vec::new() };
        if a == b {
            return Vec::new();
        }
        // A result for this pair stays on screen while it is recomputed.
        if self.comparison.as_ref().is_some_and(|(x, y, _)| (*x, *y) != (a, b)) {
            self.comparison = None;
        }
        vec![Effect::LoadMetrics(a), Effect::LoadComparison { a, b }]
    }

    fn open_episode_at(&mut self, sel: usize) -> Vec<Effect> {
        self.ep_sel = sel;
        let Some(row) = self.selected_episode() else { return Vec::new() };
        let id = row.id;
        self.go(Screen::Episode);
        vec![Effect::LoadEpisode { run: id.run, id }]
    }

    /// Applies one user action.
    pub fn act(&mut self, action: Action) -> Vec<Effect> {
        self.dirty = true;
        match action {
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::Help => {
                self.scroll = 0;
                if self.screen == Screen::Help {
                    self.back();
                } else {
                    self.go(Screen::Help);
                }
                Vec::new()
            }
            Action::Back => {
                if !self.search.is_empty() && self.screen == Screen::Episodes {
                    self.search.clear();
                    self.refilter();
                } else {
                    self.back();
                }
                Vec::new()
            }
            Action::Up => self.move_sel(-1),
            Action::Down => self.move_sel(1),
            Action::PageUp => self.move_sel(-10),
            Action::PageDown => self.move_sel(10),
            Action::Top => self.move_sel(isize::MIN / 2),
            Action::Bottom => self.move_sel(isize::MAX / 2),
            Action::RunsScreen => {
                self.go(Screen::Runs);
                vec![Effect::LoadRuns]
            }
            Action::EpisodesScreen => {
                let Some(id) = self.target_run() else {
                    self.info("no run yet");
                    return Vec::new();
                };
                self.go(Screen::Episodes);
                self.open_run(id)
            }
            Action::MetricsScreen => {
                let Some(id) = self.target_run() else {
                    self.info("no run yet");
                    return Vec::new();
                };
                self.go(Screen::Metrics);
                self.scroll = 0;
                if self.compare_report.as_ref().is_some_and(|(c, _)| *c == id) {
                    self.compare_report = None;
                }
                let mut fx = self.open_run(id);
                fx.push(Effect::LoadMetrics(id));
                fx.extend(self.comparison_effects());
                fx
            }
            Action::Open => match self.screen {
                Screen::Runs => {
                    let Some(id) = self.selected_run().map(|r| r.record.id) else {
                        return Vec::new();
                    };
                    self.go(Screen::Episodes);
                    self.open_run(id)
                }
                Screen::Episodes if self.episodes_loading => {
                    self.info("still loading the episodes…");
                    Vec::new()
                }
                Screen::Episodes => self.open_episode_at(self.ep_sel),
                _ => Vec::new(),
            },
            Action::NewDemoRun => {
                let seed = self.next_seed();
                self.info(format!("starting a sim run of 100 items, seed {seed}…"));
                vec![Effect::StartSimRun { name: "sim".into(), limit: Some(100), seed }]
            }
            Action::NewRun => {
                let n = self.runs.len() + 1;
                self.form = RunForm {
                    name: format!("run-{n}"),
                    dataset: crate::dataset::DEFAULT_DATASET.into(),
                    protocol: "critique-revise".into(),
                    provider: "sim".into(),
                    rounds: "1".into(),
                    limit: "100".into(),
                    samples: "1".into(),
                    seed: self.next_seed().to_string(),
                    temperature: "0.7".into(),
                    ..RunForm::default()
                };
                self.form_focus = 0;
                self.go(Screen::NewRun);
                Vec::new()
            }
            Action::Step => {
                let Some(id) = self.selected_run().map(|r| r.record.id) else {
                    self.info("no run to step through yet");
                    return Vec::new();
                };
                self.go(Screen::Step);
                self.step = None;
                self.info("creating a run to step through…");
                vec![Effect::StepBegin { source: id }]
            }
            Action::StepNext => {
                let annotator = self.annotator.clone().unwrap_or_else(|| "unnamed".into());
                let Some(s) = self.step.as_mut() else { return Vec::new() };
                if s.busy {
                    return Vec::new();
                }
                if s.done {
                    self.info("this item is complete: pick another (↑/↓)");
                    return Vec::new();
                }
                s.busy = true;
                s.streaming.clear();
                vec![Effect::StepNext { run: s.run, item: s.sel as u32, critique: None, annotator }]
            }
            Action::TypeQuestion => {
                let Some(s) = self.step.as_mut() else { return Vec::new() };
                if s.busy {
                    return Vec::new();
                }
                s.asking = Some(String::new());
                self.info("type a question, optionally `=> reference`; enter adds it, esc cancels");
                Vec::new()
            }
            Action::WriteCritique => {
                let Some(s) = self.step.as_mut() else { return Vec::new() };
                if s.busy || s.done {
                    return Vec::new();
                }
                s.editing = Some(String::new());
                self.info("type the critique; enter saves it as the critique turn, esc cancels");
                Vec::new()
            }
            Action::CancelRun => {
                let Some(id) = self.selected_run().map(|r| r.record.id) else { return Vec::new() };
                if self.live.get(&id).is_some_and(|l| l.running) {
                    self.info("cancelling…");
                    vec![Effect::CancelRun(id)]
                } else {
                    self.info("that run is not running");
                    Vec::new()
                }
            }
            Action::ResumeRun => {
                let Some(row) = self.selected_run() else { return Vec::new() };
                let id = row.record.id;
                if row.totals.pending == 0 {
                    self.info("nothing left to run");
                    return Vec::new();
                }
                if self.live.get(&id).is_some_and(|l| l.running) {
                    self.info("already running");
                    return Vec::new();
                }
                vec![Effect::ResumeRun(id)]
            }
            Action::Compare => {
                let Some(id) = self.selected_run().map(|r| r.record.id) else { return Vec::new() };
                self.compare = if self.compare == Some(id) { None } else { Some(id) };
                self.compare_report = None;
                self.comparison = None;
                let name = self.selected_run().map(|r| r.record.name.clone()).unwrap_or_default();
                self.info(match self.compare {
                    Some(_) => format!("{name} marked: open another run's metrics to compare"),
                    None => "comparison cleared".into(),
                });
                if self.screen == Screen::Metrics {
                    return self.comparison_effects();
                }
                Vec::new()
            }
            Action::NextPanel | Action::PreviousPanel => {
                let all = MetricsPanel::ALL;
                let i = all.iter().position(|p| *p == self.metrics_panel).unwrap_or(0);
                let n = all.len();
                let j = if action == Action::NextPanel { (i + 1) % n } else { (i + n - 1) % n };
                self.metrics_panel = all[j];
                self.scroll = 0;
                Vec::new()
            }
            Action::NextSource => {
                // From another panel the key first shows the calibration.
                if self.metrics_panel != MetricsPanel::Calibration {
                    self.metrics_panel = MetricsPanel::Calibration;
                    self.scroll = 0;
                    return Vec::new();
                }
                let Some((_, report)) = &self.metrics else { return Vec::new() };
                let sources: Vec<String> =
                    calibration_sources(report).into_iter().map(String::from).collect();
                if sources.is_empty() {
                    self.info("no confidence recorded in this run");
                    return Vec::new();
                }
                let shown = self.shown_calibration_source();
                let i = sources.iter().position(|s| Some(s.as_str()) == shown).unwrap_or(0);
                self.calibration_source = sources.get((i + 1) % sources.len()).cloned();
                Vec::new()
            }
            Action::NextFilter | Action::PreviousFilter => {
                let i = Filter::ALL.iter().position(|f| *f == self.filter).unwrap_or(0);
                let n = Filter::ALL.len();
                let j = if action == Action::NextFilter { (i + 1) % n } else { (i + n - 1) % n };
                self.filter = Filter::ALL[j];
                self.ep_sel = 0;
                self.refilter();
                Vec::new()
            }
            Action::Search => {
                self.searching = true;
                Vec::new()
            }
            Action::JumpToItem => {
                if self.screen == Screen::Episodes {
                    self.jumping = Some(String::new());
                }
                Vec::new()
            }
            Action::SideBySide => {
                let pair = self.detail.as_ref().and_then(|d| d.first_and_final());
                match pair {
                    Some((a, b)) if a != b => {
                        self.side_by_side = !self.side_by_side;
                        self.scroll = 0;
                        if self.side_by_side {
                            self.info(format!("side by side: first attempt #{a} · final #{b}"));
                        }
                    }
                    _ => {
                        self.side_by_side = false;
                        self.info("one attempt only: nothing to set side by side");
                    }
                }
                Vec::new()
            }
            Action::Sort => {
                self.sort = self.sort.next();
                self.ep_sel = 0;
                self.refilter();
                self.info(format!("sorted by {}", self.sort.label()));
                Vec::new()
            }
            Action::NextEpisode | Action::PreviousEpisode => {
                let Some(d) = &self.detail else { return Vec::new() };
                let pos = self
                    .visible
                    .iter()
                    .position(|&i| self.episodes.get(i).map(|r| r.id) == Some(d.id));
                let Some(pos) = pos else { return Vec::new() };
                let next =
                    if action == Action::NextEpisode { pos + 1 } else { pos.wrapping_sub(1) };
                if next >= self.visible.len() {
                    self.info("no more episodes");
                    return Vec::new();
                }
                self.open_episode_at(next)
            }
            Action::NextUnlabelled => self.next_to_label(),
            Action::NextTurn | Action::PreviousTurn => {
                if let Some(d) = &self.detail {
                    self.follow_turn = true;
                    let n = d.turns.len().max(1);
                    self.turn_sel = if action == Action::NextTurn {
                        (self.turn_sel + 1) % n
                    } else {
                        (self.turn_sel + n - 1) % n
                    };
                }
                Vec::new()
            }
            Action::AutoAdvance => {
                self.auto_advance = !self.auto_advance;
                self.info(if self.auto_advance {
                    "auto-advance on: once this episode's labels are complete, the next one opens"
                } else {
                    "auto-advance off"
                });
                Vec::new()
            }
            Action::Blind => {
                self.blind = !self.blind;
                self.info(if self.blind {
                    "blind mode: references, grades and other annotators' labels hidden"
                } else {
                    "blind mode off"
                });
                Vec::new()
            }
            Action::Undo => self.undo_label(),
            Action::LabelHistory => {
                self.show_history = !self.show_history;
                Vec::new()
            }
            Action::Label { name, value } => self.label(name, value),
        }
    }

    fn back(&mut self) {
        if let Some(prev) = self.history.pop() {
            self.screen = prev;
        } else if self.screen != Screen::Runs {
            self.screen = Screen::Runs;
        }
        // Labels given on the episode screen take effect on the list now (`unlabelled`).
        if self.screen == Screen::Episodes {
            self.refilter_keeping();
        }
    }
}

/// The turn a labeller most likely wants first: the first critique.
fn first_labelable(d: &EpisodeDetail) -> Option<usize> {
    d.turns.iter().position(|t| t.role == Role::Critique)
}

mod labelling;
pub use labelling::Naming;

#[cfg(test)]
mod tests;
