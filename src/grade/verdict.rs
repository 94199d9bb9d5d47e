//! Critique parsing: the critic's verdict and its verbalised confidence.

use serde_json::Value;

use super::{find_words_ci, leading_word, matching_brace, tail_after_is};
use crate::domain::Verdict;

/// Decoration skipped around labels and values: markdown, quotes, brackets.
fn is_decor(c: char) -> bool {
    c.is_whitespace() || "*_\"'`[({:".contains(c)
}

/// The critic's verdict; when several are stated, the last one wins.
pub fn parse_verdict(text: &str) -> Verdict {
    let mut found = labelled_verdicts(text);
    found.extend(bracket_verdicts(text));
    found.extend(stated_verdicts(text));
    found.extend(json_verdicts(text));
    found.into_iter().max_by_key(|&(at, _)| at).map_or(Verdict::Unparsed, |(_, verdict)| verdict)
}

/// One verdict word, matched whole ("incorrect" is never read as "correct").
fn verdict_word(word: &str) -> Option<Verdict> {
    let word = word.to_ascii_lowercase();
    match word.as_str() {
        "correct" | "right" | "true" => Some(Verdict::Correct),
        "incorrect" | "wrong" | "false" | "invalid" => Some(Verdict::Incorrect),
        _ => None,
    }
}

/// The verdict at the start of `s`, after decoration; "not correct" is Incorrect.
fn leading_verdict(s: &str) -> Option<Verdict> {
    let (word, rest) = leading_word(s.trim_start_matches(is_decor));
    if !word.eq_ignore_ascii_case("not") {
        return verdict_word(word);
    }
    let (negated, _) = leading_word(rest.trim_start_matches(is_decor));
    verdict_word(negated).map(|v| match v {
        Verdict::Correct => Verdict::Incorrect,
        _ => Verdict::Correct,
    })
}

/// `Verdict: correct`, `**Verdict:** [Incorrect]`, `"verdict": "wrong"`.
fn labelled_verdicts(text: &str) -> Vec<(usize, Verdict)> {
    find_words_ci(text, "verdict")
        .into_iter()
        .filter_map(|at| {
            let rest = text.get(at + "verdict".len()..)?;
            let rest = rest.trim_start_matches(|c: char| is_decor(c) && c != ':');
            let value = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))?;
            leading_verdict(value).map(|v| (at, v))
        })
        .collect()
}

/// CriticBench: `[[correct]]`, `[[wrong]]`, `[[incorrect]]`.
fn bracket_verdicts(text: &str) -> Vec<(usize, Verdict)> {
    text.match_indices("[[")
        .filter_map(|(at, _)| {
            let rest = text.get(at + 2..)?;
            let inner = rest.get(..rest.find("]]")?)?;
            verdict_word(inner.trim()).map(|v| (at, v))
        })
        .collect()
}

/// RealCritic: "The solution is Correct", "the answer is incorrect".
fn stated_verdicts(text: &str) -> Vec<(usize, Verdict)> {
    ["solution", "answer"]
        .iter()
        .flat_map(|subject| {
            find_words_ci(text, subject).into_iter().filter_map(|at| {
                let tail = tail_after_is(text, at, subject.len())?;
                leading_verdict(tail).map(|v| (at, v))
            })
        })
        .collect()
}

/// A JSON object anywhere in the text with a `verdict` key.
fn json_verdicts(text: &str) -> Vec<(usize, Verdict)> {
    if find_words_ci(text, "verdict").is_empty() {
        return Vec::new();
    }
    text.match_indices('{')
        .filter_map(|(at, _)| {
            let span = text.get(at..=matching_brace(text, at)?)?;
            if !span.to_ascii_lowercase().contains("\"verdict\"") {
                return None;
            }
            let value: Value = serde_json::from_str(span).ok()?;
            let (_, field) =
                value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case("verdict"))?;
            json_verdict(field).map(|v| (at, v))
        })
        .collect()
}

fn json_verdict(field: &Value) -> Option<Verdict> {
    match field {
        Value::String(s) => leading_verdict(s),
        Value::Bool(true) => Some(Verdict::Correct),
        Value::Bool(false) => Some(Verdict::Incorrect),
        _ => None,
    }
}

/// Verbalised confidence in [0,1]: `Confidence: 85%`, `0.85`, `85` (read as percent), `8/10`.
/// The last parseable statement wins.
pub fn parse_confidence(text: &str) -> Option<f64> {
    find_words_ci(text, "confidence")
        .into_iter()
        .rev()
        .find_map(|at| confidence_after(text.get(at + "confidence".len()..)?))
}

fn confidence_after(s: &str) -> Option<f64> {
    let s = skip_label_suffix(s.trim_start_matches(|c: char| is_decor(c) && c != ':'));
    let s = s.strip_prefix(':').or_else(|| s.strip_prefix('='))?;
    let s = s.trim_start_matches(|c: char| is_decor(c) || c == '$');
    let (value, rest) = leading_number(s)?;
    let rest = rest.trim_start();
    let value = if rest.starts_with('%') || rest.starts_with("\\%") {
        value / 100.0
    } else if let Some(den) = rest.strip_prefix('/').and_then(|d| leading_number(d.trim_start())) {
        if den.0 > 0.0 {
            value / den.0
        } else {
            return None;
        }
    } else if value <= 1.0 {
        value
    } else {
        // A bare number above 1 is a percentage ("Confidence: 85").
        value / 100.0
    };
    Some(value.clamp(0.0, 1.0))
}

/// Skip "level"/"score" and a parenthesised scale such as "(0-100)" between label and colon.
fn skip_label_suffix(s: &str) -> &str {
    let (word, rest) = leading_word(s);
    let s = if ["level", "score"].iter().any(|w| w.eq_ignore_ascii_case(word)) { rest } else { s };
    let s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '*');
    let s = match s.strip_prefix('(').and_then(|r| r.find(')').map(|end| (r, end))) {
        Some((r, end)) => r.get(end + 1..).unwrap_or(r),
        None => s,
    };
    s.trim_start_matches(|c: char| is_decor(c) && c != ':')
}

/// A leading unsigned decimal (`85`, `0.85`, `.85`) and what follows it.
fn leading_number(s: &str) -> Option<(f64, &str)> {
    let digits = |t: &str| t.chars().take_while(char::is_ascii_digit).count();
    let int_len = digits(s);
    let frac_len = match s.get(int_len..) {
        Some(rest) if rest.starts_with('.') => digits(rest.get(1..).unwrap_or_default()),
        _ => 0,
    };
    // A dot counts only with digits after it ("85." ends a sentence).
    let end = if frac_len > 0 { int_len + 1 + frac_len } else { int_len };
    let (number, rest) = s.split_at_checked(end)?;
    number.parse::<f64>().ok().map(|v| (v, rest))
}
