//! The model and `update`: no I/O, no await. Events in, state changes and effects out.
//!
//! Each screen keeps its state and its handlers in a module of its own (`runs`, `episodes`,
//! `episode`, `metrics`, `step`, `form`, and `labelling` for the labels); this file routes keys,
//! actions and events to them and holds what the screens share (navigation, status, scroll).

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

/// How often the runs screen re-reads a running run's headline numbers.
const LIVE_RELOAD_MS: u64 = 3_000;

/// The whole UI state: one part per screen, and what the session shares across them.
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
    pub table: RunsTable,
    /// The run whose episodes / metrics are shown.
    pub run: Option<RunId>,
    pub list: EpisodeList,
    pub reader: EpisodeReader,
    pub stats: MetricsBoard,
    pub step: Option<StepState>,
    pub new_run: NewRunForm,
    /// Scroll of the text screens (episode, metrics, help).
    pub scroll: u16,
    /// References, grades and other annotators' labels hidden (episode, list, step).
    pub blind: bool,
    /// Once the open episode's labels are complete, open the next one to label.
    pub auto_advance: bool,
    /// Labels written in this session, newest last (undo).
    undo: Vec<(EpisodeId, Label)>,
    pub status: Option<(String, bool)>,
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
            table: RunsTable::default(),
            run: None,
            list: EpisodeList::default(),
            reader: EpisodeReader::default(),
            stats: MetricsBoard::default(),
            step: None,
            new_run: NewRunForm::default(),
            scroll: 0,
            blind: false,
            auto_advance: true,
            undo: Vec::new(),
            status: None,
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

    pub fn current_run(&self) -> Option<&RunRow> {
        let id = self.run?;
        self.table.rows.iter().find(|r| r.record.id == id)
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
                if self.list.searching {
                    return self.search_key(&k);
                }
                if self.list.jumping.is_some() {
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
                let running = self.table.live.values().any(|l| l.running);
                if running || !self.table.loaded {
                    self.spinner = self.spinner.wrapping_add(1);
                    self.dirty = true;
                }
                // A running run's headline numbers follow it on the runs screen.
                let now = (self.clock)();
                if running
                    && self.screen == Screen::Runs
                    && !self.table.reloading
                    && now.saturating_sub(self.table.reloaded_at) >= LIVE_RELOAD_MS
                {
                    self.table.reloading = true;
                    self.table.reloaded_at = now;
                    return vec![Effect::LoadRuns];
                }
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
                    if self.reader.detail.as_ref().map(|d| d.id) == Some(id) {
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
                    if let Some(d) = &self.reader.detail {
                        fx.push(Effect::LoadEpisode { run, id: d.id });
                    }
                }
                fx
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
            e @ Event::Runs(_) => self.runs_update(e),
            e @ Event::Episodes { .. } => self.episodes_update(e),
            e @ Event::Episode(_) => self.episode_update(e),
            e @ (Event::Metrics { .. } | Event::Comparison { .. }) => self.metrics_update(e),
            e @ (Event::StepReady { .. }
            | Event::StepItemAdded { .. }
            | Event::StepTurns { .. }
            | Event::StepDelta { .. }
            | Event::StepTurn { .. }
            | Event::StepFailed { .. }) => self.step_update(e),
        }
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
            Screen::Runs => (&mut self.table.sel, self.table.rows.len()),
            Screen::Episodes => (&mut self.list.sel, self.list.visible.len()),
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
            self.list.rows.clear();
            self.list.visible.clear();
            self.list.sel = 0;
            self.reader.detail = None;
            self.stats.report = None;
            self.stats.comparison = None;
            self.list.loading = true;
            // Metrics are computed when the metrics screen asks: on a large run both loads
            // decode every turn, and the episodes table should not wait for the metrics.
            return vec![Effect::LoadEpisodes(id)];
        }
        Vec::new()
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
                if !self.list.search.is_empty() && self.screen == Screen::Episodes {
                    self.list.search.clear();
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
                if self.stats.compare_report.as_ref().is_some_and(|(c, _)| *c == id) {
                    self.stats.compare_report = None;
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
                Screen::Episodes if self.list.loading => {
                    self.info("still loading the episodes…");
                    Vec::new()
                }
                Screen::Episodes => self.open_episode_at(self.list.sel),
                _ => Vec::new(),
            },
            Action::NextUnlabelled => self.next_to_label(),
            Action::Undo => self.undo_label(),
            Action::Label { name, value } => self.label(name, value),
            a @ (Action::NewDemoRun
            | Action::NewRun
            | Action::Step
            | Action::CancelRun
            | Action::ResumeRun) => self.runs_act(a),
            a @ (Action::NextFilter
            | Action::PreviousFilter
            | Action::Search
            | Action::JumpToItem
            | Action::Sort) => self.episodes_act(a),
            a @ (Action::SideBySide
            | Action::NextEpisode
            | Action::PreviousEpisode
            | Action::NextTurn
            | Action::PreviousTurn
            | Action::AutoAdvance
            | Action::Blind
            | Action::LabelHistory) => self.episode_act(a),
            a @ (Action::Compare
            | Action::NextPanel
            | Action::PreviousPanel
            | Action::NextSource) => self.metrics_act(a),
            a @ (Action::StepNext | Action::TypeQuestion | Action::WriteCritique) => {
                self.step_act(a)
            }
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

mod episode;
mod episodes;
mod form;
mod labelling;
mod metrics;
mod runs;
mod step;

pub use episode::EpisodeReader;
pub use episodes::{EpisodeList, Filter, Sort};
pub use form::NewRunForm;
pub use labelling::Naming;
pub use metrics::{MetricsBoard, MetricsPanel, calibration_sources};
pub use runs::{Live, RunsTable};
pub use step::StepState;

#[cfg(test)]
mod tests;
