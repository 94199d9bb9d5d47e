//! Large runs: every figure of the "100,000-episode runs" table at 10k, 100k and 1M items, each
//! with its goal. A run (critique-revise, one sample per item, generate/critique/revise turns
//! with a few hundred characters of text each, like the sim's) is written into a real sled
//! database in a temporary directory; then the same library calls the commands and the
//! workbench's screens make are timed in this process.
//!
//! Run: `cargo bench --bench scale` (all three sizes; the 1M run takes several minutes to
//! build), or `cargo bench --bench scale -- --sizes 10000,100000 --reps 5`.
//! Each step runs in a process of its own that opens the database, as a `critloop` command would:
//! its median time (the opening not included) and its peak resident memory (the opening and the
//! database's page cache included).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::Instant;

use critloop::analysis::{run_data, run_metrics_with};
use critloop::domain::{
    AnswerKind, Episode, EpisodeId, EpisodeStatus, Item, ItemId, LabelSchema, ProviderSpec, Role,
    RunRecord, Sampling, Turn, Verdict,
};
use critloop::metrics::{AnalysisOptions, report_of};
use critloop::store::Store;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const COMMAND: &str = "cargo bench --bench scale";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `reps` runs of `f`.
fn median_secs<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    let secs = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .collect();
    median(secs)
}

/// Runs one step in a child process (`--step NAME --db PATH`): its median seconds and its peak
/// resident memory in MB, as it prints them (what a `critloop` process of that work would hold,
/// the database's page cache included).
fn in_child(step: &str, db: &Path, dir: &Path, reps: usize) -> (f64, Option<f64>) {
    let exe = std::env::current_exe().expect("own path");
    let done = std::process::Command::new(exe)
        .args(["--step", step, "--reps", &reps.to_string()])
        .arg("--db")
        .arg(db)
        .arg("--dir")
        .arg(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("step process");
    assert!(done.status.success(), "step {step} failed");
    let out = String::from_utf8_lossy(&done.stdout);
    let mut fields = out.split_whitespace().map(|v| v.parse::<f64>().ok());
    let secs = fields.next().flatten().unwrap_or(f64::NAN);
    (secs, fields.next().flatten().filter(|m| m.is_finite()))
}

/// One step of the table, in this (child) process.
fn step(name: &str, db: &Path, dir: &Path, reps: usize) -> f64 {
    let store = Store::open(db).expect("store");
    let run = store.require_run("big").expect("run");
    // Computed each time: `run_metrics_with` keeps a report until the run changes, which
    // would time a lookup (the `*-again` steps time exactly that).
    let compute =
        |opts: &AnalysisOptions| report_of(&run, &run_data(&store, &run).expect("run data"), opts);
    let schema = LabelSchema::load(&[]).expect("default schema");
    match name {
        "metrics" => median_secs(reps, || compute(&AnalysisOptions::default())),
        "metrics-quick" => median_secs(reps, || compute(&AnalysisOptions::quick())),
        "outcomes" => median_secs(reps, || run_data(&store, &run).expect("run data")),
        "runs-screen" => median_secs(1, || critloop::browse::runs(&store, &schema).expect("runs")),
        "runs-screen-again" => {
            critloop::browse::runs(&store, &schema).expect("runs");
            median_secs(reps, || critloop::browse::runs(&store, &schema).expect("runs"))
        }
        "metrics-again" => {
            let full = AnalysisOptions::default();
            run_metrics_with(&store, &run, &full).expect("metrics");
            median_secs(reps, || run_metrics_with(&store, &run, &full).expect("metrics"))
        }
        "episodes" => median_secs(reps, || critloop::browse::episodes(&store, &run).expect("rows")),
        "export-jsonl" => median_secs(1, || {
            let f = std::fs::File::create(dir.join("export.jsonl")).expect("file");
            let mut f = std::io::BufWriter::new(f);
            critloop::export::export_jsonl(&store, &run, &mut f).expect("export")
        }),
        "export-parquet" => median_secs(1, || {
            let f = std::fs::File::create(dir.join("export.parquet")).expect("file");
            critloop::export::export_parquet(&store, &run, f).expect("parquet")
        }),
        "import" => {
            drop(store);
            median_secs(1, || {
                let target = Store::open(&dir.join("import-db")).expect("store");
                let opts = critloop::export::ImportOptions {
                    name: Some("imported".into()),
                    ..Default::default()
                };
                critloop::export::import_transcripts(&target, &dir.join("export.jsonl"), &opts)
                    .expect("import")
            })
        }
        other => panic!("no step {other}"),
    }
}

fn items(n: usize) -> Vec<Item> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    (0..n)
        .map(|i| {
            let (a, b) = (rng.random_range(100..1000), rng.random_range(100..1000));
            Item {
                id: ItemId(format!("item-{i:07}")),
                question: format!(
                    "A warehouse holds {a} boxes and receives {b} more; each box is checked \
                     twice before it ships. How many boxes does the warehouse hold now?"
                ),
                reference: (a + b).to_string(),
                answer_kind: AnswerKind::Number,
                choices: None,
                given: None,
                source: "scale".into(),
                meta: Default::default(),
            }
        })
        .collect()
}

fn turn(role: Role, text: String, answer: Option<String>, correct: Option<bool>) -> Turn {
    let mut t = Turn::new(role, text);
    t.answer = answer;
    t.correct = correct;
    t.prompt_tokens = Some(120);
    t.completion_tokens = Some(90);
    t.latency_ms = Some(40);
    t.model = Some("sim".into());
    t.finish_reason = Some("stop".into());
    t.simulated = true;
    t
}

/// One finished critique-revise episode: right or wrong at t1, flagged or not, revised.
fn episode(rng: &mut ChaCha8Rng, id: EpisodeId, item: &Item) -> (Episode, Vec<Turn>) {
    let p = 0.3 + 0.6 * ((id.item % 97) as f64 / 97.0);
    let t1 = rng.random_bool(p);
    let flagged = rng.random_bool(if t1 { 0.15 } else { 0.7 });
    let t2 = if flagged { rng.random_bool(0.55) } else { t1 };
    let answer = |right: bool| {
        if right { item.reference.clone() } else { format!("{}7", item.reference) }
    };
    let work = "First add the boxes received to the boxes held. Checking each box twice does \
                not change how many boxes there are, so the checks can be ignored. ";
    let g = turn(
        Role::Generate,
        format!("{work}The total is {}.\nFinal answer: {}", answer(t1), answer(t1)),
        Some(answer(t1)),
        Some(t1),
    );
    let mut c = turn(
        Role::Critique,
        format!(
            "The solution adds the two quantities and ignores the checks, which is right. {} \
             Verdict: {}\nConfidence: 80%",
            if flagged { "But the sum itself is off." } else { "The sum is correct." },
            if flagged { "incorrect" } else { "correct" }
        ),
        None,
        None,
    );
    c.verdict = Some(if flagged { Verdict::Incorrect } else { Verdict::Correct });
    c.confidence = Some(rng.random_range(0.5..1.0));
    let r = turn(
        Role::Revise,
        format!(
            "Reconsidering the problem: {work}The total is {}.\nFinal answer: {}",
            answer(t2),
            answer(t2)
        ),
        Some(answer(t2)),
        Some(t2),
    );
    let ep = Episode {
        id,
        item_id: item.id.clone(),
        status: EpisodeStatus::Done,
        error: None,
        meta: Default::default(),
    };
    (ep, vec![g, c, r])
}

fn build(store: &Store, n: usize) -> RunRecord {
    let items = items(n);
    let record = critloop::runner::create_run(
        store,
        critloop::runner::NewRun {
            name: "big".into(),
            dataset: "scale".into(),
            items: items.clone(),
            protocol: critloop::protocol::load_protocol("critique-revise").expect("preset"),
            provider: ProviderSpec::Sim { params: Default::default() },
            model: "sim".into(),
            critic_model: "sim".into(),
            sampling: Sampling::default(),
        },
        Default::default(),
    )
    .expect("create run");
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut chunk = Vec::with_capacity(1024);
    for (i, item) in items.iter().enumerate() {
        let id = EpisodeId { run: record.id, item: i as u32, sample: 0 };
        chunk.push(episode(&mut rng, id, item));
        if chunk.len() == 1024 {
            store.put_episodes(&chunk).expect("episodes");
            chunk.clear();
        }
    }
    store.put_episodes(&chunk).expect("episodes");
    let mut record = record;
    record.status = critloop::domain::RunStatus::Finished;
    store.put_run(&record).expect("run");
    store.flush().expect("flush");
    record
}

/// This process's peak resident memory in MB.
fn vm_hwm() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn dir_bytes(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            let path = e.path();
            total += if path.is_dir() {
                dir_bytes(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            };
        }
    }
    total
}

struct Row {
    work: &'static str,
    secs: f64,
    peak: Option<f64>,
    goal: String,
}

fn print_rows(n: usize, rows: &[Row]) {
    println!("\n{n} items ({n} episodes, 3 turns each):");
    println!("  {:<44} {:>10} {:>10}   goal", "work", "median", "peak MB");
    for r in rows {
        let peak = r.peak.map_or("—".to_string(), |p| format!("{p:.0}"));
        println!("  {:<44} {:>9.3}s {:>10}   {}", r.work, r.secs, peak, r.goal);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let reps: usize = arg("--reps").and_then(|v| v.parse().ok()).unwrap_or(3);
    let sizes: Vec<usize> = arg("--sizes")
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    if let (Some(name), Some(db), Some(dir)) = (arg("--step"), arg("--db"), arg("--dir")) {
        let secs = step(name, Path::new(db), Path::new(dir), reps);
        // This process's own high-water mark (a new address space since exec; the rusage a
        // parent reads carries the forking parent's size over).
        println!("{secs} {}", vm_hwm());
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!("{COMMAND}: sizes {sizes:?}, medians of {reps} reps ({cores} cores)");
    let mut full_secs = Vec::new();
    for &n in &sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        let store = Store::open(&path).expect("store");
        let t = Instant::now();
        build(&store, n);
        let built = t.elapsed().as_secs_f64();
        if args.iter().any(|a| a == "--build-only") {
            println!(
                "{n} items: built in {built:.1} s, {:.0} MB on disk, peak {:.0} MB",
                dir_bytes(&path) as f64 / 1e6,
                vm_hwm()
            );
            continue;
        }
        let reps = if n >= 1_000_000 { 1 } else { reps };
        // Closed: each step opens the database in its own process.
        drop(store);
        let scale = n as f64 / 100_000.0;
        let mut rows = Vec::new();
        let mut row = |work: &'static str, step: &str, goal: String| {
            let (secs, peak) = in_child(step, &path, dir.path(), reps);
            rows.push(Row { work, secs, peak, goal });
            secs
        };
        let full = row(
            "metrics (all rates, calibration, 1000 resamples)",
            "metrics",
            format!("≤ {:.2} s, ≤ 100 MB (0.5 s at 100k, linear)", 0.5 * scale),
        );
        full_secs.push((n, full));
        row(
            "metrics --resamples 0",
            "metrics-quick",
            format!("≤ {:.3} s (0.15 s at 100k)", 0.15 * scale),
        );
        row("  of which: reading the outcome records", "outcomes", "—".into());
        row("Runs screen: headline metrics, first time", "runs-screen", "< 0.3 s".into());
        row("  again (kept until the run is written)", "runs-screen-again", "< 0.3 s".into());
        row("Metrics screen / metrics again (kept)", "metrics-again", "< 1 s".into());
        row("Enter on the run: episodes table", "episodes", "< 0.3 s, < 200 MB".into());
        row("export --format jsonl", "export-jsonl", "streamed: memory flat (< 100 MB)".into());
        row("export --format parquet", "export-parquet", "—".into());
        row(
            "import of the exported transcript",
            "import",
            format!("≤ {:.1} s, ≤ 200 MB (3 s at 100k)", 3.0 * scale),
        );
        let export = dir.path().join("export.jsonl");
        let parquet = dir.path().join("export.parquet");
        let (db, jsonl) = (dir_bytes(&path), std::fs::metadata(&export).map_or(0, |m| m.len()));
        print_rows(n, &rows);
        println!(
            "  database {:.0} MB vs exported JSONL {:.0} MB: {:.2}× (goal ≤ 1.5×); parquet {:.0} MB; \
             built in {built:.1} s",
            db as f64 / 1e6,
            jsonl as f64 / 1e6,
            db as f64 / jsonl.max(1) as f64,
            std::fs::metadata(&parquet).map_or(0, |m| m.len()) as f64 / 1e6,
        );
    }
    if let (Some(&(n0, s0)), Some(&(n1, s1))) = (full_secs.first(), full_secs.last())
        && n1 > n0
    {
        println!(
            "\nmetrics time per item, {n1} vs {n0} items: {:.2}× (1.00 = linear)",
            (s1 / n1 as f64) / (s0 / n0 as f64)
        );
    }
    println!(
        "\nThe runner against the mock's limit: `cargo bench --bench runner_mock`; numpy and \
         Python's AsyncOpenAI side by side: `scripts/bench-vs-python.sh`."
    );
}
