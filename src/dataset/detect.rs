//! Format auto-detection from the keys of the first record.

use serde_json::{Map, Value};

use super::Format;

/// The format a JSONL file's first object looks like; `Generic` when nothing specific matches
/// (the generic loader then reports clearly which mapped field is missing).
pub fn detect_object(obj: &Map<String, Value>) -> Format {
    let has = |k: &str| obj.contains_key(k);
    if has("previous_score") && has("reasoning") {
        Format::RealCritic
    } else if has("response_label") {
        Format::CriticBench
    } else if has("problem") && has("solution") {
        Format::Math
    } else if has("question")
        && obj.get("answer").and_then(Value::as_str).is_some_and(|a| a.contains("####"))
    {
        Format::Gsm8k
    } else if has("id") && has("question") && has("reference") {
        Format::Critloop
    } else {
        Format::Generic
    }
}

/// Detect from a whole text: JSONL by its first non-blank line, CSV by its first row (only
/// GSM8K and MATH, whose fields are text; else generic). An unparsable first line also yields
/// `Generic`, whose loader then reports the bad JSON.
pub fn detect_text(text: &str, is_csv: bool) -> Format {
    if is_csv {
        return match super::csv_rows("", text).ok().and_then(|rows| rows.into_iter().next()) {
            Some((_, Ok(obj))) => detect_csv(&obj),
            _ => Format::Generic,
        };
    }
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    match first.and_then(|l| serde_json::from_str::<Value>(l).ok()) {
        Some(Value::Object(obj)) => detect_object(&obj),
        _ => Format::Generic,
    }
}

/// The format of a CSV file whose first row is `obj` (every cell a string).
pub fn detect_csv(obj: &Map<String, Value>) -> Format {
    match detect_object(obj) {
        f @ (Format::Gsm8k | Format::Math) => f,
        _ => Format::Generic,
    }
}
