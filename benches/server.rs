//! The database's server, measured (issue 12, acceptance 6):
//! 1. a run through the server (`critloop run`, a client; the run executes in the server it
//!    starts) against the same run executed in this one process (the planner and the runner
//!    called directly), both on the mock: 1,000 critique-revise episodes, 50 ms latency,
//!    concurrency 64. Printed: the medians and their ratio (goal ≥ 0.95).
//! 2. `critloop runs list` as a client of a server holding a 100,000-episode database: the
//!    median wall time of the whole command (goal < 100 ms).
//!
//! Run: `cargo bench --bench server` (`-- --runs N` repeats part 1 N times; default 3).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use critloop::config::Config;
use critloop::llm::Provider;
use critloop::plan::{self, ProviderChoice, RunPlan};
use critloop::store::Store;
use support::mock::{ChatRequest, MockConfig, MockReply, MockServer};

const EPISODES: u64 = 1000;
const CONCURRENCY: usize = 64;
const LATENCY: Duration = Duration::from_millis(50);
const BIG: u64 = 100_000;

fn bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().and_then(Path::parent).unwrap_or(Path::new("target/release"));
    dir.join("critloop")
}

/// The scripted world, without refusals: every episode makes exactly three calls.
fn reply(req: &ChatRequest) -> MockReply {
    let mut r = support::world::reply(req);
    if r.reject.is_some() {
        r = MockReply::text("Revised.\nThe answer is \\boxed{1}.");
    }
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn plan_for(url: &str, data: &Path, name: &str) -> RunPlan {
    RunPlan {
        name: Some(name.into()),
        dataset: Some(data.display().to_string()),
        provider: Some(ProviderChoice::OpenAi),
        base_urls: vec![url.into()],
        model: Some("mock-model".into()),
        concurrency: Some(CONCURRENCY),
        samples: 1,
        use_cache: true,
        ..RunPlan::default()
    }
}

/// Executes a created run on `rt` in this process, its events drained; its totals.
fn execute_here(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    created: &plan::Created,
    provider: Provider,
) -> critloop::runner::Totals {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (id, opts) = (created.record.id, created.opts);
    rt.block_on(async {
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        critloop::runner::execute(store.clone(), id, provider, opts, tx, Default::default())
            .await
            .unwrap()
    })
}

/// The run in this process: plan, create, execute; wall seconds.
fn in_process(dir: &Path, i: usize) -> f64 {
    let mock =
        MockServer::start_blocking(MockConfig { latency: LATENCY, ..MockConfig::replying(reply) });
    let data = dir.join(format!("local{i}.jsonl"));
    support::world::write_dataset(&data, EPISODES);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let t = Instant::now();
    let store = Store::open(&dir.join(format!("local{i}"))).unwrap();
    let config = Config::default();
    let p = plan_for(&mock.base_url(), &data, "local");
    let chosen = plan::choose_provider(&config, &p).unwrap();
    let provider = Provider::from_spec(&chosen.spec).unwrap();
    let created = plan::create(&store, &config, &p, chosen).unwrap();
    let totals = execute_here(&rt, &store, &created, provider);
    store.flush().unwrap();
    // `critloop run` ends with the run's metrics: the same work here.
    let report = critloop::analysis::run_metrics(&store, &created.record).unwrap();
    std::hint::black_box(report);
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(totals.done, EPISODES);
    wall
}

/// The same run through the server: the `critloop run` client, which starts the server.
fn through_server(dir: &Path, i: usize) -> f64 {
    let mock =
        MockServer::start_blocking(MockConfig { latency: LATENCY, ..MockConfig::replying(reply) });
    let data = dir.join(format!("served{i}.jsonl"));
    support::world::write_dataset(&data, EPISODES);
    let t = Instant::now();
    let out = Command::new(bin())
        .arg("--db")
        .arg(dir.join(format!("served{i}")))
        .args(["run", "--name", "served", "--provider", "openai", "--model", "mock-model"])
        .args(["--base-url", &mock.base_url(), "--no-preflight", "--quiet"])
        .args(["--concurrency", &CONCURRENCY.to_string(), "--dataset"])
        .arg(&data)
        .env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml")
        .output()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mock.request_count() as u64, 3 * EPISODES);
    wall
}

/// A database with one finished 100,000-episode sim run, made in this process.
fn big_database(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("big.jsonl");
    support::world::write_dataset(&data, BIG);
    let db = dir.join("big");
    let store = Store::open(&db).unwrap();
    let config = Config::default();
    let p = RunPlan {
        name: Some("big".into()),
        dataset: Some(data.display().to_string()),
        provider: Some(ProviderChoice::Sim),
        samples: 1,
        ..RunPlan::default()
    };
    let chosen = plan::choose_provider(&config, &p).unwrap();
    let provider = Provider::from_spec(&chosen.spec).unwrap();
    let created = plan::create(&store, &config, &p, chosen).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    execute_here(&rt, &store, &created, provider);
    store.flush().unwrap();
    db
}

fn critloop(db: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(bin())
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(3usize);
    assert!(bin().exists(), "build the binary first: {}", bin().display());
    let dir = tempfile::tempdir().unwrap();
    println!("server: {EPISODES} episodes, {LATENCY:?} latency, concurrency {CONCURRENCY}");
    let (mut local, mut served) = (Vec::new(), Vec::new());
    for i in 0..runs {
        local.push(in_process(dir.path(), i));
        served.push(through_server(dir.path(), i));
        println!(
            "  run {i}: in one process {:.3} s, through the server {:.3} s",
            local[i], served[i]
        );
    }
    let (l, s) = (median(local), median(served));
    println!(
        "run through the server: median {s:.3} s vs {l:.3} s in one process; \
         ratio {:.3} (goal >= 0.95)",
        l / s
    );

    let t = Instant::now();
    let db = big_database(dir.path());
    println!("built a {BIG}-episode database in {:.1} s", t.elapsed().as_secs_f64());
    critloop(&db, &["serve"]);
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let out = critloop(&db, &["runs", "list"]);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(String::from_utf8_lossy(&out.stdout).contains("big"));
    }
    critloop(&db, &["serve", "--stop"]);
    println!(
        "runs list as a client on {BIG} episodes: first {:.1} ms (counts read from the \
         database), then median {:.1} ms (counts kept by the server) (goal < 100 ms)",
        times[0],
        median(times[1..].to_vec()),
    );
}
