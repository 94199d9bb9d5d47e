//! Pure `update` tests (STYLE §2.8.1): no terminal, no runtime. Events go in; the state and the
//! returned effects are checked. Keys go through the default keymap, so these also pin the
//! default bindings of each screen.

use std::collections::BTreeMap;

use crossterm::event::{
    Event as CtEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};
use rstest::{fixture, rstest};

use super::*;
use crate::domain::{
    Item, ItemId, Meta, ProtocolKind, ProtocolSpec, ProviderSpec, RunRecord, RunStatus, Sampling,
    SimParams, Turn, TurnShape, Verdict,
};
use crate::metrics::{CritiqueObs, EpisodeObs, compute, provenance};
use crate::runner::Totals;

const NOW: u64 = 1_700_000_000;

/// The app's clock is in milliseconds.
fn clock() -> u64 {
    NOW * 1000
}

// ---------------------------------------------------------------- fixtures

fn record(id: u64, name: &str) -> RunRecord {
    RunRecord {
        id: RunId(id),
        name: name.into(),
        dataset: "gsm8k-mini".into(),
        dataset_hash: "d41d8cd9".into(),
        protocol: ProtocolSpec {
            name: "critique-revise".into(),
            kind: ProtocolKind::CritiqueRevise,
            rounds: 1,
            stop_when_correct: false,
            critique_source: Default::default(),
            prompts: Default::default(),
        },
        provider: ProviderSpec::Sim { params: SimParams::default() },
        model: "sim".into(),
        critic_model: "sim".into(),
        sampling: Sampling::default(),
        status: RunStatus::Finished,
        version: "0.1.0".into(),
        created: NOW,
        grading: Default::default(),
        origin: Default::default(),
        notes: BTreeMap::new(),
        meta: Meta::new(),
    }
}

fn run_row(id: u64, name: &str, pending: u64) -> RunRow {
    RunRow {
        record: record(id, name),
        totals: Totals { total: 10, done: 10 - pending, failed: 1, pending },
        acc_t1: Some(0.6),
        acc_t2: Some(0.7),
        cl: Some(0.9),
        cs: Some(0.5),
        queue: None,
        measured: true,
    }
}

/// alpha (finished), beta (4 pending), gamma (finished).
fn three_runs() -> Vec<RunRow> {
    vec![run_row(1, "alpha", 0), run_row(2, "beta", 4), run_row(3, "gamma", 0)]
}

fn ep_id(run: u64, item: u32) -> EpisodeId {
    EpisodeId { run: RunId(run), item, sample: 0 }
}

fn ep_row(
    item: u32,
    status: EpisodeStatus,
    transition: Option<Transition>,
    labels: Vec<Label>,
    question: &str,
) -> EpisodeRow {
    let shapes = if status == EpisodeStatus::Done {
        vec![
            TurnShape { role: Role::Generate, is_attempt: true },
            TurnShape { role: Role::Critique, is_attempt: false },
            TurnShape { role: Role::Revise, is_attempt: true },
        ]
    } else {
        Vec::new()
    };
    EpisodeRow {
        id: ep_id(1, item),
        item_id: format!("gsm-{item:03}"),
        status,
        transition,
        labels,
        shapes,
        question: question.into(),
    }
}

/// ana's labels that complete an episode of the fixtures (generate, critique, revise).
fn complete() -> Vec<Label> {
    vec![
        label(Some(1), "error_found", "yes"),
        label(Some(1), "critique_quality", "qualified"),
        label(Some(1), "tone", "confident"),
        label(Some(2), "followed_critique", "yes"),
    ]
}

/// One row per filter cell of run 1, so each filter keeps a different set.
fn six_episodes() -> Vec<EpisodeRow> {
    use EpisodeStatus::{Done, Failed, Pending};
    use Transition::*;
    vec![
        ep_row(0, Done, Some(RightRight), complete(), "Natalia sold clips to 48 friends"),
        ep_row(1, Done, Some(RightWrong), vec![], "Weng earns $12 an hour"),
        ep_row(2, Done, Some(WrongRight), vec![], "Betty is saving money for a wallet"),
        ep_row(3, Done, Some(WrongWrong), complete(), "James writes a 3-page letter"),
        ep_row(4, Failed, None, vec![], "Mark has a garden with flowers"),
        ep_row(5, Pending, None, vec![], "Albert buys 2 large pizzas"),
    ]
}

fn turn(role: Role, content: &str) -> Turn {
    Turn::new(role, content)
}

/// generate #0 (wrong) → critique #1 (incorrect, 80%) → revise #2 (right).
fn detail(run: u64, item: u32) -> EpisodeDetail {
    let mut generate = turn(Role::Generate, "48 / 2 = 24, so the answer is 24.");
    generate.answer = Some("24".into());
    generate.correct = Some(false);
    let mut critique = turn(Role::Critique, "The sum is missing. Verdict: incorrect");
    critique.verdict = Some(Verdict::Incorrect);
    critique.confidence = Some(0.8);
    let mut revise = turn(Role::Revise, "48 + 24 = 72, so the answer is 72.");
    revise.answer = Some("72".into());
    revise.correct = Some(true);
    EpisodeDetail {
        id: ep_id(run, item),
        run_name: "alpha".into(),
        protocol: ProtocolKind::CritiqueRevise,
        item: Item {
            id: ItemId(format!("gsm-{item:03}")),
            question: "How many clips did Natalia sell altogether?".into(),
            reference: "72".into(),
            answer_kind: Default::default(),
            choices: None,
            given: None,
            source: "gsm8k".into(),
            meta: Meta::new(),
        },
        status: EpisodeStatus::Done,
        error: None,
        turns: vec![generate, critique, revise],
        labels: Vec::new(),
        simulated: true,
    }
}

fn report(id: u64, name: &str) -> Box<MetricsReport> {
    let obs = [
        EpisodeObs {
            item_id: "gsm-000".into(),
            sample: 0,
            failed: false,
            attempts: vec![Some(false), Some(true)],
            critiques: vec![CritiqueObs::new(Verdict::Incorrect, Some(false))],
            ..Default::default()
        },
        EpisodeObs {
            item_id: "gsm-001".into(),
            sample: 0,
            failed: false,
            attempts: vec![Some(true), Some(true)],
            critiques: vec![CritiqueObs::new(Verdict::Correct, Some(true))],
            ..Default::default()
        },
    ];
    Box::new(MetricsReport {
        run: name.into(),
        summary: compute(&obs),
        correction_acc: None,
        ci: BTreeMap::new(),
        grader: None,
        overrides_used: 0,
        usage: Default::default(),
        provenance: provenance(&record(id, name), &Default::default()),
        calibration: BTreeMap::new(),
        what_if: None,
        human: Default::default(),
    })
}

fn label(turn: Option<u32>, name: &str, value: &str) -> Label {
    Label {
        annotator: "ana".into(),
        turn,
        name: name.into(),
        value: value.into(),
        time: NOW,
        millis: 0,
        retracted: false,
    }
}

/// `label` stored `ms` milliseconds after NOW (as the store orders a slot's entries).
fn label_at(turn: Option<u32>, name: &str, value: &str, ms: u64) -> Label {
    label(turn, name, value).at(NOW * 1000 + ms)
}

// ---------------------------------------------------------------- input helpers

fn key_event(code: KeyCode, modifiers: KeyModifiers) -> Event {
    Event::Term(CtEvent::Key(KeyEvent::new(code, modifiers)))
}

/// A plain key; upper-case letters and `?` come with SHIFT as a terminal sends them.
fn code(code: KeyCode) -> Event {
    let shift = matches!(code, KeyCode::Char(c) if c.is_ascii_uppercase() || "?+{}".contains(c));
    key_event(code, if shift { KeyModifiers::SHIFT } else { KeyModifiers::NONE })
}

fn ctrl(c: char) -> Event {
    key_event(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Presses each character of `keys` in turn and collects every effect.
fn typed(app: &mut App, keys: &str) -> Vec<Effect> {
    keys.chars().flat_map(|c| app.update(code(KeyCode::Char(c)))).collect()
}

fn press(app: &mut App, k: KeyCode) -> Vec<Effect> {
    app.update(code(k))
}

fn mouse(kind: MouseEventKind) -> Event {
    Event::Term(CtEvent::Mouse(MouseEvent {
        kind,
        column: 10,
        row: 5,
        modifiers: KeyModifiers::NONE,
    }))
}

fn status(app: &App) -> (&str, bool) {
    app.status.as_ref().map(|(m, e)| (m.as_str(), *e)).unwrap_or(("", false))
}

/// Item numbers of the visible episode rows, in order.
fn visible_items(app: &App) -> Vec<u32> {
    app.list.visible.iter().map(|&i| app.list.rows[i].id.item).collect()
}

// ---------------------------------------------------------------- app fixtures

#[fixture]
fn app() -> App {
    let schema = LabelSchema::load(&[]).expect("default schema");
    let keymap = Keymap::load(&Default::default(), &schema).expect("default keymap");
    App::new(keymap, schema, Theme::plain(), Some("ana".into()), clock)
}

/// On the runs screen with alpha, beta and gamma loaded.
#[fixture]
fn runs(mut app: App) -> App {
    assert_eq!(app.update(Event::Runs(three_runs())), vec![]);
    app
}

/// On the episodes screen of alpha (run 1) with the six rows loaded.
#[fixture]
fn episodes(mut runs: App) -> App {
    assert_eq!(press(&mut runs, KeyCode::Enter), vec![Effect::LoadEpisodes(RunId(1))]);
    runs.update(Event::Episodes { run: RunId(1), rows: six_episodes(), queue: None });
    assert_eq!(runs.screen, Screen::Episodes);
    runs
}

/// On the episode screen of alpha's item 2 (w→c, unlabelled), detail loaded.
#[fixture]
fn episode(mut episodes: App) -> App {
    typed(&mut episodes, "jj");
    assert_eq!(
        press(&mut episodes, KeyCode::Enter),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 2) }]
    );
    episodes.update(Event::Episode(Box::new(detail(1, 2))));
    assert_eq!(episodes.screen, Screen::Episode);
    episodes
}

// ================================================================ start and global keys

#[rstest]
fn init_loads_runs_and_starts_dirty(mut app: App) {
    assert_eq!(app.init(), vec![Effect::LoadRuns]);
    assert_eq!(app.screen, Screen::Runs);
    assert!(app.take_dirty(), "the first frame must be drawn");
    assert!(!app.take_dirty(), "take_dirty clears the flag");
}

#[rstest]
#[case::q(code(KeyCode::Char('q')))]
#[case::ctrl_c(ctrl('c'))]
fn quit_keys_quit_on_every_screen(
    #[case] quit: Event,
    #[values(
        Screen::Runs,
        Screen::Episodes,
        Screen::Episode,
        Screen::Metrics,
        Screen::Help,
        Screen::Step
    )]
    screen: Screen,
    episode: App,
) {
    let mut app = episode;
    app.screen = screen;
    assert!(!app.should_quit());
    assert_eq!(app.update(quit), vec![]);
    assert!(app.should_quit(), "{screen:?}");
}

#[rstest]
fn key_release_is_ignored(mut runs: App) {
    runs.take_dirty();
    let mut k = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    k.kind = KeyEventKind::Release;
    assert_eq!(runs.update(Event::Term(CtEvent::Key(k))), vec![]);
    assert!(!runs.should_quit());
    assert!(!runs.take_dirty());
}

#[rstest]
fn key_repeat_counts_as_a_press(mut runs: App) {
    let mut k = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    k.kind = KeyEventKind::Repeat;
    runs.update(Event::Term(CtEvent::Key(k)));
    assert_eq!(runs.table.sel, 1);
}

#[rstest]
fn unbound_keys_do_nothing_but_redraw(mut runs: App) {
    runs.take_dirty();
    assert_eq!(typed(&mut runs, "z"), vec![]);
    assert_eq!(runs.screen, Screen::Runs);
    assert_eq!(runs.table.sel, 0);
    assert!(runs.take_dirty());
}

#[rstest]
fn mouse_scroll_moves_like_up_and_down(mut runs: App) {
    runs.take_dirty();
    assert_eq!(runs.update(mouse(MouseEventKind::ScrollDown)), vec![]);
    assert_eq!(runs.table.sel, 1);
    assert!(runs.take_dirty());
    runs.update(mouse(MouseEventKind::ScrollDown));
    runs.update(mouse(MouseEventKind::ScrollDown));
    assert_eq!(runs.table.sel, 2, "clamped at the last run");
    runs.update(mouse(MouseEventKind::ScrollUp));
    assert_eq!(runs.table.sel, 1);
    assert!(runs.take_dirty());
}

#[rstest]
fn mouse_scroll_scrolls_the_episode_text(mut episode: App) {
    episode.update(mouse(MouseEventKind::ScrollDown));
    episode.update(mouse(MouseEventKind::ScrollDown));
    assert_eq!(episode.scroll, 2);
    episode.update(mouse(MouseEventKind::ScrollUp));
    assert_eq!(episode.scroll, 1);
}

#[rstest]
fn other_mouse_events_are_ignored(mut runs: App) {
    runs.take_dirty();
    assert_eq!(runs.update(mouse(MouseEventKind::Moved)), vec![]);
    assert_eq!(runs.table.sel, 0);
    assert!(!runs.take_dirty(), "a mouse move must not cost a frame");
}

#[rstest]
fn resize_marks_the_frame_dirty(mut runs: App) {
    runs.take_dirty();
    assert_eq!(runs.update(Event::Term(CtEvent::Resize(60, 20))), vec![]);
    assert!(runs.take_dirty());
    assert!(!runs.take_dirty());
}

#[rstest]
fn focus_events_are_ignored(mut runs: App) {
    runs.take_dirty();
    assert_eq!(runs.update(Event::Term(CtEvent::FocusGained)), vec![]);
    assert!(!runs.take_dirty());
}

#[rstest]
fn errors_show_on_the_status_line(mut runs: App) {
    runs.take_dirty();
    runs.update(Event::Error("label not saved: disk full".into()));
    assert_eq!(status(&runs), ("label not saved: disk full", true));
    assert!(runs.take_dirty());
}

#[rstest]
fn tick_animates_only_while_something_moves(mut app: App) {
    app.take_dirty();
    app.update(Event::Tick);
    assert_eq!(app.spinner, 1, "loading runs spins");
    assert!(app.take_dirty());
    app.update(Event::Runs(three_runs()));
    app.take_dirty();
    app.update(Event::Tick);
    assert_eq!(app.spinner, 1, "nothing running: no spin");
    assert!(!app.take_dirty(), "an idle tick must not redraw");
    app.update(Event::Run(RunEvent::Started { run: RunId(2), total: 10, done: 0 }));
    app.take_dirty();
    app.update(Event::Tick);
    assert_eq!(app.spinner, 2);
    assert!(app.take_dirty());
}

#[rstest]
fn screen_number_keys_switch_screens(mut episodes: App) {
    assert_eq!(typed(&mut episodes, "1"), vec![Effect::LoadRuns]);
    assert_eq!(episodes.screen, Screen::Runs);
    assert_eq!(typed(&mut episodes, "2"), vec![], "alpha's episodes are already loaded");
    assert_eq!(episodes.screen, Screen::Episodes);
    assert_eq!(typed(&mut episodes, "3"), vec![Effect::LoadMetrics(RunId(1))]);
    assert_eq!(episodes.screen, Screen::Metrics);
}

#[rstest]
fn episodes_and_metrics_need_a_run(mut app: App) {
    app.update(Event::Runs(Vec::new()));
    for k in ["2", "3", "m"] {
        app.status = None;
        assert_eq!(typed(&mut app, k), vec![], "{k}");
        assert_eq!(app.screen, Screen::Runs);
        assert_eq!(status(&app), ("no run yet", false));
    }
}

#[rstest]
fn back_on_the_runs_screen_stays(mut runs: App) {
    assert_eq!(press(&mut runs, KeyCode::Esc), vec![]);
    assert_eq!(runs.screen, Screen::Runs);
    assert!(!runs.should_quit());
}

// ================================================================ help

#[rstest]
#[case::question_mark(KeyCode::Char('?'))]
#[case::f1(KeyCode::F(1))]
fn help_toggles_back_to_where_it_was(#[case] k: KeyCode, mut episodes: App) {
    press(&mut episodes, k);
    assert_eq!(episodes.screen, Screen::Help);
    assert_eq!(episodes.mode(), Mode::Global);
    press(&mut episodes, k);
    assert_eq!(episodes.screen, Screen::Episodes);
}

#[rstest]
#[case::esc(KeyCode::Esc)]
#[case::backspace(KeyCode::Backspace)]
fn back_leaves_help(#[case] k: KeyCode, mut episode: App) {
    typed(&mut episode, "?");
    assert_eq!(episode.screen, Screen::Help);
    assert_eq!(press(&mut episode, k), vec![]);
    assert_eq!(episode.screen, Screen::Episode);
}

#[rstest]
fn help_ignores_screen_keys(mut episode: App) {
    typed(&mut episode, "?");
    // `y` labels and `b` toggles blind mode on the episode screen: neither applies to help.
    assert_eq!(typed(&mut episode, "yb"), vec![]);
    assert_eq!(episode.screen, Screen::Help);
    assert!(!episode.blind);
    // `j` scrolls the help text itself (opening help starts at the top).
    assert_eq!(episode.scroll, 0);
    assert_eq!(typed(&mut episode, "j"), vec![]);
    assert_eq!(episode.scroll, 1);
}

// ================================================================ runs screen

#[rstest]
fn first_launch_with_no_runs_starts_the_demo(mut app: App) {
    app.take_dirty();
    assert_eq!(
        app.update(Event::Runs(Vec::new())),
        vec![Effect::StartSimRun { name: "demo".into(), limit: None, seed: 0 }]
    );
    assert!(app.table.loaded);
    assert!(app.take_dirty());
    let (msg, err) = status(&app);
    assert!(msg.starts_with("first launch: creating the demo run"), "{msg}");
    assert!(!err);
    // Only the first load triggers it.
    assert_eq!(app.update(Event::Runs(Vec::new())), vec![]);
}

#[rstest]
fn first_launch_with_runs_starts_nothing(mut app: App) {
    assert_eq!(app.update(Event::Runs(three_runs())), vec![]);
    assert!(app.table.loaded);
    assert_eq!(app.table.rows.len(), 3);
    assert_eq!(app.selected_run().map(|r| r.record.name.as_str()), Some("alpha"));
    assert_eq!(app.status, None);
}

#[rstest]
#[case::down("j", 1)]
#[case::down_clamps("jjjjj", 2)]
#[case::up_clamps("k", 0)]
#[case::down_up("jjk", 1)]
#[case::bottom("G", 2)]
#[case::bottom_then_up("Gk", 1)]
#[case::bottom_then_top("Gg", 0)]
fn runs_selection_moves_and_clamps(#[case] keys: &str, #[case] sel: usize, mut runs: App) {
    assert_eq!(typed(&mut runs, keys), vec![]);
    assert_eq!(runs.table.sel, sel);
}

#[rstest]
#[case::arrow_down(&[KeyCode::Down], 1)]
#[case::arrow_up(&[KeyCode::Down, KeyCode::Down, KeyCode::Up], 1)]
#[case::end(&[KeyCode::End], 2)]
#[case::home(&[KeyCode::End, KeyCode::Home], 0)]
#[case::page_down(&[KeyCode::PageDown], 2)]
#[case::page_up(&[KeyCode::End, KeyCode::PageUp], 0)]
fn runs_selection_by_named_keys(#[case] keys: &[KeyCode], #[case] sel: usize, mut runs: App) {
    for k in keys {
        press(&mut runs, *k);
    }
    assert_eq!(runs.table.sel, sel);
}

#[rstest]
fn ctrl_d_and_ctrl_u_page(mut runs: App) {
    runs.update(ctrl('d'));
    assert_eq!(runs.table.sel, 2);
    runs.update(ctrl('u'));
    assert_eq!(runs.table.sel, 0);
}

#[rstest]
fn moving_in_an_empty_runs_table_stays_at_zero(mut app: App) {
    app.update(Event::Runs(Vec::new()));
    typed(&mut app, "jGk");
    assert_eq!(app.table.sel, 0);
    assert_eq!(press(&mut app, KeyCode::Enter), vec![], "nothing to open");
    assert_eq!(app.screen, Screen::Runs);
    assert_eq!(typed(&mut app, "cr "), vec![], "nothing to cancel, resume or compare");
    assert_eq!(app.stats.compare, None);
}

#[rstest]
fn a_shorter_reload_clamps_the_selection(mut runs: App) {
    typed(&mut runs, "G");
    runs.update(Event::Runs(vec![run_row(1, "alpha", 0)]));
    assert_eq!(runs.table.sel, 0);
    runs.update(Event::Runs(Vec::new()));
    assert_eq!(runs.table.sel, 0);
    assert_eq!(runs.selected_run(), None);
}

#[rstest]
#[case::enter(KeyCode::Enter)]
#[case::l(KeyCode::Char('l'))]
#[case::right(KeyCode::Right)]
fn open_run_loads_its_episodes(#[case] k: KeyCode, mut runs: App) {
    typed(&mut runs, "j");
    assert_eq!(press(&mut runs, k), vec![Effect::LoadEpisodes(RunId(2))]);
    assert_eq!(runs.screen, Screen::Episodes);
    assert_eq!(runs.run, Some(RunId(2)));
    assert!(runs.list.loading);
    assert_eq!(runs.current_run().map(|r| r.record.name.as_str()), Some("beta"));
}

#[rstest]
fn reopening_the_same_run_keeps_what_is_loaded(mut episodes: App) {
    press(&mut episodes, KeyCode::Esc);
    assert_eq!(episodes.screen, Screen::Runs);
    assert_eq!(press(&mut episodes, KeyCode::Enter), vec![]);
    assert_eq!(episodes.screen, Screen::Episodes);
    assert_eq!(episodes.list.rows.len(), 6);
}

#[rstest]
fn opening_another_run_clears_the_previous_one(mut episode: App) {
    typed(&mut episode, "1j");
    assert_eq!(press(&mut episode, KeyCode::Enter), vec![Effect::LoadEpisodes(RunId(2))]);
    assert!(episode.list.rows.is_empty());
    assert!(episode.list.visible.is_empty());
    assert_eq!(episode.reader.detail, None);
    assert_eq!(episode.stats.report, None);
    assert_eq!(episode.list.sel, 0);
}

/// Issue 14, point 7: each quick run has a seed of its own, and the status line says it.
#[rstest]
fn new_demo_run_starts_a_limited_sim_run_with_a_new_seed(mut runs: App) {
    let seed = |fx: Vec<Effect>| match fx.as_slice() {
        [Effect::StartSimRun { name, limit: Some(100), seed }] if name == "sim" => *seed,
        other => panic!("{other:?}"),
    };
    let first = seed(typed(&mut runs, "n"));
    assert_eq!(status(&runs).0, format!("starting a sim run of 100 items, seed {first}…"));
    let second = seed(typed(&mut runs, "n"));
    assert_ne!(first, second, "the same seed twice would make the same run twice");
    assert_ne!(first, 0, "not the demo's seed");
}

#[rstest]
fn cancel_only_a_running_run(mut runs: App) {
    assert_eq!(typed(&mut runs, "c"), vec![]);
    assert_eq!(status(&runs), ("that run is not running", false));

    runs.update(Event::Run(RunEvent::Started { run: RunId(1), total: 10, done: 0 }));
    assert_eq!(typed(&mut runs, "c"), vec![Effect::CancelRun(RunId(1))]);
    assert_eq!(status(&runs), ("cancelling…", false));

    // Another row, not running.
    assert_eq!(typed(&mut runs, "jc"), vec![]);

    runs.update(Event::Run(RunEvent::Finished {
        run: RunId(1),
        done: 3,
        failed: 0,
        total: 10,
        cancelled: true,
    }));
    assert_eq!(typed(&mut runs, "kc"), vec![], "finished runs cannot be cancelled");
}

#[rstest]
fn resume_only_with_pending_episodes(mut runs: App) {
    assert_eq!(typed(&mut runs, "r"), vec![], "alpha has nothing pending");
    assert_eq!(status(&runs), ("nothing left to run", false));
    assert_eq!(typed(&mut runs, "jr"), vec![Effect::ResumeRun(RunId(2))]);
}

#[rstest]
fn resume_refuses_a_running_run(mut runs: App) {
    runs.update(Event::Run(RunEvent::Started { run: RunId(2), total: 10, done: 6 }));
    assert_eq!(typed(&mut runs, "jr"), vec![]);
    assert_eq!(status(&runs), ("already running", false));
}

#[rstest]
fn compare_marks_toggles_and_moves(mut runs: App) {
    assert_eq!(typed(&mut runs, " "), vec![]);
    assert_eq!(runs.stats.compare, Some(RunId(1)));
    assert_eq!(status(&runs), ("alpha marked: open another run's metrics to compare", false));
    typed(&mut runs, " ");
    assert_eq!(runs.stats.compare, None);
    assert_eq!(status(&runs), ("comparison cleared", false));
    typed(&mut runs, " j ");
    assert_eq!(runs.stats.compare, Some(RunId(2)), "marking another run replaces the mark");
}

#[rstest]
fn live_progress_follows_run_events(mut runs: App) {
    let run = RunId(2);
    runs.take_dirty();
    let fx = runs.update(Event::Run(RunEvent::Started { run, total: 10, done: 6 }));
    assert_eq!(fx, vec![]);
    assert_eq!(
        runs.table.live[&run],
        Live { done: 6, failed: 0, total: 10, running: true, signs: None }
    );
    assert!(runs.take_dirty());

    let signs = crate::runner::Live { retries: 2, elapsed_secs: 9, ..Default::default() };
    runs.update(Event::Run(RunEvent::Progress { run, done: 8, failed: 1, total: 10, live: signs }));
    assert_eq!(
        runs.table.live[&run],
        Live { done: 8, failed: 1, total: 10, running: true, signs: Some(signs) }
    );

    let fx = runs.update(Event::Run(RunEvent::Finished {
        run,
        done: 10,
        failed: 1,
        total: 10,
        cancelled: false,
    }));
    assert_eq!(fx, vec![Effect::LoadRuns], "the table reloads its final counts");
    assert_eq!(
        runs.table.live[&run],
        Live { done: 10, failed: 1, total: 10, running: false, signs: None }
    );
    assert_eq!(status(&runs), ("beta finished", false));
}

#[rstest]
fn finishing_the_open_run_reloads_its_episodes(mut episodes: App) {
    episodes.update(Event::Run(RunEvent::Started { run: RunId(1), total: 6, done: 0 }));
    let fx = episodes.update(Event::Run(RunEvent::Finished {
        run: RunId(1),
        done: 2,
        failed: 0,
        total: 6,
        cancelled: true,
    }));
    assert_eq!(fx, vec![Effect::LoadRuns, Effect::LoadEpisodes(RunId(1))]);
    assert_eq!(status(&episodes), ("alpha cancelled", false));
}

#[rstest]
fn a_failed_run_stops_its_spinner_and_says_why(mut runs: App) {
    let run = RunId(2);
    runs.update(Event::Run(RunEvent::Started { run, total: 10, done: 0 }));
    assert!(runs.table.live[&run].running);
    let fx = runs.update(Event::Run(RunEvent::Failed { run, error: "disk full".into() }));
    assert_eq!(fx, vec![Effect::LoadRuns]);
    assert!(!runs.table.live[&run].running, "the spinner stops");
    assert_eq!(status(&runs), ("beta stopped: disk full", true));
}

#[rstest]
fn events_of_an_unknown_run_are_still_shown(mut runs: App) {
    let fx = runs.update(Event::Run(RunEvent::Finished {
        run: RunId(99),
        done: 1,
        failed: 0,
        total: 1,
        cancelled: false,
    }));
    assert_eq!(fx, vec![Effect::LoadRuns]);
    assert_eq!(status(&runs), ("run finished", false));
}

// ================================================================ episodes screen

#[rstest]
fn loaded_episodes_are_all_visible(episodes: App) {
    assert!(!episodes.list.loading);
    assert_eq!(episodes.list.filter, Filter::All);
    assert_eq!(visible_items(&episodes), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(episodes.selected_episode().map(|r| r.id), Some(ep_id(1, 0)));
}

#[rstest]
fn stale_episodes_of_another_run_are_ignored(mut episodes: App) {
    episodes.take_dirty();
    let other = vec![EpisodeRow { id: ep_id(2, 0), ..six_episodes().remove(0) }];
    assert_eq!(
        episodes.update(Event::Episodes { run: RunId(2), rows: other, queue: None }),
        vec![]
    );
    assert_eq!(episodes.list.rows.len(), 6);
    assert_eq!(episodes.run, Some(RunId(1)));
    assert!(!episodes.take_dirty());
}

#[rstest]
fn episodes_before_any_run_is_open_are_ignored(mut runs: App) {
    runs.update(Event::Episodes { run: RunId(1), rows: six_episodes(), queue: None });
    assert!(runs.list.rows.is_empty());
}

#[rstest]
#[case::all(0, Filter::All, &[0, 1, 2, 3, 4, 5])]
#[case::cc(1, Filter::Cell(Transition::RightRight), &[0])]
#[case::cw(2, Filter::Cell(Transition::RightWrong), &[1])]
#[case::wc(3, Filter::Cell(Transition::WrongRight), &[2])]
#[case::ww(4, Filter::Cell(Transition::WrongWrong), &[3])]
#[case::failed(5, Filter::Failed, &[4])]
#[case::unlabelled(6, Filter::Unlabelled, &[1, 2, 4, 5])]
#[case::wraps_to_all(7, Filter::All, &[0, 1, 2, 3, 4, 5])]
fn next_filter_cycles_through_every_cell(
    #[case] presses: usize,
    #[case] filter: Filter,
    #[case] items: &[u32],
    mut episodes: App,
) {
    for _ in 0..presses {
        assert_eq!(typed(&mut episodes, "f"), vec![]);
    }
    assert_eq!(episodes.list.filter, filter);
    assert_eq!(visible_items(&episodes), items);
}

#[rstest]
#[case::unlabelled(1, Filter::Unlabelled, &[1, 2, 4, 5])]
#[case::failed(2, Filter::Failed, &[4])]
#[case::ww(3, Filter::Cell(Transition::WrongWrong), &[3])]
#[case::wc(4, Filter::Cell(Transition::WrongRight), &[2])]
#[case::cw(5, Filter::Cell(Transition::RightWrong), &[1])]
#[case::cc(6, Filter::Cell(Transition::RightRight), &[0])]
#[case::all(7, Filter::All, &[0, 1, 2, 3, 4, 5])]
fn previous_filter_cycles_backwards(
    #[case] presses: usize,
    #[case] filter: Filter,
    #[case] items: &[u32],
    mut episodes: App,
) {
    for _ in 0..presses {
        typed(&mut episodes, "F");
    }
    assert_eq!(episodes.list.filter, filter);
    assert_eq!(visible_items(&episodes), items);
}

#[rstest]
fn tab_and_backtab_also_change_the_filter(mut episodes: App) {
    press(&mut episodes, KeyCode::Tab);
    assert_eq!(episodes.list.filter, Filter::Cell(Transition::RightRight));
    press(&mut episodes, KeyCode::BackTab);
    press(&mut episodes, KeyCode::BackTab);
    assert_eq!(episodes.list.filter, Filter::Unlabelled);
}

#[rstest]
fn changing_the_filter_resets_the_selection(mut episodes: App) {
    typed(&mut episodes, "G");
    assert_eq!(episodes.list.sel, 5);
    typed(&mut episodes, "F");
    assert_eq!(episodes.list.sel, 0);
    assert_eq!(episodes.selected_episode().map(|r| r.id.item), Some(1));
}

#[rstest]
fn a_filter_with_no_rows_selects_nothing(mut episodes: App) {
    episodes.update(Event::Episodes {
        run: RunId(1),
        rows: six_episodes().into_iter().filter(|r| r.status != EpisodeStatus::Failed).collect(),
        queue: None,
    });
    typed(&mut episodes, "fffff");
    assert_eq!(episodes.list.filter, Filter::Failed);
    assert!(episodes.list.visible.is_empty());
    assert_eq!(episodes.selected_episode(), None);
    assert_eq!(typed(&mut episodes, "jG"), vec![]);
    assert_eq!(episodes.list.sel, 0);
    assert_eq!(press(&mut episodes, KeyCode::Enter), vec![], "nothing to open");
    assert_eq!(episodes.screen, Screen::Episodes);
}

#[rstest]
#[case::down("jj", 2)]
#[case::bottom("G", 5)]
#[case::clamps("GG j", 5)]
#[case::top("Gg", 0)]
fn episodes_selection_moves_and_clamps(#[case] keys: &str, #[case] sel: usize, mut episodes: App) {
    typed(&mut episodes, keys);
    assert_eq!(episodes.list.sel, sel);
}

#[rstest]
fn search_filters_as_you_type(mut episodes: App) {
    assert_eq!(typed(&mut episodes, "/"), vec![]);
    assert!(episodes.list.searching);
    assert_eq!(typed(&mut episodes, "bet"), vec![]);
    assert_eq!(episodes.list.search, "bet");
    assert_eq!(visible_items(&episodes), vec![2], "Betty");
    press(&mut episodes, KeyCode::Backspace);
    assert_eq!(episodes.list.search, "be");
    assert_eq!(visible_items(&episodes), vec![2, 5], "Betty and Albert");
    press(&mut episodes, KeyCode::Backspace);
    press(&mut episodes, KeyCode::Backspace);
    press(&mut episodes, KeyCode::Backspace);
    assert_eq!(episodes.list.search, "", "backspace on empty stays empty");
    assert_eq!(visible_items(&episodes), vec![0, 1, 2, 3, 4, 5]);
    typed(&mut episodes, "gsm-003");
    assert_eq!(visible_items(&episodes), vec![3], "item ids match too");
    assert_eq!(press(&mut episodes, KeyCode::Enter), vec![]);
    assert!(!episodes.list.searching);
    assert_eq!(episodes.list.search, "gsm-003", "enter keeps the search");
    assert_eq!(episodes.screen, Screen::Episodes);
}

#[rstest]
fn search_is_case_insensitive_and_combines_with_the_filter(mut episodes: App) {
    typed(&mut episodes, "/WENG");
    press(&mut episodes, KeyCode::Enter);
    assert_eq!(visible_items(&episodes), vec![1]);
    typed(&mut episodes, "F");
    assert_eq!(episodes.list.filter, Filter::Unlabelled);
    assert_eq!(visible_items(&episodes), vec![1]);
    typed(&mut episodes, "F");
    assert_eq!(visible_items(&episodes), Vec::<u32>::new(), "Weng did not fail");
}

#[rstest]
fn keys_while_searching_are_text(mut episodes: App) {
    typed(&mut episodes, "/");
    // q (quit), f (filter), ? (help), j (down), 2 (screen) are all just letters here.
    assert_eq!(typed(&mut episodes, "qf?j2"), vec![]);
    assert_eq!(episodes.list.search, "qf?j2");
    assert!(!episodes.should_quit());
    assert_eq!(episodes.list.filter, Filter::All);
    assert_eq!(episodes.screen, Screen::Episodes);
    // Keys without a character are ignored.
    press(&mut episodes, KeyCode::Left);
    assert_eq!(episodes.list.search, "qf?j2");
}

#[rstest]
fn search_narrowing_clamps_the_selection(mut episodes: App) {
    typed(&mut episodes, "G/");
    assert_eq!(episodes.list.sel, 5);
    typed(&mut episodes, "james");
    assert_eq!(episodes.list.sel, 0);
    assert_eq!(episodes.selected_episode().map(|r| r.id.item), Some(3));
}

#[rstest]
fn esc_clears_the_search_enter_keeps_it_then_esc_clears_and_goes_back(mut episodes: App) {
    typed(&mut episodes, "/bet");
    press(&mut episodes, KeyCode::Esc);
    assert!(!episodes.list.searching);
    assert_eq!(episodes.list.search, "", "Esc while typing clears");
    assert_eq!(visible_items(&episodes), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(episodes.screen, Screen::Episodes);

    typed(&mut episodes, "/bet");
    press(&mut episodes, KeyCode::Enter);
    assert_eq!(episodes.list.search, "bet");
    assert_eq!(press(&mut episodes, KeyCode::Esc), vec![]);
    assert_eq!(episodes.list.search, "", "back clears a kept search first");
    assert_eq!(episodes.screen, Screen::Episodes);

    press(&mut episodes, KeyCode::Esc);
    assert_eq!(episodes.screen, Screen::Runs);
}

#[rstest]
fn ctrl_c_quits_even_while_searching(mut episodes: App) {
    typed(&mut episodes, "/be");
    episodes.update(ctrl('c'));
    assert!(episodes.should_quit(), "search is now {:?}", episodes.list.search);
}

#[rstest]
fn open_episode_loads_it(mut episodes: App) {
    typed(&mut episodes, "jjj");
    assert_eq!(
        typed(&mut episodes, "l"),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 3) }]
    );
    assert_eq!(episodes.screen, Screen::Episode);
    assert_eq!(episodes.mode(), Mode::Episode);
}

#[rstest]
fn open_episode_follows_the_filter(mut episodes: App) {
    typed(&mut episodes, "fffff");
    assert_eq!(episodes.list.filter, Filter::Failed);
    assert_eq!(
        press(&mut episodes, KeyCode::Enter),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 4) }]
    );
}

#[rstest]
fn episodes_metrics_key_reuses_the_open_run(mut episodes: App) {
    assert_eq!(typed(&mut episodes, "m"), vec![Effect::LoadMetrics(RunId(1))]);
    assert_eq!(episodes.screen, Screen::Metrics);
    press(&mut episodes, KeyCode::Esc);
    assert_eq!(episodes.screen, Screen::Episodes);
}

// ================================================================ episode screen

#[rstest]
fn a_loaded_episode_selects_its_first_critique(episode: App) {
    assert_eq!(episode.reader.turn_sel, 1);
    assert_eq!(episode.scroll, 0);
    assert_eq!(episode.reader.detail.as_ref().map(|d| d.id), Some(ep_id(1, 2)));
}

#[rstest]
fn without_a_critique_the_final_attempt_is_selected(mut episodes: App) {
    press(&mut episodes, KeyCode::Enter);
    let mut d = detail(1, 0);
    d.turns.remove(1);
    d.turns.insert(0, turn(Role::Given, "A given solution."));
    episodes.update(Event::Episode(Box::new(d)));
    assert_eq!(episodes.reader.turn_sel, 2);
}

#[rstest]
fn stale_episode_of_another_run_is_ignored(mut episode: App) {
    episode.take_dirty();
    assert_eq!(episode.update(Event::Episode(Box::new(detail(2, 2)))), vec![]);
    assert_eq!(episode.reader.detail.as_ref().map(|d| d.id), Some(ep_id(1, 2)));
    assert!(!episode.take_dirty());
}

#[rstest]
fn reloading_the_same_episode_keeps_turn_and_scroll(mut episode: App) {
    press(&mut episode, KeyCode::Tab);
    typed(&mut episode, "jj");
    episode.update(Event::Episode(Box::new(detail(1, 2))));
    assert_eq!(episode.reader.turn_sel, 2);
    assert_eq!(episode.scroll, 2);
}

#[rstest]
fn a_new_episode_resets_turn_and_scroll(mut episode: App) {
    press(&mut episode, KeyCode::Tab);
    typed(&mut episode, "jj");
    episode.update(Event::Episode(Box::new(detail(1, 3))));
    assert_eq!(episode.reader.turn_sel, 1);
    assert_eq!(episode.scroll, 0);
}

#[rstest]
#[case::tab(&[KeyCode::Tab], 2)]
#[case::tab_wraps(&[KeyCode::Tab, KeyCode::Tab], 0)]
#[case::backtab(&[KeyCode::BackTab], 0)]
#[case::backtab_wraps(&[KeyCode::BackTab, KeyCode::BackTab], 2)]
#[case::l(&[KeyCode::Char('l')], 2)]
#[case::h(&[KeyCode::Char('h')], 0)]
#[case::round_trip(&[KeyCode::Tab, KeyCode::Tab, KeyCode::Tab], 1)]
fn turn_selection_cycles(#[case] keys: &[KeyCode], #[case] sel: usize, mut episode: App) {
    for k in keys {
        assert_eq!(press(&mut episode, *k), vec![]);
    }
    assert_eq!(episode.reader.turn_sel, sel);
}

#[rstest]
fn turn_keys_before_the_episode_arrives_do_nothing(mut episodes: App) {
    press(&mut episodes, KeyCode::Enter);
    assert_eq!(episodes.reader.detail, None);
    press(&mut episodes, KeyCode::Tab);
    assert_eq!(episodes.reader.turn_sel, 0);
    assert_eq!(typed(&mut episodes, "y"), vec![], "no episode, no label");
}

#[rstest]
#[case::error_found_yes('y', 1, "error_found", "yes")]
#[case::error_found_partial('p', 1, "error_found", "partial")]
#[case::error_found_no('n', 1, "error_found", "no")]
#[case::error_found_na('x', 1, "error_found", "n/a")]
#[case::qualified('Q', 1, "critique_quality", "qualified")]
#[case::unqualified('U', 1, "critique_quality", "unqualified")]
#[case::confident('c', 1, "tone", "confident")]
#[case::hedging('e', 1, "tone", "hedging")]
#[case::capitulating('a', 1, "tone", "capitulating")]
#[case::followed('f', 2, "followed_critique", "yes")]
#[case::not_followed('d', 2, "followed_critique", "no")]
#[case::override_first_correct('+', 0, "grade_override", "correct")]
#[case::override_final_wrong('-', 2, "grade_override", "wrong")]
fn label_keys_save_on_the_selected_turn(
    #[case] k: char,
    #[case] turn: usize,
    #[case] name: &str,
    #[case] value: &str,
    mut episode: App,
) {
    episode.reader.turn_sel = turn;
    let fx = typed(&mut episode, &k.to_string());
    let want = label(Some(turn as u32), name, value);
    assert_eq!(fx, vec![Effect::SaveLabel { id: ep_id(1, 2), label: want, undo: false }]);
    assert_eq!(status(&episode), (format!("saving {name}={value}…").as_str(), false));
    assert!(
        episode.reader.detail.as_ref().is_some_and(|d| d.labels.is_empty()),
        "shown only once saved"
    );
}

#[rstest]
#[case::error_found_on_generate('y', 0, "error_found labels a critique turn: select one with tab")]
#[case::error_found_on_revise('n', 2, "error_found labels a critique turn: select one with tab")]
#[case::quality_on_generate('Q', 0, "critique_quality labels a critique turn: select one with tab")]
#[case::tone_on_revise('c', 2, "tone labels a critique turn: select one with tab")]
#[case::followed_on_critique('f', 1, "followed_critique labels a revise turn: select one with tab")]
#[case::followed_on_generate('d', 0, "followed_critique labels a revise turn: select one with tab")]
#[case::override_on_critique('+', 1, "grade_override labels an attempt turn: select one with tab")]
fn a_label_for_another_role_is_refused(
    #[case] k: char,
    #[case] turn: usize,
    #[case] msg: &str,
    mut episode: App,
) {
    episode.reader.turn_sel = turn;
    assert_eq!(typed(&mut episode, &k.to_string()), vec![]);
    assert_eq!(status(&episode), (msg, true));
}

#[rstest]
fn label_keys_only_label_on_the_episode_screen(mut episode: App) {
    press(&mut episode, KeyCode::Esc);
    assert_eq!(episode.screen, Screen::Episodes);
    assert_eq!(
        episode.act(Action::Label { name: "error_found".into(), value: "yes".into() }),
        vec![]
    );
}

fn saved(id: EpisodeId, seq: u64, label: Label) -> Event {
    Event::LabelSaved { id, seq, label, undo: false }
}

#[rstest]
fn a_saved_label_shows_everywhere_and_says_what_is_left(mut episode: App) {
    episode.take_dirty();
    let l = label(Some(1), "error_found", "yes");
    assert_eq!(episode.update(saved(ep_id(1, 2), 7, l.clone())), vec![]);
    assert!(episode.take_dirty());
    assert_eq!(episode.reader.detail.as_ref().map(|d| d.labels.clone()), Some(vec![(7, l)]));
    assert_eq!(episode.list.rows[2].labels.len(), 1);
    assert_eq!(
        status(&episode),
        (
            "saved error_found=yes on turn #1 (ana) · to do: critique_quality turn #1, tone turn #1, \
             followed_critique turn #2",
            false
        )
    );
}

#[rstest]
fn an_episode_label_says_so(mut episode: App) {
    episode.update(saved(ep_id(1, 2), 1, label(None, "note", "odd question")));
    assert!(status(&episode).0.starts_with("saved note=odd question on the episode (ana)"));
}

#[rstest]
fn a_label_saved_for_another_episode_only_counts_in_its_row(mut episode: App) {
    episode.update(saved(ep_id(1, 1), 3, label(Some(1), "tone", "hedging")));
    assert!(episode.reader.detail.as_ref().is_some_and(|d| d.labels.is_empty()));
    assert_eq!(episode.list.rows[1].labels.len(), 1);
    assert_eq!(episode.list.rows[2].labels.len(), 0);
}

#[rstest]
fn yes_then_no_leaves_one_effective_label_and_a_history_of_two(mut episode: App) {
    let id = ep_id(1, 2);
    episode.update(saved(id, 7, label_at(Some(1), "error_found", "yes", 0)));
    episode.update(saved(id, 8, label_at(Some(1), "error_found", "no", 1)));
    let labels = episode.detail_labels();
    let slots = crate::domain::label::slots(&labels);
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].value(), Some("no"));
    assert_eq!(slots[0].history.len(), 2);
    assert_eq!(episode.list.rows[2].effective_labels(), 1);
}

#[rstest]
fn setting_the_value_in_force_again_writes_nothing(mut episode: App) {
    episode.update(saved(ep_id(1, 2), 7, label(Some(1), "error_found", "yes")));
    assert_eq!(typed(&mut episode, "y"), vec![]);
    assert_eq!(status(&episode), ("error_found=yes is already set on turn #1", false));
}

#[rstest]
fn undo_restores_the_value_before_then_none(mut episode: App) {
    let id = ep_id(1, 2);
    episode.update(saved(id, 7, label_at(Some(1), "error_found", "yes", 0)));
    episode.update(saved(id, 8, label_at(Some(1), "error_found", "no", 1)));
    // The clock has not moved: the store would place these after the slot's latest entry.
    let back = label(Some(1), "error_found", "yes");
    assert_eq!(typed(&mut episode, "u"), vec![Effect::SaveLabel { id, label: back, undo: true }]);
    let stored = label_at(Some(1), "error_found", "yes", 2);
    episode.update(Event::LabelSaved { id, seq: 9, label: stored, undo: true });
    assert_eq!(
        status(&episode).0,
        "undone: error_found back to yes on turn #1 · to do: \
        critique_quality turn #1, tone turn #1, followed_critique turn #2"
    );
    let gone = Label { value: String::new(), retracted: true, ..label(Some(1), "error_found", "") };
    assert_eq!(typed(&mut episode, "u"), vec![Effect::SaveLabel { id, label: gone, undo: true }]);
    let mut stored = label_at(Some(1), "error_found", "", 3);
    stored.retracted = true;
    episode.update(Event::LabelSaved { id, seq: 10, label: stored, undo: true });
    assert!(status(&episode).0.starts_with("undone: error_found has no value on turn #1"));
    assert!(episode.detail_labels().len() == 4, "history keeps every entry");
    assert_eq!(crate::domain::label::effective(&episode.detail_labels()), Vec::<&Label>::new());
    assert_eq!(typed(&mut episode, "u"), vec![]);
    assert_eq!(status(&episode), ("nothing to undo", false));
}

#[rstest]
fn undo_stays_on_the_open_episode_and_says_where_the_last_label_is(mut episode: App) {
    episode.update(saved(ep_id(1, 1), 3, label(Some(1), "tone", "hedging")));
    assert_eq!(typed(&mut episode, "u"), vec![]);
    assert_eq!(
        status(&episode),
        ("nothing to undo on this episode (your last label is on item gsm-001 sample 0)", false)
    );
}

#[rstest]
fn undo_with_nothing_saved_says_so(mut episode: App) {
    assert_eq!(typed(&mut episode, "u"), vec![]);
    assert_eq!(status(&episode), ("nothing to undo", false));
}

#[rstest]
fn the_history_key_toggles_the_history_view(mut episode: App) {
    assert!(!episode.reader.show_history);
    typed(&mut episode, "H");
    assert!(episode.reader.show_history);
    typed(&mut episode, "H");
    assert!(!episode.reader.show_history);
}

#[rstest]
fn without_a_name_the_first_label_asks_for_one_and_saves_it(mut episode: App) {
    episode.annotator = None;
    episode.config_file = Some("/cfg/config.toml".into());
    assert_eq!(typed(&mut episode, "y"), vec![]);
    assert!(episode.naming.is_some());
    // While the name is typed, keys are text: `q` does not quit, `y` does not label.
    assert_eq!(typed(&mut episode, "qyb"), vec![]);
    assert!(!episode.should_quit());
    press(&mut episode, KeyCode::Backspace);
    press(&mut episode, KeyCode::Backspace);
    press(&mut episode, KeyCode::Backspace);
    typed(&mut episode, "ben");
    let mut want = label(Some(1), "error_found", "yes");
    want.annotator = "ben".into();
    assert_eq!(
        press(&mut episode, KeyCode::Enter),
        vec![
            Effect::SaveAnnotator { path: "/cfg/config.toml".into(), name: "ben".into() },
            Effect::SaveLabel { id: ep_id(1, 2), label: want, undo: false },
        ]
    );
    assert_eq!(episode.annotator.as_deref(), Some("ben"));
    assert!(episode.naming.is_none());
}

#[rstest]
fn escaping_the_name_prompt_saves_nothing(mut episode: App) {
    episode.annotator = None;
    typed(&mut episode, "y");
    assert_eq!(press(&mut episode, KeyCode::Esc), vec![]);
    assert_eq!(episode.annotator, None);
    assert_eq!(status(&episode), ("label not saved: labels need the annotator's name", false));
}

#[rstest]
#[case::next_bracket(']', 3)]
#[case::next_j('J', 3)]
#[case::previous_bracket('[', 1)]
#[case::previous_k('K', 1)]
fn next_and_previous_episode(#[case] k: char, #[case] item: u32, mut episode: App) {
    assert_eq!(
        typed(&mut episode, &k.to_string()),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, item) }]
    );
    assert_eq!(episode.list.sel, item as usize);
    assert_eq!(episode.screen, Screen::Episode);
}

#[rstest]
fn next_episode_follows_the_filter(mut episode: App) {
    // Unlabelled keeps 1, 2, 4, 5: the next after 2 is 4.
    press(&mut episode, KeyCode::Esc);
    typed(&mut episode, "F");
    assert_eq!(visible_items(&episode), vec![1, 2, 4, 5]);
    typed(&mut episode, "j");
    press(&mut episode, KeyCode::Enter);
    assert_eq!(
        typed(&mut episode, "]"),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 4) }]
    );
    assert_eq!(episode.list.sel, 2);
}

#[rstest]
fn there_is_no_episode_after_the_last_or_before_the_first(mut episodes: App) {
    typed(&mut episodes, "G");
    press(&mut episodes, KeyCode::Enter);
    episodes.update(Event::Episode(Box::new(detail(1, 5))));
    assert_eq!(typed(&mut episodes, "]"), vec![]);
    assert_eq!(status(&episodes), ("no more episodes", false));
    assert_eq!(episodes.list.sel, 5);

    press(&mut episodes, KeyCode::Esc);
    typed(&mut episodes, "g");
    press(&mut episodes, KeyCode::Enter);
    episodes.update(Event::Episode(Box::new(detail(1, 0))));
    episodes.status = None;
    assert_eq!(typed(&mut episodes, "["), vec![]);
    assert_eq!(status(&episodes), ("no more episodes", false));
}

#[rstest]
#[case::from_labelled_first(0, Some(1))]
#[case::next_one(1, Some(2))]
#[case::skips_complete_failed_and_pending(2, None)]
#[case::none_below(5, None)]
fn next_to_label(#[case] from: u32, #[case] to: Option<u32>, mut episodes: App) {
    for _ in 0..from {
        typed(&mut episodes, "j");
    }
    press(&mut episodes, KeyCode::Enter);
    episodes.update(Event::Episode(Box::new(detail(1, from))));
    let fx = typed(&mut episodes, "N");
    match to {
        Some(item) => {
            assert_eq!(fx, vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, item) }]);
            assert_eq!(episodes.list.sel, item as usize);
        }
        None => {
            assert_eq!(fx, vec![]);
            assert_eq!(status(&episodes), ("every episode below is labelled", false));
        }
    }
}

#[rstest]
fn next_to_label_sees_labels_saved_this_session(mut episode: App) {
    typed(&mut episode, "[");
    episode.update(Event::Episode(Box::new(detail(1, 1))));
    assert_eq!(
        typed(&mut episode, "N"),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 2) }]
    );
    typed(&mut episode, "[");
    episode.update(Event::Episode(Box::new(detail(1, 1))));
    for (i, l) in complete().into_iter().enumerate() {
        episode.update(saved(ep_id(1, 2), i as u64, l));
    }
    assert_eq!(typed(&mut episode, "N"), vec![]);
}

#[rstest]
fn someone_elses_labels_do_not_complete_mine(mut episode: App) {
    typed(&mut episode, "[");
    episode.update(Event::Episode(Box::new(detail(1, 1))));
    for (i, mut l) in complete().into_iter().enumerate() {
        l.annotator = "ben".into();
        episode.update(saved(ep_id(1, 2), i as u64, l));
    }
    assert_eq!(
        typed(&mut episode, "N"),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 2) }]
    );
}

#[rstest]
fn next_follows_my_queue_in_its_order(mut episodes: App) {
    // The queue's order for ana: 3 (complete), 1, 0 (complete), 2; ben has 4.
    let ids = [ep_id(1, 3), ep_id(1, 1), ep_id(1, 0), ep_id(1, 2), ep_id(1, 4)];
    let queue = crate::domain::Queue {
        run: RunId(1),
        annotators: vec!["ana".into(), "ben".into()],
        overlap: 0.0,
        seed: 1,
        blind: false,
        created: NOW,
        order: ids.iter().enumerate().map(|(i, id)| (*id, vec![u16::from(i == 4)])).collect(),
    };
    episodes.update(Event::Episodes { run: RunId(1), rows: six_episodes(), queue: Some(queue) });
    // From the list, `N` starts at the head of my queue: the first still to label is item 1.
    assert_eq!(
        typed(&mut episodes, "N"),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 1) }]
    );
    assert_eq!(episodes.screen, Screen::Episode);
    press(&mut episodes, KeyCode::Esc);
    press(&mut episodes, KeyCode::Home);
    press(&mut episodes, KeyCode::Enter);
    episodes.update(Event::Episode(Box::new(detail(1, 0))));
    assert_eq!(
        typed(&mut episodes, "N"),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 2) }],
        "after 0 comes 2 in the queue"
    );
    episodes.update(Event::Episode(Box::new(detail(1, 2))));
    assert_eq!(
        typed(&mut episodes, "N"),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 1) }],
        "the queue wraps round to 1, skipping the complete 3"
    );
    episodes.update(Event::Episode(Box::new(detail(1, 1))));
    for (i, l) in complete().into_iter().enumerate() {
        episodes.update(saved(ep_id(1, 2), i as u64, l));
    }
    episodes.auto_advance = false;
    for (i, l) in complete().into_iter().enumerate() {
        episodes.update(saved(ep_id(1, 1), 10 + i as u64, l));
    }
    assert_eq!(typed(&mut episodes, "N"), vec![]);
    assert_eq!(status(&episodes), ("your queue is done: 4 of 4 episodes labelled", false));
}

#[rstest]
fn next_in_the_queue_shows_an_episode_the_filter_hides(mut episodes: App) {
    let queue = crate::domain::Queue::make(
        RunId(1),
        &[ep_id(1, 1)],
        &["ana".to_string()],
        0.0,
        1,
        true,
        NOW,
    )
    .unwrap();
    episodes.update(Event::Episodes { run: RunId(1), rows: six_episodes(), queue: Some(queue) });
    assert!(episodes.blind, "a blind queue puts its annotators in blind mode");
    typed(&mut episodes, "f"); // c→c only: item 0
    assert_eq!(visible_items(&episodes), vec![0]);
    press(&mut episodes, KeyCode::Enter);
    episodes.update(Event::Episode(Box::new(detail(1, 0))));
    assert_eq!(
        typed(&mut episodes, "N"),
        vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 1) }]
    );
    assert_eq!(episodes.list.filter, Filter::All);
}

#[rstest]
fn blind_mode_toggles(mut episode: App) {
    assert!(!episode.blind);
    assert_eq!(typed(&mut episode, "b"), vec![]);
    assert!(episode.blind);
    assert_eq!(
        status(&episode),
        ("blind mode: references, grades and other annotators' labels hidden", false)
    );
    typed(&mut episode, "b");
    assert!(!episode.blind);
    assert_eq!(status(&episode), ("blind mode off", false));
}

#[rstest]
fn blind_mode_survives_the_next_episode(mut episode: App) {
    typed(&mut episode, "b]");
    episode.update(Event::Episode(Box::new(detail(1, 3))));
    assert!(episode.blind);
}

#[rstest]
#[case::down("j", 1)]
#[case::down_up("jjk", 1)]
#[case::up_saturates("k", 0)]
fn episode_text_scrolls(#[case] keys: &str, #[case] scroll: u16, mut episode: App) {
    typed(&mut episode, keys);
    assert_eq!(episode.scroll, scroll);
}

#[rstest]
fn episode_text_pages(mut episode: App) {
    press(&mut episode, KeyCode::PageDown);
    assert_eq!(episode.scroll, 10);
    episode.update(ctrl('d'));
    assert_eq!(episode.scroll, 20);
    press(&mut episode, KeyCode::PageUp);
    assert_eq!(episode.scroll, 10);
    episode.update(ctrl('u'));
    episode.update(ctrl('u'));
    assert_eq!(episode.scroll, 0);
}

#[rstest]
fn top_scrolls_the_episode_text_to_the_start(mut episode: App) {
    typed(&mut episode, "jjjjj");
    assert_eq!(episode.scroll, 5);
    typed(&mut episode, "g");
    assert_eq!(episode.scroll, 0);
}

#[rstest]
fn back_from_an_episode_returns_to_the_list(mut episode: App) {
    assert_eq!(press(&mut episode, KeyCode::Esc), vec![]);
    assert_eq!(episode.screen, Screen::Episodes);
    assert_eq!(episode.list.sel, 2, "the row stays selected");
    press(&mut episode, KeyCode::Backspace);
    assert_eq!(episode.screen, Screen::Runs);
}

// ================================================================ metrics screen

#[rstest]
fn metrics_from_the_runs_screen_opens_the_selected_run(mut runs: App) {
    typed(&mut runs, "j");
    assert_eq!(
        typed(&mut runs, "m"),
        vec![Effect::LoadEpisodes(RunId(2)), Effect::LoadMetrics(RunId(2))]
    );
    assert_eq!(runs.screen, Screen::Metrics);
    assert_eq!(runs.mode(), Mode::Metrics);
    assert_eq!(runs.run, Some(RunId(2)));
    assert_eq!(runs.stats.report, None, "computing");
}

#[rstest]
fn metrics_of_the_open_run_are_shown(mut runs: App) {
    typed(&mut runs, "3");
    runs.take_dirty();
    assert_eq!(runs.update(Event::Metrics { run: RunId(1), report: report(1, "alpha") }), vec![]);
    assert!(runs.take_dirty());
    assert_eq!(
        runs.stats.report.as_ref().map(|(id, r)| (*id, r.run.as_str())),
        Some((RunId(1), "alpha"))
    );
    assert_eq!(runs.stats.compare_report, None);
}

#[rstest]
fn metrics_of_an_unrelated_run_are_dropped(mut runs: App) {
    typed(&mut runs, "m");
    runs.update(Event::Metrics { run: RunId(3), report: report(3, "gamma") });
    assert_eq!(runs.stats.report, None);
    assert_eq!(runs.stats.compare_report, None);
}

#[rstest]
fn compare_routes_the_marked_run_beside_the_open_one(mut runs: App) {
    // Mark alpha, then open beta's metrics: both are loaded, each lands in its pane.
    typed(&mut runs, " j");
    assert_eq!(
        typed(&mut runs, "m"),
        vec![
            Effect::LoadEpisodes(RunId(2)),
            Effect::LoadMetrics(RunId(2)),
            Effect::LoadMetrics(RunId(1)),
            Effect::LoadComparison { a: RunId(1), b: RunId(2) },
        ]
    );
    runs.update(Event::Metrics { run: RunId(1), report: report(1, "alpha") });
    runs.update(Event::Metrics { run: RunId(2), report: report(2, "beta") });
    assert_eq!(runs.stats.report.as_ref().map(|(id, _)| *id), Some(RunId(2)));
    assert_eq!(
        runs.stats.compare_report.as_ref().map(|(id, r)| (*id, r.run.as_str())),
        Some((RunId(1), "alpha"))
    );
}

#[rstest]
fn compare_with_itself_loads_only_one_report(mut runs: App) {
    typed(&mut runs, " ");
    assert_eq!(
        typed(&mut runs, "m"),
        vec![Effect::LoadEpisodes(RunId(1)), Effect::LoadMetrics(RunId(1))]
    );
    runs.update(Event::Metrics { run: RunId(1), report: report(1, "alpha") });
    assert!(runs.stats.report.is_some());
    assert_eq!(runs.stats.compare_report, None);
}

#[rstest]
fn clearing_the_mark_drops_the_compared_report(mut runs: App) {
    typed(&mut runs, " jm");
    runs.update(Event::Metrics { run: RunId(1), report: report(1, "alpha") });
    assert!(runs.stats.compare_report.is_some());
    typed(&mut runs, "1k ");
    assert_eq!(runs.stats.compare, None);
    assert_eq!(runs.stats.compare_report, None);
}

#[rstest]
fn metrics_screen_navigation(mut runs: App) {
    typed(&mut runs, "m");
    assert_eq!(typed(&mut runs, "2"), vec![], "episodes of the run are already loading");
    assert_eq!(runs.screen, Screen::Episodes);
    press(&mut runs, KeyCode::Esc);
    assert_eq!(runs.screen, Screen::Metrics);
    assert_eq!(typed(&mut runs, "1"), vec![Effect::LoadRuns]);
    assert_eq!(runs.screen, Screen::Runs);
}

#[rstest]
fn metrics_key_on_the_runs_screen_follows_the_selection(mut episodes: App) {
    // alpha is open; back on the runs table, mark alpha and ask for beta's metrics.
    press(&mut episodes, KeyCode::Esc);
    typed(&mut episodes, " j");
    let fx = typed(&mut episodes, "m");
    assert_eq!(episodes.run, Some(RunId(2)), "effects {fx:?}");
    assert!(fx.contains(&Effect::LoadMetrics(RunId(2))), "{fx:?}");
    assert!(fx.contains(&Effect::LoadMetrics(RunId(1))), "{fx:?}");
}

#[rstest]
fn a_run_is_never_compared_with_itself(mut runs: App) {
    // Compare beta against alpha …
    typed(&mut runs, " jm");
    runs.update(Event::Metrics { run: RunId(1), report: report(1, "alpha") });
    runs.update(Event::Metrics { run: RunId(2), report: report(2, "beta") });
    // … then open alpha itself and its metrics.
    typed(&mut runs, "1k");
    press(&mut runs, KeyCode::Enter);
    typed(&mut runs, "m");
    runs.update(Event::Metrics { run: RunId(1), report: report(1, "alpha") });
    assert_eq!(runs.stats.report.as_ref().map(|(id, _)| *id), Some(RunId(1)));
    let compared = runs.stats.compare_report.as_ref().map(|(id, _)| *id);
    assert_ne!(compared, Some(RunId(1)), "alpha shown beside itself");
}

fn with_sources(mut r: Box<MetricsReport>, sources: &[&str]) -> Box<MetricsReport> {
    let cal = crate::metrics::stats::calibration(&[0.2, 0.9], &[false, true], 10)
        .expect("calibration of two scores");
    r.calibration = sources.iter().map(|s| (s.to_string(), cal.clone())).collect();
    r
}

fn comparison(a: &str, b: &str) -> Box<Comparison> {
    let obs = [EpisodeObs {
        item_id: "gsm-000".into(),
        attempts: vec![Some(true), Some(true)],
        ..Default::default()
    }];
    Box::new(crate::metrics::compare(a, &obs, b, &obs, &Default::default()))
}

/// Alpha marked, beta's metrics open (both reports loaded), on the summary panel.
#[fixture]
fn comparing(mut runs: App) -> App {
    typed(&mut runs, " jm");
    runs.update(Event::Metrics { run: RunId(1), report: report(1, "alpha") });
    runs.update(Event::Metrics { run: RunId(2), report: report(2, "beta") });
    runs
}

#[rstest]
#[case::forward(KeyCode::Tab, [MetricsPanel::Calibration, MetricsPanel::Compare, MetricsPanel::Labels, MetricsPanel::Summary])]
#[case::backward(KeyCode::BackTab, [MetricsPanel::Labels, MetricsPanel::Compare, MetricsPanel::Calibration, MetricsPanel::Summary])]
fn tab_cycles_the_metrics_panels(
    #[case] k: KeyCode,
    #[case] order: [MetricsPanel; 4],
    mut runs: App,
) {
    typed(&mut runs, "m");
    assert_eq!(runs.stats.panel, MetricsPanel::Summary);
    for want in order {
        runs.scroll = 4;
        assert_eq!(press(&mut runs, k), vec![]);
        assert_eq!(runs.stats.panel, want);
        assert_eq!(runs.scroll, 0, "a new panel starts at its top");
    }
}

#[rstest]
fn tab_elsewhere_keeps_its_own_meaning(mut episodes: App) {
    press(&mut episodes, KeyCode::Tab);
    assert_eq!(episodes.list.filter, Filter::Cell(Transition::RightRight));
    assert_eq!(episodes.stats.panel, MetricsPanel::Summary);
}

#[rstest]
fn the_source_key_opens_the_calibration_panel_first(mut runs: App) {
    typed(&mut runs, "m");
    runs.update(Event::Metrics {
        run: RunId(1),
        report: with_sources(report(1, "alpha"), &["p_true", "verbalized"]),
    });
    assert_eq!(typed(&mut runs, "c"), vec![]);
    assert_eq!(runs.stats.panel, MetricsPanel::Calibration);
    assert_eq!(runs.shown_calibration_source(), Some("verbalized"), "the first, unchanged");
}

#[rstest]
fn source_cycling_wraps(mut runs: App) {
    typed(&mut runs, "m");
    let sources = ["agreement", "p_true", "verbalized"];
    runs.update(Event::Metrics {
        run: RunId(1),
        report: with_sources(report(1, "alpha"), &sources),
    });
    press(&mut runs, KeyCode::Tab);
    assert_eq!(runs.shown_calibration_source(), Some("verbalized"), "verbalized comes first");
    let mut seen = Vec::new();
    for _ in 0..4 {
        typed(&mut runs, "c");
        seen.push(runs.shown_calibration_source().map(str::to_string).unwrap_or_default());
    }
    assert_eq!(seen, ["p_true", "agreement", "verbalized", "p_true"]);
}

#[rstest]
fn a_chosen_source_missing_from_another_run_falls_back_to_the_first(mut runs: App) {
    typed(&mut runs, "m");
    runs.update(Event::Metrics {
        run: RunId(1),
        report: with_sources(report(1, "alpha"), &["p_true", "verbalized"]),
    });
    typed(&mut runs, "cc");
    assert_eq!(runs.shown_calibration_source(), Some("p_true"));
    runs.update(Event::Metrics {
        run: RunId(1),
        report: with_sources(report(1, "alpha"), &["agreement"]),
    });
    assert_eq!(runs.shown_calibration_source(), Some("agreement"));
}

#[rstest]
fn cycling_without_confidence_says_so(mut runs: App) {
    typed(&mut runs, "m");
    runs.update(Event::Metrics { run: RunId(1), report: report(1, "alpha") });
    typed(&mut runs, "cc");
    assert_eq!(runs.stats.panel, MetricsPanel::Calibration);
    assert_eq!(runs.shown_calibration_source(), None);
    assert_eq!(status(&runs), ("no confidence recorded in this run", false));
}

#[rstest]
fn the_comparison_of_the_shown_pair_is_kept(mut comparing: App) {
    assert_eq!(comparing.current_comparison(), None, "computing");
    comparing.take_dirty();
    let c = comparison("alpha", "beta");
    let fx =
        comparing.update(Event::Comparison { a: RunId(1), b: RunId(2), result: Ok(c.clone()) });
    assert_eq!(fx, vec![]);
    assert!(comparing.take_dirty());
    assert_eq!(comparing.current_comparison(), Some(&Ok(*c)));
}

#[rstest]
fn a_failed_comparison_is_kept_as_its_error(mut comparing: App) {
    comparing.update(Event::Comparison { a: RunId(1), b: RunId(2), result: Err("gone".into()) });
    assert_eq!(comparing.current_comparison(), Some(&Err("gone".to_string())));
}

#[rstest]
#[case::other_marked_run(3, 2)]
#[case::other_open_run(1, 3)]
#[case::swapped(2, 1)]
fn a_comparison_of_another_pair_is_ignored(#[case] a: u64, #[case] b: u64, mut comparing: App) {
    comparing.take_dirty();
    let result = Ok(comparison("x", "y"));
    assert_eq!(comparing.update(Event::Comparison { a: RunId(a), b: RunId(b), result }), vec![]);
    assert_eq!(comparing.stats.comparison, None);
    assert!(!comparing.take_dirty());
}

#[rstest]
fn a_comparison_finishing_after_the_mark_moved_is_ignored(mut comparing: App) {
    // Back to the runs table: mark gamma instead of alpha while alpha–beta is computed.
    typed(&mut comparing, "1jj ");
    assert_eq!(comparing.stats.compare, Some(RunId(3)));
    let late = Ok(comparison("alpha", "beta"));
    comparing.update(Event::Comparison { a: RunId(1), b: RunId(2), result: late });
    assert_eq!(comparing.stats.comparison, None);
}

#[rstest]
fn a_comparison_finishing_after_another_run_opened_is_ignored(mut comparing: App) {
    typed(&mut comparing, "1jjm");
    assert_eq!(comparing.run, Some(RunId(3)));
    let late = Ok(comparison("alpha", "beta"));
    comparing.update(Event::Comparison { a: RunId(1), b: RunId(2), result: late });
    assert_eq!(comparing.current_comparison(), None);
    assert_eq!(comparing.stats.comparison, None);
}

#[rstest]
fn reopening_the_pair_recomputes_but_keeps_the_result_on_screen(mut comparing: App) {
    let c = comparison("alpha", "beta");
    comparing.update(Event::Comparison { a: RunId(1), b: RunId(2), result: Ok(c.clone()) });
    let fx = typed(&mut comparing, "m");
    assert!(fx.contains(&Effect::LoadComparison { a: RunId(1), b: RunId(2) }), "{fx:?}");
    assert_eq!(comparing.current_comparison(), Some(&Ok(*c)));
}

#[rstest]
fn marking_on_the_metrics_screen_starts_the_comparison(mut runs: App) {
    // Beta's metrics are open and its row selected: the key marks beta itself.
    typed(&mut runs, "jm");
    assert_eq!(typed(&mut runs, " "), vec![], "beta against itself: nothing to compare");
    assert_eq!(runs.stats.compare, Some(RunId(2)));
    typed(&mut runs, " ");
    // The runs table's selection can differ from the open run (say after a reload).
    runs.table.sel = 0;
    let fx = typed(&mut runs, " ");
    assert_eq!(runs.stats.compare, Some(RunId(1)));
    assert_eq!(
        fx,
        vec![Effect::LoadMetrics(RunId(1)), Effect::LoadComparison { a: RunId(1), b: RunId(2) }]
    );
}

#[rstest]
fn clearing_the_mark_drops_the_comparison(mut comparing: App) {
    comparing.update(Event::Comparison {
        a: RunId(1),
        b: RunId(2),
        result: Ok(comparison("alpha", "beta")),
    });
    typed(&mut comparing, "1k ");
    assert_eq!(comparing.stats.compare, None);
    assert_eq!(comparing.stats.comparison, None);
}

// ================================================================ step screen

fn item(n: u32) -> Item {
    Item {
        id: ItemId(format!("gsm-{n:03}")),
        question: format!("Question {n}?"),
        reference: n.to_string(),
        answer_kind: Default::default(),
        choices: None,
        given: None,
        source: "gsm8k".into(),
        meta: Meta::new(),
    }
}

const STEP_RUN: RunId = RunId(9);

fn step_ready() -> Event {
    Event::StepReady { run: STEP_RUN, source: "alpha".into(), items: (0..3).map(item).collect() }
}

fn step_next(item: u32, critique: Option<&str>) -> Effect {
    Effect::StepNext {
        run: STEP_RUN,
        item,
        critique: critique.map(str::to_string),
        annotator: "ana".into(),
    }
}

/// On the step screen of a run made from alpha, three items, nothing generated yet.
#[fixture]
fn step(mut runs: App) -> App {
    assert_eq!(typed(&mut runs, "s"), vec![Effect::StepBegin { source: RunId(1) }]);
    assert_eq!(runs.update(step_ready()), vec![Effect::LoadRuns], "the new run is listed");
    runs
}

fn step_busy(app: &App) -> bool {
    app.step.as_ref().is_some_and(|s| s.busy)
}

#[rstest]
fn step_begins_from_the_selected_run(mut runs: App) {
    typed(&mut runs, "j");
    assert_eq!(typed(&mut runs, "s"), vec![Effect::StepBegin { source: RunId(2) }]);
    assert_eq!(runs.screen, Screen::Step);
    assert_eq!(runs.mode(), Mode::Step);
    assert_eq!(runs.step, None, "preparing");
    assert_eq!(status(&runs), ("creating a run to step through…", false));
}

#[rstest]
fn step_needs_a_run(mut app: App) {
    app.update(Event::Runs(Vec::new()));
    assert_eq!(typed(&mut app, "s"), vec![]);
    assert_eq!(app.screen, Screen::Runs);
    assert_eq!(status(&app), ("no run to step through yet", false));
}

#[rstest]
fn step_ready_shows_the_first_item(step: App) {
    let s = step.step.as_ref().expect("step state");
    assert_eq!((s.run, s.source.as_str(), s.items.len(), s.sel), (STEP_RUN, "alpha", 3, 0));
    assert!(s.turns.is_empty() && !s.busy && !s.done && s.editing.is_none());
    let (msg, err) = status(&step);
    assert!(msg.starts_with("stepping through alpha:"), "{msg}");
    assert!(!err);
}

#[rstest]
fn step_keys_before_the_run_is_ready_do_nothing(mut runs: App) {
    typed(&mut runs, "s");
    assert_eq!(typed(&mut runs, "jw"), vec![]);
    assert_eq!(press(&mut runs, KeyCode::Enter), vec![]);
    assert_eq!(runs.step, None);
}

#[rstest]
#[case::down("j", 1, vec![Effect::StepLoadTurns { run: STEP_RUN, item: 1 }])]
#[case::up_at_top("k", 0, vec![])]
#[case::bottom("G", 2, vec![Effect::StepLoadTurns { run: STEP_RUN, item: 2 }])]
#[case::clamps("GG", 2, vec![Effect::StepLoadTurns { run: STEP_RUN, item: 2 }])]
#[case::top("Gg", 0, vec![
    Effect::StepLoadTurns { run: STEP_RUN, item: 2 },
    Effect::StepLoadTurns { run: STEP_RUN, item: 0 },
])]
fn step_item_selection_loads_its_turns(
    #[case] keys: &str,
    #[case] sel: usize,
    #[case] fx: Vec<Effect>,
    mut step: App,
) {
    assert_eq!(typed(&mut step, keys), fx);
    assert_eq!(step.step.as_ref().map(|s| s.sel), Some(sel));
}

#[rstest]
fn moving_to_another_item_clears_the_conversation(mut step: App) {
    step.update(Event::StepTurns {
        run: STEP_RUN,
        item: 0,
        turns: vec![turn(Role::Generate, "42")],
    });
    step.update(Event::StepTurn {
        run: STEP_RUN,
        item: 0,
        turn: Box::new(turn(Role::Critique, "ok")),
        done: true,
    });
    typed(&mut step, "j");
    let s = step.step.as_ref().expect("step state");
    assert!(s.turns.is_empty() && s.streaming.is_empty() && !s.done);
}

#[rstest]
#[case::enter(KeyCode::Enter)]
#[case::space(KeyCode::Char(' '))]
fn step_next_requests_one_turn(#[case] k: KeyCode, mut step: App) {
    assert_eq!(press(&mut step, k), vec![step_next(0, None)]);
    assert!(step_busy(&step));
    assert_eq!(press(&mut step, k), vec![], "one request at a time");
    assert_eq!(typed(&mut step, "jw"), vec![], "no moving or writing while busy");
    assert_eq!(step.step.as_ref().map(|s| (s.sel, s.editing.is_some())), Some((0, false)));
}

#[rstest]
fn streamed_text_and_turns_land_on_their_item_only(mut step: App) {
    press(&mut step, KeyCode::Enter);
    step.take_dirty();
    step.update(Event::StepDelta { run: STEP_RUN, item: 0, text: "48 / 2 ".into() });
    step.update(Event::StepDelta { run: STEP_RUN, item: 0, text: "= 24".into() });
    assert!(step.take_dirty());
    // Another item, another run: dropped.
    step.update(Event::StepDelta { run: STEP_RUN, item: 1, text: "stale".into() });
    step.update(Event::StepDelta { run: RunId(1), item: 0, text: "stale".into() });
    step.update(Event::StepTurns { run: STEP_RUN, item: 2, turns: vec![turn(Role::Given, "x")] });
    assert!(!step.take_dirty());
    let s = step.step.as_ref().expect("step state");
    assert_eq!(s.streaming, "48 / 2 = 24");
    assert!(s.turns.is_empty());

    let fx = step.update(Event::StepTurn {
        run: STEP_RUN,
        item: 0,
        turn: Box::new(turn(Role::Generate, "48 / 2 = 24")),
        done: false,
    });
    assert_eq!(fx, vec![]);
    let s = step.step.as_ref().expect("step state");
    assert!(!s.busy && !s.done && s.streaming.is_empty());
    assert_eq!(s.turns.len(), 1);
    assert_eq!(status(&step), ("turn saved", false));
}

#[rstest]
fn a_turn_of_another_run_is_ignored(mut step: App) {
    press(&mut step, KeyCode::Enter);
    step.update(Event::StepTurn {
        run: RunId(1),
        item: 0,
        turn: Box::new(turn(Role::Generate, "x")),
        done: true,
    });
    assert!(step_busy(&step));
    assert!(step.step.as_ref().is_some_and(|s| s.turns.is_empty() && !s.done));
}

#[rstest]
fn a_complete_item_takes_no_more_turns(mut step: App) {
    press(&mut step, KeyCode::Enter);
    step.update(Event::StepTurn {
        run: STEP_RUN,
        item: 0,
        turn: Box::new(turn(Role::Revise, "72")),
        done: true,
    });
    assert_eq!(status(&step), ("episode complete: pick another item (↑/↓)", false));
    assert_eq!(press(&mut step, KeyCode::Enter), vec![]);
    assert_eq!(status(&step), ("this item is complete: pick another (↑/↓)", false));
    assert_eq!(typed(&mut step, "w"), vec![]);
    assert!(step.step.as_ref().is_some_and(|s| s.editing.is_none()));
    assert_eq!(typed(&mut step, "j"), vec![Effect::StepLoadTurns { run: STEP_RUN, item: 1 }]);
    assert_eq!(press(&mut step, KeyCode::Enter), vec![step_next(1, None)]);
}

#[rstest]
fn a_failed_step_frees_the_item(mut step: App) {
    press(&mut step, KeyCode::Enter);
    step.update(Event::StepDelta { run: STEP_RUN, item: 0, text: "partial".into() });
    step.update(Event::StepFailed { run: STEP_RUN, item: 0, error: "HTTP 500: boom".into() });
    let s = step.step.as_ref().expect("step state");
    assert!(!s.busy && s.streaming.is_empty());
    assert_eq!(status(&step), ("HTTP 500: boom", true));
    assert_eq!(press(&mut step, KeyCode::Enter), vec![step_next(0, None)], "retry");
}

#[rstest]
fn writing_a_critique(mut step: App) {
    assert_eq!(typed(&mut step, "w"), vec![]);
    assert_eq!(step.step.as_ref().and_then(|s| s.editing.clone()), Some(String::new()));
    let (msg, _) = status(&step);
    assert!(msg.starts_with("type the critique"), "{msg}");
    // Every key is text now, bound or not.
    assert_eq!(typed(&mut step, "q? jGw"), vec![]);
    assert!(!step.should_quit());
    assert_eq!(step.screen, Screen::Step);
    assert_eq!(step.step.as_ref().map(|s| s.sel), Some(0));
    press(&mut step, KeyCode::Backspace);
    press(&mut step, KeyCode::Left);
    assert_eq!(step.step.as_ref().and_then(|s| s.editing.clone()), Some("q? jG".into()));
    assert_eq!(press(&mut step, KeyCode::Enter), vec![step_next(0, Some("q? jG"))]);
    let s = step.step.as_ref().expect("step state");
    assert!(s.busy && s.editing.is_none());
}

#[rstest]
fn an_empty_critique_is_not_sent(mut step: App) {
    typed(&mut step, "w  ");
    assert_eq!(press(&mut step, KeyCode::Enter), vec![]);
    assert_eq!(step.step.as_ref().and_then(|s| s.editing.clone()), Some("  ".into()));
    assert!(!step_busy(&step));
}

#[rstest]
fn esc_cancels_the_critique_then_leaves(mut step: App) {
    typed(&mut step, "wabc");
    assert_eq!(press(&mut step, KeyCode::Esc), vec![]);
    assert!(step.step.as_ref().is_some_and(|s| s.editing.is_none()));
    assert_eq!(step.screen, Screen::Step);
    press(&mut step, KeyCode::Esc);
    assert_eq!(step.screen, Screen::Runs);
}

#[rstest]
fn ctrl_c_quits_even_while_writing_a_critique(mut step: App) {
    typed(&mut step, "wab");
    step.update(ctrl('c'));
    assert!(step.should_quit(), "{:?}", step.step.as_ref().and_then(|s| s.editing.clone()));
}

#[rstest]
fn help_from_step_and_back(mut step: App) {
    typed(&mut step, "?");
    assert_eq!(step.screen, Screen::Help);
    press(&mut step, KeyCode::Esc);
    assert_eq!(step.screen, Screen::Step);
    assert!(step.step.is_some(), "the step state survives help");
}

#[rstest]
fn auto_advance_waits_until_the_episode_is_complete(mut episode: App) {
    // On by default; a save for another episode does not move the labeller.
    assert!(episode.auto_advance);
    let id = ep_id(1, 2);
    assert_eq!(episode.update(saved(ep_id(1, 5), 1, label(Some(1), "tone", "hedging"))), vec![]);
    let mut fx = Vec::new();
    for (i, l) in complete().into_iter().enumerate() {
        assert!(fx.is_empty(), "advanced before the episode was complete");
        fx = episode.update(saved(id, i as u64, l));
    }
    // Items 3 (complete), 4 (failed) and 5 (pending) need nothing: no next below, so it stays.
    assert_eq!(fx, vec![]);
    assert_eq!(status(&episode), ("every episode below is labelled", false));
    // From item 1, completing it opens item 2's successor… here item 2 itself is still open.
    typed(&mut episode, "[");
    episode.update(Event::Episode(Box::new(detail(1, 1))));
    let mut fx = Vec::new();
    for (i, l) in complete().into_iter().enumerate() {
        fx = episode.update(saved(ep_id(1, 1), 10 + i as u64, l));
    }
    assert_eq!(fx, vec![]);
    typed(&mut episode, "A");
    assert!(!episode.auto_advance);
}

#[rstest]
fn auto_advance_moves_on_once_complete(mut episodes: App) {
    typed(&mut episodes, "j");
    press(&mut episodes, KeyCode::Enter);
    episodes.update(Event::Episode(Box::new(detail(1, 1))));
    let labels = complete();
    let last = labels.len() - 1;
    for (i, l) in labels.into_iter().enumerate() {
        let fx = episodes.update(saved(ep_id(1, 1), i as u64, l));
        if i < last {
            assert_eq!(fx, vec![], "label {i} of {last}");
        } else {
            assert_eq!(fx, vec![Effect::LoadEpisode { run: RunId(1), id: ep_id(1, 2) }]);
        }
    }
    assert!(status(&episodes).0.ends_with("· complete → next"), "{:?}", status(&episodes));
}

#[rstest]
fn a_typed_question_is_added_and_selected(mut step: App) {
    assert_eq!(typed(&mut step, "t"), vec![]);
    // While typing, keys are text: `j` and `q` do not move or quit.
    assert_eq!(typed(&mut step, "jq 2+2 => 4"), vec![]);
    assert!(!step.should_quit());
    press(&mut step, KeyCode::Backspace);
    assert_eq!(
        press(&mut step, KeyCode::Enter),
        vec![Effect::StepAddQuestion { run: STEP_RUN, text: "jq 2+2 => ".into() }]
    );
    let mut added = item(3);
    added.question = "jq 2+2".into();
    step.update(Event::StepItemAdded { run: STEP_RUN, item: Box::new(added) });
    let s = step.step.as_ref().unwrap();
    assert_eq!((s.items.len(), s.sel), (4, 3));
    assert!(s.asking.is_none() && s.turns.is_empty());
    // Esc abandons a question without an effect.
    typed(&mut step, "t");
    assert_eq!(press(&mut step, KeyCode::Esc), vec![]);
    assert!(step.step.as_ref().unwrap().asking.is_none());
}

/// Issue 14, point 2: the quick reload of the runs table keeps the numbers already shown.
#[test]
fn returning_to_the_runs_screen_keeps_the_numbers_until_new_ones_arrive() {
    let mut app = app();
    app.update(Event::Runs(three_runs()));
    let quick: Vec<RunRow> = three_runs()
        .into_iter()
        .map(|mut r| {
            (r.acc_t1, r.acc_t2, r.cl, r.cs, r.measured) = (None, None, None, None, false);
            r
        })
        .collect();
    app.update(Event::Runs(quick));
    assert_eq!(app.table.rows[1].acc_t1, Some(0.6), "kept, not blanked");
    assert_eq!(app.table.rows[1].cs, Some(0.5));
    // The measured list replaces them.
    let mut fresh = three_runs();
    fresh[1].acc_t1 = Some(0.25);
    app.update(Event::Runs(fresh));
    assert_eq!(app.table.rows[1].acc_t1, Some(0.25));
}

/// Issue 14, point 2: while a run runs, the runs screen re-reads its headline numbers, one
/// reload at a time.
#[test]
fn a_running_run_gets_live_headline_numbers() {
    let mut app = app();
    app.update(Event::Runs(three_runs()));
    assert!(app.update(Event::Tick).is_empty(), "nothing running: no reload");
    app.update(Event::Run(RunEvent::Started { run: RunId(2), total: 10, done: 0 }));
    assert!(app.update(Event::Tick).iter().any(|e| matches!(e, Effect::LoadRuns)));
    assert!(app.update(Event::Tick).is_empty(), "one reload in flight at a time");
    app.update(Event::Runs(three_runs()));
    assert!(app.update(Event::Tick).is_empty(), "not again within 3 s");
}

/// Issue 14, point 3: a labelled episode leaves the `unlabelled` list (the open one when the
/// list is shown again), and the selection stays on what the user was looking at.
#[rstest]
fn the_unlabelled_filter_drops_episodes_once_labelled(mut episodes: App) {
    episodes.list.filter = Filter::Unlabelled;
    episodes.refilter();
    assert_eq!(visible_items(&episodes), vec![1, 2, 4, 5]);
    typed(&mut episodes, "jj");
    assert_eq!(episodes.selected_episode().map(|r| r.id.item), Some(4));
    // Labelled elsewhere (another annotator's news): gone at once, selection kept.
    episodes.update(saved(ep_id(1, 1), 3, label(Some(1), "error_found", "yes")));
    assert_eq!(visible_items(&episodes), vec![2, 4, 5]);
    assert_eq!(episodes.selected_episode().map(|r| r.id.item), Some(4));
    // Labelled on its own screen: listed until the list is shown again.
    typed(&mut episodes, "k");
    press(&mut episodes, KeyCode::Enter);
    let id = ep_id(1, 2);
    episodes.update(Event::Episode(Box::new(detail(1, 2))));
    episodes.update(saved(id, 4, label(Some(1), "error_found", "no")));
    assert_eq!(visible_items(&episodes), vec![2, 4, 5], "the open episode stays listed");
    press(&mut episodes, KeyCode::Esc);
    assert_eq!(episodes.screen, Screen::Episodes);
    assert_eq!(visible_items(&episodes), vec![4, 5]);
}

/// Issue 14, point 3: Esc in `/` search clears it, Enter keeps it, Ctrl-U clears the query
/// instead of typing `u`.
#[rstest]
fn search_keys_edit_like_a_shell(mut episodes: App) {
    typed(&mut episodes, "/");
    assert!(episodes.list.searching);
    typed(&mut episodes, "zzz");
    assert!(visible_items(&episodes).is_empty());
    episodes.update(ctrl('u'));
    assert_eq!(episodes.list.search, "", "Ctrl-U clears");
    assert_eq!(visible_items(&episodes).len(), 6);
    typed(&mut episodes, "zzz");
    press(&mut episodes, KeyCode::Esc);
    assert!(!episodes.list.searching);
    assert_eq!(episodes.list.search, "", "Esc clears the search");
    assert_eq!(visible_items(&episodes).len(), 6);
    typed(&mut episodes, "/004");
    press(&mut episodes, KeyCode::Enter);
    assert!(!episodes.list.searching);
    assert_eq!(episodes.list.search, "004", "Enter keeps it");
}

/// Issue 14, point 3: `o` cycles the episodes table's order; filters and search still apply.
#[rstest]
fn o_sorts_the_episodes_by_each_column_in_turn(mut episodes: App) {
    typed(&mut episodes, "o");
    assert_eq!(episodes.list.sort, Sort::Transition);
    assert_eq!(visible_items(&episodes), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(status(&episodes).0, "sorted by t1→t2");
    typed(&mut episodes, "o");
    assert_eq!(visible_items(&episodes), vec![1, 2, 4, 5, 0, 3], "fewest labels first");
    typed(&mut episodes, "o");
    assert_eq!(visible_items(&episodes), vec![5, 2, 3, 4, 0, 1], "Albert, Betty, James, …");
    episodes.list.filter = Filter::Unlabelled;
    episodes.refilter();
    assert_eq!(visible_items(&episodes), vec![5, 2, 4, 1]);
    typed(&mut episodes, "o");
    assert_eq!(episodes.list.sort, Sort::Item);
    assert_eq!(visible_items(&episodes), vec![1, 2, 4, 5]);
}

// ================================================================ jump, side by side, bodies

#[rstest]
fn colon_jumps_to_an_item_by_id_exact_then_prefix(mut episodes: App) {
    assert_eq!(typed(&mut episodes, ":"), vec![]);
    assert_eq!(episodes.list.jumping.as_deref(), Some(""));
    // While typing, list keys are text: `j` does not move.
    typed(&mut episodes, "GSM-004");
    assert_eq!(episodes.list.sel, 0);
    press(&mut episodes, KeyCode::Enter);
    assert_eq!(episodes.list.jumping, None);
    assert_eq!(episodes.selected_episode().map(|r| r.id.item), Some(4), "case ignored");
    // A prefix takes the first id that starts with it.
    typed(&mut episodes, ":gsm-00");
    press(&mut episodes, KeyCode::Enter);
    assert_eq!(episodes.selected_episode().map(|r| r.id.item), Some(0));
    // Esc gives up and leaves the selection.
    typed(&mut episodes, "jj:gsm-005");
    press(&mut episodes, KeyCode::Esc);
    assert_eq!(episodes.list.jumping, None);
    assert_eq!(episodes.list.sel, 2);
}

#[rstest]
fn jumping_to_a_filtered_out_item_clears_the_filter_and_an_unknown_id_says_so(mut episodes: App) {
    typed(&mut episodes, "F");
    assert_eq!(episodes.list.filter, Filter::Unlabelled);
    assert_eq!(visible_items(&episodes), vec![1, 2, 4, 5]);
    typed(&mut episodes, ":gsm-003");
    press(&mut episodes, KeyCode::Enter);
    assert_eq!(episodes.list.filter, Filter::All, "item 3 is labelled: the filter gives way");
    assert_eq!(episodes.selected_episode().map(|r| r.id.item), Some(3));
    assert_eq!(status(&episodes), ("filter and search cleared to show the item", false));
    typed(&mut episodes, ":nope");
    press(&mut episodes, KeyCode::Enter);
    assert_eq!(status(&episodes), ("no item `nope` in this run", true));
    assert_eq!(episodes.selected_episode().map(|r| r.id.item), Some(3), "selection kept");
}

#[rstest]
fn v_sets_first_and_final_attempt_side_by_side(mut episode: App) {
    assert!(!episode.reader.side_by_side);
    typed(&mut episode, "v");
    assert!(episode.reader.side_by_side);
    assert_eq!(status(&episode), ("side by side: first attempt #0 · final #2", false));
    typed(&mut episode, "v");
    assert!(!episode.reader.side_by_side);
    // An episode with one attempt has nothing to set beside it.
    let mut one = detail(1, 2);
    one.turns.truncate(1);
    episode.update(Event::Episode(Box::new(one)));
    typed(&mut episode, "v");
    assert!(!episode.reader.side_by_side);
    assert_eq!(status(&episode), ("one attempt only: nothing to set side by side", false));
}

#[rstest]
fn turn_texts_are_built_once_when_the_episode_arrives(mut episode: App) {
    assert_eq!(episode.reader.turn_bodies.len(), 3);
    let text: String =
        episode.reader.turn_bodies[0][0].spans.iter().map(|s| s.content.as_ref()).collect();
    assert_eq!(text, "  48 / 2 = 24, so the answer is 24.");
    // A reload of the same episode (a label saved) keeps the built lines.
    episode.reader.turn_bodies[0] = vec![ratatui::text::Line::raw("kept")];
    let mut again = detail(1, 2);
    again.labels = vec![(0, label(Some(1), "error_found", "yes"))];
    episode.update(Event::Episode(Box::new(again)));
    assert_eq!(episode.reader.turn_bodies[0], vec![ratatui::text::Line::raw("kept")]);
    // Another episode builds its own.
    episode.update(Event::Episode(Box::new(detail(1, 3))));
    assert_ne!(episode.reader.turn_bodies[0], vec![ratatui::text::Line::raw("kept")]);
}

// ================================================================ the new-run form

#[rstest]
fn the_new_run_form_offers_a_seed_and_temperature_and_picks_with_arrows(mut runs: App) {
    runs.new_run.profiles = vec!["local".into(), "vllm".into()];
    typed(&mut runs, "a");
    assert_eq!(runs.screen, Screen::NewRun);
    assert_eq!(runs.new_run.form.temperature, "0.7");
    assert!(runs.new_run.form.seed.parse::<u64>().is_ok(), "a seed");
    // protocol: → cycles the presets, ← goes back.
    press(&mut runs, KeyCode::Tab);
    press(&mut runs, KeyCode::Tab);
    assert_eq!(runs.new_run.form.protocol, "critique-revise");
    press(&mut runs, KeyCode::Right);
    assert_eq!(runs.new_run.form.protocol, "self-correct");
    press(&mut runs, KeyCode::Left);
    press(&mut runs, KeyCode::Left);
    assert_eq!(runs.new_run.form.protocol, "critique-only", "wraps to the last");
    // profile: the config's profiles; choosing one makes the provider openai.
    press(&mut runs, KeyCode::Tab);
    press(&mut runs, KeyCode::Tab);
    assert_eq!(runs.new_run.form.profile, "");
    press(&mut runs, KeyCode::Right);
    assert_eq!(
        (runs.new_run.form.profile.as_str(), runs.new_run.form.provider.as_str()),
        ("local", "openai")
    );
    press(&mut runs, KeyCode::Right);
    press(&mut runs, KeyCode::Right);
    assert_eq!(runs.new_run.form.profile, "", "back to none");
    // A free-text field ignores the arrows.
    press(&mut runs, KeyCode::Tab);
    typed(&mut runs, "http://x");
    press(&mut runs, KeyCode::Right);
    assert_eq!(runs.new_run.form.base_url, "http://x");
}

#[rstest]
fn a_started_run_says_how_many_items_it_took(mut runs: App) {
    runs.update(Event::Info("run-4: the first 100 of 300 items (limit 100)".into()));
    assert_eq!(status(&runs), ("run-4: the first 100 of 300 items (limit 100)", false));
}

#[rstest]
fn a_form_with_a_mistake_stays_open_with_everything_typed(mut runs: App) {
    typed(&mut runs, "a");
    for _ in 0..13 {
        press(&mut runs, KeyCode::Tab);
    }
    typed(&mut runs, "tpr=2");
    assert_eq!(press(&mut runs, KeyCode::Enter), vec![], "nothing starts");
    assert_eq!(runs.screen, Screen::NewRun);
    assert_eq!(status(&runs), ("sim: tpr must be a probability in [0,1], got 2", true));
    assert_eq!(runs.new_run.form.sim, "tpr=2");
    // Mended, it starts; the next form keeps the settings with a new name and seed.
    press(&mut runs, KeyCode::Backspace);
    typed(&mut runs, "0.5");
    let seed = runs.new_run.form.seed.clone();
    match press(&mut runs, KeyCode::Enter).as_slice() {
        [Effect::StartRun(f)] => {
            assert_eq!((f.name.as_str(), f.sim.as_str()), ("run-4", "tpr=0.5"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(runs.screen, Screen::Runs);
    typed(&mut runs, "a");
    assert_eq!(runs.new_run.form.sim, "tpr=0.5", "settings kept");
    assert_ne!(runs.new_run.form.seed, seed, "a new seed for a new run");
    // Left without starting, the form keeps everything, seed included.
    let seed = runs.new_run.form.seed.clone();
    press(&mut runs, KeyCode::Esc);
    typed(&mut runs, "a");
    assert_eq!(runs.new_run.form.seed, seed);
    assert!(seed.len() <= 8, "a seed one can read: {seed}");
}
