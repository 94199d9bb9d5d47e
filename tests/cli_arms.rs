//! `critloop arms` as a user drives it: the real binary on a sled database on disk.

mod support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use support::cli::{critloop, failure, stdout};
use support::mock::{MockConfig, MockReply, MockServer};
use support::world;

fn metrics(db: &Path, run: &str) -> Value {
    serde_json::from_str(&stdout(critloop(db).args(["metrics", run, "--format", "json"]))).unwrap()
}

/// First-attempt texts of a run's episodes, in export order.
fn first_attempts(db: &Path, run: &str) -> Vec<Value> {
    stdout(critloop(db).args(["export", run, "--format", "jsonl"]))
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            serde_json::json!([v["item_id"], v["turns"][0]])
        })
        .collect()
}

#[test]
fn arms_of_a_run_share_its_first_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "demo", "--limit", "40", "--quiet"]));
    let out = stdout(critloop(&db).args(["arms", "demo", "--quiet"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("source") && lines[0].contains("demo "), "{out}");
    for (line, arm) in lines[1..].iter().zip(["no-critique", "empty-critique", "oracle-critique"]) {
        assert!(line.contains(&format!("demo~{arm}")) && line.contains("acc_t2"), "{out}");
    }
    let source = metrics(&db, "demo");
    let t1 = first_attempts(&db, "demo");
    for arm in ["demo~no-critique", "demo~empty-critique", "demo~oracle-critique"] {
        assert_eq!(first_attempts(&db, arm), t1, "{arm}: the same first attempts");
        assert_eq!(metrics(&db, arm)["acc_t1"], source["acc_t1"], "{arm}");
    }
    let export = stdout(critloop(&db).args(["export", "demo~no-critique", "--format", "jsonl"]));
    assert!(!export.contains("\"critique\""), "no critique turn in the no-critique arm");

    // The critique's own effect: the run against its no-critique arm, paired on shared t1.
    let table = stdout(critloop(&db).args(["compare", "demo~no-critique", "demo"]));
    assert!(table.contains("40 shared items (0 only in A, 0 only in B)"), "{table}");
    assert!(table.contains("95% CI (paired)") && table.contains("exact p = "), "{table}");
    let c: Value = serde_json::from_str(&stdout(critloop(&db).args([
        "compare",
        "demo~no-critique",
        "demo",
        "--format",
        "json",
    ])))
    .unwrap();
    let rate =
        |k: &str| c["rates"].as_array().unwrap().iter().find(|r| r["key"] == k).unwrap().clone();
    // Shared first attempts: no difference at t1, in every resample, and no discordant pair.
    assert_eq!(rate("acc_t1")["diff"], 0.0);
    assert_eq!(rate("acc_t1")["ci"], serde_json::json!([0.0, 0.0]));
    assert_eq!(c["mcnemar"]["acc_t1"]["a_only"], 0);
    assert_eq!(c["mcnemar"]["acc_t1"]["b_only"], 0);
    assert_eq!(c["mcnemar"]["acc_t1"]["p_value"], 1.0);
    let t2 = &c["mcnemar"]["acc_t2"];
    assert_eq!(t2["pairs"], 40);
    let p = t2["p_value"].as_f64().unwrap();
    assert!(p > 0.0 && p <= 1.0, "{p}");
    let d = rate("acc_t2");
    let (diff, lo, hi) =
        (d["diff"].as_f64().unwrap(), d["ci"][0].as_f64().unwrap(), d["ci"][1].as_f64().unwrap());
    assert!(lo <= diff && diff <= hi, "{diff} in [{lo}, {hi}]");
    // acc_t2 difference = (B-only − A-only flips) / N for k = 1.
    let flips = t2["b_only"].as_f64().unwrap() - t2["a_only"].as_f64().unwrap();
    assert!((diff - flips / 40.0).abs() < 1e-12, "{diff} vs {flips}/40");

    // A report holding a run and its arm reads off the critique's effect, and verifies.
    let out = dir.path().join("paper");
    stdout(critloop(&db).args(["report", "demo", "demo~no-critique", "--out"]).arg(&out));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let row =
        md.lines().find(|l| l.starts_with("| demo † | demo~no-critique † | no-critique | 40 |"));
    let row = row.unwrap_or_else(|| panic!("no control-arm row in\n{md}"));
    assert!(row.contains(&format!("{:+.1} [", diff * 100.0)), "{row}");
    assert!(stdout(critloop(&db).arg("verify").arg(&out)).contains("match the database"));

    // Taken names get a suffix; cross-critique needs its critic.
    let out = stdout(critloop(&db).args(["arms", "demo", "--arms", "no-critique", "--quiet"]));
    assert!(out.contains("demo~no-critique-2"), "{out}");
    let (code, err) = failure(critloop(&db).args(["arms", "demo", "--arms", "cross-critique"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("--critic-model"), "{err}");
    let out = stdout(critloop(&db).args([
        "arms",
        "demo",
        "--arms",
        "cross-critique",
        "--critic-model",
        "other",
        "--quiet",
    ]));
    assert!(out.contains("demo~cross-critique"), "{out}");
    assert_eq!(metrics(&db, "demo~cross-critique")["provenance"]["models"]["critic"], "other");
}

#[test]
fn arms_refuse_unknown_unfinished_and_unsuitable_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (code, err) = failure(critloop(&db).args(["arms", "nope"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("no run named `nope`"), "{err}");
    let (code, _) = failure(critloop(&db).args(["arms", "nope", "--arms", "fourth-wall"]));
    assert_eq!(code, Some(2), "an unknown arm is a usage error");

    // A run created but never executed: its first attempts do not exist yet.
    {
        let store = critloop::store::Store::open(&db).unwrap();
        let mut items = critloop::dataset::resolve("arith", &Default::default()).unwrap().items;
        items.truncate(5);
        critloop::runner::create_run(
            &store,
            critloop::runner::NewRun {
                name: "half".into(),
                dataset: "arith".into(),
                items,
                protocol: critloop::protocol::load_protocol("critique-revise").unwrap(),
                provider: critloop::domain::ProviderSpec::Sim { params: Default::default() },
                model: "sim".into(),
                critic_model: "sim".into(),
                sampling: Default::default(),
            },
            Default::default(),
        )
        .unwrap();
    }
    // sled lets go of its lock file a moment after the last handle is dropped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !critloop(&db).args(["runs", "list"]).output().unwrap().status.success() {
        assert!(std::time::Instant::now() < deadline, "the database stays locked");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, err) = failure(critloop(&db).args(["arms", "half"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("critloop run --resume half") && err.lines().count() == 1, "{err}");

    stdout(critloop(&db).args([
        "run",
        "--name",
        "sc",
        "--protocol",
        "self-correct",
        "--limit",
        "5",
    ]));
    let (code, err) = failure(critloop(&db).args(["arms", "sc"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("critique-revise"), "{err}");
    let list = stdout(critloop(&db).args(["runs", "list"]));
    assert!(!list.contains('~'), "refused arms leave no run behind: {list}");
}

#[test]
fn openai_arms_send_no_first_attempt_again_and_cross_critique_goes_to_its_endpoint() {
    const KEY: &str = "sk-arms-test-key-0123";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let data = dir.path().join("items.jsonl");
    world::write_dataset(&data, 12);
    let generator = MockServer::start_blocking(MockConfig::replying(world::reply));
    // Another critic writes other critiques (identical ones would hit the response cache).
    let critic = MockServer::start_blocking(MockConfig::replying(|_| {
        MockReply::text("A second look.\nVerdict: incorrect\nConfidence: 60%")
    }));
    let with_key = |cmd: &mut Command| {
        cmd.env("OPENAI_API_KEY", KEY).env_remove("OPENAI_BASE_URL");
    };
    let mut run = critloop(&db);
    with_key(&mut run);
    let url = generator.base_url();
    let data = data.display().to_string();
    stdout(
        run.args(["run", "--name", "r", "--base-url", &url, "--model", "gen", "--quiet"])
            .arg("--no-preflight")
            .args(["--dataset", &data]),
    );
    let before = generator.requests().len();
    assert_eq!(before, 36, "generate, critique, revise for 12 items");

    let mut arms = critloop(&db);
    with_key(&mut arms);
    let out = stdout(arms.args([
        "arms",
        "r",
        "--arms",
        "no-critique,oracle-critique,cross-critique",
        "--critic-model",
        "critic-2",
        "--critic-base-url",
        &critic.base_url(),
        "--quiet",
    ]));
    assert_eq!(out.lines().count(), 4, "{out}");
    let bearer = format!("Bearer {KEY}");
    let new = &generator.requests()[before..];
    // Revisions only: no-critique, oracle and cross each revise 12 first attempts.
    assert_eq!(new.len(), 36);
    for r in new {
        let assistants = r.request.messages.iter().filter(|(role, _)| role == "assistant").count();
        assert!(assistants >= 1, "a first attempt was requested again: {:?}", r.request.messages);
        assert_eq!(r.request.model, "gen");
        assert_eq!(r.authorization.as_deref(), Some(bearer.as_str()), "the source's key variable");
    }
    let retries = new.iter().filter(|r| r.request.messages.len() == 3).count();
    assert_eq!(retries, 12, "the no-critique arm sends question, answer, retry prompt");
    let crit = critic.requests();
    assert_eq!(crit.len(), 12, "cross critiques go to the critic endpoint");
    assert!(crit.iter().all(|r| r.request.model == "critic-2"));
    assert!(crit.iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())));
    let show = stdout(critloop(&db).args(["runs", "show", "r~cross-critique"]));
    assert!(!show.contains(KEY), "the key is never stored");
}
