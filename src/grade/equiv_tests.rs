//! The new equivalence rules (DESIGN §3): bracket semantics, written precision, percents with a
//! question, words, symmetry over the corpus, and bounded work on hostile input.

use super::*;
use crate::domain::{AnswerKind, MatchTier};

use AnswerKind::{Math, Number, Text};
use MatchTier as T;

const OFF: GradeOptions = GradeOptions { qwen_compat: false };

fn eq(a: &str, r: &str, kind: AnswerKind) -> MatchTier {
    equivalent(a, r, kind, OFF)
}

#[test]
fn bracket_semantics() {
    let cases: &[(&str, &str, MatchTier)] = &[
        ("\\{3,2,1\\}", "\\{1,2,3\\}", T::Elementwise),
        ("3, 1, 2", "\\{1,2,3\\}", T::Elementwise),
        ("x=2, x=1", "1, 2", T::Elementwise),
        ("4 \\text{ and } 9", "9, 4", T::Elementwise),
        ("4 \\text{ and } 9", "4,9", T::Normalized),
        ("4 \\text{ and } 9", "4", T::None),
        ("(1,2,3)", "1, 2, 3", T::Elementwise),
        ("(1,2,3)", "3, 2, 1", T::None),
        ("(1,2)", "(2,1)", T::None),
        ("[1,5]", "(1,5)", T::None),
        ("[1,5)", "[1,5]", T::None),
        ("(0,1)\\cup(2,3)", "(2,3)\\cup(0,1)", T::Elementwise),
        ("(0,1)\\cup(2,3)", "(0,1)\\cup[2,3]", T::None),
        ("3,-1,4", "3,\\sqrt{2},5", T::None),
        ("\\{2\\}", "2", T::Elementwise),
        ("a=2, b=3", "a=3, b=2", T::None),
        ("a=2, b=3", "b=3, a=2", T::Elementwise),
        ("\\frac{1,000}{3}", "\\frac{1000}{3}", T::Rational),
        ("1,000", "1000", T::Normalized),
        ("1, 000", "1000", T::None),
        ("2,500, 3", "3, 2500", T::Elementwise),
        ("2,500, 3", "2, 500, 3", T::None),
        ("f(1,2)", "f(2,1)", T::None),
        ("\\pm 2", "2, -2", T::Elementwise),
        ("x = \\pm 3", "3, -3", T::Elementwise),
        ("1 \\pm \\sqrt{2}", "1-\\sqrt{2}, 1+\\sqrt{2}", T::Elementwise),
        ("2 \\pm (x+1)", "2-(x+1), 2+(x+1)", T::Elementwise),
        ("\\pm 2", "2", T::None),
        ("(0,1) U (2,3)", "(2,3)\\cup(0,1)", T::Elementwise),
        ("(U, V)", "(V, U)", T::None),
    ];
    for &(a, r, want) in cases {
        assert_eq!(eq(a, r, Math), want, "{a:?} vs {r:?}");
    }
}

#[test]
fn integers_exact_and_decimals_within_their_written_precision() {
    let cases: &[(&str, &str, MatchTier)] = &[
        ("54329", "54321", T::None),
        ("54321.5", "54321.7", T::None),
        ("54321.50", "54321.5", T::Numeric),
        ("0.3333", "1/3", T::Numeric),
        ("0.33", "1/3", T::None),
        ("2.0001", "2", T::None),
        ("1.25e-3", "0.00125", T::Numeric),
        ("1.25\\times10^{-3}", "0.00125", T::Numeric),
        ("1.2e3", "1201", T::None),
        (
            "123456789012345678901234567890123456789012",
            "123456789012345678901234567890123456789013",
            T::None,
        ),
        ("00042", "42", T::Rational),
    ];
    for &(a, r, want) in cases {
        assert_eq!(eq(a, r, Number), want, "{a:?} vs {r:?}");
    }
}

#[test]
fn percents_only_when_the_question_asks() {
    let asks = Some("What percent of the marbles are red?");
    let other = Some("A 20% discount applies. How many dollars does it cost?");
    let with = |a: &str, r: &str, q: Option<&str>| equivalent_with_question(a, r, Math, OFF, q);
    assert_eq!(with("0.375", "37.5", asks), T::Percent);
    assert_eq!(with("37.5\\%", "0.375", asks), T::Percent);
    assert_eq!(with("0.375", "37.5", None), T::None);
    assert_eq!(with("0.375", "37.5", other), T::None);
    assert_eq!(with("0.38", "37.5", asks), T::None);
    assert_eq!(with("3.75", "37.5", asks), T::None);
    // grade() threads the question too.
    let g = grade_with_question("so \\boxed{37.5}", None, "0.375", Math, OFF, asks);
    assert_eq!((g.correct, g.tier), (true, T::Percent));
    assert!(!grade("so \\boxed{37.5}", None, "0.375", Math, OFF).correct);
}

#[test]
fn words_and_the_yes_no_prefix() {
    let cases: &[(&str, &str, AnswerKind, MatchTier)] = &[
        ("Infinitely many", "infinitelymany", Math, T::Normalized),
        ("Infinitely many", "infinitelymany", Text, T::Normalized),
        ("Yes", "Yes. Because the sum of two odd numbers is even.", Math, T::Normalized),
        ("No", "Yes. Because …", Math, T::None),
        ("Yes", "No", Text, T::None),
        ("No", "None", Math, T::None),
        ("x", "X", Math, T::None),
    ];
    for &(a, r, kind, want) in cases {
        assert_eq!(eq(a, r, kind), want, "{a:?} vs {r:?}");
    }
}

/// Every pair of the corpus decides the same both ways round.
#[test]
fn equivalence_is_symmetric_on_the_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grading");
    let mut pairs = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (a, r) = (v["answer"].as_str().unwrap(), v["reference"].as_str().unwrap());
            let kind = match v["kind"].as_str() {
                Some("number") => Number,
                Some("text") => Text,
                Some("choice") => AnswerKind::Choice,
                _ => Math,
            };
            let q = v["question"].as_str();
            let there = equivalent_with_question(a, r, kind, OFF, q) != T::None;
            let back = equivalent_with_question(r, a, kind, OFF, q) != T::None;
            assert_eq!(there, back, "{a:?} vs {r:?}");
            pairs += 1;
        }
    }
    assert!(pairs >= 400, "{pairs}");
}

/// 50 KB strings, deep nesting, long lists: a decision (here "not equal") and no panic.
#[test]
fn hostile_input_is_declined() {
    let big = "1,".repeat(25_000);
    let deep = format!("{}1{}", "(".repeat(25_000), ")".repeat(25_000));
    let fracs = format!("{}1{}", "\\frac{".repeat(8_000), "}{2}".repeat(8_000));
    let texts = "\\text{a}".repeat(6_000);
    let list = (0..300).map(|i| format!("x_{{{i}}}")).collect::<Vec<_>>().join(", ");
    let reversed = (0..300).rev().map(|i| format!("x_{{{i}}}")).collect::<Vec<_>>().join(", ");
    let nested_sets = format!("{}1{}", "\\{".repeat(60), "\\}".repeat(60));
    let hostile =
        [big.as_str(), &deep, &fracs, &texts, &list, &nested_sets, "10^{10^{10}}", "1000!"];
    for h in hostile {
        for kind in [Number, Math, Text, AnswerKind::Choice] {
            assert_eq!(eq(h, "2", kind), T::None, "{}", &h[..40.min(h.len())]);
            let _ = eq(h, h, kind);
            let _ = extract_answer(h, kind);
            let _ = grade(&format!("The answer is {h}"), None, "2", kind, OFF);
        }
    }
    // Past the element bound a list is declined even against itself reordered.
    assert_eq!(eq(&list, &reversed, Math), T::None);
    assert_eq!(eq(&big, &big, Math), T::Exact);
}
