//! Hand-written transcript fixtures (tests/fixtures/transcripts/*.jsonl) imported with the real
//! binary, then measured with `critloop metrics NAME --format json`.
//!
//! Every expected number below was worked out by hand from the definitions in DESIGN §4
//! (transition counts a = c→c, b = c→w, c = w→c, d = w→w over scored episodes; every item
//! weighs the same: each rate is the mean over items of the item's own rate, and
//! cl = Σ_i a_i/k_i / Σ_i (a_i+b_i)/k_i, cs = Σ_i c_i/k_i / Σ_i (c_i+d_i)/k_i; critique
//! confusion with positive class = "the critiqued answer is wrong", an unparsed verdict counting
//! as a wrong prediction). The arithmetic is written next to each literal. None of them was
//! read back from the program's output.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};
use tempfile::TempDir;

const TOL: f64 = 1e-12;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts").join(name)
}

/// A private database (and config / data dirs) in a temp dir.
struct Db {
    dir: TempDir,
}

impl Db {
    fn new() -> Db {
        Db { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// `critloop --db <tmp>/db …`, isolated from the user's config and data dirs.
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("critloop").expect("critloop binary");
        c.arg("--db")
            .arg(self.dir.path().join("db"))
            .env("CRITLOOP_CONFIG", self.dir.path().join("no-config.toml"))
            .env("CRITLOOP_DATA", self.dir.path().join("data"));
        c
    }

    fn import(&self, file: &str, name: &str) {
        self.cmd().arg("import").arg(fixture(file)).arg("--name").arg(name).assert().success();
    }

    fn metrics(&self, name: &str) -> Value {
        let out = self.cmd().args(["metrics", name, "--format", "json"]).assert().success();
        serde_json::from_slice(&out.get_output().stdout).expect("metrics JSON")
    }

    /// The run's transcript as exported, one JSON value per episode.
    fn export(&self, name: &str) -> Vec<Value> {
        let out = self.cmd().args(["export", name, "--format", "jsonl"]).assert().success();
        String::from_utf8_lossy(&out.get_output().stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("exported JSONL line"))
            .collect()
    }
}

/// Imports `file` as run `name` into a fresh database and returns its metrics JSON.
fn import_metrics(file: &str, name: &str) -> Value {
    let db = Db::new();
    db.import(file, name);
    db.metrics(name)
}

#[track_caller]
fn get<'a>(m: &'a Value, pointer: &str) -> &'a Value {
    m.pointer(pointer).unwrap_or_else(|| panic!("key {pointer} missing in {m:#}"))
}

/// A rate: `Some(x)` must be a number within 1e-12 of x, `None` must be JSON `null`.
#[track_caller]
fn rate(m: &Value, pointer: &str, expected: Option<f64>) {
    let v = get(m, pointer);
    match expected {
        None => assert!(v.is_null(), "{pointer}: expected null, got {v}"),
        Some(e) => {
            let x = v.as_f64().unwrap_or_else(|| panic!("{pointer}: expected {e}, got {v}"));
            assert!((x - e).abs() <= TOL, "{pointer}: expected {e}, got {x}");
        }
    }
}

#[track_caller]
fn int(m: &Value, pointer: &str, expected: u64) {
    let v = get(m, pointer);
    assert_eq!(v.as_u64(), Some(expected), "{pointer}: expected {expected}, got {v}");
}

/// `{cc, cw, wc, ww}` at `pointer`.
#[track_caller]
fn transitions(m: &Value, pointer: &str, [cc, cw, wc, ww]: [u64; 4]) {
    assert_eq!(get(m, pointer), &json!({"cc": cc, "cw": cw, "wc": wc, "ww": ww}), "{pointer}");
}

/// The top-level rates of DESIGN §4.
struct Rates {
    acc_t1: Option<f64>,
    acc_t2: Option<f64>,
    delta: Option<f64>,
    delta_i2c: Option<f64>,
    delta_c2i: Option<f64>,
    cl: Option<f64>,
    cs: Option<f64>,
    rss: Option<f64>,
}

const ALL_NULL: Rates = Rates {
    acc_t1: None,
    acc_t2: None,
    delta: None,
    delta_i2c: None,
    delta_c2i: None,
    cl: None,
    cs: None,
    rss: None,
};

#[track_caller]
fn rates(m: &Value, r: &Rates) {
    rate(m, "/acc_t1", r.acc_t1);
    rate(m, "/acc_t2", r.acc_t2);
    rate(m, "/delta", r.delta);
    rate(m, "/delta_i2c", r.delta_i2c);
    rate(m, "/delta_c2i", r.delta_c2i);
    rate(m, "/cl", r.cl);
    rate(m, "/cs", r.cs);
    rate(m, "/rss", r.rss);
    identities(m);
}

/// `acc_t2 = acc_t1·cl + (1−acc_t1)·cs` and `delta = delta_i2c − delta_c2i` where defined.
/// A term whose weight is exactly 0 may have an undefined rate (cl when acc_t1 = 0, cs when
/// acc_t1 = 1); any other undefined rate next to a defined accuracy is an error.
#[track_caller]
fn identities(m: &Value) {
    let f = |k: &str| get(m, &format!("/{k}")).as_f64();
    match (f("acc_t1"), f("acc_t2")) {
        (Some(p1), Some(p2)) => {
            let cl_term = if p1 == 0.0 { 0.0 } else { p1 * f("cl").expect("cl defined") };
            let cs_term = if p1 == 1.0 { 0.0 } else { (1.0 - p1) * f("cs").expect("cs defined") };
            let rhs = cl_term + cs_term;
            assert!((p2 - rhs).abs() <= TOL, "acc_t2 {p2} != acc_t1·cl + (1−acc_t1)·cs = {rhs}");
            let (d, i2c, c2i) = (
                f("delta").expect("delta"),
                f("delta_i2c").expect("i2c"),
                f("delta_c2i").expect("c2i"),
            );
            assert!((d - (i2c - c2i)).abs() <= TOL, "delta {d} != {i2c} − {c2i}");
            assert!((d - (p2 - p1)).abs() <= TOL, "delta {d} != acc_t2 − acc_t1");
        }
        (None, None) => {
            for k in ["delta", "delta_i2c", "delta_c2i", "cl", "cs", "rss"] {
                assert!(get(m, &format!("/{k}")).is_null(), "{k} defined while N = 0");
            }
        }
        other => panic!("acc_t1 / acc_t2 defined on one side only: {other:?}"),
    }
}

/// One `rounds[]` entry: attempt j, n, acc, and the (j−1 → j) transitions (None for j = 0).
type Round = (u64, u64, Option<f64>, Option<[u64; 4]>);

#[track_caller]
fn rounds(m: &Value, expected: &[Round]) {
    let got = get(m, "/rounds").as_array().expect("rounds array");
    assert_eq!(got.len(), expected.len(), "rounds: {got:?}");
    for (j, &(attempt, n, acc, trans)) in expected.iter().enumerate() {
        let p = format!("/rounds/{j}");
        int(m, &format!("{p}/attempt"), attempt);
        int(m, &format!("{p}/n"), n);
        rate(m, &format!("{p}/acc"), acc);
        match trans {
            None => assert!(get(m, &format!("{p}/transitions")).is_null(), "{p}/transitions"),
            Some(t) => transitions(m, &format!("{p}/transitions"), t),
        }
    }
}

/// The `critique` block.
struct Crit {
    n: u64,
    tp: u64,
    fp: u64,
    tn: u64,
    fn_: u64,
    unparsed: u64,
    accuracy: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
    verdict_correct: u64,
    verdict_incorrect: u64,
}

#[track_caller]
fn critique(m: &Value, c: &Crit) {
    assert_eq!(c.tp + c.fp + c.tn + c.fn_, c.n, "fixture arithmetic: tp+fp+tn+fn = n");
    int(m, "/critique/n", c.n);
    int(m, "/critique/tp", c.tp);
    int(m, "/critique/fp", c.fp);
    int(m, "/critique/tn", c.tn);
    int(m, "/critique/fn", c.fn_);
    int(m, "/critique/unparsed", c.unparsed);
    rate(m, "/critique/accuracy", c.accuracy);
    rate(m, "/critique/precision", c.precision);
    rate(m, "/critique/recall", c.recall);
    rate(m, "/critique/f1", c.f1);
    int(m, "/critique/verdict_correct", c.verdict_correct);
    int(m, "/critique/verdict_incorrect", c.verdict_incorrect);
}

/// run, episodes, scored, failed, overrides_used, protocol.
#[track_caller]
fn header(m: &Value, run: &str, episodes: u64, scored: u64, failed: u64, protocol: &str) {
    assert_eq!(get(m, "/run"), &json!(run));
    int(m, "/episodes", episodes);
    int(m, "/scored", scored);
    int(m, "/failed", failed);
    assert_eq!(get(m, "/provenance/protocol"), &json!(protocol));
    assert_eq!(get(m, "/provenance/provider"), &json!("replay"));
}

// ---------------------------------------------------------------------------------------------

/// (1) critique-revise, k = 1, explicit `correct` and `verdict`, all four transitions.
/// b1 c→c, b2 c→w, b3 w→c, b4 w→w, b5 w→c: a = 1, b = 1, c = 2, d = 1, N = 5.
#[test]
fn basic_k1_all_four_transitions() {
    let m = import_metrics("basic_k1.jsonl", "basic");
    header(&m, "basic", 5, 5, 0, "critique-revise");
    transitions(&m, "/transitions", [1, 1, 2, 1]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(2.0 / 5.0),    // (a+b)/N = (1+1)/5
            acc_t2: Some(3.0 / 5.0),    // (a+c)/N = (1+2)/5
            delta: Some(1.0 / 5.0),     // (c−b)/N = (2−1)/5
            delta_i2c: Some(2.0 / 5.0), // c/N = 2/5
            delta_c2i: Some(1.0 / 5.0), // b/N = 1/5
            cl: Some(1.0 / 2.0),        // a/(a+b) = 1/2
            cs: Some(2.0 / 3.0),        // c/(c+d) = 2/3
            rss: Some(11.0 / 12.0),     // (0.6 − 0.4²)/(2·0.4·0.6) = 0.44/0.48
        },
    );
    rounds(
        &m,
        &[
            (0, 5, Some(2.0 / 5.0), None),               // t1 right: b1, b2
            (1, 5, Some(3.0 / 5.0), Some([1, 1, 2, 1])), // t2 right: b1, b3, b5
        ],
    );
    // Verdict vs truth of t1: b1 correct/right tn, b2 incorrect/right fp, b3 incorrect/wrong tp,
    // b4 correct/wrong fn, b5 incorrect/wrong tp.
    critique(
        &m,
        &Crit {
            n: 5,
            tp: 2,
            fp: 1,
            tn: 1,
            fn_: 1,
            unparsed: 0,
            accuracy: Some(3.0 / 5.0),  // (tp+tn)/n = (2+1)/5
            precision: Some(2.0 / 3.0), // tp/(tp+fp) = 2/3
            recall: Some(2.0 / 3.0),    // tp/(tp+fn) = 2/3
            f1: Some(2.0 / 3.0),        // 2·(2/3)(2/3)/(4/3)
            verdict_correct: 2,         // b1, b4
            verdict_incorrect: 3,       // b2, b3, b5
        },
    );
    int(&m, "/overrides_used", 0);
    assert!(m.get("grader").is_none(), "no given solutions, so no grader block");
}

/// (2) No `correct` anywhere and no `verdict`: the grader fills both in from the text.
/// g1 \frac{3}{4} vs 0.75 right → 0.75 right; g2 1,234 vs 1234 right → 1,243 wrong;
/// g3 0.6 vs \frac{1}{2} wrong → \dfrac{1}{2} right; g4 15 vs 12 wrong → 15 wrong;
/// g5 2.6 vs 2.5 wrong → \frac{5}{2} right; g6 explicit answer 7 right → "the answer is 7" right.
/// a = 2 (g1, g6), b = 1 (g2), c = 2 (g3, g5), d = 1 (g4), N = 6.
#[test]
fn grader_fills_grades_and_verdicts() {
    let db = Db::new();
    db.import("grader_fill.jsonl", "fill");
    let m = db.metrics("fill");
    header(&m, "fill", 6, 6, 0, "critique-revise");
    transitions(&m, "/transitions", [2, 1, 2, 1]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(1.0 / 2.0),    // (2+1)/6
            acc_t2: Some(2.0 / 3.0),    // (2+2)/6
            delta: Some(1.0 / 6.0),     // (2−1)/6
            delta_i2c: Some(1.0 / 3.0), // 2/6
            delta_c2i: Some(1.0 / 6.0), // 1/6
            cl: Some(2.0 / 3.0),        // 2/(2+1)
            cs: Some(2.0 / 3.0),        // 2/(2+1)
            rss: Some(5.0 / 6.0),       // (2/3 − 1/4)/(2·1/2·1/2) = (5/12)/(1/2)
        },
    );
    rounds(&m, &[(0, 6, Some(1.0 / 2.0), None), (1, 6, Some(2.0 / 3.0), Some([2, 1, 2, 1]))]);
    // Verdicts parsed from the text: g1 "Verdict: correct" on right → tn; g2 "**Verdict:**
    // incorrect" on right → fp; g3 "The solution is incorrect" on wrong → tp; g4 "[[correct]]" on
    // wrong → fn; g5 "the answer is correct … Verdict: incorrect" (last wins) on wrong → tp;
    // g6 JSON {"verdict": "correct"} on right → tn.
    critique(
        &m,
        &Crit {
            n: 6,
            tp: 2,
            fp: 1,
            tn: 2,
            fn_: 1,
            unparsed: 0,
            accuracy: Some(2.0 / 3.0),  // (2+2)/6
            precision: Some(2.0 / 3.0), // 2/(2+1)
            recall: Some(2.0 / 3.0),    // 2/(2+1)
            f1: Some(2.0 / 3.0),        // P = R = 2/3
            verdict_correct: 3,         // g1, g4, g6
            verdict_incorrect: 3,       // g2, g3, g5
        },
    );

    // The stored grades and verdicts themselves, per item: (t0 correct, t1 verdict, t2 correct).
    let expected = [
        ("g1", true, "correct", true),
        ("g2", true, "incorrect", false),
        ("g3", false, "incorrect", true),
        ("g4", false, "correct", false),
        ("g5", false, "incorrect", true),
        ("g6", true, "correct", true),
    ];
    let lines = db.export("fill");
    assert_eq!(lines.len(), 6);
    for (id, t0, verdict, t2) in expected {
        let line = lines.iter().find(|l| l["item_id"] == json!(id)).expect("item exported");
        assert_eq!(line["turns"][0]["correct"], json!(t0), "{id} t0");
        assert_eq!(line["turns"][1]["verdict"], json!(verdict), "{id} verdict");
        assert_eq!(line["turns"][2]["correct"], json!(t2), "{id} t2");
    }
    let line = |id: &str| lines.iter().find(|l| l["item_id"] == json!(id)).expect("item");
    assert_eq!(line("g1")["turns"][0]["answer"], json!("\\frac{3}{4}"));
    assert_eq!(line("g2")["turns"][0]["answer"], json!("1,234"));
    assert_eq!(line("g2")["reference"], json!("1234"), "numeric reference kept as text");
    assert_eq!(line("g6")["turns"][0]["answer"], json!("7"), "explicit answer graded");
    rate(line("g1"), "/turns/1/confidence", Some(0.9)); // "Confidence: 90%"
}

/// (3a) Every first attempt right: c + d = 0, so cs is undefined and acc_t1 = 1 makes rss
/// undefined. z1 c→c, z2 c→w, z3 c→c: a = 2, b = 1, c = d = 0, N = 3.
#[test]
fn all_right_at_t1_cs_and_rss_null() {
    let m = import_metrics("all_right_t1.jsonl", "allright");
    header(&m, "allright", 3, 3, 0, "critique-revise");
    transitions(&m, "/transitions", [2, 1, 0, 0]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(1.0),          // (2+1)/3
            acc_t2: Some(2.0 / 3.0),    // (2+0)/3
            delta: Some(-1.0 / 3.0),    // (0−1)/3
            delta_i2c: Some(0.0),       // 0/3
            delta_c2i: Some(1.0 / 3.0), // 1/3
            cl: Some(2.0 / 3.0),        // 2/(2+1)
            cs: None,                   // c+d = 0
            rss: None,                  // acc_t1 = 1
        },
    );
    rounds(&m, &[(0, 3, Some(1.0), None), (1, 3, Some(2.0 / 3.0), Some([2, 1, 0, 0]))]);
    // z1 correct/right tn, z2 incorrect/right fp, z3 correct/right tn.
    critique(
        &m,
        &Crit {
            n: 3,
            tp: 0,
            fp: 1,
            tn: 2,
            fn_: 0,
            unparsed: 0,
            accuracy: Some(2.0 / 3.0), // (0+2)/3
            precision: Some(0.0),      // 0/(0+1)
            recall: None,              // tp+fn = 0
            f1: Some(0.0),             // 2tp/(2tp+fp+fn) = 0/(0+1+0)
            verdict_correct: 2,
            verdict_incorrect: 1,
        },
    );
}

/// (3b) Every first attempt wrong: a + b = 0, so cl is undefined and acc_t1 = 0 makes rss
/// undefined. y1 w→c, y2 w→w: c = 1, d = 1, N = 2.
#[test]
fn all_wrong_at_t1_cl_and_rss_null() {
    let m = import_metrics("all_wrong_t1.jsonl", "allwrong");
    header(&m, "allwrong", 2, 2, 0, "critique-revise");
    transitions(&m, "/transitions", [0, 0, 1, 1]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(0.0),          // 0/2
            acc_t2: Some(1.0 / 2.0),    // 1/2
            delta: Some(1.0 / 2.0),     // (1−0)/2
            delta_i2c: Some(1.0 / 2.0), // 1/2
            delta_c2i: Some(0.0),       // 0/2
            cl: None,                   // a+b = 0
            cs: Some(1.0 / 2.0),        // 1/(1+1)
            rss: None,                  // acc_t1 = 0
        },
    );
    rounds(&m, &[(0, 2, Some(0.0), None), (1, 2, Some(1.0 / 2.0), Some([0, 0, 1, 1]))]);
    // y1 incorrect/wrong tp, y2 correct/wrong fn.
    critique(
        &m,
        &Crit {
            n: 2,
            tp: 1,
            fp: 0,
            tn: 0,
            fn_: 1,
            unparsed: 0,
            accuracy: Some(1.0 / 2.0), // (1+0)/2
            precision: Some(1.0),      // 1/(1+0)
            recall: Some(1.0 / 2.0),   // 1/(1+1)
            f1: Some(2.0 / 3.0),       // 2·1·(1/2)/(1 + 1/2)
            verdict_correct: 1,
            verdict_incorrect: 1,
        },
    );
}

/// (3c) N = 0: every episode failed. Everything is null or zero, nothing crashes.
#[test]
fn only_failed_episodes_everything_null() {
    let m = import_metrics("only_failed.jsonl", "dead");
    header(&m, "dead", 3, 0, 3, "critique-revise");
    transitions(&m, "/transitions", [0, 0, 0, 0]);
    rates(&m, &ALL_NULL);
    rounds(&m, &[]); // no live episode carries a graded attempt
    critique(
        &m,
        &Crit {
            n: 0,
            tp: 0,
            fp: 0,
            tn: 0,
            fn_: 0,
            unparsed: 0,
            accuracy: None,
            precision: None,
            recall: None,
            f1: None,
            verdict_correct: 0, // failed episodes' critiques are excluded
            verdict_incorrect: 0,
        },
    );
}

/// (4) Unparsed verdicts: text without a verdict, an explicit `"verdict": "unparsed"`, and
/// `Verdict: maybe`. Each counts in `unparsed` and as a wrong prediction (fp on a right
/// answer, fn on a wrong one).
/// u1 right, unparsed → fp; c→c.   u2 wrong, unparsed (explicit) → fn; w→w.
/// u3 wrong, incorrect → tp; w→c.  u4 right, correct → tn; c→c.
/// u5 wrong, unparsed → fn; w→w.   u6 right, "maybe" unparsed → fp; c→w.
#[test]
fn unparsed_verdicts_count_as_wrong_predictions() {
    let m = import_metrics("unparsed_verdicts.jsonl", "unparsed");
    header(&m, "unparsed", 6, 6, 0, "critique-revise");
    // a = 2 (u1, u4), b = 1 (u6), c = 1 (u3), d = 2 (u2, u5).
    transitions(&m, "/transitions", [2, 1, 1, 2]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(1.0 / 2.0),    // (2+1)/6
            acc_t2: Some(1.0 / 2.0),    // (2+1)/6
            delta: Some(0.0),           // (1−1)/6
            delta_i2c: Some(1.0 / 6.0), // 1/6
            delta_c2i: Some(1.0 / 6.0), // 1/6
            cl: Some(2.0 / 3.0),        // 2/(2+1)
            cs: Some(1.0 / 3.0),        // 1/(1+2)
            rss: Some(1.0 / 2.0),       // (1/2 − 1/4)/(2·1/2·1/2) = (1/4)/(1/2)
        },
    );
    rounds(&m, &[(0, 6, Some(1.0 / 2.0), None), (1, 6, Some(1.0 / 2.0), Some([2, 1, 1, 2]))]);
    critique(
        &m,
        &Crit {
            n: 6,
            tp: 1,                      // u3
            fp: 2,                      // u1, u6
            tn: 1,                      // u4
            fn_: 2,                     // u2, u5
            unparsed: 4,                // u1, u2, u5, u6
            accuracy: Some(1.0 / 3.0),  // (1+1)/6
            precision: Some(1.0 / 3.0), // 1/(1+2)
            recall: Some(1.0 / 3.0),    // 1/(1+2)
            f1: Some(1.0 / 3.0),        // P = R = 1/3
            verdict_correct: 1,         // u4
            verdict_incorrect: 1,       // u3
        },
    );
}

/// (4b) Every verdict unparsed: tp = 0 with fp = fn = 1, so precision = recall = 0 (both
/// defined) and F1 = 2·TP/(2·TP+FP+FN) = 0/2 = 0, the harmonic mean of 0 and 0.
/// v1 right → fp; c→c. v2 wrong → fn; w→w.
#[test]
fn all_unparsed_f1_is_zero_not_null() {
    let m = import_metrics("f1_zero_all_unparsed.jsonl", "nof1");
    header(&m, "nof1", 2, 2, 0, "critique-revise");
    transitions(&m, "/transitions", [1, 0, 0, 1]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(1.0 / 2.0), // 1/2
            acc_t2: Some(1.0 / 2.0), // 1/2
            delta: Some(0.0),        // (0−0)/2
            delta_i2c: Some(0.0),    // 0/2
            delta_c2i: Some(0.0),    // 0/2
            cl: Some(1.0),           // 1/(1+0)
            cs: Some(0.0),           // 0/(0+1)
            rss: Some(1.0 / 2.0),    // (1/2 − 1/4)/(2·1/2·1/2)
        },
    );
    critique(
        &m,
        &Crit {
            n: 2,
            tp: 0,
            fp: 1,
            tn: 0,
            fn_: 1,
            unparsed: 2,
            accuracy: Some(0.0),  // (0+0)/2
            precision: Some(0.0), // 0/(0+1)
            recall: Some(0.0),    // 0/(0+1)
            f1: Some(0.0),        // 2·0/(2·0+1+1)
            verdict_correct: 0,
            verdict_incorrect: 0,
        },
    );
}

/// (5) Two critique/revise rounds; r2 stops after a `correct` verdict in round 2 and keeps its
/// answer. Attempts (w = wrong, c = right):
/// r1 [w,w,c]  r2 [w,c] (stop)  r3 [c,c,c]  r4 [c,w,w]  r5 [w,c,w]  r6 [c,w,w]  r7 [w,c,c]
/// t1→t2 (first → last): r1 wc, r2 wc, r3 cc, r4 cw, r5 ww, r6 cw, r7 wc:
/// a = 1, b = 2, c = 3, d = 1, N = 7.
#[test]
fn two_rounds_with_early_stop_in_round_two() {
    let m = import_metrics("two_rounds.jsonl", "rounds2");
    header(&m, "rounds2", 7, 7, 0, "critique-revise");
    transitions(&m, "/transitions", [1, 2, 3, 1]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(3.0 / 7.0),    // (1+2)/7
            acc_t2: Some(4.0 / 7.0),    // (1+3)/7
            delta: Some(1.0 / 7.0),     // (3−2)/7
            delta_i2c: Some(3.0 / 7.0), // 3/7
            delta_c2i: Some(2.0 / 7.0), // 2/7
            cl: Some(1.0 / 3.0),        // 1/(1+2)
            cs: Some(3.0 / 4.0),        // 3/(3+1)
            rss: Some(19.0 / 24.0),     // (4/7 − 9/49)/(2·3/7·4/7) = (19/49)/(24/49)
        },
    );
    rounds(
        &m,
        &[
            // j=0: r3, r4, r6 right → 3/7.
            (0, 7, Some(3.0 / 7.0), None),
            // j=1: r2, r3, r5, r7 right → 4/7. 0→1: r3 cc; r4, r6 cw; r2, r5, r7 wc; r1 ww.
            (1, 7, Some(4.0 / 7.0), Some([1, 2, 3, 1])),
            // j=2 (r2 carries its c forward): r1, r2, r3, r7 right → 4/7.
            // 1→2: r2, r3, r7 cc; r5 cw; r1 wc; r4, r6 ww.
            (2, 7, Some(4.0 / 7.0), Some([3, 1, 1, 2])),
        ],
    );
    // Each critique judges the attempt just before it:
    // r1 inc/w tp, inc/w tp; r2 inc/w tp, cor/c tn; r3 cor/c tn, cor/c tn; r4 inc/c fp, inc/w tp;
    // r5 inc/w tp, inc/c fp; r6 inc/c fp, cor/w fn; r7 inc/w tp, inc/c fp.
    critique(
        &m,
        &Crit {
            n: 14,
            tp: 6,
            fp: 4,
            tn: 3,
            fn_: 1,
            unparsed: 0,
            accuracy: Some(9.0 / 14.0), // (6+3)/14
            precision: Some(3.0 / 5.0), // 6/(6+4)
            recall: Some(6.0 / 7.0),    // 6/(6+1)
            f1: Some(12.0 / 17.0),      // 2·(3/5)(6/7)/(3/5+6/7) = (36/35)/(51/35)
            verdict_correct: 4,         // r2 #2, r3 ×2, r6 #2
            verdict_incorrect: 10,      // 14 − 4
        },
    );
}

/// (5b) One round; e1 and e4 stop after a `correct` verdict (what `stop_when_correct` does),
/// so their final attempt is their first: t2 = t1 (DESIGN §1: t2 = final attempt; §2: the
/// revise is skipped). e1 c→c, e2 w→c, e3 c→w, e4 c→c: a = 2, b = 1, c = 1, d = 0, N = 4.
#[test]
fn early_stop_after_correct_verdict_is_scored() {
    let m = import_metrics("early_stop_round1.jsonl", "earlystop");
    header(&m, "earlystop", 4, 4, 0, "critique-revise");
    transitions(&m, "/transitions", [2, 1, 1, 0]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(3.0 / 4.0),    // (2+1)/4
            acc_t2: Some(3.0 / 4.0),    // (2+1)/4
            delta: Some(0.0),           // (1−1)/4
            delta_i2c: Some(1.0 / 4.0), // 1/4
            delta_c2i: Some(1.0 / 4.0), // 1/4
            cl: Some(2.0 / 3.0),        // 2/(2+1)
            cs: Some(1.0),              // 1/(1+0)
            rss: Some(1.0 / 2.0),       // (3/4 − 9/16)/(2·3/4·1/4) = (3/16)/(6/16)
        },
    );
    // j=1 carries e1's and e4's answers forward: e1 c, e2 c, e3 w, e4 c.
    rounds(&m, &[(0, 4, Some(3.0 / 4.0), None), (1, 4, Some(3.0 / 4.0), Some([2, 1, 1, 0]))]);
    // The final round's accuracy is acc_t2.
    assert_eq!(get(&m, "/rounds/1/acc"), get(&m, "/acc_t2"));
    // e1 cor/c tn, e2 inc/w tp, e3 inc/c fp, e4 cor/c tn.
    critique(
        &m,
        &Crit {
            n: 4,
            tp: 1,
            fp: 1,
            tn: 2,
            fn_: 0,
            unparsed: 0,
            accuracy: Some(3.0 / 4.0),  // (1+2)/4
            precision: Some(1.0 / 2.0), // 1/(1+1)
            recall: Some(1.0),          // 1/(1+0)
            f1: Some(2.0 / 3.0),        // 2·(1/2)·1/(3/2)
            verdict_correct: 2,
            verdict_incorrect: 2,
        },
    );
}

/// (6) k > 1 with unequal k (lines interleaved; one failed sample, which does not count in k).
/// A (k=3): s0 c→c, s1 c→c, s2 w→c → a=2, b=0, c=1, d=0.
/// B (k=1 scored; s1 failed): s0 c→w → a=0, b=1, c=0, d=0.
/// 17 (k=2): s0 w→w, s1 w→c → a=0, b=0, c=1, d=1.
/// Pooled: a = 2, b = 1, c = 2, d = 1, N = 6 (pooled acc_t1 would be 3/6, cl 2/3, cs 2/3).
#[test]
fn unequal_k_item_weighted_rates() {
    let m = import_metrics("unequal_k.jsonl", "kmix");
    header(&m, "kmix", 7, 6, 1, "critique-revise");
    transitions(&m, "/transitions", [2, 1, 2, 1]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(5.0 / 9.0),     // (2/3 + 1/1 + 0/2)/3 = (5/3)/3
            acc_t2: Some(1.0 / 2.0),     // (3/3 + 0/1 + 1/2)/3 = (3/2)/3
            delta: Some(-1.0 / 18.0),    // ((1/3−0) + (0−1) + (1/2−0))/3 = (−1/6)/3
            delta_i2c: Some(5.0 / 18.0), // (1/3 + 0 + 1/2)/3 = (5/6)/3
            delta_c2i: Some(1.0 / 3.0),  // (0 + 1 + 0)/3
            cl: Some(2.0 / 5.0),         // (2/3 + 0 + 0)/(2/3 + 1/1 + 0) = (2/3)/(5/3)
            cs: Some(5.0 / 8.0),         // (1/3 + 0 + 1/2)/(1/3 + 0 + 2/2) = (5/6)/(4/3)
            rss: Some(31.0 / 80.0),      // (1/2 − 25/81)/(2·5/9·4/9) = (31/162)/(40/81)
        },
    );
    rounds(
        &m,
        &[
            (0, 6, Some(5.0 / 9.0), None),               // item-weighted, as acc_t1
            (1, 6, Some(1.0 / 2.0), Some([2, 1, 2, 1])), // item-weighted, as acc_t2
        ],
    );
    // Pooled over live critiques: A0 cor/c tn, A1 inc/c fp, A2 inc/w tp, B0 inc/c fp,
    // 17s0 cor/w fn, 17s1 inc/w tp (B1 failed: excluded).
    critique(
        &m,
        &Crit {
            n: 6,
            tp: 2,
            fp: 2,
            tn: 1,
            fn_: 1,
            unparsed: 0,
            accuracy: Some(1.0 / 2.0),  // (2+1)/6
            precision: Some(1.0 / 2.0), // 2/(2+2)
            recall: Some(2.0 / 3.0),    // 2/(2+1)
            f1: Some(4.0 / 7.0),        // 2·(1/2)(2/3)/(1/2+2/3) = (2/3)/(7/6)
            verdict_correct: 2,         // A0, 17s0
            verdict_incorrect: 4,       // A1, A2, B0, 17s1
        },
    );
}

/// (7a) critique-only: `given` solutions graded by critloop, dataset labels in `given_label`.
/// Given grades: q1 42 right, q2 12 vs 10 wrong, q3 \frac{1}{2} vs 0.5 right, q4 "the answer is
/// 7" right, q5 4 vs 3 wrong; q1 sample 1 right. One attempt per episode: nothing is scored.
#[test]
fn critique_only_grader_agreement() {
    let m = import_metrics("critique_only_given.jsonl", "judge");
    header(&m, "judge", 6, 0, 0, "critique-only");
    transitions(&m, "/transitions", [0, 0, 0, 0]);
    rates(&m, &ALL_NULL);
    // Only attempt 0: items q1 (2/2), q2 (0), q3 (1), q4 (1), q5 (0) → (1+0+1+1+0)/5.
    rounds(&m, &[(0, 6, Some(3.0 / 5.0), None)]);
    // q1s0 cor/c tn, q2 [[wrong]]/w tp, q3 inc/c fp, q4 unparsed/c fp, q5 cor/w fn, q1s1 cor/c tn.
    critique(
        &m,
        &Crit {
            n: 6,
            tp: 1,
            fp: 2,
            tn: 2,
            fn_: 1,
            unparsed: 1,
            accuracy: Some(1.0 / 2.0),  // (1+2)/6
            precision: Some(1.0 / 3.0), // 1/(1+2)
            recall: Some(1.0 / 2.0),    // 1/(1+1)
            f1: Some(2.0 / 5.0),        // 2·(1/3)(1/2)/(1/3+1/2) = (1/3)/(5/6)
            verdict_correct: 3,         // q1s0, q5, q1s1
            verdict_incorrect: 2,       // q2, q3
        },
    );
    // Labels vs grades, once per item (sample 0): q1 T/T, q2 F/F, q4 T/T agree; q3 label F vs
    // grade T disagrees; q5 has no label.
    assert_eq!(get(&m, "/grader"), &json!({"agree": 3, "disagree": 1, "disagreements": ["q3"]}));
    int(&m, "/overrides_used", 0);
}

/// (7b) critic-correct (inferred: critique turns carry answers): t1 = given, t2 = the critic's
/// corrected answer. k1 5→5 c→c; k2 8→9 w→c; k3 2→3 c→w; k4 \frac14→1/4 vs 0.25 c→c;
/// k5 7→\boxed{6} (from the critique text) w→c. a = 2, b = 1, c = 2, d = 0, N = 5.
#[test]
fn critic_correct_closed_loop() {
    let m = import_metrics("critic_correct_given.jsonl", "fixer");
    header(&m, "fixer", 5, 5, 0, "critic-correct");
    transitions(&m, "/transitions", [2, 1, 2, 0]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(3.0 / 5.0),    // (2+1)/5
            acc_t2: Some(4.0 / 5.0),    // (2+2)/5
            delta: Some(1.0 / 5.0),     // (2−1)/5
            delta_i2c: Some(2.0 / 5.0), // 2/5
            delta_c2i: Some(1.0 / 5.0), // 1/5
            cl: Some(2.0 / 3.0),        // 2/(2+1)
            cs: Some(1.0),              // 2/(2+0)
            rss: Some(11.0 / 12.0),     // (4/5 − 9/25)/(2·3/5·2/5) = (11/25)/(12/25)
        },
    );
    rounds(&m, &[(0, 5, Some(3.0 / 5.0), None), (1, 5, Some(4.0 / 5.0), Some([2, 1, 2, 0]))]);
    // Verdict on the given solution: k1 cor/c tn, k2 inc/w tp, k3 inc/c fp, k4 cor/c tn,
    // k5 "The solution is incorrect"/w tp.
    critique(
        &m,
        &Crit {
            n: 5,
            tp: 2,
            fp: 1,
            tn: 2,
            fn_: 0,
            unparsed: 0,
            accuracy: Some(4.0 / 5.0),  // (2+2)/5
            precision: Some(2.0 / 3.0), // 2/(2+1)
            recall: Some(1.0),          // 2/(2+0)
            f1: Some(4.0 / 5.0),        // 2·(2/3)·1/(5/3)
            verdict_correct: 2,         // k1, k4
            verdict_incorrect: 3,       // k2, k3, k5
        },
    );
    // k1 T/T, k2 F/F, k3 T/T agree; k4 label F vs grade T (\frac14 = 0.25); k5 unlabelled.
    assert_eq!(get(&m, "/grader"), &json!({"agree": 3, "disagree": 1, "disagreements": ["k4"]}));
}

/// DESIGN §4: closed-loop `correction_acc` = acc_t2 for critic-correct runs (RealCritic acc).
#[test]
fn critic_correct_reports_correction_acc() {
    let m = import_metrics("critic_correct_given.jsonl", "fixer");
    rate(&m, "/correction_acc", Some(4.0 / 5.0)); // = acc_t2 = (2+2)/5
}

/// (8) `grade_override` labels replace attempt grades (latest label per turn wins) and are
/// counted in `overrides_used`; labels on non-attempt turns or with other names do nothing.
/// o1 c→w, override t2 correct → c→c.      o2 w→c, override t0 correct → c→c.
/// o3 w→c (error_found label only).         o4 c→c, overrides t2 wrong@10, correct@5 → c→w.
/// o5 w→c (override on the critique turn: not an attempt, ignored).   o6 c→c.
/// a = 3 (o1, o2, o6), b = 1 (o4), c = 2 (o3, o5), d = 0, N = 6; overrides used: o1, o2, o4.
#[test]
fn grade_overrides_change_metrics() {
    let m = import_metrics("grade_overrides.jsonl", "overrides");
    header(&m, "overrides", 6, 6, 0, "critique-revise");
    int(&m, "/overrides_used", 3);
    transitions(&m, "/transitions", [3, 1, 2, 0]);
    rates(
        &m,
        &Rates {
            acc_t1: Some(2.0 / 3.0),    // (3+1)/6
            acc_t2: Some(5.0 / 6.0),    // (3+2)/6
            delta: Some(1.0 / 6.0),     // (2−1)/6
            delta_i2c: Some(1.0 / 3.0), // 2/6
            delta_c2i: Some(1.0 / 6.0), // 1/6
            cl: Some(3.0 / 4.0),        // 3/(3+1)
            cs: Some(1.0),              // 2/(2+0)
            rss: Some(7.0 / 8.0),       // (5/6 − 4/9)/(2·2/3·1/3) = (7/18)/(4/9)
        },
    );
    rounds(&m, &[(0, 6, Some(2.0 / 3.0), None), (1, 6, Some(5.0 / 6.0), Some([3, 1, 2, 0]))]);
    // Critique targets use the overridden truth: o1 inc/c fp, o2 inc/c(overridden) fp,
    // o3 cor/w fn, o4 cor/c tn, o5 inc/w tp, o6 cor/c tn.
    critique(
        &m,
        &Crit {
            n: 6,
            tp: 1,
            fp: 2,
            tn: 2,
            fn_: 1,
            unparsed: 0,
            accuracy: Some(1.0 / 2.0),  // (1+2)/6
            precision: Some(1.0 / 3.0), // 1/(1+2)
            recall: Some(1.0 / 2.0),    // 1/(1+1)
            f1: Some(2.0 / 5.0),        // 2·(1/3)(1/2)/(5/6)
            verdict_correct: 3,         // o3, o4, o6
            verdict_incorrect: 3,       // o1, o2, o5
        },
    );
}

// ---------------------------------------------------------------------------------------------

/// A bad line stops the import with exit 1 and `FILE:LINE:` on stderr; nothing is stored.
#[test]
fn malformed_lines_name_file_and_line_and_import_nothing() {
    // Invalid JSON on line 3 (lines 1, 2 and 4 are fine).
    // A line without `question` on line 4 (line 2 is blank and still counts as a line).
    for (file, line, what) in
        [("malformed_json_line3.jsonl", 3, "JSON"), ("missing_question_line4.jsonl", 4, "question")]
    {
        let db = Db::new();
        let path = fixture(file);
        let out = db.cmd().arg("import").arg(&path).arg("--name").arg("bad").assert().code(1);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        let at = format!("{}:{line}:", path.display());
        assert!(stderr.contains(&at), "{file}: stderr should contain `{at}`: {stderr}");
        assert!(stderr.contains(what), "{file}: stderr should mention {what}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one-line cause: {stderr}");

        let list = db.cmd().args(["runs", "list"]).assert().success();
        let stdout = String::from_utf8_lossy(&list.get_output().stdout).to_string();
        assert!(stdout.starts_with("no runs"), "{file}: a run was imported: {stdout}");
        db.cmd().args(["metrics", "bad", "--format", "json"]).assert().code(1);
    }
}

/// Two annotators and grade overrides on four episodes; every number worked out by hand.
#[test]
fn human_label_statistics_from_an_imported_transcript() {
    let m = import_metrics("human_labels.jsonl", "labels");
    let h = get(&m, "/human");
    assert_eq!(h["labels"], 11);
    assert_eq!(h["annotators"], serde_json::json!(["ana", "bob"]));
    // error_found: yes (ana h1, bob h1, bob h4), no (bob h2, ana h3, bob h3), n/a, partial.
    assert_eq!(
        h["counts"]["error_found"],
        serde_json::json!({"n/a": 1, "no": 3, "partial": 1, "yes": 3})
    );
    // Cells after overrides: h1 w→c, h2 c→c, h3 c→w (t1 overridden to correct), h4 c→w.
    assert_eq!(
        h["by_transition"]["error_found"]["yes"],
        serde_json::json!({"cc": 0, "cw": 1, "wc": 2, "ww": 0})
    );
    assert_eq!(
        h["by_transition"]["error_found"]["no"],
        serde_json::json!({"cc": 1, "cw": 2, "wc": 0, "ww": 0})
    );
    // Overrides vs auto grade: h1 wrong = wrong, h2 correct = correct, h3 correct ≠ wrong.
    assert_eq!(h["overrides"]["agree"], 2);
    assert_eq!(h["overrides"]["disagree"], 1);
    assert_eq!(h["overrides"]["disagreements"], serde_json::json!(["h3#0@0"]));
    // ana vs bob: (yes,yes) (n/a,no) (no,no) (partial,yes): p_o = 1/2; ana ¼ each of four
    // values, bob ½ yes ½ no → p_e = ¼·½ + ¼·½ = ¼; κ = (½ − ¼)/(¾) = 1/3.
    let k = &h["agreement"]["error_found"]["pairs"][0];
    assert_eq!((k["a"].as_str(), k["b"].as_str(), &k["n"]), (Some("ana"), Some("bob"), &4.into()));
    rate(k, "/kappa", Some(1.0 / 3.0));
    rate(k, "/percent", Some(0.5));
    // Krippendorff's α over the same four units: values yes 3, no 3, n/a 1, partial 1 (n = 8);
    // disagreeing coincidences (n/a,no) (no,n/a) (partial,yes) (yes,partial) = 4;
    // Σ_{c≠k} n_c·n_k = 8² − (9 + 9 + 1 + 1) = 44; α = 1 − 7·4/44 = 4/11.
    rate(h, "/agreement/error_found/alpha/alpha", Some(4.0 / 11.0));
    assert_eq!(h["agreement"]["error_found"]["alpha"]["units"], 4);
    // Human grade of the critiqued t1 vs critic verdict: (incorrect, incorrect), (correct,
    // correct), (correct, correct) → p_o = 1, p_e = 1/9 + 4/9 → κ = 1.
    rate(h, "/human_critic/kappa", Some(1.0));
    rate(h, "/human_critic/percent", Some(1.0));
    assert_eq!(h["human_critic"]["n"], 3);
    // The override also moves t1: acc_t1 = 3/4 (h2, h3, h4 right).
    rate(&m, "/acc_t1", Some(0.75));
}
