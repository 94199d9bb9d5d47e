//! Throughput of the real `critloop` binary against the mock endpoint: 1,000 critique-revise
//! episodes, 50 ms model latency, concurrency 64. Ideal = 64 / 0.05 s = 1,280 requests/s.
//! Prints the achieved rate as a fraction of the ideal and the CPU seconds critloop used.
//!
//! Run: `cargo bench --bench runner_mock` (add `-- --runs N` for more repetitions).

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::mock::{ChatRequest, MockConfig, MockReply, MockServer};

const EPISODES: u64 = 1000;
const CONCURRENCY: u64 = 64;
const LATENCY: Duration = Duration::from_millis(50);

/// The scripted world, without refusals: every episode makes exactly three calls.
fn reply(req: &ChatRequest) -> MockReply {
    let mut r = support::world::reply(req);
    if r.reject.is_some() {
        r = MockReply::text("Revised.\nThe answer is \\boxed{1}.");
    }
    r
}

fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

struct Sample {
    wall: f64,
    phase: f64,
    requests: usize,
    cpu: f64,
}

fn one_run(dir: &std::path::Path, i: usize) -> Sample {
    let mock =
        MockServer::start_blocking(MockConfig { latency: LATENCY, ..MockConfig::replying(reply) });
    let data = dir.join(format!("items{i}.jsonl"));
    support::world::write_dataset(&data, EPISODES);
    let db = dir.join(format!("db{i}"));
    // Time from the first to the last request, sampled beside the run.
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = {
            let (stop, mock) = (&stop, &mock);
            scope.spawn(move || {
                let (mut first, mut last, mut seen) = (None, None, 0);
                while !stop.load(Ordering::Relaxed) {
                    let n = mock.request_count();
                    if n > 0 && first.is_none() {
                        first = Some(Instant::now());
                    }
                    if n > seen {
                        seen = n;
                        last = Some(Instant::now());
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                match (first, last) {
                    (Some(a), Some(b)) => (b - a).as_secs_f64() + LATENCY.as_secs_f64(),
                    _ => f64::NAN,
                }
            })
        };
        let cpu_before = children_cpu_seconds();
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_critloop"))
            .arg("--db")
            .arg(&db)
            .args([
                "run",
                "--name",
                "bench",
                "--provider",
                "openai",
                "--model",
                "mock-model",
                "--quiet",
            ])
            .args(["--concurrency", &CONCURRENCY.to_string(), "--base-url", &mock.base_url()])
            .arg("--dataset")
            .arg(&data)
            .env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("critloop runs");
        let wall = started.elapsed().as_secs_f64();
        assert!(status.success(), "critloop failed");
        let cpu = children_cpu_seconds() - cpu_before;
        stop.store(true, Ordering::Relaxed);
        let phase = watcher.join().unwrap_or(f64::NAN);
        Sample { wall, phase, requests: mock.request_count(), cpu }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let runs = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3usize);
    let ideal = CONCURRENCY as f64 / LATENCY.as_secs_f64();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut samples = Vec::new();
    for i in 0..runs {
        let s = one_run(dir.path(), i);
        println!(
            "run {i}: {} requests, request phase {:.2} s ({:.0} req/s = {:.3} of ideal), process wall {:.2} s ({:.3} of ideal), critloop CPU {:.2} s",
            s.requests,
            s.phase,
            s.requests as f64 / s.phase,
            s.requests as f64 / s.phase / ideal,
            s.wall,
            s.requests as f64 / s.wall / ideal,
            s.cpu
        );
        samples.push(s);
    }
    let ratio_phase = median(samples.iter().map(|s| s.requests as f64 / s.phase / ideal).collect());
    let ratio_wall = median(samples.iter().map(|s| s.requests as f64 / s.wall / ideal).collect());
    let cpu = median(samples.iter().map(|s| s.cpu * 1000.0 / EPISODES as f64).collect());
    println!(
        "median of {runs}: achieved/ideal {ratio_phase:.3} (request phase), {ratio_wall:.3} (whole process incl. start-up and summary); critloop CPU {cpu:.2} s per 1,000 episodes (goal: >= 0.9 of ideal, <= 1.5 CPU-s)"
    );
}
