//! The grader on a mixed corpus and on hostile input. Targets (issue 10): 100k pairs graded in
//! under 2 s, and no single adversarial pair slow enough to notice.
//!
//! Run: `cargo bench --bench grading` (add `-- --reps N` for more repetitions). The corpus is
//! tests/fixtures/grading/*.jsonl (symbolic files included), repeated to at least 100,000 pairs.

use std::time::Instant;

use critloop::domain::AnswerKind;
use critloop::grade::{GradeOptions, equivalent_with_question};

const COMMAND: &str = "cargo bench --bench grading";
const PAIRS: usize = 100_000;

struct Pair {
    answer: String,
    reference: String,
    kind: AnswerKind,
    question: Option<String>,
}

fn corpus() -> Vec<Pair> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grading");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        for line in std::fs::read_to_string(file).unwrap().lines().filter(|l| !l.trim().is_empty())
        {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let kind = match v["kind"].as_str() {
                Some("number") => AnswerKind::Number,
                Some("choice") => AnswerKind::Choice,
                Some("text") => AnswerKind::Text,
                _ => AnswerKind::Math,
            };
            out.push(Pair {
                answer: v["answer"].as_str().unwrap().into(),
                reference: v["reference"].as_str().unwrap().into(),
                kind,
                question: v["question"].as_str().map(String::from),
            });
        }
    }
    out
}

fn adversarial() -> Vec<(&'static str, String, String)> {
    let list = |n: usize, rev: bool| {
        let mut items: Vec<String> = (0..n).map(|i| format!("\\frac{{{i}}}{{7}}")).collect();
        if rev {
            items.reverse();
        }
        items.join(", ")
    };
    vec![
        ("50 KB of commas", "1,".repeat(25_000), "1".into()),
        (
            "50 KB nested parentheses",
            format!("{}1{}", "(".repeat(25_000), ")".repeat(25_000)),
            "1".into(),
        ),
        (
            "4 KB nested fractions",
            format!("{}1{}", "\\frac{".repeat(60), "}{2}".repeat(60)),
            "1".into(),
        ),
        ("4 KB of \\text{}", "\\text{a}".repeat(500), "a".into()),
        (
            "set of 200, reversed",
            format!("\\{{{}\\}}", list(200, false)),
            format!("\\{{{}\\}}", list(200, true)),
        ),
        ("list of 250 vs 249", list(250, false), list(249, true)),
        ("tuple of 250", format!("({})", list(250, false)), format!("({})", list(250, true))),
        ("10^{10^{10}}", "10^{10^{10}}".into(), "10^{10^{11}}".into()),
        ("1000!", "1000!".into(), "999!".into()),
        ("60 nested sets", format!("{}1{}", "\\{".repeat(60), "\\}".repeat(60)), "1".into()),
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let opts = GradeOptions::default();
    let pairs = corpus();
    let rounds = PAIRS.div_ceil(pairs.len());
    let total = rounds * pairs.len();
    let mut secs = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let mut equal = 0usize;
        for _ in 0..rounds {
            for p in &pairs {
                let tier = equivalent_with_question(
                    &p.answer,
                    &p.reference,
                    p.kind,
                    opts,
                    p.question.as_deref(),
                );
                equal += usize::from(tier != critloop::domain::MatchTier::None);
            }
        }
        std::hint::black_box(equal);
        secs.push(t.elapsed().as_secs_f64());
    }
    let s = median(secs);
    println!(
        "{COMMAND}: {} corpus pairs × {rounds} = {total} pairs, medians of {reps} reps",
        pairs.len()
    );
    println!("  mixed corpus               {:>9.3} s  ({:.0} pairs/s)", s, total as f64 / s);
    let mut worst = (0.0f64, "");
    for (name, a, r) in adversarial() {
        let mut ms = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = Instant::now();
            std::hint::black_box(equivalent_with_question(&a, &r, AnswerKind::Math, opts, None));
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let m = median(ms);
        println!("  adversarial: {name:<26} {m:>9.3} ms");
        if m > worst.0 {
            worst = (m, name);
        }
    }
    println!("  worst single adversarial pair {:>6.3} ms ({})", worst.0, worst.1);
}
