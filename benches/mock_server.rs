//! The test suite's mock OpenAI endpoint as a process, for side-by-side comparisons outside Rust
//! (`scripts/bench-vs-python.sh`): the scripted world of `tests/support/world.rs` (every episode
//! makes exactly three calls), a fixed latency per request.
//!
//! Run: `cargo bench --bench mock_server -- --latency-ms 50 --dataset items.jsonl --items 1000`.
//! Prints `BASE_URL <url>` once it listens, then `REQUESTS <n>` and exits when stdin closes.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, Write};
use std::time::Duration;

use support::mock::{ChatRequest, MockConfig, MockReply, MockServer};

/// The scripted world, without refusals, as `cargo bench --bench runner_mock` uses it.
fn reply(req: &ChatRequest) -> MockReply {
    let mut r = support::world::reply(req);
    if r.reject.is_some() {
        r = MockReply::text("Revised.\nThe answer is \\boxed{1}.");
    }
    r
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let latency = arg("--latency-ms").and_then(|v| v.parse().ok()).unwrap_or(50);
    if let (Some(path), Some(items)) = (arg("--dataset"), arg("--items")) {
        let items: u64 = items.parse().unwrap_or(1000);
        support::world::write_dataset(std::path::Path::new(path), items);
    }
    let mock = MockServer::start_blocking(MockConfig {
        latency: Duration::from_millis(latency),
        ..MockConfig::replying(reply)
    });
    println!("BASE_URL {}", mock.base_url());
    let _ = std::io::stdout().flush();
    // Serve until whoever started us closes our stdin.
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        println!("REQUESTS {}", mock.request_count());
        let _ = std::io::stdout().flush();
    }
    println!("REQUESTS {}", mock.request_count());
    mock.shutdown();
}
