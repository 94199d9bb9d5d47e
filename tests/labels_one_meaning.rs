//! One meaning per label (issue 11, point 1): `y` then `n` by one annotator on the Episode
//! screen leaves one effective label (`no`) and a history of two, and the screen, the metrics
//! and every export agree on it.

#[path = "support/sim.rs"]
mod sim;

use std::path::Path;

use assert_cmd::Command;
use critloop::browse;
use critloop::dataset::{self, LoadOptions};
use critloop::domain::{LabelSchema, ProviderSpec, Sampling, SimParams};
use critloop::grade::GradeOptions;
use critloop::protocol::load_protocol;
use critloop::runner::{self, NewRun};
use critloop::store::Store;
use critloop::tui::{App, Effect, Event, Keymap, Theme, views};
use crossterm::event::{Event as CtEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::Value;

fn clock() -> u64 {
    1_700_000_000_000
}

fn key(c: char) -> Event {
    Event::Term(CtEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)))
}

/// A finished 6-item sim run named `r` in a database at `db`.
fn make_run(db: &Path) {
    let store = Store::open(db).unwrap();
    let mut items = dataset::resolve("arith", &LoadOptions::default()).unwrap().items;
    items.truncate(6);
    let record = runner::create_run(
        &store,
        NewRun {
            name: "r".into(),
            dataset: "arith".into(),
            items,
            protocol: load_protocol("critique-revise").unwrap(),
            provider: ProviderSpec::Sim { params: SimParams::default() },
            model: "sim".into(),
            critic_model: "sim".into(),
            sampling: Sampling { seed: 3, ..Sampling::default() },
        },
        GradeOptions::default(),
    )
    .unwrap();
    sim::execute(&store, &record);
    store.flush().unwrap();
}

/// Runs an app effect the way `Io` does for labels (synchronously), feeding the event back.
fn apply(app: &mut App, store: &Store, effects: Vec<Effect>) {
    for fx in effects {
        if let Effect::SaveLabel { id, label, undo } = fx {
            let (seq, label) = store.add_label(id, &label).unwrap();
            let more = app.update(Event::LabelSaved { id, seq, label, undo });
            apply(app, store, more);
        }
    }
}

fn cli(db: &Path, args: &[&str]) -> String {
    let out = Command::cargo_bin("critloop")
        .unwrap()
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CRITLOOP_CONFIG", db.with_file_name("none.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn yes_then_no_means_no_on_the_screen_in_the_metrics_and_in_every_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    make_run(&db);

    // The screen: label the first episode's critique `y`, then `n`, through the keys.
    let store = Store::open(&db).unwrap();
    let run = store.require_run("r").unwrap();
    let schema = LabelSchema::load(&[]).unwrap();
    let keymap = Keymap::load(&Default::default(), &schema).unwrap();
    let mut app = App::new(keymap, schema.clone(), Theme::plain(), Some("ana".into()), clock);
    app.update(Event::Runs(browse::runs(&store, &schema).unwrap()));
    let enter = || Event::Term(CtEvent::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    app.update(enter());
    let rows = browse::episodes(&store, &run).unwrap();
    let first = rows[0].id;
    app.update(Event::Episodes { run: run.id, rows, queue: None });
    app.update(enter());
    app.update(Event::Episode(Box::new(browse::episode(&store, &run, first).unwrap())));
    assert_eq!(app.reader.turn_sel, 1, "the critique is selected on open");
    let fx = app.update(key('y'));
    apply(&mut app, &store, fx);
    let fx = app.update(key('n'));
    apply(&mut app, &store, fx);

    // Reopened from the database, the panel shows one value with two entries.
    app.update(Event::Episode(Box::new(browse::episode(&store, &run, first).unwrap())));
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    term.draw(|f| views::render(&mut app, f)).unwrap();
    let screen = term.backend().to_string();
    assert!(screen.contains("error_found no (2 entries)"), "{screen}");
    assert!(!screen.contains("error_found yes"), "{screen}");
    drop(app);
    store.flush().unwrap();
    drop(store);
    // sled lets go of its lock a moment after the handle is dropped.
    std::thread::sleep(std::time::Duration::from_millis(300));

    // The metrics count the effective value only, and say how many entries there are.
    let m: Value = serde_json::from_str(&cli(&db, &["metrics", "r", "--format", "json"])).unwrap();
    assert_eq!(m["human"]["labels"], 2, "entries, history included");
    assert_eq!(m["human"]["effective"], 1);
    assert_eq!(m["human"]["counts"], serde_json::json!({"error_found": {"no": 1}}));

    // Long-format CSV: the effective label on its turn's row, nothing of the history.
    let csv = cli(&db, &["export", "r", "--format", "csv"]);
    assert!(csv.contains("error_found=no (ana)"), "{csv}");
    assert!(!csv.contains("error_found=yes"), "{csv}");

    // Transcript JSONL keeps the history (two entries, in order).
    let jsonl = cli(&db, &["export", "r", "--format", "jsonl"]);
    let line: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    let values: Vec<&str> =
        line["labels"].as_array().unwrap().iter().map(|l| l["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["yes", "no"]);

    // `labels list` shows the effective value; `labels export` every entry.
    let list = cli(&db, &["labels", "list", "r", "--format", "jsonl"]);
    let rows: Vec<Value> = list.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["value"], "no");
    assert_eq!(rows[0]["annotator"], "ana");
    let all = cli(&db, &["labels", "export", "r"]);
    assert_eq!(all.lines().count(), 2, "{all}");
}
