//! One definition of each fact (STYLE §3): the t1→t2 cell the episodes table shows is the cell
//! the metrics count, for every protocol, with human grade overrides applied; numbers are
//! written by one formatting module for the command line, the report and the workbench.

#[path = "support/sim.rs"]
mod sim;

use std::path::Path;

use critloop::analysis::run_metrics;
use critloop::browse::{self, Transition};
use critloop::dataset::{self, LoadOptions};
use critloop::domain::{GRADE_OVERRIDE, Label, ProviderSpec, Sampling, SimParams};
use critloop::grade::GradeOptions;
use critloop::metrics::Transitions;
use critloop::protocol::load_protocol;
use critloop::runner::{self, NewRun};
use critloop::store::Store;

fn run(store: &Store, name: &str, protocol: &str, dataset: &str, rounds: u32) {
    let items = if dataset == "arith" {
        let mut items = dataset::resolve("arith", &LoadOptions::default()).unwrap().items;
        items.truncate(40);
        items
    } else {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dataset);
        dataset::load_path(&path, &LoadOptions::default()).unwrap().items
    };
    let mut protocol = load_protocol(protocol).unwrap();
    protocol.rounds = rounds;
    let record = runner::create_run(
        store,
        NewRun {
            name: name.into(),
            dataset: dataset.into(),
            items,
            protocol,
            provider: ProviderSpec::Sim { params: SimParams::default() },
            model: "sim".into(),
            critic_model: "sim".into(),
            sampling: Sampling { seed: 5, samples: 2, ..Sampling::default() },
        },
        GradeOptions::default(),
    )
    .unwrap();
    sim::execute(store, &record);
}

/// The episodes table's cells, counted like the metrics' pooled transitions.
fn table_cells(store: &Store, name: &str) -> Transitions {
    let record = store.require_run(name).unwrap();
    let mut t = Transitions::default();
    for row in browse::episodes(store, &record).unwrap() {
        match row.transition {
            Some(Transition::RightRight) => t.record(true, true),
            Some(Transition::RightWrong) => t.record(true, false),
            Some(Transition::WrongRight) => t.record(false, true),
            Some(Transition::WrongWrong) => t.record(false, false),
            None => {}
        }
    }
    t
}

#[test]
fn the_episodes_table_shows_the_cells_the_metrics_count() {
    let store = Store::temporary().unwrap();
    run(&store, "cr", "critique-revise", "arith", 2);
    run(&store, "sc", "self-correct", "arith", 1);
    run(&store, "cc", "critic-correct", "realcritic_mix.jsonl", 1);
    run(&store, "co", "critique-only", "realcritic_mix.jsonl", 1);
    // A human override moves a cell in both views alike.
    let cr = store.require_run("cr").unwrap();
    let first = store.episodes(cr.id).unwrap()[0].id;
    let flip = store.turns(first).unwrap()[0].correct != Some(true);
    let over = Label {
        annotator: "ana".into(),
        turn: Some(0),
        name: GRADE_OVERRIDE.into(),
        value: if flip { "correct" } else { "wrong" }.into(),
        time: 1,
        millis: 0,
        retracted: false,
    };
    store.add_label(first, &over).unwrap();
    for name in ["cr", "sc", "cc", "co"] {
        let metrics = run_metrics(&store, &store.require_run(name).unwrap()).unwrap();
        let table = table_cells(&store, name);
        assert_eq!(table, metrics.summary.transitions, "run {name}");
        assert_eq!(table.total(), metrics.summary.scored, "run {name}");
    }
    // critique-only has no second attempt: no episode has a cell (the table once showed c→c).
    assert_eq!(table_cells(&store, "co").total(), 0);
    assert!(table_cells(&store, "cr").total() > 0);
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The percent, three-decimal and p-value formats and the missing-value glyph are defined in
/// src/fmt.rs alone; a second definition anywhere else (they once were six) fails here.
#[test]
fn numbers_are_formatted_by_one_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let own = [
        "fn pct(",
        "fn num3(",
        "fn format_p(",
        "fn p_value(",
        "fn signed_pct(",
        "let pct =",
        // A percent with one decimal, a p-value in scientific notation, the report's old dash.
        "\"{:.1}%\"",
        ":.2e}",
        ":.1e}",
        "\"–\"",
    ];
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        if rel == "fmt.rs" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for pattern in own {
            assert!(!text.contains(pattern), "{rel} formats numbers itself: {pattern}");
        }
        checked += 1;
    }
    assert!(checked > 60, "{checked} files checked");
    let fmt = std::fs::read_to_string(src.join("fmt.rs")).unwrap();
    assert!(fmt.contains("pub const MISSING: &str = \"—\";"));
    // The three front ends agree on a value because they call the same function.
    assert_eq!(critloop::fmt::pct(Some(0.5556)), "55.6%");
    assert_eq!(critloop::fmt::p_value(1.9e-6), "1.9e-6");
}
