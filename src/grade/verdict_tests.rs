//! Critiques as small models write them, each with the verdict, the rule and the deciding word
//! a careful reader would name (DESIGN §3; rules in `prose.rs`).

use super::{ParsedVerdict, parse_verdict, parse_verdict_full};
use crate::domain::Verdict::{self, Correct, Incorrect, Unparsed};
use crate::domain::VerdictMethod::{self, Bracket, Json, Labelled, Prose, Stated};

/// (critique, verdict, method, deciding word as written; `None` = not checked).
type Case = (&'static str, Verdict, VerdictMethod, Option<&'static str>);

const CASES: &[Case] = &[
    // Explicit labels.
    ("Verdict: incorrect", Incorrect, Labelled, Some("incorrect")),
    (
        "**Verdict:** Incorrect\n\nThe second step adds instead of multiplying.",
        Incorrect,
        Labelled,
        Some("Incorrect"),
    ),
    ("VERDICT: NOT CORRECT", Incorrect, Labelled, Some("CORRECT")),
    ("Verdict: \"Incorrect\"", Incorrect, Labelled, Some("Incorrect")),
    (
        "Verdict: correct\n\nHmm, 7 x 8 is 56. Actually, wait: Verdict: incorrect",
        Incorrect,
        Labelled,
        Some("incorrect"),
    ),
    ("The answer is correct. Verdict: incorrect", Incorrect, Labelled, Some("incorrect")),
    (
        "Verdict: incorrect\n\nApart from the last line, the solution is correct.",
        Incorrect,
        Labelled,
        Some("incorrect"),
    ),
    ("The computation checks out. [[ Correct ]]", Correct, Bracket, Some("Correct")),
    ("[[wrong]]", Incorrect, Bracket, Some("wrong")),
    (
        "```json\n{\"verdict\": \"incorrect\", \"reason\": \"step 2\"}\n```",
        Incorrect,
        Json,
        Some("incorrect"),
    ),
    ("{\"Verdict\": true}", Correct, Json, Some("true")),
    // Statements about the attempt.
    ("The solution is correct.", Correct, Stated, Some("correct")),
    (
        "Let me go through it. 3 x 4 = 12 and 12 + 5 = 17, so the final answer is correct.",
        Correct,
        Stated,
        Some("correct"),
    ),
    ("The answer is wrong.", Incorrect, Stated, Some("wrong")),
    ("The response is right.", Correct, Stated, Some("right")),
    ("This is correct.", Correct, Stated, Some("correct")),
    ("Your answer is correct! Great job.", Correct, Stated, Some("correct")),
    (
        "The reasoning is flawed because it ignores the remainder.",
        Incorrect,
        Stated,
        Some("flawed"),
    ),
    (
        "Step 1 is fine. The calculation is wrong: 7 x 8 is 56, not 54.",
        Incorrect,
        Stated,
        Some("wrong"),
    ),
    ("The answer 42 is correct.", Correct, Stated, Some("correct")),
    ("The answer isn't correct; it should be 12.", Incorrect, Stated, Some("correct")),
    ("The answer isn’t correct.", Incorrect, Stated, Some("correct")),
    ("The solution is not incorrect, just long-winded.", Correct, Stated, Some("incorrect")),
    ("The student's answer is not wrong.", Correct, Stated, Some("wrong")),
    ("The answer is not entirely correct.", Incorrect, Stated, Some("correct")),
    ("The solution is partially correct.", Incorrect, Stated, Some("correct")),
    ("The answer does not seem to be correct.", Incorrect, Stated, Some("correct")),
    ("THE ANSWER IS INCORRECT.", Incorrect, Stated, Some("INCORRECT")),
    ("The answer is \"correct\".", Correct, Stated, Some("correct")),
    ("All the steps are correct, so the answer is 17.", Correct, Stated, Some("correct")),
    ("Step 2 is incorrect. Step 3 is correct.", Incorrect, Stated, Some("incorrect")),
    ("This is not the correct answer.", Incorrect, Stated, Some("correct")),
    ("Incorrect. The total should be 24, not 20.", Incorrect, Stated, Some("Incorrect")),
    ("**Correct**", Correct, Stated, Some("Correct")),
    ("Conclusion: Incorrect", Incorrect, Stated, Some("Incorrect")),
    (
        "The solution is correct. However, the explanation could be clearer.",
        Correct,
        Stated,
        Some("correct"),
    ),
    ("The answer is correct, but step 2 has a typo.", Correct, Stated, Some("correct")),
    (
        "Is the answer correct? Let's check. 5 + 7 = 12, not 13. The answer is incorrect.",
        Incorrect,
        Stated,
        Some("incorrect"),
    ),
    ("That's right, the answer is 12.", Correct, Stated, Some("right")),
    ("I think the answer is correct, although the method is unusual.", Correct, Stated, None),
    (
        "The answer is incorrect because of an error in step 2.",
        Incorrect,
        Stated,
        Some("incorrect"),
    ),
    (
        "In conclusion, the answer is incorrect.\nThe rest of the work looks correct.",
        Incorrect,
        Stated,
        Some("incorrect"),
    ),
    (
        "Overall, the solution is correct. One small error: the units are missing.",
        Correct,
        Stated,
        Some("correct"),
    ),
    ("There is a small error in step 2, but the final answer is correct.", Correct, Stated, None),
    (
        "**Conclusion:**\nThe answer is incorrect.\nThe work looks correct otherwise.",
        Incorrect,
        Stated,
        Some("incorrect"),
    ),
    (
        "In conclusion, the answer is incorrect. Wait, 7 x 8 is 56, so the answer is correct.",
        Correct,
        Stated,
        Some("correct"),
    ),
    ("Wrong answer.", Incorrect, Stated, Some("Wrong")),
    // Error phrases and other prose.
    (
        "There is an error in step 2: the student subtracted instead of adding.",
        Incorrect,
        Prose,
        Some("error"),
    ),
    ("There's a mistake in the calculation of the area.", Incorrect, Prose, Some("mistake")),
    ("The error is in step 3, where 15/3 is written as 4.", Incorrect, Prose, Some("error")),
    ("I made a mistake. 12 x 3 is 36, not 32.", Incorrect, Prose, Some("mistake")),
    ("The solution contains an error in the final step.", Incorrect, Prose, Some("error")),
    (
        "Mistake: the area formula uses the diameter instead of the radius.",
        Incorrect,
        Prose,
        Some("Mistake"),
    ),
    ("The student made a common mistake: dividing by 2 twice.", Incorrect, Prose, Some("mistake")),
    ("The solution doesn't contain any errors.", Correct, Prose, Some("errors")),
    ("The working does not contain errors.", Correct, Prose, Some("errors")),
    ("There are no errors in this solution.", Correct, Prose, Some("errors")),
    ("No mistakes.", Correct, Prose, Some("mistakes")),
    ("I don't see any mistakes in the reasoning.", Correct, Prose, Some("mistakes")),
    ("I could not find any error.", Correct, Prose, Some("error")),
    ("Each step was carried out without error.", Correct, Prose, Some("error")),
    ("The steps are done without any errors.", Correct, Prose, Some("errors")),
    ("The solution is error-free.", Correct, Prose, Some("error")),
    ("The solution is free of errors.", Correct, Prose, Some("errors")),
    ("**Errors:** None", Correct, Prose, Some("Errors")),
    ("There is nothing wrong with this solution.", Correct, Prose, Some("wrong")),
    ("The answer is correct, but there is an error in step 2.", Incorrect, Prose, Some("error")),
    ("The student did not get the correct answer.", Incorrect, Prose, Some("correct")),
    ("You are right.", Correct, Prose, Some("right")),
    ("The problem was solved correctly.", Correct, Prose, Some("correctly")),
    ("The student did not solve it correctly.", Incorrect, Prose, Some("correctly")),
    ("I can't find anything wrong with it.", Correct, Prose, Some("wrong")),
    ("Something is wrong in step 3.", Incorrect, Prose, Some("wrong")),
    (
        "Let me check the sum: 4 + 5 = 9. Hmm, I was wrong earlier, 9 is right. I made no mistakes.",
        Correct,
        Prose,
        Some("mistakes"),
    ),
];

/// Look-alikes that state no verdict.
const UNPARSED: &[&str] = &[
    "Let's check whether the answer is correct.",
    "Is the solution correct?",
    "Correct the mistake below.",
    "To verify the answer is correct, substitute x = 3 back into the equation.",
    "A common mistake is to forget the negative root.",
    "The margin of error is 5%.",
    "We use error analysis to bound the remainder.",
    "Trial and error gives x = 3.",
    "If the answer is correct, the perimeter is 20.",
    "The correct answer is 12.",
    "There might be an error in step 2.",
    "Let's see if there are any mistakes.",
    "It is correct to divide both sides by 2.",
    "The student correctly computed 12.",
    "Correct answer: 12",
    "The answer is right there in the text.",
    "This is true for every n.",
    "The problem states that the machine has an error rate of 2%.",
    "We should double-check for errors.",
    "Verdict: incorrectly",
    "I am not sure.",
    // The `sim` provider's unparsed critique.
    "Let me check the solution step by step.\n\nThe setup is fine, but the final computation does \
     not follow from the steps above: the last result should be recomputed.\n\nOverall I have \
     some doubts about this solution.\n",
];

/// What went wrong with one case, if anything.
fn check((text, verdict, method, word): Case) -> Option<String> {
    let got = parse_verdict_full(text);
    if (got.verdict, got.method) != (verdict, Some(method)) {
        return Some(format!("{text:?}: got {:?} by {:?}", got.verdict, got.method));
    }
    let Some(spelled) = got.span.and_then(|span| text.get(span)) else {
        return Some(format!("{text:?}: no span inside the text"));
    };
    if word.is_some_and(|w| w != spelled) {
        return Some(format!("{text:?}: deciding word {spelled:?}, want {word:?}"));
    }
    (parse_verdict(text) != verdict).then(|| format!("{text:?}: parse_verdict disagrees"))
}

#[test]
fn critiques_as_small_models_write_them() {
    assert!(CASES.len() >= 40);
    let failures: Vec<String> = CASES.iter().filter_map(|&case| check(case)).collect();
    assert!(failures.is_empty(), "{} failing:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn look_alikes_stay_unparsed() {
    let none = ParsedVerdict { verdict: Unparsed, method: None, span: None };
    let failures: Vec<String> = UNPARSED
        .iter()
        .map(|text| (text, parse_verdict_full(text)))
        .filter(|(_, got)| *got != none)
        .map(|(text, got)| format!("{text:?}: got {got:?}"))
        .collect();
    assert!(failures.is_empty(), "{} failing:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn spans_are_byte_ranges_of_the_text() {
    let text = "Étape 2 : the answer is wrong.";
    let got = parse_verdict_full(text);
    assert_eq!(got.span, Some(25..30));
    assert_eq!(&text[25..30], "wrong");
}

/// Reading grows linearly with the text: four times the text takes about four times as long
/// (a quadratic reader would take sixteen). A ratio of the same machine's timings, best of
/// three, so a loaded machine slows both sides alike.
#[test]
fn long_garbage_is_read_in_linear_time() {
    let inputs = |n: usize| {
        let unit = "{[[\"verdict\":error.not,correct?x";
        vec![
            unit.repeat(n / unit.len()),
            "error is not incorrect but ".repeat(n / 27),
            "[[".repeat(n / 2),
            "{".repeat(n),
        ]
    };
    let best = |texts: &[String]| {
        (0..3)
            .map(|_| {
                let started = std::time::Instant::now();
                for t in texts {
                    let _ = parse_verdict_full(t);
                }
                started.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let (small, large) = (inputs(25_000), inputs(100_000));
    let (t_small, t_large) = (best(&small), best(&large));
    // Below a millisecond the ratio is noise; both are fast then.
    let ratio = t_large / t_small.max(1e-3);
    assert!(ratio < 10.0, "4× the text took {ratio:.1}× as long ({t_small:.4}s → {t_large:.4}s)");
}

#[test]
fn bracket_labels_are_bounded_and_found_among_brackets() {
    let span = |t: &str| parse_verdict_full(t).span;
    assert_eq!(span("[[[[correct]]"), Some(4..11));
    assert_eq!(span("x]] [[wrong]]]]"), Some(6..11));
    // The label must close within 40 bytes of its opening.
    let padded = |n: usize| format!("[[{}correct]]", " ".repeat(n));
    assert_eq!(parse_verdict_full(&padded(32)).method, Some(VerdictMethod::Bracket));
    assert_ne!(parse_verdict_full(&padded(33)).method, Some(VerdictMethod::Bracket));
    // A megabyte of brackets (once seconds in a debug build).
    let started = std::time::Instant::now();
    assert_eq!(parse_verdict_full(&"[[".repeat(1 << 19)).verdict, Verdict::Unparsed);
    assert!(started.elapsed().as_secs_f64() < 2.0, "took {:?}", started.elapsed());
}
