//! `critloop labels …` and `critloop queue …` as a user drives them: the real binary, real sled
//! databases on disk, each test with its own config file so no user config leaks in.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// A database and an (empty) config file of its own in a temp dir.
struct Db {
    db: PathBuf,
    config: PathBuf,
    dir: PathBuf,
}

impl Db {
    fn new(dir: &Path, name: &str) -> Db {
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, "").unwrap();
        Db { db: dir.join(name), config, dir: dir.to_path_buf() }
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("critloop").unwrap();
        cmd.arg("--db")
            .arg(&self.db)
            .arg("--config")
            .arg(&self.config)
            .env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml")
            .env_remove("CRITLOOP_LOG");
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "critloop {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a failing command: (exit code, stderr).
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.cmd().args(args).output().unwrap();
        assert!(!out.status.success(), "critloop {args:?} should fail");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// The same small sim run in any database.
    fn sim_run(&self, name: &str, limit: usize) {
        let limit = limit.to_string();
        self.ok(&["run", "--name", name, "--limit", &limit, "--seed", "3", "--quiet"]);
    }

    fn add(&self, who: &str, item: &str, turn: &str, name: &str, value: &str) {
        let out =
            self.ok(&["labels", "add", "r1", item, "0", turn, name, value, "--annotator", who]);
        assert!(out.starts_with(&format!("added {name}={value} on item {item} sample 0")), "{out}");
    }

    fn export(&self) -> Vec<String> {
        let mut lines: Vec<String> =
            self.ok(&["labels", "export", "r1"]).lines().map(str::to_string).collect();
        lines.sort();
        lines
    }

    fn human(&self) -> Value {
        let text = self.ok(&[
            "metrics",
            "r1",
            "--format",
            "json",
            "--resamples",
            "200",
            "--bootstrap-seed",
            "9",
        ]);
        let m: Value = serde_json::from_str(&text).unwrap();
        m["human"].clone()
    }
}

fn item(i: usize) -> String {
    format!("arith-{i:03}")
}

#[test]
fn two_databases_merge_their_labels_and_agree_on_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Db::new(dir.path(), "a"), Db::new(dir.path(), "b"));
    a.sim_run("r1", 8);
    b.sim_run("r1", 8);

    // ana works in A, ben in B, on overlapping targets (critique turn 1 of items 1-6).
    let ana = ["yes", "no", "yes", "partial", "no", "yes"];
    let ben = ["yes", "no", "no", "partial", "no", "yes"];
    for i in 0..6 {
        a.add("ana", &item(i + 1), "1", "error_found", ana[i]);
        b.add("ben", &item(i + 1), "1", "error_found", ben[i]);
    }
    // A relabel: history in A, `n/a` then `no` in force.
    a.add("ana", &item(7), "1", "error_found", "n/a");
    a.add("ana", &item(7), "1", "error_found", "no");
    a.add("ana", &item(2), "1", "tone", "hedging");
    a.add("ana", &item(3), "episode", "note", "looks fine");
    b.add("ben", &item(1), "2", "followed_critique", "yes");
    b.add("ben", &item(7), "1", "error_found", "yes");
    b.add("ben", &item(2), "0", "grade_override", "correct");

    let (fa, fb) = (dir.path().join("ana.jsonl"), dir.path().join("ben.jsonl"));
    let out = a.cmd().args(["labels", "export", "r1", "--out"]).arg(&fa).output().unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("exported 10 label entries of run r1 to"), "{said}");
    assert!(
        b.cmd()
            .args(["labels", "export", "r1", "--out"])
            .arg(&fb)
            .output()
            .unwrap()
            .status
            .success()
    );

    let fa_s = fa.to_str().unwrap();
    let fb_s = fb.to_str().unwrap();
    let into_b = b.ok(&["labels", "import", fa_s]);
    assert!(into_b.contains("10 lines, 10 new, 0 already present, 0 conflicting"), "{into_b}");
    let into_a = a.ok(&["labels", "import", fb_s]);
    assert!(into_a.contains("9 lines, 9 new, 0 already present, 0 conflicting"), "{into_a}");

    // The same labels in force, the same entries, the same numbers on both sides.
    let list = |d: &Db| d.ok(&["labels", "list", "r1", "--format", "jsonl"]);
    assert_eq!(list(&a), list(&b));
    assert_eq!(list(&a).lines().count(), 6 + 6 + 1 + 1 + 1 + 1 + 1 + 1);
    let relabelled = list(&a)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["item_id"] == item(7).as_str() && r["annotator"] == "ana")
        .unwrap();
    assert_eq!(
        (relabelled["value"].as_str(), relabelled["entries"].as_u64()),
        (Some("no"), Some(2))
    );
    let before = a.export();
    assert_eq!(before, b.export());
    assert_eq!(before.len(), 19);
    let (ha, hb) = (a.human(), b.human());
    assert_eq!(ha, hb);
    let ef = &ha["agreement"]["error_found"];
    let pair = &ef["pairs"][0];
    assert_eq!((pair["a"].as_str(), pair["b"].as_str()), (Some("ana"), Some("ben")));
    assert_eq!(pair["n"], 7, "{ef}");
    assert!(pair["kappa"].is_f64(), "κ: {ef}");
    assert!(ef["alpha"]["alpha"].is_f64(), "α: {ef}");

    // Importing again changes nothing.
    for d in [&a, &b] {
        for f in [fa_s, fb_s] {
            let again = d.ok(&["labels", "import", f]);
            assert!(again.contains(" 0 new, "), "{again}");
            assert!(again.contains(" 0 conflicting"), "{again}");
        }
    }
    assert_eq!(a.export(), before);
    assert_eq!(b.export(), before);
    assert_eq!(a.human(), ha);
}

#[test]
fn labels_add_refuses_what_the_schema_does_not_allow() {
    let dir = tempfile::tempdir().unwrap();
    let d = Db::new(dir.path(), "db");
    d.sim_run("r1", 3);
    let cases: [(&[&str], &str); 5] = [
        (&["1", "colour", "red"], "unknown label `colour`"),
        (&["1", "error_found", "maybe"], "`maybe` is not a value of `error_found`"),
        (&["0", "tone", "hedging"], "tone labels a critique turn; turn 0 is a generate turn"),
        (&["1", "note", "hi"], "note labels the episode"),
        (&["9", "tone", "hedging"], "turn 9 is not in item `arith-001` sample 0"),
    ];
    for (rest, want) in cases {
        let mut args = vec!["labels", "add", "r1", "arith-001", "0"];
        args.extend_from_slice(rest);
        args.extend_from_slice(&["--annotator", "ana"]);
        let (code, err) = d.fails(&args);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
    // No annotator anywhere: say where to put one, never invent one.
    let (code, err) = d.fails(&["labels", "add", "r1", "arith-001", "0", "1", "tone", "hedging"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("name the annotator: --annotator NAME, or annotator = \"NAME\" in"),
        "{err}"
    );
    assert!(err.contains(d.config.to_str().unwrap()), "{err}");
    // A bad TURN is a usage error.
    let (code, _) = d.fails(&["labels", "add", "r1", "arith-001", "0", "one", "tone", "hedging"]);
    assert_eq!(code, 2);

    let out = d.cmd().args(["labels", "list", "r1"]).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no labels on run r1"));

    // The top-level --annotator and the config's name work too.
    let out = d.ok(&[
        "--annotator",
        "ben",
        "labels",
        "add",
        "r1",
        "arith-001",
        "0",
        "1",
        "tone",
        "hedging",
    ]);
    assert!(out.ends_with("(ben)\n"), "{out}");
    std::fs::write(&d.config, "annotator = \"cai\"\n").unwrap();
    let out = d.ok(&["labels", "add", "r1", "arith-002", "0", "episode", "note", "hi"]);
    assert_eq!(out, "added note=hi on item arith-002 sample 0, the whole episode (cai)\n");
    assert_eq!(d.ok(&["labels", "list", "r1", "--format", "jsonl"]).lines().count(), 2);
}

#[test]
fn a_malformed_line_imports_nothing_and_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = Db::new(dir.path(), "db");
    d.sim_run("r1", 3);
    let good = |item: &str| {
        format!(
            r#"{{"run":"r1","item_id":"{item}","sample":0,"annotator":"ana","turn":1,"name":"tone","value":"hedging","time":1700000000}}"#
        )
    };
    let bad = r#"{"run":"r1","item_id":"arith-003","sample":"zero","annotator":"ana","turn":1,"name":"tone","value":"hedging","time":1700000000}"#;
    let file = d.dir.join("labels.jsonl");
    std::fs::write(&file, format!("{}\n{}\n{bad}\n", good("arith-001"), good("arith-002")))
        .unwrap();
    let (code, err) = d.fails(&["labels", "import", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("labels.jsonl:3: field `sample`: expected an integer"), "{err}");
    let out = d.cmd().args(["labels", "list", "r1"]).output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty(), "nothing was imported");

    // Lines that point nowhere are refused the same way, before anything is written.
    std::fs::write(&file, format!("{}\n{}\n", good("arith-001"), good("arith-009"))).unwrap();
    let (_, err) = d.fails(&["labels", "import", file.to_str().unwrap()]);
    assert!(err.contains("labels.jsonl:2: item `arith-009` sample 0 is not in run `r1`"), "{err}");
    std::fs::write(&file, good("arith-001").replace("\"r1\"", "\"r9\"")).unwrap();
    let (_, err) = d.fails(&["labels", "import", file.to_str().unwrap()]);
    assert!(err.contains("labels.jsonl:1: run `r9` is not in this database"), "{err}");
    let out = d.cmd().args(["labels", "list", "r1"]).output().unwrap();
    assert!(out.stdout.is_empty());

    // A transcript export brings its labels along.
    d.add("ana", "arith-001", "1", "error_found", "yes");
    let transcript = d.dir.join("t.jsonl");
    let out = d.cmd().args(["export", "r1", "--out"]).arg(&transcript).output().unwrap();
    assert!(out.status.success());
    let other = Db::new(dir.path(), "other");
    other.sim_run("r1", 3);
    let said = other.ok(&["labels", "import", transcript.to_str().unwrap()]);
    assert!(said.contains("3 lines, 1 new, 0 already present"), "{said}");
    assert_eq!(other.export(), d.export());
}

#[test]
fn a_queue_splits_a_hundred_episodes_with_an_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let d = Db::new(dir.path(), "db");
    d.sim_run("r1", 100);
    let make =
        ["queue", "make", "r1", "--annotators", "ana,ben", "--overlap", "0.2", "--seed", "5"];
    let out = d.ok(&make);
    assert_eq!(
        out,
        "queue for r1: 100 episodes; ana 60, ben 60; 20 to both (overlap 0.2, seed 5)\n"
    );
    let (code, err) = d.fails(&make);
    assert_eq!(code, 1);
    assert!(err.contains("already has a queue") && err.contains("--replace"), "{err}");
    let shown = d.ok(&["queue", "show", "r1"]);
    assert!(shown.contains("100 episodes, 20 to every annotator"), "{shown}");
    for who in ["ana", "ben"] {
        assert!(
            shown.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [who, "0/60"]),
            "{shown}"
        );
    }
    let mut again = make.to_vec();
    again.extend(["--replace", "--blind"]);
    assert!(d.ok(&again).ends_with("(overlap 0.2, seed 5), blind\n"));

    let (code, err) = Db::new(dir.path(), "empty").fails(&["queue", "show", "r1"]);
    assert_eq!(code, 1);
    assert!(err.contains("no run named"), "{err}");
    let d2 = Db::new(dir.path(), "d2");
    d2.sim_run("r1", 2);
    let (_, err) = d2.fails(&["queue", "show", "r1"]);
    assert!(err.contains("critloop queue make"), "{err}");
}

#[test]
fn escape_sequences_in_labels_are_printed_inert() {
    let dir = tempfile::tempdir().unwrap();
    let d = Db::new(dir.path(), "db");
    d.sim_run("r1", 2);
    let evil = "x\u{1b}[2J\u{1b}]0;owned\u{7}";
    let out = d.ok(&[
        "labels",
        "add",
        "r1",
        "arith-001",
        "0",
        "episode",
        "note",
        evil,
        "--annotator",
        evil,
    ]);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    let out = d.ok(&["labels", "list", "r1"]);
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    assert!(out.contains("x\\e[2J\\e]0;owned\\x07"), "{out:?}");
    let err = String::from_utf8(
        d.cmd().args(["labels", "list", "r1", "--annotator", evil]).output().unwrap().stdout,
    )
    .unwrap();
    assert_eq!(err, out, "the filter matches the raw name");
    // Data formats keep the value exactly (JSON escapes it).
    let out = d.ok(&["labels", "list", "r1", "--format", "jsonl"]);
    assert!(!out.contains('\u{1b}'));
    let row: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((row["value"].as_str(), row["annotator"].as_str()), (Some(evil), Some(evil)));
}

#[test]
fn a_conflicting_entry_joins_the_history_and_the_latest_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Db::new(dir.path(), "a"), Db::new(dir.path(), "b"));
    a.sim_run("r1", 2);
    b.sim_run("r1", 2);
    // ana labelled the same critique on two machines, later differently on B.
    a.add("ana", "arith-001", "1", "tone", "confident");
    b.add("ana", "arith-001", "1", "tone", "hedging");
    let file = dir.path().join("b.jsonl");
    assert!(
        b.cmd()
            .args(["labels", "export", "r1", "--out"])
            .arg(&file)
            .output()
            .unwrap()
            .status
            .success()
    );
    let said = a.ok(&["labels", "import", file.to_str().unwrap()]);
    assert!(said.contains("1 lines, 1 new, 0 already present, 1 conflicting"), "{said}");
    let rows = a.ok(&["labels", "list", "r1", "--format", "jsonl"]);
    let row: Value = serde_json::from_str(rows.trim()).unwrap();
    assert_eq!((row["value"].as_str(), row["entries"].as_u64()), (Some("hedging"), Some(2)));
}
