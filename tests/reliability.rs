//! Issue 15: nothing lost under kills and faults. The binary runs against the in-process mock
//! with mixed faults; SIGKILLed again and again and resumed, it ends with every episode done
//! once, no stored turn asked twice, every label kept; a long soak completes and `runs show`
//! counts every injected fault by its cause.
//!
//! Short forms run in `cargo test`; `CRITLOOP_LONG=1 cargo test --release --test reliability`
//! runs the long ones (20 kills of a 300-item run, 1,000-episode soak at 30% faults).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use support::db::{Conversation, pid_alive, sigkill, stored_requests, wait_free};
use support::mock::{Fault, FaultPlan, MockConfig, MockServer};
use support::world;

fn long() -> bool {
    std::env::var("CRITLOOP_LONG").is_ok_and(|v| v == "1")
}

fn critloop(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("critloop").unwrap();
    cmd.arg("--db").arg(db).env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml");
    cmd.env("OPENAI_API_KEY", "sk-test").env_remove("OPENAI_BASE_URL");
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A run of `dataset` against `url`: no preflight (the mock's requests are counted), a short
/// timeout so a slow reply is a timeout, and cut-off streams possible.
fn run_args(url: &str, dataset: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--name",
        "r",
        "--provider",
        "openai",
        "--base-url",
        url,
        "--model",
        "mock-model",
        "--concurrency",
        "8",
        "--timeout",
        "1",
        "--quiet",
        "--no-preflight",
        "--dataset",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(dataset.display().to_string());
    args
}

/// Every kind of fault the mock has; a slow reply outlasts the 1 s timeout.
fn mixed(rate: f64, seed: u64, latency_ms: u64) -> MockConfig {
    MockConfig {
        latency: Duration::from_millis(latency_ms),
        faults: FaultPlan::Random {
            rate,
            seed,
            kinds: vec![
                Fault::RateLimited { retry_after_secs: 0 },
                Fault::ServerError,
                Fault::Unavailable,
                Fault::MalformedJson,
                Fault::TruncatedStream,
                Fault::DropConnection,
                Fault::Slow(Duration::from_millis(1_600)),
            ],
        },
        ..MockConfig::replying(world::reply)
    }
}

/// The cause `runs show` gives each fault.
fn cause(f: &Fault) -> &'static str {
    match f {
        // 503 is an overloaded server: backed off like a 429.
        Fault::RateLimited { .. } | Fault::Unavailable => "rate_limited",
        Fault::ServerError | Fault::DropConnection => "server",
        Fault::MalformedJson | Fault::TruncatedStream => "malformed",
        Fault::Slow(_) => "timeout",
    }
}

/// Every live process whose command line names this database: clients and the server, a
/// server still starting (its pid file not yet written) included.
fn processes_of(db: &Path) -> Vec<u32> {
    let needle = db.display().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.split('\0').any(|a| a == needle) && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// SIGKILLs the client and the database's server: nothing gets to clean up.
fn kill_all(db: &Path, client: &mut Child) {
    let _ = client.kill();
    let _ = client.wait();
    for pid in processes_of(db) {
        sigkill(pid);
    }
}

/// One label line for `labels import`, on turn 1 (the critique) of an item.
fn label_line(item_id: &str, n: usize) -> String {
    format!(
        r#"{{"run":"r","item_id":"{item_id}","sample":0,"annotator":"ana","turn":1,"name":"note","value":"kill {n}","time":{}}}"#,
        1_700_000_000 + n
    )
}

#[test]
fn killed_again_and_again_and_resumed_the_run_loses_nothing() {
    let (items, kills) = if long() { (300, 20) } else { (60, 6) };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, items);
    let mock = MockServer::start_blocking(mixed(0.10, 15, 20));
    let db = dir.path().join("db");
    let total_requests = items as usize * 3;
    let mut client = critloop(&db)
        .args(run_args(&mock.base_url(), &data))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut at_kill: Vec<(usize, Vec<Conversation>)> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut labelled: HashSet<String> = HashSet::new();
    // Kills spread over the run, each at an uneven point (a few requests more or less).
    let step = total_requests / (kills + 2);
    for k in 0..kills {
        let at = step * (k + 1) + (k * 7919) % (step / 2).max(1);
        let deadline = Instant::now() + Duration::from_secs(60);
        while mock.requests().len() < at {
            assert!(Instant::now() < deadline, "kill {k}: the run did not get going");
            std::thread::sleep(Duration::from_millis(2));
        }
        // A label written (and acknowledged) before the kill must survive it.
        let store_items: Vec<String> = {
            let out = ok(critloop(&db).args(["export", "r", "--format", "jsonl"]));
            out.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v["status"] == "done")
                .filter_map(|v| v["item_id"].as_str().map(String::from))
                .collect()
        };
        // A new item each time: one slot per label, none replacing another.
        if let Some(item) = store_items.iter().find(|i| !labelled.contains(*i)).cloned() {
            labelled.insert(item.clone());
            let item = &item;
            let file = dir.path().join(format!("label-{k}.jsonl"));
            std::fs::write(&file, label_line(item, k) + "\n").unwrap();
            ok(critloop(&db).args(["labels", "import"]).arg(&file));
            labels.push(format!("kill {k}"));
        }
        kill_all(&db, &mut client);
        let seen = mock.requests().len();
        let store = wait_free(&db);
        let run = store.require_run("r").expect("the run is stored");
        let episodes = store.episodes(run.id).unwrap();
        assert_eq!(episodes.len(), items as usize, "kill {k}: every episode once");
        at_kill.push((seen, stored_requests(&store, "r")));
        drop(store);
        client = critloop(&db)
            .args(["run", "--resume", "r", "--quiet"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    }
    let status = client.wait().unwrap();
    assert!(status.success() || status.code() == Some(1), "the last resume ends: {status}");
    // Whatever the last client saw, the run is finished once its server is done.
    let deadline = Instant::now() + Duration::from_secs(120);
    let shown = loop {
        let shown = ok(critloop(&db).args(["runs", "show", "r"]));
        if shown.contains("0 pending") && !shown.contains("status     running") {
            break shown;
        }
        assert!(Instant::now() < deadline, "the run did not finish: {shown}");
        let mut again = critloop(&db).args(["run", "--resume", "r", "--quiet"]).spawn().unwrap();
        let _ = again.wait();
    };
    assert!(shown.contains(&format!("{items} episodes")), "{shown}");
    let log = mock.requests();
    for (k, (seen, stored)) in at_kill.iter().enumerate() {
        let later: HashSet<Conversation> =
            log[*seen..].iter().map(|r| r.request.messages.clone()).collect();
        let again: Vec<&Conversation> = stored.iter().filter(|c| later.contains(*c)).collect();
        let show: Vec<String> = again
            .iter()
            .take(3)
            .map(|c| {
                let idx: Vec<String> = log
                    .iter()
                    .filter(|r| &&r.request.messages == c)
                    .map(|r| {
                        format!(
                            "{}:{:?}:{}:{}:{}",
                            r.index,
                            r.fault,
                            r.status,
                            r.completed(),
                            r.request.stream
                        )
                    })
                    .collect();
                format!("{} msgs, q {:.30?}, at {idx:?}", c.len(), c.first())
            })
            .collect();
        assert!(
            again.is_empty(),
            "kill {k} (after request {seen}): {} turns stored before it were asked for again: {show:#?}",
            again.len()
        );
    }
    let listed = ok(critloop(&db).args(["labels", "list", "r"]));
    for l in &labels {
        assert!(listed.contains(l.as_str()), "label `{l}` lost: {listed}");
    }
    eprintln!(
        "{kills} kills survived; {} requests, {} faults injected",
        log.len(),
        log.iter().filter(|r| r.fault.is_some()).count()
    );
}

#[test]
fn a_soak_at_30_percent_faults_completes_and_counts_every_fault_by_cause() {
    let items = if long() { 1_000 } else { 300 };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, items);
    let mock = MockServer::start_blocking(mixed(0.30, 7, 5));
    let db = dir.path().join("db");
    let out = critloop(&db).args(run_args(&mock.base_url(), &data)).output().unwrap();
    // Exit 1 only when some episode failed for good (six faults in a row).
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = ok(critloop(&db).args(["runs", "show", "r"]));
    assert!(
        shown.contains(&format!("{items} episodes")) && shown.contains(" 0 pending"),
        "{shown}"
    );

    // Every injected fault is a retry or the failure of an episode, under its cause.
    let log = mock.requests();
    let mut injected: BTreeMap<&str, u64> = BTreeMap::new();
    for r in log.iter().filter_map(|r| r.fault.as_ref()) {
        *injected.entry(cause(r)).or_insert(0) += 1;
    }
    // The world refuses some revisions itself (400): each fails its episode at once.
    let refused = log.iter().filter(|r| r.fault.is_none() && r.status == 400).count() as u64;
    if refused > 0 {
        injected.insert("refused", refused);
    }
    let store = wait_free(&db);
    let run = store.require_run("r").unwrap();
    let counted = critloop::runner::causes(&store, run.id).unwrap();
    let mut both = counted.retries.clone();
    for (k, n) in &counted.failures {
        *both.entry(k.clone()).or_insert(0) += n;
    }
    let injected: BTreeMap<String, u64> =
        injected.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    assert_eq!(both, injected, "retries + failures by cause = the faults the mock injected");
    let failed: Vec<_> = store
        .episodes(run.id)
        .unwrap()
        .into_iter()
        .filter(|e| e.status == critloop::domain::EpisodeStatus::Failed)
        .collect();
    for e in &failed {
        assert!(e.error.as_deref().is_some_and(|m| !m.is_empty()), "{e:?}");
    }
    // The same counts, in words.
    let retries: u64 = counted.retries.values().sum();
    assert!(shown.contains(&format!("retries    {retries}: ")), "{shown}");
    if !failed.is_empty() {
        assert!(shown.contains(&format!("failures   {}: ", failed.len())), "{shown}");
    }
    eprintln!(
        "{items} episodes, {} requests, {} faults injected, {retries} retries, {} failed: {shown}",
        log.len(),
        log.iter().filter(|r| r.fault.is_some()).count(),
        failed.len()
    );
}
