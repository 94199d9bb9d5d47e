//! Critique parsing: the critic's verdict and its verbalised confidence.
//!
//! Verdicts (DESIGN §3): an explicit label anywhere in the text (`Verdict: X`, CriticBench
//! `[[X]]`, a JSON `verdict` key) beats prose, and among labels the last one wins. Without a
//! label, statements and prose are read by `super::prose`, whose header lists its rules.

use std::ops::Range;

use serde_json::Value;

use super::prose::prose_verdict;
use super::{find_words_ci, leading_word};
use crate::domain::{Verdict, VerdictMethod};

/// A critique's verdict, the rule that read it and the word that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedVerdict {
    pub verdict: Verdict,
    /// The rule that matched; `None` when unparsed.
    pub method: Option<VerdictMethod>,
    /// Byte range in the text of the deciding word: the "incorrect" of "Verdict: incorrect",
    /// the "error" of "there is an error in step 2"; `None` when unparsed.
    pub span: Option<Range<usize>>,
}

/// One verdict read from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub span: Range<usize>,
    pub verdict: Verdict,
    pub method: VerdictMethod,
}

/// Decoration skipped around labels and values: markdown, quotes, brackets, escapes.
fn is_decor(c: char) -> bool {
    c.is_whitespace() || "*_\"'`[({:\\".contains(c)
}

/// The critic's verdict (see `parse_verdict_full`).
pub fn parse_verdict(text: &str) -> Verdict {
    parse_verdict_full(text).verdict
}

/// The critic's verdict with the rule that read it and the span of its deciding word.
pub fn parse_verdict_full(text: &str) -> ParsedVerdict {
    let explicit = labelled_verdicts(text)
        .into_iter()
        .chain(bracket_verdicts(text))
        .chain(json_verdicts(text))
        // `"verdict": "x"` is read both as a label and as JSON at the same word: call it JSON.
        .max_by_key(|f| (f.span.start, f.method == VerdictMethod::Json));
    match explicit.or_else(|| prose_verdict(text)) {
        Some(f) => ParsedVerdict { verdict: f.verdict, method: Some(f.method), span: Some(f.span) },
        None => ParsedVerdict { verdict: Verdict::Unparsed, method: None, span: None },
    }
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

fn flip(v: Verdict) -> Verdict {
    match v {
        Verdict::Correct => Verdict::Incorrect,
        Verdict::Incorrect => Verdict::Correct,
        Verdict::Unparsed => Verdict::Unparsed,
    }
}

/// Offset of the first non-decoration character at or after `from`.
fn skip_decor(text: &str, from: usize) -> Option<usize> {
    let rest = text.get(from..)?;
    Some(from + rest.len() - rest.trim_start_matches(is_decor).len())
}

/// The verdict whose word starts `text[from..]` after decoration, and that word's span;
/// "not correct" is Incorrect, with the span on "correct".
fn leading_verdict(text: &str, from: usize) -> Option<(Verdict, Range<usize>)> {
    let start = skip_decor(text, from)?;
    let (word, _) = leading_word(text.get(start..)?);
    if !word.eq_ignore_ascii_case("not") {
        return verdict_word(word).map(|v| (v, start..start + word.len()));
    }
    let start = skip_decor(text, start + word.len())?;
    let (negated, _) = leading_word(text.get(start..)?);
    verdict_word(negated).map(|v| (flip(v), start..start + negated.len()))
}

/// The verdict after a label word ending at `end`: `: X` or `= X` (decoration allowed).
fn verdict_after_label(text: &str, end: usize) -> Option<(Verdict, Range<usize>)> {
    let rest = text.get(end..)?;
    let value = rest.trim_start_matches(|c: char| is_decor(c) && c != ':');
    let value = value.strip_prefix(':').or_else(|| value.strip_prefix('='))?;
    leading_verdict(text, text.len() - value.len())
}

/// `Verdict: correct`, `**Verdict:** [Incorrect]`, `"verdict": "wrong"`.
fn labelled_verdicts(text: &str) -> Vec<Found> {
    find_words_ci(text, "verdict")
        .into_iter()
        .filter_map(|at| {
            let (verdict, span) = verdict_after_label(text, at + "verdict".len())?;
            Some(Found { span, verdict, method: VerdictMethod::Labelled })
        })
        .collect()
}

/// The longest `[[…]]` label looked at; a bound keeps "[[[[…" without "]]" linear.
const MAX_BRACKET: usize = 40;

/// CriticBench: `[[correct]]`, `[[wrong]]`, `[[incorrect]]`.
fn bracket_verdicts(text: &str) -> Vec<Found> {
    // Every `]]` (overlapping ones too), found once: a walk from each `[[` would be cheap but
    // adds up on "[[[[…" (a megabyte of it took seconds in a debug build).
    let bytes = text.as_bytes();
    let closes: Vec<usize> = text
        .match_indices(']')
        .map(|(i, _)| i)
        .filter(|&i| bytes.get(i + 1) == Some(&b']'))
        .collect();
    let mut next_close = 0;
    text.match_indices("[[")
        .filter_map(|(at, _)| {
            let inner_at = at + 2;
            while closes.get(next_close).is_some_and(|&c| c < inner_at) {
                next_close += 1;
            }
            let close = closes.get(next_close)? - inner_at;
            if close >= MAX_BRACKET {
                return None;
            }
            let inner = text.get(inner_at..inner_at + close)?;
            let pad = |c: char| c.is_whitespace() || "*_\"'`".contains(c);
            let lead = inner.len() - inner.trim_start_matches(pad).len();
            let word = inner.trim_matches(pad);
            let start = inner_at + lead;
            let verdict = verdict_word(word)?;
            Some(Found { span: start..start + word.len(), verdict, method: VerdictMethod::Bracket })
        })
        .collect()
}

const JSON_KEY: &[u8] = b"\"verdict\"";

/// JSON objects anywhere in the text with a `verdict` key. One pass pairs the braces, so
/// each candidate object is parsed once (serde's depth limit bounds nested ones).
fn json_verdicts(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    // Open braces, each with the offset of a `"verdict"` key directly inside it.
    let mut open: Vec<(usize, Option<usize>)> = Vec::new();
    let mut found = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' => open.push((i, None)),
            b'}' => {
                if let Some((start, Some(key))) = open.pop()
                    && let Some(f) = json_object_verdict(text, start..i + 1, key)
                {
                    found.push(f);
                }
            }
            b'"' if bytes
                .get(i..i + JSON_KEY.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(JSON_KEY)) =>
            {
                if let Some((_, key)) = open.last_mut() {
                    key.get_or_insert(i);
                }
            }
            _ => {}
        }
    }
    found
}

/// The verdict of the object at `object` whose `"verdict"` key starts at `key`.
fn json_object_verdict(text: &str, object: Range<usize>, key: usize) -> Option<Found> {
    let value: Value = serde_json::from_str(text.get(object)?).ok()?;
    let (_, field) = value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case("verdict"))?;
    let verdict = json_verdict(field)?;
    // The word in the text, read as a label would read it; it must say the same.
    let (said, span) = verdict_after_label(text, key + JSON_KEY.len())?;
    (said == verdict).then_some(Found { span, verdict, method: VerdictMethod::Json })
}

fn json_verdict(field: &Value) -> Option<Verdict> {
    match field {
        Value::String(s) => leading_verdict(s, 0).map(|(v, _)| v),
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
