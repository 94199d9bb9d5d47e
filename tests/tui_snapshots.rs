//! Render snapshots of every screen (STYLE §2.8.2): a `TestBackend` at 100×30 and at 60×20, the
//! plain theme, a fixed clock and fixed data; the app is driven only through `update`.
//!
//! Regenerate with `INSTA_UPDATE=always cargo test --test tui_snapshots`, then read every
//! changed `tests/snapshots/*.snap`. Under `CI=true` a missing or different snapshot fails.

use std::collections::BTreeMap;
use std::path::Path;

use critloop::browse::{EpisodeDetail, EpisodeRow, RunRow, Transition};
use critloop::domain::{
    EpisodeId, EpisodeStatus, Item, ItemId, Label, LabelSchema, Meta, ProtocolKind, ProtocolSpec,
    ProviderSpec, Role, RunId, RunRecord, RunStatus, Sampling, SimParams, Turn, Verdict,
};
use critloop::export::{ImportOptions, import_transcripts};
use critloop::metrics::{
    AnalysisOptions, BootstrapOptions, Comparison, CritiqueObs, EpisodeObs, MetricsReport, RunData,
    compare, report_of,
};
use critloop::runner::{Live, RunEvent, Totals};
use critloop::store::Store;
use critloop::tui::{App, Event, Keymap, MetricsPanel, Screen, Theme, views};
use crossterm::event::{Event as CtEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;
use rstest::rstest;

const NOW: u64 = 1_700_000_000;

/// The app's clock is in milliseconds.
fn clock() -> u64 {
    NOW * 1000
}

// ---------------------------------------------------------------- fixed data

fn record(id: u64, name: &str, kind: ProtocolKind, provider: ProviderSpec) -> RunRecord {
    RunRecord {
        id: RunId(id),
        name: name.into(),
        dataset: "gsm8k-mini".into(),
        dataset_hash: "d41d8cd98f00".into(),
        protocol: ProtocolSpec {
            name: kind.as_str().into(),
            kind,
            rounds: 1,
            stop_when_correct: false,
            critique_source: Default::default(),
            prompts: Default::default(),
        },
        provider,
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

/// ana's label `name=value` at NOW.
fn note(name: &str, turn: Option<u32>, value: &str) -> Label {
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

fn sim() -> ProviderSpec {
    ProviderSpec::Sim { params: SimParams::default() }
}

fn runs() -> Vec<RunRow> {
    let row = |record: RunRecord, totals: Totals, acc: [Option<f64>; 4]| RunRow {
        record,
        totals,
        acc_t1: acc[0],
        acc_t2: acc[1],
        cl: acc[2],
        cs: acc[3],
        queue: None,
        measured: true,
    };
    vec![
        row(
            record(1, "demo", ProtocolKind::CritiqueRevise, sim()),
            Totals { total: 200, done: 200, failed: 3, pending: 0 },
            [Some(0.615), Some(0.69), Some(0.912), Some(0.387)],
        ),
        row(
            record(2, "sim-2", ProtocolKind::CritiqueRevise, sim()),
            Totals { total: 100, done: 40, failed: 1, pending: 60 },
            [Some(0.6), Some(0.65), Some(0.9), Some(0.4)],
        ),
        row(
            record(3, "replayed-gpt", ProtocolKind::SelfCorrect, ProviderSpec::Replay),
            Totals { total: 50, done: 0, failed: 0, pending: 50 },
            [None, None, None, None],
        ),
    ]
}

fn ep_id(item: u32) -> EpisodeId {
    EpisodeId { run: RunId(1), item, sample: 0 }
}

fn episode_rows() -> Vec<EpisodeRow> {
    use EpisodeStatus::{Done, Failed, Pending};
    use Transition::*;
    let row = |item: u32, status, transition, n: usize, question: &str| EpisodeRow {
        id: ep_id(item),
        item_id: format!("gsm-{item:03}"),
        status,
        transition,
        labels: (0..n).map(|i| note(&format!("n{i}"), None, "x")).collect(),
        shapes: Vec::new(),
        question: question.into(),
    };
    vec![
        row(0, Done, Some(RightRight), 1, "Natalia sold clips to 48 of her friends in April"),
        row(1, Done, Some(RightWrong), 0, "Weng earns $12 an hour for babysitting"),
        row(
            2,
            Done,
            Some(WrongRight),
            0,
            "Betty is saving money for a new wallet which costs $100",
        ),
        row(3, Done, Some(WrongWrong), 2, "James writes a 3-page letter to 2 different friends"),
        row(4, Failed, None, 0, "Mark has a garden with flowers of three colors"),
        row(5, Pending, None, 0, "Albert is wondering how much pizza he can eat in one day"),
        row(6, Done, Some(WrongRight), 0, "Ken created a care package to send to his brother"),
    ]
}

fn attempt(role: Role, content: &str, answer: &str, correct: bool) -> Turn {
    let mut t = Turn::new(role, content);
    t.answer = Some(answer.into());
    t.correct = Some(correct);
    t.simulated = true;
    t
}

fn critique(content: &str, verdict: Verdict, confidence: f64) -> Turn {
    let mut t = Turn::new(Role::Critique, content);
    t.verdict = Some(verdict);
    t.confidence = Some(confidence);
    t.simulated = true;
    t
}

/// Betty (item 2): wrong first answer, a critique that catches it, a right revision.
fn betty() -> EpisodeDetail {
    EpisodeDetail {
        id: ep_id(2),
        run_name: "demo".into(),
        protocol: ProtocolKind::CritiqueRevise,
        item: Item {
            id: ItemId("gsm-002".into()),
            question: "Betty is saving money for a new wallet which costs $100. Betty has only \
                       half of the money she needs.\nHow much more money does Betty need to buy \
                       the wallet?"
                .into(),
            reference: "5".into(),
            answer_kind: Default::default(),
            choices: None,
            given: None,
            source: "gsm8k".into(),
            meta: Meta::new(),
        },
        status: EpisodeStatus::Done,
        error: None,
        turns: vec![
            attempt(
                Role::Generate,
                "Betty has 100 / 2 = 50 dollars.\nHer parents give her 15 and her grandparents \
                 twice as much, 30.\nSo she needs 100 - 50 - 15 = 35 more.\nThe answer is 35.",
                "35",
                false,
            ),
            critique(
                "# Review\nThe grandparents' $30 was never subtracted.\n```\n100 - 50 - 15 - 30 \
                 = 5\n```\nVerdict: incorrect",
                Verdict::Incorrect,
                0.85,
            ),
            attempt(
                Role::Revise,
                "Betty has 50 dollars, gets 15 and 30 more.\nSo she needs 100 - 50 - 15 - 30 = 5 \
                 more.\nThe answer is 5.",
                "5",
                true,
            ),
        ],
        labels: Vec::new(),
        simulated: true,
    }
}

/// Model output that tries to drive the terminal: OSC title, clear screen, CSI, bidi override.
fn hostile() -> EpisodeDetail {
    let mut d = betty();
    d.id = ep_id(6);
    d.item.id = ItemId("gsm-006\u{1b}[31m".into());
    d.item.question = "Ken created a care package\u{7} to send to his brother.\u{1b}[2J".into();
    d.item.reference = "16\r".into();
    d.turns[0] = attempt(
        Role::Generate,
        "Sure!\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[H\ttab\u{0}nul\r\u{9b}31m\u{202e}evil\u{7f}\n\
         The answer is 14.",
        "14\u{1b}[1m",
        false,
    );
    d.turns[1] = critique(
        "Check the weights \u{1b}[8mhidden\u{1b}[0m again.\nVerdict: incorrect",
        Verdict::Incorrect,
        0.6,
    );
    d.turns[2].error = Some("stream reset\u{1b}]52;c;Y2xpcGJvYXJk\u{7}".into());
    d
}

/// Ten items, the first `wrong_first` wrong at t1 and every even one of those right at t2;
/// item 7 failed.
fn obs(wrong_first: usize) -> Vec<EpisodeObs> {
    let mut obs = Vec::new();
    for i in 0..10 {
        let t1 = i >= wrong_first;
        let t2 = t1 || i % 2 == 0;
        let verdict = if t1 && i != 9 { Verdict::Correct } else { Verdict::Incorrect };
        obs.push(EpisodeObs {
            item_id: format!("gsm-{i:03}"),
            sample: 0,
            failed: i == 7,
            attempts: vec![Some(t1), Some(t2)],
            critiques: vec![CritiqueObs::new(verdict, Some(t1))],
            ..Default::default()
        });
    }
    obs
}

/// The report `critloop metrics` would print: 1000-resample intervals, seed 0.
fn report_from(id: u64, name: &str, obs: Vec<EpisodeObs>) -> Box<MetricsReport> {
    let run = record(id, name, ProtocolKind::CritiqueRevise, sim());
    let data = RunData {
        obs,
        overrides_used: 0,
        grader: None,
        usage: Default::default(),
        labelled: Vec::new(),
    };
    Box::new(report_of(&run, &data, &AnalysisOptions::default()))
}

fn report(id: u64, name: &str, wrong_first: usize) -> Box<MetricsReport> {
    report_from(id, name, obs(wrong_first))
}

/// Sixty items whose critic states a confidence and a logprob P(True) with each verdict and
/// is wrong on every fifth one.
fn calibrated_obs() -> Vec<EpisodeObs> {
    (0..60u32)
        .map(|i| {
            let t1 = (i * 7) % 10 < 6;
            let says_right = t1 != (i % 5 == 0);
            let verdict = if says_right { Verdict::Correct } else { Verdict::Incorrect };
            let t2 = t1 || (!says_right && i % 3 != 0);
            let conf = 0.5 + f64::from((i * 13) % 50) / 100.0;
            let p_true = if says_right {
                0.6 + f64::from((i * 17) % 40) / 100.0
            } else {
                0.4 - f64::from((i * 11) % 40) / 100.0
            };
            EpisodeObs {
                item_id: format!("gsm-{i:03}"),
                attempts: vec![Some(t1), Some(t2)],
                critiques: vec![CritiqueObs {
                    confidence: Some(conf),
                    p_true: Some(p_true),
                    ..CritiqueObs::new(verdict, Some(t1))
                }],
                ..Default::default()
            }
        })
        .collect()
}

/// The report `critloop metrics` gives a transcript fixture imported as `name`: every number
/// comes from the real import and metrics code (the human-label values are hand-checked in
/// tests/transcript_fixtures.rs).
fn imported_report(file: &str, name: &str) -> Box<MetricsReport> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts").join(file);
    let store = Store::temporary().expect("temporary store");
    let opts = ImportOptions { name: Some(name.into()), ..Default::default() };
    let runs = import_transcripts(&store, &path, &opts).expect("import");
    Box::new(critloop::analysis::run_metrics(&store, &runs[0]).expect("metrics"))
}

/// demo (A, marked) against sim-2 (B, open), as `critloop compare demo sim-2` computes it.
fn comparison() -> Box<Comparison> {
    Box::new(compare("demo", &obs(4), "sim-2", &obs(6), &BootstrapOptions::default()))
}

// ---------------------------------------------------------------- driving the app

fn key(c: char) -> Event {
    Event::Term(CtEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)))
}

fn special(code: KeyCode) -> Event {
    Event::Term(CtEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(app: &mut App, keys: &str) {
    for c in keys.chars() {
        app.update(key(c));
    }
}

fn new_app() -> App {
    let schema = LabelSchema::load(&[]).expect("default schema");
    let keymap = Keymap::load(&Default::default(), &schema).expect("default keymap");
    App::new(keymap, schema, Theme::plain(), Some("ana".into()), clock)
}

fn with_runs() -> App {
    let mut app = new_app();
    app.update(Event::Runs(runs()));
    app
}

fn on_episodes() -> App {
    let mut app = with_runs();
    app.update(special(KeyCode::Enter));
    app.update(Event::Episodes { run: RunId(1), rows: episode_rows(), queue: None });
    app
}

fn on_episode(detail: EpisodeDetail) -> App {
    let mut app = on_episodes();
    let row = episode_rows().iter().position(|r| r.id == detail.id).expect("row");
    for _ in 0..row {
        app.update(key('j'));
    }
    app.update(special(KeyCode::Enter));
    app.update(Event::Episode(Box::new(detail)));
    assert_eq!(app.screen, Screen::Episode);
    app
}

fn render(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::render(app, f)).expect("draw");
    terminal
}

fn snapshot(scenario: &str, mut app: App, width: u16, height: u16) -> Terminal<TestBackend> {
    let terminal = render(&mut app, width, height);
    insta::assert_snapshot!(format!("{scenario}_{width}x{height}"), terminal.backend());
    terminal
}

// ---------------------------------------------------------------- runs

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn runs_loading(#[case] w: u16, #[case] h: u16) {
    snapshot("runs_loading", new_app(), w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn runs_empty_first_launch(#[case] w: u16, #[case] h: u16) {
    let mut app = new_app();
    app.update(Event::Runs(Vec::new()));
    snapshot("runs_empty_first_launch", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
#[case::huge(200, 12)]
fn runs_with_live_progress(#[case] w: u16, #[case] h: u16) {
    let mut app = with_runs();
    app.update(Event::Run(RunEvent::Started { run: RunId(2), total: 100, done: 40 }));
    let live = Live {
        episodes_in_flight: 2,
        requests_in_flight: Some(2),
        concurrency: Some((2, 4)),
        retries: 3,
        tokens_per_s: Some(18.4),
        elapsed_secs: 312,
        eta_secs: Some(240),
    };
    app.update(Event::Run(RunEvent::Progress {
        run: RunId(2),
        done: 65,
        failed: 2,
        total: 100,
        live,
    }));
    // Mark demo for comparison, then select the live run.
    typed(&mut app, " j");
    snapshot("runs_with_live_progress", app, w, h);
}

// ---------------------------------------------------------------- episodes

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn episodes_loading(#[case] w: u16, #[case] h: u16) {
    let mut app = with_runs();
    app.update(special(KeyCode::Enter));
    snapshot("episodes_loading", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn episodes_all(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episodes();
    typed(&mut app, "jj");
    snapshot("episodes_all", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn episodes_filter_and_search(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episodes();
    // The unlabelled filter (one step back from "all"), then a search still being typed.
    typed(&mut app, "F/en");
    assert!(app.list.searching);
    snapshot("episodes_filter_and_search", app, w, h);
}

// ---------------------------------------------------------------- one episode

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn episode_detail_critique_and_label(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episode(betty());
    app.update(Event::LabelSaved {
        id: ep_id(2),
        seq: 1,
        label: note("error_found", Some(1), "yes"),
        undo: false,
    });
    snapshot("episode_detail_critique_and_label", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn episode_detail_revise_turn_selected(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episode(betty());
    app.update(special(KeyCode::Tab));
    snapshot("episode_detail_revise_turn_selected", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn episode_detail_blind_mode(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episode(betty());
    typed(&mut app, "b");
    assert!(app.blind);
    snapshot("episode_detail_blind_mode", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn episode_detail_escapes_are_inert(#[case] w: u16, #[case] h: u16) {
    let terminal = snapshot("episode_detail_escapes_are_inert", on_episode(hostile()), w, h);
    let cells = terminal.backend().buffer().content();
    assert!(
        cells.iter().all(|c| !c.symbol().chars().any(char::is_control)),
        "a control character reached the screen"
    );
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn episode_detail_loading(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episodes();
    app.update(special(KeyCode::Enter));
    snapshot("episode_detail_loading", app, w, h);
}

// ---------------------------------------------------------------- metrics

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_computing(#[case] w: u16, #[case] h: u16) {
    let mut app = with_runs();
    typed(&mut app, "m");
    snapshot("metrics_computing", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_report(#[case] w: u16, #[case] h: u16) {
    let mut app = with_runs();
    typed(&mut app, "m");
    app.update(Event::Metrics { run: RunId(1), report: report(1, "demo", 4) });
    snapshot("metrics_report", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_compare(#[case] w: u16, #[case] h: u16) {
    // Mark demo, then open sim-2's metrics: A demo beside B sim-2 where there is room.
    snapshot("metrics_compare", comparing(), w, h);
}

/// demo marked, sim-2's metrics open, both reports loaded, on the summary panel.
fn comparing() -> App {
    let mut app = with_runs();
    typed(&mut app, " jm");
    app.update(Event::Metrics { run: RunId(1), report: report(1, "demo", 4) });
    app.update(Event::Metrics { run: RunId(2), report: report(2, "sim-2", 6) });
    assert!(app.stats.compare_report.is_some());
    app
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_comparison_panel(#[case] w: u16, #[case] h: u16) {
    let mut app = comparing();
    app.update(Event::Comparison { a: RunId(1), b: RunId(2), result: Ok(comparison()) });
    app.update(special(KeyCode::BackTab));
    app.update(special(KeyCode::BackTab));
    assert_eq!(app.stats.panel, MetricsPanel::Compare);
    snapshot("metrics_comparison_panel", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_comparison_computing(#[case] w: u16, #[case] h: u16) {
    let mut app = comparing();
    app.update(special(KeyCode::BackTab));
    app.update(special(KeyCode::BackTab));
    assert_eq!(app.stats.panel, MetricsPanel::Compare);
    snapshot("metrics_comparison_computing", app, w, h);
}

fn on_calibration() -> App {
    let mut app = with_runs();
    typed(&mut app, "m");
    app.update(Event::Metrics { run: RunId(1), report: report_from(1, "demo", calibrated_obs()) });
    app.update(special(KeyCode::Tab));
    assert_eq!(app.stats.panel, MetricsPanel::Calibration);
    app
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_calibration(#[case] w: u16, #[case] h: u16) {
    snapshot("metrics_calibration", on_calibration(), w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_calibration_without_confidence(#[case] w: u16, #[case] h: u16) {
    let mut app = with_runs();
    typed(&mut app, "m");
    app.update(Event::Metrics { run: RunId(1), report: report(1, "demo", 4) });
    typed(&mut app, "c");
    snapshot("metrics_calibration_without_confidence", app, w, h);
}

/// demo's metrics open with `report`, on the labels panel (backtab from the summary).
fn on_labels(report: Box<MetricsReport>) -> App {
    let mut app = with_runs();
    typed(&mut app, "m");
    app.update(Event::Metrics { run: RunId(1), report });
    app.update(special(KeyCode::BackTab));
    assert_eq!(app.stats.panel, MetricsPanel::Labels);
    app
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_labels(#[case] w: u16, #[case] h: u16) {
    // Two annotators on four episodes, with grade overrides (tests/transcript_fixtures.rs).
    let app = on_labels(imported_report("human_labels.jsonl", "demo"));
    snapshot("metrics_labels", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_labels_empty(#[case] w: u16, #[case] h: u16) {
    snapshot("metrics_labels_empty", on_labels(report(1, "demo", 4)), w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn metrics_labels_empty_with_grader(#[case] w: u16, #[case] h: u16) {
    // Given solutions with dataset labels, no human labels: the grader line still shows.
    let app = on_labels(imported_report("critique_only_given.jsonl", "demo"));
    snapshot("metrics_labels_empty_with_grader", app, w, h);
}

#[test]
fn the_labels_panel_scrolls_to_its_last_line_when_narrow() {
    let mut app = on_labels(imported_report("human_labels.jsonl", "demo"));
    app.update(special(KeyCode::End));
    let text = render(&mut app, 60, 20).backend().to_string();
    assert!(text.contains("human grade vs critic verdict"), "{text}");
    assert!(!text.contains("label / value"), "scrolled past the table: {text}");
}

#[test]
fn label_names_values_and_annotators_are_inert() {
    let evil = "x\u{1b}]0;pwned\u{7}y";
    let mut report = imported_report("human_labels.jsonl", "demo");
    let h = &mut report.human;
    h.annotators.push(evil.into());
    h.counts.entry(evil.into()).or_default().insert(evil.into(), 1);
    h.overrides.disagreements.push(evil.into());
    if let Some(a) = h.agreement.get_mut("error_found") {
        a.pairs[0].b = evil.into();
    }
    let mut app = on_labels(report);
    for (w, h) in [(100, 30), (60, 20)] {
        let terminal = render(&mut app, w, h);
        let cells = terminal.backend().buffer().content();
        assert!(
            cells.iter().all(|c| !c.symbol().chars().any(char::is_control)),
            "a control character reached the screen:\n{}",
            terminal.backend()
        );
        assert!(terminal.backend().to_string().contains("x\\e]0;"), "{}", terminal.backend());
    }
}

#[test]
fn the_source_key_shows_the_next_confidence_source() {
    let mut app = on_calibration();
    let text = render(&mut app, 100, 30).backend().to_string();
    assert!(text.contains("Calibration · verbalized (1 of 2)"), "{text}");
    assert!(text.contains("verbalized: n 60 ECE"), "{text}");
    typed(&mut app, "c");
    let text = render(&mut app, 100, 30).backend().to_string();
    assert!(text.contains("Calibration · p_true (2 of 2)"), "{text}");
    assert!(text.contains("p_true: n 60 ECE"), "{text}");
    typed(&mut app, "c");
    let text = render(&mut app, 100, 30).backend().to_string();
    assert!(text.contains("verbalized (1 of 2)"), "wraps: {text}");
}

#[test]
fn run_names_on_the_runs_and_episodes_screens_are_inert() {
    let mut rows = runs();
    rows[0].record.name = "ev\u{1b}[2Jil".into();
    let mut app = new_app();
    app.update(Event::Runs(rows));
    let terminal = render(&mut app, 100, 30);
    assert!(terminal.backend().to_string().contains("ev\\e[2Jil"), "{}", terminal.backend());
    app.update(special(KeyCode::Enter));
    app.update(Event::Episodes { run: RunId(1), rows: episode_rows(), queue: None });
    let terminal = render(&mut app, 100, 30);
    assert!(terminal.backend().to_string().contains("Episodes of ev\\e[2Jil"));
    let cells = terminal.backend().buffer().content();
    assert!(cells.iter().all(|c| !c.symbol().chars().any(char::is_control)));
}

#[test]
fn run_names_on_the_metrics_screen_are_inert() {
    let evil = "ev\u{1b}]0;pwned\u{7}il";
    let mut rows = runs();
    rows[0].record.name = evil.into();
    rows[1].record.name = format!("{evil}-2");
    let mut app = new_app();
    app.update(Event::Runs(rows));
    typed(&mut app, " jm");
    app.update(Event::Metrics { run: RunId(1), report: report(1, evil, 4) });
    app.update(Event::Metrics { run: RunId(2), report: report(2, &format!("{evil}-2"), 6) });
    let c = compare(evil, &obs(4), &format!("{evil}-2"), &obs(6), &BootstrapOptions::default());
    app.update(Event::Comparison { a: RunId(1), b: RunId(2), result: Ok(Box::new(c)) });
    for (w, h) in [(100, 30), (60, 20)] {
        for _ in MetricsPanel::ALL {
            let terminal = render(&mut app, w, h);
            let cells = terminal.backend().buffer().content();
            assert!(
                cells.iter().all(|c| !c.symbol().chars().any(char::is_control)),
                "a control character reached the screen:\n{}",
                terminal.backend()
            );
            assert!(terminal.backend().to_string().contains("ev\\e]0;pwned"));
            app.update(special(KeyCode::Tab));
        }
    }
}

// ---------------------------------------------------------------- step by hand

const STEP_RUN: RunId = RunId(4);

/// On the step screen of a run made from demo, with Betty selected and her first answer stored.
fn on_step() -> App {
    let mut app = with_runs();
    typed(&mut app, "s");
    let mut items = vec![betty().item];
    items.extend(episode_rows().into_iter().filter(|r| r.id.item != 2).map(|r| Item {
        id: ItemId(r.item_id),
        question: r.question,
        reference: "0".into(),
        ..betty().item
    }));
    app.update(Event::StepReady { run: STEP_RUN, source: "demo".into(), items });
    let first = betty().turns.remove(0);
    app.update(Event::StepTurns { run: STEP_RUN, item: 0, turns: vec![first] });
    app
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn step_preparing(#[case] w: u16, #[case] h: u16) {
    let mut app = with_runs();
    typed(&mut app, "s");
    snapshot("step_preparing", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn step_streaming_a_critique(#[case] w: u16, #[case] h: u16) {
    let mut app = on_step();
    app.update(special(KeyCode::Enter));
    for text in ["The grandparents' $30 ", "was never\nsubtracted", ", so 35 is"] {
        app.update(Event::StepDelta { run: STEP_RUN, item: 0, text: text.into() });
    }
    snapshot("step_streaming_a_critique", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn step_writing_a_critique(#[case] w: u16, #[case] h: u16) {
    let mut app = on_step();
    typed(&mut app, "wYou forgot the $30 from the grandparents.");
    // A second line (issue 14, point 7): Alt-Enter starts it, Enter would save.
    app.update(Event::Term(CtEvent::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT))));
    typed(&mut app, "Recount: 5 + 30 = 35.");
    snapshot("step_writing_a_critique", app, w, h);
}

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn step_episode_complete(#[case] w: u16, #[case] h: u16) {
    let mut app = on_step();
    app.update(special(KeyCode::Enter));
    let mut mine = Turn::new(Role::Critique, "You forgot the $30 from the grandparents.");
    mine.model = Some("human:ana".into());
    mine.meta.insert("oracle".into(), serde_json::Value::Bool(true));
    app.update(Event::StepTurn { run: STEP_RUN, item: 0, turn: Box::new(mine), done: false });
    app.update(special(KeyCode::Enter));
    let revise = betty().turns.remove(2);
    app.update(Event::StepTurn { run: STEP_RUN, item: 0, turn: Box::new(revise), done: true });
    snapshot("step_episode_complete", app, w, h);
}

// ---------------------------------------------------------------- help

#[rstest]
#[case::wide(100, 30)]
#[case::narrow(60, 20)]
#[case::small(80, 24)]
fn help(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episodes();
    typed(&mut app, "?");
    snapshot("help", app, w, h);
}

// ---------------------------------------------------------------- style and regressions

/// Snapshots carry no style: check the one the plain theme has, the selected row.
#[test]
fn the_selected_run_row_is_reversed() {
    let mut app = with_runs();
    typed(&mut app, "j");
    let terminal = render(&mut app, 100, 30);
    let buf: &Buffer = terminal.backend().buffer();
    // Row 0 is the tab bar, 1 the table border, 2 the header: runs start on row 3.
    let reversed = |y: u16| buf[(5, y)].modifier.contains(Modifier::REVERSED);
    assert!(!reversed(3), "demo is not selected");
    assert!(reversed(4), "sim-2 is selected");
    assert!(!reversed(5));
}

#[test]
fn episode_bottom_still_shows_the_end_of_the_text() {
    let mut app = on_episode(betty());
    typed(&mut app, "G");
    let terminal = render(&mut app, 100, 30);
    let text = terminal.backend().to_string();
    assert!(text.contains("word diff"), "{text}");
}

/// Where `needle` starts on screen, one cell per character.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let want: Vec<String> = needle.chars().map(String::from).collect();
    let area = buf.area;
    (0..area.height).find_map(|y| {
        (0..area.width).find_map(|x| {
            let hit = want.iter().enumerate().all(|(i, c)| {
                let cx = x + i as u16;
                cx < area.width && buf[(cx, y)].symbol() == c
            });
            hit.then_some((x, y))
        })
    })
}

#[test]
fn step_keeps_the_critique_being_typed_in_view() {
    let mut app = on_step();
    typed(&mut app, "wYou forgot the $30 from the grandparents.");
    let terminal = render(&mut app, 60, 20);
    let buf = terminal.backend().buffer();
    assert!(find(buf, "You forgot").is_some(), "{}", terminal.backend());
}

#[test]
fn step_colours_each_role_like_the_episode_screen() {
    let mut app = on_step();
    app.theme = Theme::dark();
    app.update(special(KeyCode::Enter));
    let critique = betty().turns.remove(1);
    app.update(Event::StepTurn { run: STEP_RUN, item: 0, turn: Box::new(critique), done: false });
    let terminal = render(&mut app, 100, 30);
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "critique #1").expect("critique header");
    assert_eq!(buf[(x, y)].fg, Theme::dark().role_critique.fg.expect("a colour"));
}

#[test]
fn the_episode_screen_colours_each_role() {
    let mut app = on_episode(betty());
    app.theme = Theme::dark();
    let terminal = render(&mut app, 100, 30);
    let buf = terminal.backend().buffer();
    let dark = Theme::dark();
    for (head, style) in [
        ("generate #0", dark.role_generate),
        ("critique #1", dark.role_critique),
        ("revise #2", dark.role_revise),
    ] {
        let (x, y) = find(buf, head).expect(head);
        assert_eq!(buf[(x, y)].fg, style.fg.expect("a colour"), "{head}");
    }
}

// ---------------------------------------------------------------- annotation (80×24 and 120×35)

fn by(who: &str, turn: Option<u32>, name: &str, value: &str, ms: u64) -> Label {
    Label { annotator: who.into(), ..note(name, turn, value) }.at(NOW * 1000 + ms)
}

/// Betty's episode labelled by ana and ben: ana overrides the first attempt's grade to correct
/// (auto: wrong) and found the error; ben says the critique found none.
fn betty_labelled() -> EpisodeDetail {
    let mut d = betty();
    d.labels = vec![
        (1, by("ana", Some(1), "error_found", "yes", 0)),
        (2, by("ben", Some(1), "error_found", "no", 10)),
        (3, by("ana", Some(0), "grade_override", "correct", 20)),
        (4, by("ben", Some(1), "tone", "hedging", 30)),
    ];
    d
}

/// A multiple-choice item: the options must be on screen for the annotator to judge.
fn choice_item() -> EpisodeDetail {
    let mut d = betty();
    d.item.question = "Which number is prime?".into();
    d.item.reference = "C".into();
    d.item.answer_kind = critloop::domain::AnswerKind::Choice;
    d.item.choices = Some(vec!["21".into(), "27".into(), "29".into(), "33".into()]);
    d.turns[0] = attempt(Role::Generate, "21 looks prime.\nThe answer is (A).", "A", false);
    d.turns[2] =
        attempt(Role::Revise, "21 = 3·7; 29 has no divisor.\nThe answer is (C).", "C", true);
    d
}

fn screen_text(app: &mut App, w: u16, h: u16) -> String {
    render(app, w, h).backend().to_string()
}

#[rstest]
#[case::small(80, 24)]
#[case::large(120, 35)]
fn annotation_override_shows_on_the_badge(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episode(betty_labelled());
    let text = screen_text(&mut app, w, h);
    // At 80 columns the badge wraps after "by".
    assert!(text.contains("✓ correct (override by"), "{text}");
    assert!(text.contains("ana; auto: wrong)"), "{text}");
    assert!(text.contains("ben #1 error_found=no"), "others' labels outside blind mode: {text}");
    snapshot("annotation_override", app, w, h);
}

#[rstest]
#[case::small(80, 24)]
#[case::large(120, 35)]
fn annotation_multiple_choice_shows_the_options(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episode(choice_item());
    let text = screen_text(&mut app, w, h);
    for option in ["A) 21", "B) 27", "C) 29", "D) 33"] {
        assert!(text.contains(option), "{option} missing: {text}");
    }
    snapshot("annotation_multiple_choice", app, w, h);
}

#[rstest]
#[case::small(80, 24)]
#[case::large(120, 35)]
fn annotation_history_of_yes_then_no(#[case] w: u16, #[case] h: u16) {
    let mut d = betty();
    d.labels = vec![
        (1, by("ana", Some(1), "error_found", "yes", 0)),
        (2, by("ana", Some(1), "error_found", "no", 1_000)),
    ];
    let mut app = on_episode(d);
    let text = screen_text(&mut app, w, h);
    assert!(text.contains("error_found no (2 entries)"), "one effective value: {text}");
    typed(&mut app, "H");
    let text = screen_text(&mut app, w, h);
    assert!(text.contains("error_found=yes") && text.contains("error_found=no"), "{text}");
    snapshot("annotation_history", app, w, h);
}

#[rstest]
#[case::small(80, 24)]
#[case::large(120, 35)]
fn annotation_blind_mode_hides_grades_references_and_others(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episode(betty_labelled());
    typed(&mut app, "b");
    let text = screen_text(&mut app, w, h);
    assert!(!text.contains("ben"), "another annotator's labels in blind mode: {text}");
    assert!(!text.contains("correct (override"), "a grade in blind mode: {text}");
    assert!(text.contains("hidden (blind)"), "{text}");
    snapshot("annotation_blind", app, w, h);
}

// ---------------------------------------------------------------- side by side, wrapping, jump

fn screen_rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    let width = usize::from(buffer.area.width);
    buffer
        .content()
        .chunks(width)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect()
}

#[rstest]
#[case::large(120, 35)]
#[case::small(80, 24)]
fn episode_side_by_side(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episode(betty());
    typed(&mut app, "v");
    assert!(app.reader.side_by_side);
    let terminal = snapshot("episode_side_by_side", app, w, h);
    let rows = screen_rows(&terminal);
    let heads = rows.iter().find(|r| r.contains("first · generate #0")).expect("left head");
    assert!(heads.contains("final · revise #2"), "both heads on one row: {heads}");
    // The final attempt's new subtraction is on the right, the old result on the left.
    let at = |needle: &str| rows.iter().find_map(|r| r.find(needle)).expect(needle);
    assert!(at("35") < usize::from(w) / 2 && at("- 30") > usize::from(w) / 2);
}

#[rstest]
#[case::small(80, 24)]
#[case::narrow(60, 20)]
fn episode_wrapped_text_keeps_its_indent(#[case] w: u16, #[case] h: u16) {
    let mut d = betty();
    d.turns[2].content = "Steps:\n  - Betty starts with half of 100, which is 50 dollars, \
                          then gets 15 from her parents and 30 from her grandparents.\n\
                          The answer is 5."
        .into();
    let mut app = on_episode(d);
    app.update(special(KeyCode::Tab));
    let terminal = snapshot("episode_wrapped_text_keeps_its_indent", app, w, h);
    let rows = screen_rows(&terminal);
    let item = rows.iter().position(|r| r.contains("  - Betty starts")).expect("list item");
    let start = rows[item].find("- Betty").expect("marker");
    let next = &rows[item + 1];
    assert_eq!(
        next.chars().skip(start).take(2).collect::<String>(),
        "  ",
        "the continuation hangs under the text, after the marker: {next:?}"
    );
    assert!(next.chars().nth(start + 2).is_some_and(|c| c.is_alphanumeric()), "{next:?}");
}

#[test]
fn the_episode_screen_draws_the_turn_text_built_when_it_arrived() {
    let mut app = on_episode(betty());
    app.reader.turn_bodies[0] = vec![ratatui::text::Line::raw("  (built once)")];
    let rows = screen_rows(&render(&mut app, 120, 35));
    assert!(rows.iter().any(|r| r.contains("(built once)")), "the cached lines are drawn");
    assert!(!rows.iter().any(|r| r.contains("Betty has 100 / 2")), "not rebuilt while drawing");
}

#[rstest]
#[case::large(120, 35)]
#[case::small(80, 24)]
fn episodes_jump_to_item(#[case] w: u16, #[case] h: u16) {
    let mut app = on_episodes();
    typed(&mut app, ":gsm-00");
    let terminal = snapshot("episodes_jump_prompt", app, w, h);
    let rows = screen_rows(&terminal);
    assert!(rows.iter().any(|r| r.contains("go to item gsm-00▏")), "{rows:?}");
}

#[rstest]
#[case::large(120, 35)]
#[case::small(80, 24)]
fn new_run_form(#[case] w: u16, #[case] h: u16) {
    let mut app = with_runs();
    typed(&mut app, "a");
    // The seed comes from the clock; fix it for the snapshot.
    app.new_run.form.seed = "1234".into();
    for _ in 0..9 {
        app.update(special(KeyCode::Tab));
    }
    let terminal = snapshot("new_run_form", app, w, h);
    let rows = screen_rows(&terminal);
    for field in ["name", "seed", "temperature", "sim"] {
        assert!(rows.iter().any(|r| r.contains(&format!("{field:>13}  "))), "{field}: {rows:?}");
    }
    assert!(
        rows.iter().any(|r| r.contains("the first N items of the dataset; empty = all")),
        "the limit says what it does: {rows:?}"
    );
}
