//! The tables of a report (issue 14, point 16): every run name carries † when its output is
//! simulated, in every Markdown and LaTeX table; text columns are left-aligned, numbers right.

#[path = "support/sim.rs"]
mod sim;

use std::path::Path;

use critloop::dataset::{self, LoadOptions};
use critloop::domain::{ProviderSpec, Sampling, SimParams};
use critloop::export::{ImportOptions, import_transcripts};
use critloop::grade::GradeOptions;
use critloop::metrics::{AnalysisOptions, BootstrapOptions};
use critloop::protocol::load_protocol;
use critloop::runner::{self, Arm, NewRun};
use critloop::store::Store;

/// A simulated critique-revise run `sim` with its no-critique arm `sim~none`, and three imported
/// (not simulated) runs: `basic`, `rounds2` (three attempts) and `labels` (human labels).
fn store() -> Store {
    let store = Store::temporary().unwrap();
    let mut items = dataset::resolve("arith", &LoadOptions::default()).unwrap().items;
    items.truncate(30);
    let record = runner::create_run(
        &store,
        NewRun {
            name: "sim".into(),
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
    let source = store.require_run("sim").unwrap();
    let arm = runner::create_arm(&store, &source, Arm::NoCritique, "sim~none".into(), None)
        .unwrap()
        .record;
    sim::execute(&store, &arm);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts");
    for f in ["basic_k1.jsonl", "two_rounds.jsonl", "human_labels.jsonl"] {
        import_transcripts(&store, &fixtures.join(f), &ImportOptions::default()).unwrap();
    }
    store
}

fn report(store: &Store) -> (String, String) {
    let runs: Vec<_> = ["sim", "sim~none", "basic", "rounds2", "labels"]
        .iter()
        .map(|n| store.require_run(n).unwrap())
        .collect();
    let opts = AnalysisOptions {
        bootstrap: BootstrapOptions { resamples: 50, ..BootstrapOptions::default() },
        ..AnalysisOptions::default()
    };
    let (_, files) = critloop::report::build(store, &runs, &opts).unwrap();
    let get = |n: &str| files.iter().find(|f| f.name == n).unwrap().content.clone();
    (get("report.md"), get("table.tex"))
}

/// Markdown tables as (header cells, alignment cells, body rows of cells).
type MdTable = (Vec<String>, Vec<String>, Vec<Vec<String>>);

fn md_tables(md: &str) -> Vec<MdTable> {
    let cells = |l: &str| -> Vec<String> {
        let inner = l.trim().trim_start_matches('|').trim_end_matches('|');
        // Escaped pipes (`\|`) stay inside a cell.
        let mut out = vec![String::new()];
        let mut prev = ' ';
        for c in inner.chars() {
            if c == '|' && prev != '\\' {
                out.push(String::new());
            } else if let Some(last) = out.last_mut() {
                last.push(c);
            }
            prev = c;
        }
        out.into_iter().map(|c| c.trim().to_string()).collect()
    };
    let lines: Vec<&str> = md.lines().collect();
    let mut tables = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        if lines[i].starts_with('|') && lines[i + 1].starts_with("| :-") {
            let mut rows = Vec::new();
            let mut j = i + 2;
            while j < lines.len() && lines[j].starts_with('|') {
                rows.push(cells(lines[j]));
                j += 1;
            }
            tables.push((cells(lines[i]), cells(lines[i + 1]), rows));
            i = j;
        } else {
            i += 1;
        }
    }
    tables
}

const SIMULATED: [&str; 2] = ["sim", "sim~none"];
const REAL: [&str; 3] = ["basic", "rounds2", "labels"];

#[test]
fn every_markdown_table_marks_simulated_runs_and_aligns_text_left() {
    let store = store();
    let (md, _) = report(&store);
    let tables = md_tables(&md);
    let headers: Vec<&str> = tables.iter().map(|t| t.0[1].as_str()).collect();
    // Self-correction, transitions, closed loop, verdicts, by attempt, calibration, what-if,
    // human labels, control arms, provenance.
    assert_eq!(
        headers,
        ["Protocol", "c→c", "Critic", "n", "t1", "Source", "Source", "Label", "Arm", "Provider"],
        "{md}"
    );
    let (mut marked, mut unmarked) = (0, 0);
    for (header, _, rows) in &tables {
        for row in rows {
            for (h, cell) in header.iter().zip(row) {
                if !matches!(h.as_str(), "Run" | "Arm") {
                    continue;
                }
                if let Some(name) = cell.strip_suffix(" †") {
                    assert!(SIMULATED.contains(&name), "{h} {cell:?} marked in {header:?}");
                    marked += 1;
                } else {
                    assert!(REAL.contains(&cell.as_str()), "{h} {cell:?} unmarked in {header:?}");
                    unmarked += 1;
                }
            }
        }
    }
    assert!(marked >= 10 && unmarked >= 10, "{marked} marked, {unmarked} unmarked");
    // The control-arm row names both runs with their mark (it had none before).
    assert!(md.contains("| sim † | sim~none † | no-critique | 30 |"), "{md}");
    assert!(md.contains("Runs: sim †, sim~none †, basic, rounds2, labels."), "{md}");
    assert!(md.contains("Runs marked † are SIMULATED"));

    // Alignment: these columns hold text, every other one numbers.
    let text = [
        "Run",
        "Protocol",
        "Dataset",
        "Critic",
        "Source",
        "Arm",
        "Control",
        "Label",
        "Value",
        "Provider",
        "Generator / critic",
        "Dataset hash",
        "Prompts hash",
    ];
    for (header, align, _) in &tables {
        assert_eq!(header.len(), align.len());
        for (h, a) in header.iter().zip(align) {
            let want = if text.contains(&h.as_str()) { ":---" } else { "---:" };
            assert_eq!(a, want, "column {h} of {header:?}");
        }
    }
    assert!(
        md.contains(
            "| Run | Protocol | Dataset | N | Acc@t1 | Acc@final | CL | CS | RSS |\n\
             | :--- | :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        ),
        "{md}"
    );
}

#[test]
fn every_latex_table_marks_simulated_runs_and_sets_the_run_column_left() {
    let store = store();
    let (_, tex) = report(&store);
    let specs: Vec<&str> = tex
        .lines()
        .filter_map(|l| l.strip_prefix("\\begin{tabular}{")?.strip_suffix('}'))
        .collect();
    assert_eq!(specs, ["lrrrrrrr", "lrrrrr"], "{tex}");
    // Rows of both tables: first cell is the run name.
    let rows: Vec<&str> =
        tex.lines().filter(|l| l.ends_with("\\\\") && !l.starts_with("Run &")).collect();
    let firsts: Vec<&str> = rows.iter().filter_map(|l| l.split(" & ").next()).collect();
    assert_eq!(
        firsts,
        [
            "sim$^\\dagger$",
            "sim\\textasciitilde{}none$^\\dagger$",
            "basic",
            "rounds2",
            "labels",
            // The verdicts table: every run here has parsed verdicts.
            "sim$^\\dagger$",
            "basic",
            "rounds2",
            "labels",
        ],
        "{tex}"
    );
    assert!(tex.contains("$^\\dagger$Simulated run (sim provider)."));
}
