//! The command line as a user drives it: the real binary, a real sled database on disk.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn critloop(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("critloop").unwrap();
    cmd.arg("--db").arg(db).env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml");
    cmd
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn metrics_json(db: &Path, run: &str) -> Value {
    let text = stdout(critloop(db).args(["metrics", run, "--format", "json"]));
    serde_json::from_str(&text).unwrap()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number: {}", v[key]))
}

#[test]
fn run_prints_a_summary_and_metrics_json_has_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out =
        stdout(critloop(&db).args(["run", "--name", "demo", "--limit", "200", "--rounds", "2"]));
    assert!(out.contains("run demo"), "{out}");
    assert!(out.contains("SIMULATED"), "sim output is marked: {out}");
    assert!(out.contains("acc_t1") && out.contains("cs"), "{out}");

    let m = metrics_json(&db, "demo");
    for key in [
        "run",
        "episodes",
        "scored",
        "failed",
        "transitions",
        "acc_t1",
        "acc_t2",
        "delta",
        "delta_i2c",
        "delta_c2i",
        "cl",
        "cs",
        "rss",
        "rounds",
        "critique",
        "ci",
        "provenance",
    ] {
        assert!(m.get(key).is_some(), "missing key {key}");
    }
    for key in ["cc", "cw", "wc", "ww"] {
        assert!(m["transitions"][key].is_u64(), "transitions.{key}");
    }
    for key in ["tp", "fp", "tn", "fn", "unparsed", "accuracy", "precision", "recall", "f1"] {
        assert!(m["critique"].get(key).is_some(), "critique.{key}");
    }
    for key in ["version", "dataset_hash", "protocol", "models", "prompts_hash", "seed"] {
        assert!(m["provenance"].get(key).is_some(), "provenance.{key}");
    }
    assert_eq!(m["episodes"], 200);
    assert_eq!(m["scored"], 200);
    assert_eq!(m["rounds"].as_array().unwrap().len(), 3, "t1 + two rounds");
    // Two critiques per episode.
    assert_eq!(m["critique"]["n"], 400);

    let (a1, a2, cl, cs) = (f(&m, "acc_t1"), f(&m, "acc_t2"), f(&m, "cl"), f(&m, "cs"));
    assert!((a2 - (a1 * cl + (1.0 - a1) * cs)).abs() < 1e-9, "acc_t2 identity");
    let d = f(&m, "delta") - (f(&m, "delta_i2c") - f(&m, "delta_c2i"));
    assert!(d.abs() < 1e-9, "delta identity");
    let t = &m["transitions"];
    let n = ["cc", "cw", "wc", "ww"].iter().map(|k| t[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(n, 200);
    let pooled = (t["cc"].as_u64().unwrap() + t["cw"].as_u64().unwrap()) as f64 / 200.0;
    assert!((a1 - pooled).abs() < 1e-12, "k = 1: item weighting equals pooling");

    // Every defined rate has a bootstrap interval around its estimate; the seed is recorded.
    for key in ["acc_t1", "acc_t2", "delta", "cl", "cs", "rss", "critique.f1", "rounds.2.acc"] {
        let ci = m["ci"][key].as_array().unwrap_or_else(|| panic!("ci.{key}"));
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        let v = match key.split_once('.') {
            Some(("critique", k)) => m["critique"][k].as_f64().unwrap(),
            Some(("rounds", _)) => m["rounds"][2]["acc"].as_f64().unwrap(),
            _ => f(&m, key),
        };
        assert!(lo <= v && v <= hi, "{key}: {v} outside [{lo}, {hi}]");
    }
    assert_eq!(m["provenance"]["bootstrap"]["resamples"], 1000);
    assert_eq!(m["provenance"]["bootstrap"]["seed"], 0);
    let cal = &m["calibration"]["verbalized"];
    assert_eq!(cal["scheme"], "equal-count");
    assert_eq!(cal["bins"].as_array().unwrap().len(), 10);
    for key in ["ece", "brier", "auroc"] {
        assert!(cal[key].is_f64(), "calibration.verbalized.{key}");
    }
    assert!(m["what_if"]["points"].as_array().unwrap().len() > 2);
    for key in ["ece", "brier", "auroc"] {
        let ci = m["ci"][format!("calibration.verbalized.{key}")].as_array().unwrap().clone();
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        assert!(0.0 <= lo && lo <= hi && hi <= 1.0, "{key}: [{lo}, {hi}]");
    }

    // Another bootstrap seed moves the intervals, not the estimates; 0 resamples: no intervals.
    let other = serde_json::from_str::<Value>(&stdout(critloop(&db).args([
        "metrics",
        "demo",
        "--format",
        "json",
        "--bootstrap-seed",
        "5",
        "--bins",
        "4",
    ])))
    .unwrap();
    assert_eq!(other["cl"], m["cl"]);
    assert_ne!(other["ci"], m["ci"]);
    assert_eq!(other["calibration"]["verbalized"]["bins"].as_array().unwrap().len(), 4);
    let none =
        stdout(critloop(&db).args(["metrics", "demo", "--format", "json", "--resamples", "0"]));
    assert_eq!(serde_json::from_str::<Value>(&none).unwrap()["ci"], serde_json::json!({}));

    let csv = stdout(critloop(&db).args(["metrics", "demo", "--format", "csv"]));
    assert!(csv.starts_with("metric,value,lo,hi\n"));
    let cl_row = csv.lines().find(|l| l.starts_with("cl,")).unwrap();
    assert_eq!(cl_row.split(',').filter(|c| !c.is_empty()).count(), 4, "{cl_row}");
    assert!(csv.contains("\ncalibration.verbalized.ece,"));
}

#[test]
fn export_then_import_into_a_new_database_gives_identical_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (db1, db2) = (dir.path().join("one"), dir.path().join("two"));
    stdout(critloop(&db1).args([
        "run",
        "--name",
        "src",
        "--limit",
        "60",
        "--rounds",
        "2",
        "--samples",
        "2",
        "--seed",
        "7",
        "--quiet",
    ]));
    stdout(critloop(&db1).args(["run", "--name", "mc", "--dataset", "choice", "--quiet"]));
    for run in ["src", "mc"] {
        let file = dir.path().join(format!("{run}.jsonl"));
        stdout(critloop(&db1).args(["export", run, "--format", "jsonl", "--out"]).arg(&file));
        let lines = std::fs::read_to_string(&file).unwrap();
        assert!(lines.lines().count() > 0);
        stdout(critloop(&db2).arg("import").arg(&file));
        assert_eq!(metrics_json(&db1, run), metrics_json(&db2, run), "run {run}");
        // A second export of the imported run is the same transcript.
        let again = stdout(critloop(&db2).args(["export", run]));
        assert_eq!(again, lines, "run {run}: export ∘ import is the identity");
    }
}

#[test]
fn long_csv_export_has_one_row_per_turn() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "r", "--limit", "10", "--quiet"]));
    let csv = stdout(critloop(&db).args(["export", "r", "--format", "csv"]));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "run");
    let rows: Vec<_> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 30, "10 episodes × generate/critique/revise");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let roles: Vec<&str> = rows.iter().take(3).map(|r| &r[col("role")]).collect();
    assert_eq!(roles, ["generate", "critique", "revise"]);
    let attempts: Vec<&str> = rows.iter().take(3).map(|r| &r[col("attempt")]).collect();
    assert_eq!(attempts, ["1", "", "2"]);

    // The same rows and columns as JSONL.
    let jsonl = stdout(critloop(&db).args(["export", "r", "--format", "long-jsonl"]));
    let objs: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objs.len(), 30);
    let keys: Vec<&str> = objs[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, headers.iter().collect::<Vec<_>>());
    for (o, r) in objs.iter().zip(&rows) {
        assert_eq!(o["content"].as_str().unwrap(), &r[col("content")]);
        assert_eq!(o["turn"].to_string(), &r[col("turn")]);
    }
}

#[test]
fn compare_prints_paired_differences_and_mcnemar() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "a", "--limit", "80", "--quiet"]));
    stdout(critloop(&db).args([
        "run",
        "--name",
        "b",
        "--limit",
        "60",
        "--sim-tpr",
        "0.95",
        "--quiet",
    ]));
    let out = stdout(critloop(&db).args(["compare", "a", "b"]));
    assert!(out.contains("60 shared items (20 only in A, 0 only in B)"), "{out}");
    assert!(out.contains("McNemar on acc_t2") && out.contains("exact p = "), "{out}");
    let j: Value = serde_json::from_str(&stdout(
        critloop(&db).args(["compare", "a", "b", "--format", "json"]),
    ))
    .unwrap();
    let cs = j["rates"].as_array().unwrap().iter().find(|r| r["key"] == "cs").unwrap();
    let d = cs["diff"].as_f64().unwrap();
    let (lo, hi) = (cs["ci"][0].as_f64().unwrap(), cs["ci"][1].as_f64().unwrap());
    assert!(lo <= d && d <= hi, "cs difference {d} outside its interval [{lo}, {hi}]");
    let p = j["mcnemar"]["acc_t2"]["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));

    let out = critloop(&db).args(["compare", "a", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn malformed_dataset_lines_name_file_and_line_and_nothing_panics() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let bad = fixture("bad_dataset.jsonl");
    let out = critloop(&db).args(["datasets", "validate"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad_dataset.jsonl:3:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let out = critloop(&db).args(["run", "--dataset"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad_dataset.jsonl:3:"));
    let runs = stdout(critloop(&db).args(["runs", "list"]));
    assert!(runs.contains("no runs"), "a failed load creates no run: {runs}");

    // --skip-bad loads the rest and says what it skipped.
    let out = critloop(&db)
        .args(["run", "--name", "rest", "--quiet", "--skip-bad", "--dataset"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 1 bad line"));
    assert_eq!(metrics_json(&db, "rest")["episodes"], 3);
}

#[test]
fn malformed_transcript_line_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = dir.path().join("t.jsonl");
    std::fs::write(
        &file,
        "{\"run\":\"r\",\"item_id\":\"1\",\"question\":\"q\",\"reference\":\"1\",\"turns\":[]}\n\
         {\"run\":\"r\",\"item_id\":\"2\",\"question\":\"q\",\"reference\":\"1\",\"turns\":[{\"role\":\"dance\"}]}\n",
    )
    .unwrap();
    let out = critloop(&db).arg("import").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("t.jsonl:2:") && err.contains("turns[0].role"), "{err}");
}

#[test]
fn a_database_held_by_another_process_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let held = critloop::store::Store::open(&db).unwrap();
    let out = critloop(&db).args(["runs", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another critloop process"), "{err}");
    assert!(err.contains(&db.display().to_string()), "names the path: {err}");
    assert!(!err.contains("panicked"));
    drop(held);
    stdout(critloop(&db).args(["runs", "list"]));
}

#[test]
fn critique_only_on_realcritic_reports_grader_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(
        critloop(&db)
            .args(["run", "--name", "rc", "--protocol", "critique-only", "--quiet", "--dataset"])
            .arg(fixture("realcritic_mix.jsonl")),
    );
    let m = metrics_json(&db, "rc");
    // Labels vs. critloop's grade of `pred` against `gt`, item by item:
    // 1: 12=12 right, label true (agree); 2: 8≠7 wrong, false (agree);
    // 3: 0.5 ≡ \frac{1}{2} right, true (agree); 4: C≠B wrong, false (agree);
    // 5: 1000 ≡ 1,000 right but labelled false (disagree); 6: 4≠3 wrong but labelled true (disagree).
    assert_eq!(m["grader"]["agree"], 4);
    assert_eq!(m["grader"]["disagree"], 2);
    assert_eq!(m["grader"]["disagreements"], serde_json::json!(["5", "6"]));
    // critique-only has no second attempt: transition rates are undefined, not zero.
    assert_eq!(m["scored"], 0);
    assert!(m["acc_t1"].is_null() && m["cl"].is_null());
    assert_eq!(m["critique"]["n"], 6, "one verdict per given solution");
}

#[test]
fn runs_list_show_delete() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "a", "--limit", "5", "--quiet"]));
    let list = stdout(critloop(&db).args(["runs", "list"]));
    assert!(list.contains("a ") && list.contains("critique-revise"), "{list}");
    let show = stdout(critloop(&db).args(["runs", "show", "a"]));
    assert!(show.contains("5 episodes"), "{show}");
    stdout(critloop(&db).args(["runs", "delete", "a", "--yes"]));
    let out = critloop(&db).args(["metrics", "a"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run named `a`"));
}

#[test]
fn usage_errors_exit_2_and_help_explains() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = critloop(&db).args(["run", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = stdout(critloop(&db).args(["run", "--help"]));
    for flag in [
        "--name",
        "--dataset",
        "--protocol",
        "--provider",
        "--limit",
        "--rounds",
        "--samples",
        "--seed",
    ] {
        assert!(help.contains(flag), "run --help documents {flag}");
    }
    let out = critloop(&db).args(["run", "--sim-tpr", "1.5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sim-tpr"));
}

#[test]
fn datasets_list_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let list = stdout(critloop(&db).args(["datasets", "list"]));
    assert!(list.contains("arith") && list.contains("choice"), "{list}");
    let show = stdout(critloop(&db).args(["datasets", "show", "choice", "--items", "1"]));
    assert!(show.contains("60 items"), "{show}");
    // A multiple-choice item shows its options, lettered as the grader reads them.
    assert!(show.contains("\n  A) 519\n  B) 529\n"), "{show}");
}

#[test]
fn report_writes_markdown_latex_svg_and_verify_catches_an_edited_number() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "base", "--limit", "50", "--quiet"]));
    stdout(
        critloop(&db).args(["run", "--name", "r&d_2", "--limit", "50", "--seed", "4", "--quiet"]),
    );
    let out = dir.path().join("paper");
    stdout(
        critloop(&db).args(["report", "base", "r&d_2", "--resamples", "200", "--out"]).arg(&out),
    );
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let md = read("report.md");
    assert!(md.contains("| Run | n | Acc | Precision | Recall | F1 | Unparsed |"), "{md}");
    assert!(md.contains("## Self-correction: confidence level and critique score"));
    // One naming of attempts (issue 14, point 16): t1, t2, … and Acc@final for the last.
    assert!(md.contains("| Acc@t1 | Acc@final |") && !md.contains("Acc@t2"), "{md}");
    let tex = read("table.tex");
    assert!(tex.contains("Acc@t1 & Acc@final") && !tex.contains("Acc@t2"), "{tex}");
    assert!(tex.contains("\\begin{tabular}") && tex.contains("r\\&d\\_2"), "{tex}");
    for svg in ["transitions.svg", "cl_cs.svg", "rounds.svg", "reliability-1.svg"] {
        let s = read(svg);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"), "{svg}");
    }
    // The base run's CL as the report prints it, recomputed independently from metrics JSON.
    let m = metrics_json(&db, "base");
    let cl = format!("{:.1}", f(&m, "cl") * 100.0);
    let row = md.lines().find(|l| l.starts_with("| base †")).unwrap();
    assert!(row.contains(&cl), "{row} lacks CL {cl}");

    let ok = stdout(critloop(&db).arg("verify").arg(&out));
    assert!(ok.contains("match the database"), "{ok}");

    // Edit one number of the report: verify fails and names file, line and both values.
    let edited = md.replacen(&format!("| {cl} ["), "| 12.3 [", 1);
    assert_ne!(edited, md);
    std::fs::write(out.join("report.md"), &edited).unwrap();
    let res = critloop(&db).arg("verify").arg(&out).output().unwrap();
    assert_eq!(res.status.code(), Some(1));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("report.md:") && err.contains("says 12.3") && err.contains(&cl), "{err}");

    // A LaTeX edit is caught as well; restoring the file makes verify pass again.
    std::fs::write(out.join("report.md"), &md).unwrap();
    std::fs::write(out.join("table.tex"), tex.replacen("\\scriptsize[", "\\scriptsize[1", 1))
        .unwrap();
    let res = critloop(&db).arg("verify").arg(&out).output().unwrap();
    assert_eq!(res.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&res.stderr).contains("table.tex:"));

    // A report written by another critloop version still verifies: the version is not data.
    let version = env!("CARGO_PKG_VERSION");
    for f in ["report.md", "table.tex", "report.json"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        let text = if f == "table.tex" { tex.clone() } else { text };
        let old = text
            .replace(&format!("critloop {version}"), "critloop 0.0.9")
            .replace(&format!("\"critloop\": \"{version}\""), "\"critloop\": \"0.0.9\"");
        std::fs::write(out.join(f), old).unwrap();
    }
    assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("critloop 0.0.9."));
    let ok = stdout(critloop(&db).arg("verify").arg(&out));
    assert!(ok.contains("match the database"), "{ok}");
}

#[test]
fn long_export_carries_the_grade_the_metrics_use() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).arg("import").arg(fixture("transcripts/grade_overrides.jsonl")));
    let jsonl = stdout(critloop(&db).args(["export", "overrides", "--format", "long-jsonl"]));
    let rows: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let row = |item: &str, turn: u64| {
        rows.iter().find(|r| r["item_id"] == item && r["turn"] == turn).unwrap().clone()
    };
    // o1: the revise was graded wrong, ana overrode it to correct.
    assert_eq!(
        (row("o1", 2)["correct"].clone(), row("o1", 2)["correct_used"].clone()),
        (false.into(), true.into())
    );
    // o4: ana (later) says wrong, bo (earlier) correct: the latest wins.
    assert_eq!(row("o4", 2)["correct_used"], false);
    // No override: the automatic grade; a critique carries no grade at all.
    assert_eq!(row("o3", 0)["correct_used"], false);
    assert!(row("o3", 1)["correct_used"].is_null());
}

/// A reader that goes away (`critloop runs show NAME | head -1`) ends the command quietly:
/// exit 0, nothing on stderr, no panic report.
#[test]
fn a_closed_pipe_ends_every_printing_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "p", "--limit", "5", "--quiet"]));
    for args in [&["runs", "show", "p"][..], &["runs", "list"], &["metrics", "p"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_critloop"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env("CRITLOOP_CONFIG", dir.path().join("none.toml"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the command prints.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

/// The report carries the agreement between annotators (α, κ with intervals, the confusion
/// matrix) and still verifies against the database.
#[test]
fn the_report_has_the_annotators_agreement_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "r", "--limit", "6", "--seed", "2", "--quiet"]));
    for (i, (a, b)) in
        [("yes", "yes"), ("no", "yes"), ("no", "no"), ("yes", "yes")].iter().enumerate()
    {
        let item = format!("arith-00{}", i + 1);
        for (who, v) in [("ana", a), ("ben", b)] {
            stdout(critloop(&db).args([
                "labels",
                "add",
                "r",
                &item,
                "0",
                "1",
                "error_found",
                v,
                "--annotator",
                who,
            ]));
        }
    }
    let out = dir.path().join("paper");
    stdout(critloop(&db).args(["report", "r", "--resamples", "100", "--out"]).arg(&out));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("error\\_found: α "), "{md}");
    assert!(md.contains("ana vs ben: n 4, agree 75.0%, κ 0.500"), "{md}");
    assert!(md.contains("Confusion on error\\_found"), "{md}");
    stdout(critloop(&db).arg("verify").arg(&out));
}
