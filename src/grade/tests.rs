//! Hand-worked tables for the grader. Each expectation follows from the rules in DESIGN §3.

use super::*;
use crate::domain::{AnswerKind, MatchTier, Verdict};

use AnswerKind::{Choice, Math, Number, Text};
use MatchTier as T;

const OFF: GradeOptions = GradeOptions { qwen_compat: false };
const QWEN: GradeOptions = GradeOptions { qwen_compat: true };

/// (answer, reference, kind, expected tier) with qwen-compat off.
const EQUIV_CASES: &[(&str, &str, AnswerKind, MatchTier)] = &[
    // Exact: identical after trimming.
    ("42", "42", Number, T::Exact),
    ("  42 ", "42", Number, T::Exact),
    ("\\frac{1}{2}", "\\frac{1}{2}", Math, T::Exact),
    ("B", "B", Choice, T::Exact),
    // Normalized (Hendrycks-style strings).
    ("\\frac12", "1/2", Math, T::Normalized),
    ("0.5", "1/2", Number, T::Normalized),
    ("1,234", "1234", Number, T::Normalized),
    ("1\\,000", "1000", Number, T::Normalized),
    ("10\\text{ cm}", "10", Number, T::Normalized),
    ("5\\text{ apples}", "5", Number, T::Normalized),
    ("10cm", "10", Number, T::Normalized),
    ("5 dollars", "5", Number, T::Normalized),
    ("12 square feet", "12", Number, T::Normalized),
    ("\\$5", "5", Number, T::Normalized),
    ("50\\%", "50", Number, T::Normalized),
    ("50%", "50", Number, T::Normalized),
    ("90^\\circ", "90", Number, T::Normalized),
    ("x = 5", "5", Math, T::Normalized),
    (".5", "0.5", Number, T::Normalized),
    ("0.5", "\\frac{1}{2}", Math, T::Normalized),
    ("\\dfrac{1}{2}", "\\frac{1}{2}", Math, T::Normalized),
    ("\\left( 1, 2 \\right)", "(1,2)", Math, T::Normalized),
    ("1, 2, 3", "1,2,3", Math, T::Normalized),
    ("\\sqrt2", "\\sqrt{2}", Math, T::Normalized),
    ("$\\frac{3}{4}$", "\\frac{3}{4}", Math, T::Normalized),
    ("\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{1}{\\sqrt2}", Math, T::Normalized),
    ("7.", "7", Number, T::Normalized),
    ("B.", "B", Choice, T::Normalized),
    ("\\text{C}", "C", Choice, T::Normalized),
    ("\\text{(B)}", "(B)", Choice, T::Normalized),
    ("Paris", "paris", Text, T::Normalized),
    ("new york", "New York", Text, T::Normalized),
    // Rational: both sides exact fractions/integers.
    ("2/6", "1/3", Number, T::Rational),
    ("\\frac{4}{8}", "0.5", Math, T::Rational),
    ("-\\frac{2}{4}", "\\frac{-1}{2}", Math, T::Rational),
    ("6/3", "2", Number, T::Rational),
    ("\\frac{10}{4}", "5/2", Math, T::Rational),
    // Numeric: within 1e-4 relative.
    ("\\dfrac{3}{4}", "0.75", Math, T::Numeric),
    ("1/3", "0.3333", Number, T::Numeric),
    ("1e3", "1000", Number, T::Numeric),
    ("1.5e-3", "0.0015", Number, T::Numeric),
    ("0.750", "3/4", Number, T::Numeric),
    ("3.14159", "3.1416", Number, T::Numeric),
    ("2.0", "2", Number, T::Numeric),
    ("1,234.0", "1234", Number, T::Numeric),
    ("\\$1,234.50", "1234.5", Number, T::Numeric),
    // Elementwise: tuples, intervals, lists, matrices.
    ("(\\frac{1}{2}, 3)", "(0.5, 3)", Math, T::Elementwise),
    ("[0, \\tfrac{1}{2})", "[0, 0.5)", Math, T::Elementwise),
    ("\\frac{1}{2}, 2", "0.5, 2", Math, T::Elementwise),
    (
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}",
        Math,
        T::Elementwise,
    ),
    (
        "\\begin{pmatrix} 1 \\\\ \\frac12 \\end{pmatrix}",
        "\\begin{pmatrix} 1 \\\\ 0.5 \\end{pmatrix}",
        Math,
        T::Elementwise,
    ),
    // Choice letters (kind Choice only).
    ("(B)", "B", Choice, T::Choice),
    ("b", "B", Choice, T::Choice),
    // Negatives: none of the tiers may over-accept.
    ("12", "1.2", Number, T::None),
    ("-3", "3", Number, T::None),
    ("x^2", "x^3", Math, T::None),
    ("50%", "0.5", Number, T::None),
    ("50", "0.5", Number, T::None),
    ("123457", "123456", Number, T::None),
    ("2/6", "1/2", Number, T::None),
    ("0.33", "1/3", Number, T::None),
    ("1e3", "100", Number, T::None),
    ("\\frac{1}{2}", "\\frac{1}{3}", Math, T::None),
    ("(1,2)", "(2,1)", Math, T::None),
    ("[0,1)", "[0,1]", Math, T::None),
    ("(1, 2)", "1, 2", Math, T::None),
    ("(-1, 2)", "(1, 2)", Math, T::None),
    ("(1, 2, 3)", "(1, 2)", Math, T::None),
    (
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
        "\\begin{pmatrix}1&2\\\\4&3\\end{pmatrix}",
        Math,
        T::None,
    ),
    ("B", "C", Choice, T::None),
    ("(B)", "B", Number, T::None),
    ("New York", "Boston", Text, T::None),
];

#[test]
fn equivalence_tiers() {
    for &(answer, reference, kind, want) in EQUIV_CASES {
        let got = equivalent(answer, reference, kind, OFF);
        assert_eq!(got, want, "equivalent({answer:?}, {reference:?}, {kind:?})");
    }
}

#[test]
fn qwen_compat_tier() {
    // (answer, reference, expected with qwen-compat on, expected with it off)
    let cases = [
        ("50", "0.5", T::QwenCompat, T::None),
        ("50%", "0.5", T::QwenCompat, T::None),
        ("0.3", "30", T::QwenCompat, T::None),
        ("12", "1.2", T::None, T::None),
        ("-50", "0.5", T::None, T::None),
        ("0.5", "0.5", T::Exact, T::Exact),
        ("2/6", "1/3", T::Rational, T::Rational),
    ];
    for (answer, reference, on, off) in cases {
        let got_on = equivalent(answer, reference, Number, QWEN);
        assert_eq!(got_on, on, "qwen on: {answer:?} vs {reference:?}");
        let got_off = equivalent(answer, reference, Number, OFF);
        assert_eq!(got_off, off, "qwen off: {answer:?} vs {reference:?}");
    }
}

#[test]
fn boxed_content() {
    let cases: &[(&str, Option<&str>)] = &[
        ("so \\boxed{\\frac{1}{\\sqrt{2}}}.", Some("\\frac{1}{\\sqrt{2}}")),
        ("\\boxed {7}", Some("7")),
        ("\\boxed{ x+1 }", Some("x+1")),
        ("\\boxed{1} and later \\fbox{2}", Some("2")),
        ("\\fbox{3} then \\boxed{4}", Some("4")),
        ("truncated \\boxed{5", None),
        ("no box at all", None),
    ];
    for &(text, want) in cases {
        assert_eq!(last_boxed(text).as_deref(), want, "last_boxed({text:?})");
    }
}

const EXTRACT_CASES: &[(&str, AnswerKind, Option<&str>)] = &[
    ("So \\boxed{42}.", Number, Some("42")),
    ("We get \\boxed{\\frac{1}{\\sqrt{2}}}", Math, Some("\\frac{1}{\\sqrt{2}}")),
    ("First \\boxed{3}, then \\boxed{5}", Number, Some("5")),
    ("\\fbox{7}", Number, Some("7")),
    ("Natalia sold 48 clips.\n#### 72", Number, Some("72")),
    ("#### 1,234", Number, Some("1,234")),
    ("Therefore, the answer is 18.", Number, Some("18")),
    ("The answer is $\\frac{3}{4}$.", Math, Some("\\frac{3}{4}")),
    ("The answer is **42**.", Number, Some("42")),
    ("the answer is 5. But wait, the ANSWER IS 6.", Number, Some("6")),
    ("The final answer is 3.5", Number, Some("3.5")),
    ("The answer is 42 apples.", Number, Some("42")),
    ("She has 3 apples and buys 4 more, so 7 in total.", Number, Some("7")),
    ("The cost is -5 dollars", Number, Some("-5")),
    ("It dropped to -4.5 degrees", Number, Some("-4.5")),
    ("It costs 1,234 dollars", Number, Some("1234")),
    ("Half of it: 3/4 of the cake", Number, Some("3/4")),
    ("Pi is about 3.14.", Number, Some("3.14")),
    ("10-3 leaves 7", Number, Some("7")),
    ("truncated \\boxed{5", Number, Some("5")),
    ("No numbers here.", Number, None),
    ("", Number, None),
    // Multiple choice.
    ("\\boxed{C}", Choice, Some("C")),
    ("\\boxed{\\text{(E)}}", Choice, Some("E")),
    ("The answer is (C).", Choice, Some("C")),
    ("Answer: D", Choice, Some("D")),
    ("**Answer:** b", Choice, Some("B")),
    ("The answer is (a)", Choice, Some("A")),
    ("Between B and D, the answer is D.", Choice, Some("D")),
    ("\\boxed{42}. So the answer is (E)", Choice, Some("E")),
    ("I think (B) is right.", Choice, Some("B")),
    ("A car goes 60 km. Option B) fits.", Choice, Some("B")),
    ("The answer is a prime number, so A.", Choice, Some("A")),
    ("C", Choice, Some("C")),
    ("A train leaves the station.", Choice, None),
    ("The answer is 42", Choice, None),
];

#[test]
fn answer_extraction() {
    for &(text, kind, want) in EXTRACT_CASES {
        let got = extract_answer(text, kind);
        assert_eq!(got.as_deref(), want, "extract_answer({text:?}, {kind:?})");
    }
}

/// (text, explicit answer, reference, kind, expected answer, correct, tier)
type GradeCase = (
    &'static str,
    Option<&'static str>,
    &'static str,
    AnswerKind,
    Option<&'static str>,
    bool,
    MatchTier,
);

#[test]
fn grading() {
    let cases: &[GradeCase] = &[
        ("so \\boxed{\\dfrac{3}{4}}", None, "0.75", Math, Some("\\dfrac{3}{4}"), true, T::Numeric),
        ("whatever", Some(" 7 "), "7", Number, Some("7"), true, T::Exact),
        ("\\boxed{5}", Some("6"), "5", Number, Some("6"), false, T::None),
        ("no answer here", None, "5", Number, None, false, T::None),
        ("", Some("  "), "5", Number, None, false, T::None),
        ("The answer is (B)", None, "B", Choice, Some("B"), true, T::Exact),
        ("#### 72", None, "72", Number, Some("72"), true, T::Exact),
        ("The answer is 1,234.", None, "1234", Number, Some("1,234"), true, T::Normalized),
    ];
    for &(text, explicit, reference, kind, answer, correct, tier) in cases {
        let got = grade(text, explicit, reference, kind, OFF);
        let want = Grade { answer: answer.map(String::from), correct, tier };
        assert_eq!(got, want, "grade({text:?}, {explicit:?}, {reference:?}, {kind:?})");
    }
}

const VERDICT_CASES: &[(&str, Verdict)] = &[
    ("Verdict: correct", Verdict::Correct),
    ("Verdict: incorrect", Verdict::Incorrect),
    ("**Verdict:** Incorrect", Verdict::Incorrect),
    ("**Verdict**: CORRECT", Verdict::Correct),
    ("Verdict: \"wrong\"", Verdict::Incorrect),
    ("Verdict: [right]", Verdict::Correct),
    ("[[correct]]", Verdict::Correct),
    ("[[wrong]]", Verdict::Incorrect),
    ("[[incorrect]]", Verdict::Incorrect),
    ("The solution is Correct.", Verdict::Correct),
    ("The solution is Incorrect.", Verdict::Incorrect),
    ("Step 2 looks fine, but the answer is incorrect.", Verdict::Incorrect),
    ("The answer is not correct.", Verdict::Incorrect),
    ("{\"verdict\": \"correct\", \"reason\": \"ok\"}", Verdict::Correct),
    ("Here is my judgement: {\"Verdict\": \"Incorrect\"}", Verdict::Incorrect),
    ("```json\n{\"verdict\": false}\n```", Verdict::Incorrect),
    ("Verdict: correct\nOn reflection... Verdict: incorrect", Verdict::Incorrect),
    ("Verdict: incorrect ... [[correct]]", Verdict::Correct),
    ("Verdict: Incorrect. The correct answer is 12.", Verdict::Incorrect),
    ("Verdict: incorrectly", Verdict::Unparsed),
    // Prose verdicts (DESIGN §3): a careful reader reads these three as verdicts.
    ("Verdict: the solution has a flaw", Verdict::Incorrect),
    ("The reasoning is incorrect in places.", Verdict::Incorrect),
    ("This is correct.", Verdict::Correct),
    ("I am not sure.", Verdict::Unparsed),
    ("", Verdict::Unparsed),
];

#[test]
fn verdicts() {
    for &(text, want) in VERDICT_CASES {
        assert_eq!(parse_verdict(text), want, "parse_verdict({text:?})");
    }
}

#[test]
fn confidences() {
    let cases: &[(&str, Option<f64>)] = &[
        ("Confidence: 85%", Some(0.85)),
        ("Confidence: 0.7", Some(0.7)),
        ("Confidence: 90", Some(0.9)),
        ("Confidence: 1", Some(1.0)),
        ("Confidence: 0%", Some(0.0)),
        ("**Confidence:** 85%", Some(0.85)),
        ("Confidence level: 75 %", Some(0.75)),
        ("{\"confidence\": 0.35}", Some(0.35)),
        ("Confidence: 60%\nOn reflection.\nConfidence: 80%", Some(0.8)),
        ("Confidence: 150%", Some(1.0)),
        ("Confidence: 250", Some(1.0)),
        ("Confidence: 8/10", Some(0.8)),
        ("Confidence: high", None),
        ("No confidence stated.", None),
        ("", None),
    ];
    for &(text, want) in cases {
        let got = parse_confidence(text);
        let close = match (got, want) {
            (Some(g), Some(w)) => (g - w).abs() < 1e-12,
            (g, w) => g == w,
        };
        assert!(close, "parse_confidence({text:?}) = {got:?}, want {want:?}");
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    let odd = [
        "",
        "{",
        "}",
        "}{",
        "\\boxed{",
        "\\boxed{}",
        "\\frac",
        "\\frac{",
        "\\frac{1}",
        "\\sqrt",
        "((",
        "[)",
        "$",
        "\\",
        "\\\\",
        "°C ✓ −5 ½",
        "1,",
        ",1",
        "-",
        "-.",
        ".",
        "/",
        "1/0",
        "\\frac{1}{0}",
        "verdict: {",
        "{\"verdict\": 3}",
        "[[",
        "Confidence:",
        "Confidence: .",
        "answer is",
        "x = = 1",
        "\\begin{pmatrix}\\end{pmatrix}",
        "\\text{ }",
        "99999999999999999999999999999999999999999/1",
    ];
    for text in odd {
        for kind in [Number, Choice, Math, Text] {
            let _ = extract_answer(text, kind);
            let _ = equivalent(text, text, kind, QWEN);
            let _ = equivalent(text, "1", kind, QWEN);
        }
        let _ = (last_boxed(text), parse_verdict(text), parse_confidence(text));
    }
    // Division by zero is no number.
    assert_eq!(equivalent("1/0", "2/0", Number, OFF), T::None);
}
