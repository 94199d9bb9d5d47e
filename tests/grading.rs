//! The grading corpus (tests/fixtures/grading/*.jsonl) through `critloop grade check`, as a
//! researcher's CI would run it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn corpus(symbolic: bool) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grading");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("symbolic_") == symbolic
        })
        .collect();
    files.sort();
    files
}

fn check(files: &[PathBuf]) -> std::process::Output {
    Command::cargo_bin("critloop").unwrap().args(["grade", "check"]).args(files).output().unwrap()
}

/// Cases in the files (non-blank lines).
fn count(files: &[PathBuf]) -> usize {
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f).unwrap().lines().filter(|l| !l.trim().is_empty()).count()
        })
        .sum()
}

#[test]
fn the_corpus_agrees_without_the_symbolic_tier() {
    let files = corpus(false);
    assert!(files.len() >= 10, "one file per class: {files:?}");
    let out = check(&files);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let n = count(&files);
    assert!(n >= 400, "{n} cases");
    assert!(stdout.contains(&format!("{n}/{n} agree")), "{stdout}");
}

#[test]
fn the_symbolic_corpus_agrees() {
    let files = corpus(true);
    assert!(!files.is_empty());
    let out = check(&files);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn one_wrong_expectation_fails_naming_its_line() {
    let source = &corpus(false)[0];
    let text = std::fs::read_to_string(source).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Flip the third case: line 3 of the copy.
    let flipped = if lines[2].contains("\"expected\": true") {
        lines[2].replace("\"expected\": true", "\"expected\": false")
    } else {
        lines[2].replace("\"expected\": false", "\"expected\": true")
    };
    assert_ne!(flipped, lines[2], "the fixture spells `\"expected\": …` as json.dumps does");
    lines[2] = flipped;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.jsonl");
    std::fs::write(&copy, lines.join("\n") + "\n").unwrap();

    let out = check(std::slice::from_ref(&copy));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let n = lines.len();
    assert!(stdout.contains(&format!("{}/{n} agree", n - 1)), "{stdout}");
    let named: Vec<&str> = stdout.lines().filter(|l| l.contains("copy.jsonl:")).collect();
    assert_eq!(named.len(), 1, "{stdout}");
    assert!(named[0].starts_with(&format!("{}:3: answer `", copy.display())), "{stdout}");
    assert!(named[0].contains(" expected "), "{stdout}");
}

#[test]
fn a_malformed_line_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    std::fs::write(
        &file,
        "{\"answer\": \"1\", \"reference\": \"1\", \"expected\": true}\n\n\
         {\"answer\": \"1\", \"reference\": \"1\", \"expected\": \"yes\"}\n",
    )
    .unwrap();
    let out = check(std::slice::from_ref(&file));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}:3: field `expected`", file.display())), "{stderr}");

    std::fs::write(&file, "{\"answer\": \"1\", \"expected\": true}\n").unwrap();
    let stderr = String::from_utf8_lossy(&check(std::slice::from_ref(&file)).stderr).to_string();
    assert!(stderr.contains(":1: field `reference`: missing"), "{stderr}");

    std::fs::write(
        &file,
        "{\"answer\": \"1\", \"reference\": \"1\", \"expected\": true, \"kind\": \"latex\"}\n",
    )
    .unwrap();
    let stderr = String::from_utf8_lossy(&check(std::slice::from_ref(&file)).stderr).to_string();
    assert!(stderr.contains(":1: field `kind`"), "{stderr}");
}

fn grade(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::cargo_bin("critloop").unwrap().arg("grade").args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn grade_prints_the_decision_and_the_tier_and_exits_by_it() {
    assert_eq!(grade(&["\\frac{1}{2}", "0.5"]), (Some(0), "equal (normalized)".into()));
    assert_eq!(grade(&["54329", "54321"]), (Some(1), "not equal".into()));
    // Leading minus signs are answers, not flags.
    assert_eq!(grade(&["-3", "3"]), (Some(1), "not equal".into()));
    assert_eq!(grade(&["-\\frac{2}{4}", "-1/2"]), (Some(0), "equal (rational)".into()));
    assert_eq!(grade(&["[1,5]", "(1,5)"]), (Some(1), "not equal".into()));
    assert_eq!(grade(&["\\{3,2,1\\}", "1, 2, 3"]), (Some(0), "equal (elementwise)".into()));
    assert_eq!(grade(&["--kind", "text", "Infinitely many", "infinitelymany"]).0, Some(0));
    // Percent scaling needs a question that asks for a percentage, or --qwen-compat.
    assert_eq!(grade(&["0.375", "37.5"]), (Some(1), "not equal".into()));
    let asked = ["0.375", "37.5", "--question", "What percent of the class passed?"];
    assert_eq!(grade(&asked), (Some(0), "equal (percent)".into()));
    assert_eq!(grade(&["0.375", "37.5", "--qwen-compat"]), (Some(0), "equal (qwen_compat)".into()));
    // `check` first is the file check; `--` makes it a literal answer.
    assert_eq!(grade(&["--", "check", "check"]), (Some(0), "equal (exact)".into()));
    assert_eq!(grade(&["check", "/nonexistent/cases.jsonl"]).0, Some(1));
    // Usage errors.
    assert_eq!(grade(&["1"]).0, Some(2));
    assert_eq!(grade(&[]).0, Some(2));
    assert_eq!(grade(&["1", "1", "--kind", "latex"]).0, Some(2));
}
