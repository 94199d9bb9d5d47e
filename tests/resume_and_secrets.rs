//! The binary against the mock: SIGKILL part-way and resume; the API key never leaves memory.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use support::db::{Conversation, sigkill, stored_requests, wait_free};
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

/// The request messages of every stored turn of run r, once the database is free.
fn completed_requests(db: &Path) -> Vec<Conversation> {
    stored_requests(&wait_free(db), "r")
}

/// The pid of the database's server, once it serves (its pid file is written after the socket).
fn server_pid(db: &Path, not: Option<u32>) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pid = std::fs::read_to_string(db.join("critloop.pid"))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        if let Some(pid) = pid.filter(|p| Some(*p) != not) {
            return pid;
        }
        assert!(Instant::now() < deadline, "no server for {}", db.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `critloop run` of 120 world items against a mock answering in 50 ms, started in `dir`:
/// the mock, the database and the client process (stderr piped).
fn slow_run(dir: &Path) -> (MockServer, std::path::PathBuf, std::process::Child) {
    let data = dir.join("items.jsonl");
    world::write_dataset(&data, 120);
    let mock = MockServer::start_blocking(MockConfig {
        latency: Duration::from_millis(50),
        ..MockConfig::replying(world::reply)
    });
    let db = dir.join("db");
    let child = critloop(&db)
        .args(run_args(&mock.base_url(), &data))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (mock, db, child)
}

/// Issue 12, acceptance 4: the server that executes a run is SIGKILLed three times mid-run;
/// each time the next `critloop runs list` takes the database over and the run goes on. In the
/// end every episode is there once and no stored turn was requested twice.
#[test]
fn the_server_killed_mid_run_is_taken_over_by_the_next_command() {
    let dir = tempfile::tempdir().unwrap();
    let (mock, db, child) = slow_run(dir.path());
    let mut child = Some(child);
    let mut pid = server_pid(&db, None);
    // At each kill: how many requests the mock had seen, and every turn stored by then; none of
    // those may be requested after it.
    let mut stored_at_kill: Vec<(usize, Vec<Conversation>)> = Vec::new();
    for (kill, at) in [60, 150, 240].into_iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(60);
        while mock.requests().len() < at {
            assert!(Instant::now() < deadline, "the run did not get going (kill {kill})");
            std::thread::sleep(Duration::from_millis(2));
        }
        sigkill(pid);
        if let Some(client) = child.take() {
            // The client that started the run says its server is gone.
            let out = client.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("stopped before the command finished"), "{kill}: {err}");
        }
        let seen = mock.requests().len();
        let stored = completed_requests(&db);
        assert!(!stored.is_empty() && stored.len() < 360, "killed part-way ({})", stored.len());
        stored_at_kill.push((seen, stored));
        let listed = ok(critloop(&db).args(["runs", "list"]));
        assert!(listed.contains("running"), "taken over and running again: {listed}");
        pid = server_pid(&db, Some(pid));
    }
    // The last server finishes the run, then exits (nothing going, nobody connected).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = ok(critloop(&db).args(["runs", "list"]));
        if listed.contains("finished") {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not finish: {listed}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = mock.requests();
    for (kill, (seen, stored)) in stored_at_kill.iter().enumerate() {
        let later: std::collections::HashSet<&Conversation> =
            log[*seen..].iter().map(|r| &r.request.messages).collect();
        let again = stored.iter().filter(|c| later.contains(c)).count();
        assert_eq!(again, 0, "kill {kill}: {again} stored turns were requested again");
    }
    let server_log = std::fs::read_to_string(dir.path().join("db.server.log")).unwrap();
    assert_eq!(server_log.matches("took over: resuming run r").count(), 3, "{server_log}");
    let metrics = metrics_without_usage(&db);
    assert_eq!(metrics["episodes"], 120, "every episode once");
    let store = wait_free(&db);
    let run = store.require_run("r").unwrap();
    assert_eq!(store.episodes(run.id).unwrap().len(), 120, "no duplicated episodes");
    drop(store);

    // The same run without interruption, against a fresh mock, gives the same metrics.
    let fresh = MockServer::start_blocking(MockConfig::replying(world::reply));
    let db2 = dir.path().join("db2");
    ok(critloop(&db2).args(run_args(&fresh.base_url(), &dir.path().join("items.jsonl"))));
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

    let written = dir.path().join("out");
    let file = |name: &str| written.join(name).display().to_string();
    std::fs::create_dir_all(&written).unwrap();
    let url = mock.base_url();
    for args in [
        // Every export format, to standard output and to a file.
        vec!["export", "r", "--format", "jsonl"],
        vec!["export", "r", "--format", "csv"],
        vec!["export", "r", "--format", "long-jsonl"],
        vec!["export", "r", "--format", "jsonl", "--out", &file("transcripts.jsonl")],
        vec!["export", "r", "--format", "csv", "--out", &file("long.csv")],
        vec!["export", "r", "--format", "long-jsonl", "--out", &file("long.jsonl")],
        vec!["export", "r", "--format", "parquet", "--out", &file("long.parquet")],
        vec!["metrics", "r", "--format", "json"],
        vec!["metrics", "r"],
        vec!["runs", "show", "r"],
        vec!["runs", "list"],
        vec!["report", "r", "--out", &file("report"), "--resamples", "20"],
        vec!["verify", &file("report")],
        // The endpoint check sends the key too (its report is asserted below).
        vec!["doctor", "--base-url", &url, "--model", "mock-model"],
    ] {
        let out = critloop(&db).args(&args).env("CRITLOOP_LOG", "debug").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        outputs.push(out.stdout);
        outputs.push(out.stderr);
    }
    let log = mock.requests();
    assert!(
        log.iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())),
        "the doctor sends the key"
    );
    // The server stops once idle; its log is complete then.
    drop(wait_free(&db));
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    let log_file = dir.path().join("db.log");
    assert!(files.contains(&log_file), "a log was written: {files:?}");
    assert!(std::fs::read_to_string(&log_file).unwrap().contains("run"), "the log has content");
    // Everything the commands wrote is among the files searched.
    for name in [
        "db.server.log",
        "out/transcripts.jsonl",
        "out/long.csv",
        "out/long.jsonl",
        "out/long.parquet",
        "out/report/report.md",
        "out/report/report.json",
        "out/report/metrics.json",
        "out/report/table.tex",
        "db/conf",
        "db/db",
    ] {
        let f = dir.path().join(name);
        assert!(files.contains(&f), "{name} was written: {files:?}");
        assert!(std::fs::metadata(&f).unwrap().len() > 0, "{name} has content");
    }
    for f in &files {
        outputs.push(std::fs::read(f).unwrap());
    }
    // The database's pages are compressed: search its records as sled returns them too.
    let raw = sled::Config::new().path(&db).use_compression(true).open().unwrap();
    let mut records = 0;
    for name in raw.tree_names() {
        for kv in raw.open_tree(&name).unwrap().iter() {
            let (k, v) = kv.unwrap();
            outputs.push(k.to_vec());
            outputs.push(v.to_vec());
            records += 1;
        }
    }
    assert!(records > 15 * 3, "every turn was searched ({records} records)");
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

/// Issue 14, point 9: Ctrl-C during `critloop run` stops cleanly: one line with the stored
/// count and how to continue, exit 130; the resume then finishes the run.
#[test]
fn ctrl_c_stops_the_run_says_how_to_continue_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let (mock, db, child) = slow_run(dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    while mock.requests().len() < 60 {
        assert!(Instant::now() < deadline, "the run did not get going");
        std::thread::sleep(Duration::from_millis(2));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let listed: Value =
        serde_json::from_str(&ok(critloop(&db).args(["runs", "list", "--format", "json"])))
            .unwrap();
    let done = listed[0]["episodes"]["done"].as_u64().unwrap();
    assert!(done > 0 && done < 120, "stopped part-way: {done}");
    assert_eq!(listed[0]["status"], "cancelled");
    let line =
        format!("stopped: {done} of 120 episodes done; continue with `critloop run --resume r`");
    assert!(err.contains(&line), "{err}");
    assert!(!err.contains("scored"), "no metrics after a stop: {err}");
    ok(critloop(&db).args(["run", "--resume", "r", "--quiet"]));
    let listed: Value =
        serde_json::from_str(&ok(critloop(&db).args(["runs", "list", "--format", "json"])))
            .unwrap();
    // Every episode once: the world's refused revisions (every 13th item) fail, the rest are done.
    let failed = (1..=120).filter(|n| world::rejected(*n)).count() as u64;
    assert_eq!(listed[0]["episodes"]["failed"], failed);
    assert_eq!(listed[0]["episodes"]["done"], 120 - failed);
    assert_eq!(listed[0]["episodes"]["pending"], 0);
    assert_eq!(listed[0]["status"], "finished");
}
