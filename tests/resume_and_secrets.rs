//! The binary against the mock: SIGKILL part-way and resume; the API key never leaves memory.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use critloop::protocol::{Next, next_step};
use critloop::store::Store;
use serde_json::Value;
use support::mock::{MockConfig, MockServer};
use support::world;

const KEY: &str = "sk-critloop-test-SECRET-4f9a8b7c6d5e";

fn critloop(db: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::cargo_bin("critloop").unwrap();
    cmd.arg("--db").arg(db).env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml");
    cmd.env("OPENAI_API_KEY", KEY).env_remove("OPENAI_BASE_URL");
    cmd
}

fn run_args(url: &str, dataset: &Path) -> Vec<String> {
    [
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
        "--quiet",
        // These tests count the mock's requests; the preflight has tests of its own.
        "--no-preflight",
        "--dataset",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dataset.display().to_string()])
    .collect()
}

/// The same arguments with the endpoint check left in.
fn with_preflight(args: Vec<String>) -> Vec<String> {
    args.into_iter().filter(|a| a != "--no-preflight").collect()
}

fn ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn metrics_without_usage(db: &Path) -> Value {
    let text = ok(critloop(db).args(["metrics", "r", "--format", "json"]));
    let mut v: Value = serde_json::from_str(&text).unwrap();
    // Latencies differ between two runs; everything else must not.
    v.as_object_mut().unwrap().remove("usage");
    v
}

type Conversation = Vec<(String, String)>;

/// The request messages of every stored turn (what was asked to produce it).
fn completed_requests(db: &Path) -> Vec<Conversation> {
    let store = Store::open(db).unwrap();
    let run = store.require_run("r").unwrap();
    let items = store.items(run.id).unwrap();
    let mut out = Vec::new();
    for (id, turns) in store.turns_of_run(run.id).unwrap() {
        let item = &items[id.item as usize];
        for i in 0..turns.len() {
            let Next::Request(step) = next_step(&run.protocol, item, &turns[..i]).unwrap() else {
                panic!("stored turn {i} of {id} was never requested")
            };
            out.push(
                step.messages
                    .iter()
                    .map(|m| {
                        (
                            serde_json::to_value(m.role).unwrap().as_str().unwrap().to_string(),
                            m.content.clone(),
                        )
                    })
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn sigkill_part_way_then_resume_requests_no_completed_turn_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, 120);
    let mock = MockServer::start_blocking(MockConfig {
        latency: Duration::from_millis(20),
        ..MockConfig::replying(world::reply)
    });
    let db = dir.path().join("db");
    let mut child = critloop(&db).args(run_args(&mock.base_url(), &data)).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while mock.requests().len() < 150 {
        assert!(Instant::now() < deadline, "the run did not get going");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = mock.requests().len();
    assert!(at_kill < 360, "killed part-way ({at_kill} of 360 requests)");

    let completed = completed_requests(&db);
    assert!(!completed.is_empty() && completed.len() < 360, "{} turns stored", completed.len());
    ok(critloop(&db).args(["run", "--resume", "r", "--quiet"]));

    let log = mock.requests();
    let mut answered: HashMap<&Conversation, usize> = HashMap::new();
    for r in log.iter().filter(|r| r.status == 200) {
        *answered.entry(&r.request.messages).or_default() += 1;
    }
    for conv in &completed {
        assert_eq!(answered.get(conv), Some(&1), "a completed turn was requested again");
    }
    let store = Store::open(&db).unwrap();
    let run = store.require_run("r").unwrap();
    assert_eq!(store.episodes(run.id).unwrap().len(), 120, "no duplicated episodes");
    drop(store);

    // The same run without interruption, against a fresh mock, gives the same metrics.
    let fresh = MockServer::start_blocking(MockConfig::replying(world::reply));
    let db2 = dir.path().join("db2");
    ok(critloop(&db2).args(run_args(&fresh.base_url(), &data)));
    assert_eq!(metrics_without_usage(&db), metrics_without_usage(&db2));
    // 3 requests per episode, the 9 refused revisions (items 13, 26, …, 117) included.
    assert_eq!(fresh.requests().len(), 360);
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn the_api_key_is_sent_but_never_stored_logged_or_exported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, 15);
    let mock = MockServer::start_blocking(MockConfig::replying(world::reply));
    let db = dir.path().join("db");
    let mut outputs = Vec::new();
    let out = critloop(&db)
        .args(run_args(&mock.base_url(), &data))
        .env("CRITLOOP_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    outputs.push(out.stdout);
    outputs.push(out.stderr);
    let log = mock.requests();
    assert!(!log.is_empty());
    let bearer = format!("Bearer {KEY}");
    assert!(
        log.iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())),
        "the key is sent"
    );

    for args in [
        vec!["export", "r", "--format", "jsonl"],
        vec!["export", "r", "--format", "csv"],
        vec!["metrics", "r", "--format", "json"],
        vec!["runs", "show", "r"],
    ] {
        let out = critloop(&db).args(&args).output().unwrap();
        assert!(out.status.success());
        outputs.push(out.stdout);
        outputs.push(out.stderr);
    }
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    let log_file = dir.path().join("db.log");
    assert!(files.contains(&log_file), "a log was written: {files:?}");
    assert!(std::fs::read_to_string(&log_file).unwrap().contains("run"), "the log has content");
    for f in &files {
        outputs.push(std::fs::read(f).unwrap());
    }
    let needle = KEY.as_bytes();
    for (i, bytes) in outputs.iter().enumerate() {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the key leaked into output/file #{i}"
        );
    }
    // A fragment would do too: check the distinctive part of the key as well.
    let frag = b"4f9a8b7c6d5e";
    assert!(outputs.iter().all(|b| !b.windows(frag.len()).any(|w| w == frag)));
}

#[test]
fn a_wrong_base_url_is_one_line_naming_it_and_help_documents_every_flag() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = critloop(&db)
        .args([
            "run",
            "--provider",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("http://127.0.0.1:9/v1"), "{err}");
    let help = ok(critloop(&db).args(["run", "--help"]));
    for flag in [
        "--provider",
        "--base-url",
        "--model",
        "--critic-model",
        "--critic-base-url",
        "--concurrency",
        "--rpm",
        "--timeout",
        "--connect-timeout",
        "--first-token-timeout",
        "--idle-timeout",
        "--no-preflight",
        "--max-retries",
        "--no-cache",
        "--logprobs",
        "--resume",
        "--profile",
        "--stream",
        "--api-key-env",
        "--samples",
        "--seed",
        "--rounds",
        "--limit",
        "--dataset",
    ] {
        assert!(help.contains(flag), "run --help documents {flag}");
    }
    assert!(ok(critloop(&db).arg("--help")).contains("retry-failed"));
}

#[test]
fn profiles_come_from_the_config_file_and_retry_failed_reruns_failures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, 26);
    let refusing = MockServer::start_blocking(MockConfig::replying(world::reply));
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.mock]\nbase_urls = [\"{}\"]\nmodel = \"mock-model\"\nconcurrency = 4\nprice_prompt_per_mtok = 1.0\nprice_completion_per_mtok = 2.0\n",
            refusing.base_url()
        ),
    )
    .unwrap();
    let db = dir.path().join("db");
    let run = |extra: &[&str]| {
        let mut c = critloop(&db);
        c.arg("--config").arg(&config);
        c.args(extra);
        ok(&mut c)
    };
    let out = run(&[
        "run",
        "--profile",
        "mock",
        "--name",
        "r",
        "--quiet",
        "--dataset",
        data.to_str().unwrap(),
    ]);
    assert!(out.contains("cost"), "prices give a cost: {out}");
    let m: Value = serde_json::from_str(&run(&["metrics", "r", "--format", "json"])).unwrap();
    assert_eq!(m["failed"], 2, "items 13 and 26 are refused");
    assert!(m["usage"]["cost"].as_f64().unwrap() > 0.0);
    let before = refusing.requests().len();
    run(&["retry-failed", "r", "--quiet"]);
    // Only the two refused revisions are asked again; their earlier turns are kept.
    assert_eq!(refusing.requests().len(), before + 2);
    let out = std::process::Command::cargo_bin("critloop")
        .unwrap()
        .args(["--db", db.to_str().unwrap(), "--config", config.to_str().unwrap()])
        .args(["run", "--profile", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no profile `nope`"));
}

#[test]
fn a_run_whose_every_episode_fails_exits_1_with_the_endpoint_message_and_keeps_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, 4);
    let mock = MockServer::start_blocking(MockConfig::replying(|_| {
        support::mock::MockReply::rejected("model is overloaded for this account")
    }));
    let db = dir.path().join("db");
    let out = critloop(&db).args(run_args(&mock.base_url(), &data)).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("every episode of r failed") && err.contains("overloaded"), "{err}");
    let m: Value =
        serde_json::from_str(&ok(critloop(&db).args(["metrics", "r", "--format", "json"])))
            .unwrap();
    assert_eq!(m["failed"], 4, "the failures are kept for retry-failed");
    // Nothing reported usage, so usage is unknown rather than zero.
    assert!(m["usage"]["prompt_tokens"].is_null());
}

#[test]
fn the_preflight_stops_a_run_against_a_server_that_refuses_every_request_before_any_episode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, 4);
    let mock = MockServer::start_blocking(MockConfig::replying(|_| {
        support::mock::MockReply::rejected("model is overloaded for this account")
    }));
    let db = dir.path().join("db");
    let args = with_preflight(run_args(&mock.base_url(), &data));
    let out = critloop(&db).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("overloaded") && err.contains(&mock.base_url()), "{err}");
    assert!(err.contains("--no-preflight"), "says how to skip the check: {err}");
    let list = ok(critloop(&db).args(["runs", "list"]));
    assert!(!list.contains(" r "), "no run was created: {list}");
    assert!(mock.requests().len() <= 5, "the check is small: {} requests", mock.requests().len());
}

#[test]
fn the_preflight_names_the_served_models_when_the_model_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, 2);
    let mock = MockServer::start_blocking(MockConfig {
        models: vec!["qwen2.5:7b".into(), "llama3.2:3b".into()],
        strict_models: true,
        ..MockConfig::replying(world::reply)
    });
    let db = dir.path().join("db");
    let args = with_preflight(run_args(&mock.base_url(), &data));
    let out = critloop(&db).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model `mock-model` is not served") && err.contains("qwen2.5:7b, llama3.2:3b"),
        "{err}"
    );
}
