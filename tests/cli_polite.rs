//! Issue 14, command line: usage errors exit 2 and say what is wrong, names stay inert and
//! aligned, deleting asks, and `runs` speaks to people (and to scripts with `--format json`).

mod support;

use serde_json::Value;
use support::cli::{critloop, failure, stdout};

#[test]
fn zero_counts_and_conflicting_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    for flag in ["--limit", "--samples", "--rounds"] {
        let (code, err) = failure(critloop(&db).args(["run", flag, "0"]));
        assert_eq!(code, Some(2), "{flag}: {err}");
        assert!(err.contains(&format!("invalid value '0' for '{flag}")), "{err}");
        assert!(err.contains("must be at least 1"), "{err}");
    }
    // A far-off flag gets no suggestion; a near miss keeps it.
    let (code, err) = failure(critloop(&db).args(["run", "--bogus"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("unexpected argument '--bogus'"), "{err}");
    assert!(!err.contains("--rounds") && !err.contains("tip"), "{err}");
    let (code, err) = failure(critloop(&db).args(["run", "--limt", "3"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("a similar argument exists: '--limit'"), "{err}");
    // --resume runs with the stored settings: a setting beside it is refused, not ignored.
    let (code, err) = failure(critloop(&db).args(["run", "--resume", "r", "--limit", "5"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("'--resume <NAME>' cannot be used with '--limit <LIMIT>'"), "{err}");
    let (code, _) = failure(critloop(&db).args(["run", "--resume", "r", "--temperature", "0"]));
    assert_eq!(code, Some(2));
    assert!(!db.exists() || stdout(critloop(&db).args(["runs", "list"])).contains("no runs"));
}

#[test]
fn run_names_are_visible_text_and_shown_inert_and_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (code, err) = failure(critloop(&db).args(["run", "--name", ""]));
    assert_eq!(code, Some(2));
    assert!(err.contains("a run name cannot be empty"), "{err}");
    let (code, err) = failure(critloop(&db).args(["run", "--name", "a\u{1b}[2Jb"]));
    assert_eq!(code, Some(2));
    assert!(!err.contains('\u{1b}'), "no raw escape reaches the terminal: {err:?}");
    assert!(err.contains("a\\e[2Jb"), "{err}");
    // Imported names go through the same rule.
    let line = serde_json::json!({
        "run": "x\u{1b}]0;title\u{7}", "item_id": "1", "question": "1+1?", "reference": "2",
        "turns": [{"role": "generate", "content": "2"}]
    });
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let (code, err) = failure(critloop(&db).arg("import").arg(&file));
    assert_eq!(code, Some(1));
    assert!(!err.contains('\u{1b}') && err.contains("x\\e]0;title\\x07"), "{err:?}");
    assert!(err.contains("--name"), "says how to import it anyway: {err}");

    // Wide characters take two columns: the columns after the name line up.
    for name in ["数学-run", "plain"] {
        stdout(critloop(&db).args(["run", "--name", name, "--limit", "3", "--quiet"]));
    }
    let list = stdout(critloop(&db).args(["runs", "list"]));
    let column = |line: &str| {
        let at = line.find("critique-revise").unwrap();
        unicode_width::UnicodeWidthStr::width(&line[..at])
    };
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert_eq!(column(lines[1]), column(lines[2]), "{list}");
    assert!(lines[0].starts_with("NAME") && lines[0].contains("CREATED (UTC)"), "{list}");
    assert!(lines[1].contains(" 3/3 ") && lines[1].contains("finished"), "{list}");
}

#[test]
fn deleting_asks_and_keeps_arms_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "demo", "--limit", "6", "--quiet"]));
    stdout(critloop(&db).args(["arms", "demo", "--arms", "no-critique", "--quiet"]));
    stdout(critloop(&db).args(["run", "--name", "solo", "--limit", "4", "--quiet"]));
    stdout(critloop(&db).args([
        "labels",
        "add",
        "solo",
        "arith-001",
        "0",
        "1",
        "error_found",
        "yes",
        "--annotator",
        "ana",
    ]));
    // Not on a terminal and no --yes: says what would go, deletes nothing.
    let (code, err) = failure(critloop(&db).args(["runs", "delete", "solo"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("pass --yes"), "{err}");
    let listed = stdout(critloop(&db).args(["runs", "list"]));
    assert!(listed.contains("solo"), "{listed}");
    let out = critloop(&db).args(["runs", "delete", "solo"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("run solo: 4 episodes, 1 label"));
    // A run with control arms is kept unless the arms go too.
    let (code, err) = failure(critloop(&db).args(["runs", "delete", "demo", "--yes"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("demo~no-critique") && err.contains("--with-arms"), "{err}");
    stdout(critloop(&db).args(["runs", "delete", "solo", "--yes"]));
    let out = stdout(critloop(&db).args(["runs", "delete", "demo", "--yes", "--with-arms"]));
    assert!(out.contains("deleted run demo") && out.contains("deleted run demo~no-critique"));
    assert!(stdout(critloop(&db).args(["runs", "list"])).contains("no runs"));
}

#[test]
fn runs_show_speaks_plainly_and_runs_list_has_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "r", "--limit", "5", "--seed", "7", "--quiet"]));
    let show = stdout(critloop(&db).args(["runs", "show", "r"]));
    assert!(!show.contains("{\""), "no raw JSON: {show}");
    assert!(
        show.contains("sampling   temperature 0.7, top_p 1.0, max_tokens 1024, seed 7"),
        "{show}"
    );
    assert!(show.contains("provider   sim: p_correct "), "{show}");
    assert!(show.contains("protocol   critique-revise, rounds 1"), "the name once: {show}");
    assert!(show.contains("created    20") && show.contains(" UTC with critloop "), "{show}");
    let list: Value =
        serde_json::from_str(&stdout(critloop(&db).args(["runs", "list", "--format", "json"])))
            .unwrap();
    let r = &list[0];
    assert_eq!(r["name"], "r");
    assert_eq!(r["status"], "finished");
    assert_eq!(
        r["episodes"],
        serde_json::json!({"total": 5, "done": 5, "failed": 0, "pending": 0})
    );
    assert!(r["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(r["origin"]["kind"], "created");
}

/// Issue 14, point 17: completion scripts bash can load, and a man page, from the one
/// definition of the command line.
#[test]
fn completions_and_the_man_page_come_from_the_command_definition() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let bash = stdout(critloop(&db).args(["completions", "bash"]));
    let script = dir.path().join("critloop.bash");
    std::fs::write(&script, &bash).unwrap();
    let loaded = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {}; complete -p critloop", script.display()))
        .output()
        .unwrap();
    let loaded = String::from_utf8_lossy(&loaded.stdout);
    assert!(loaded.contains("_critloop") && loaded.contains("critloop"), "{loaded}");
    assert!(bash.contains("--resume") && bash.contains("runs"), "flags and subcommands");
    assert!(stdout(critloop(&db).args(["completions", "zsh"])).starts_with("#compdef critloop"));
    assert!(stdout(critloop(&db).args(["completions", "fish"])).contains("complete -c critloop"));
    let man = stdout(critloop(&db).arg("man"));
    assert!(man.contains(".TH critloop 1"), "{}", &man[..200.min(man.len())]);
    for sub in ["run", "metrics", "export", "labels", "completions"] {
        assert!(man.contains(&format!("critloop\\-{sub}")), "{sub} listed");
    }
    assert!(!db.exists(), "no database needed");
    let (code, _) = failure(critloop(&db).args(["completions", "tcsh"]));
    assert_eq!(code, Some(2));
}

/// Issue 14, points 10 and 15: a long-format export given to `import` is named for what it
/// is; counts of one are singular.
#[test]
fn import_recognises_a_long_format_export_and_counts_speak_english() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "r", "--limit", "1", "--quiet"]));
    let long = dir.path().join("long.jsonl");
    let text = stdout(critloop(&db).args(["export", "r", "--format", "long-jsonl"]));
    std::fs::write(&long, text).unwrap();
    let (code, err) = failure(critloop(&db).arg("import").arg(&long));
    assert_eq!(code, Some(1));
    assert!(err.contains("long-format export") && err.contains("--format jsonl"), "{err}");
    assert!(!err.contains("field `question`: missing"), "{err}");

    let data = dir.path().join("d.jsonl");
    std::fs::write(&data, "{\"question\": \"1+1?\", \"reference\": \"2\"}\n{\"question\": 3}\n")
        .unwrap();
    let out =
        critloop(&db).args(["datasets", "validate", "--skip-bad"]).arg(&data).output().unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("1 item OK") && said.contains("1 bad line in"), "{said}");
    assert!(!said.contains("1 items") && !said.contains("line(s)"), "{said}");
    let transcript = dir.path().join("t.jsonl");
    std::fs::write(&transcript, stdout(critloop(&db).args(["export", "r", "--format", "jsonl"])))
        .unwrap();
    let imported = stdout(critloop(&db).arg("import").arg(&transcript).args(["--name", "r2"]));
    assert!(imported.contains("imported run r2 (1 episode, protocol"), "{imported}");
}

/// Issue 14, point 14: comparing runs of different round counts warns, and the McNemar pairs
/// are explained.
#[test]
fn compare_warns_on_different_rounds_and_explains_its_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "one", "--limit", "12", "--quiet"]));
    stdout(
        critloop(&db).args(["run", "--name", "two", "--limit", "12", "--rounds", "2", "--quiet"]),
    );
    let out = critloop(&db).args(["compare", "one", "two"]).output().unwrap();
    assert!(out.status.success());
    let (said, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(err.contains("warning: `one` has 1 round and `two` 2 rounds"), "{err}");
    assert!(err.contains("(t2 against t3)"), "{err}");
    assert!(said.contains("McNemar pairs: episodes with the same item id and sample"), "{said}");
    assert!(said.contains("rounds.2.acc"), "the same-attempt rows are shown: {said}");
    let same = critloop(&db).args(["compare", "one", "one"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&same.stderr).contains("warning"));
}
