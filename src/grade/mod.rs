//! Answer extraction, equivalence tiers and critique parsing (DESIGN §3).
//! Pure functions over strings: no I/O, no global state.

mod compound;
mod equiv;
mod extract;
mod normalize;
mod prose;
pub mod symbolic;
mod verdict;
mod words;

#[cfg(test)]
mod equiv_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod verdict_tests;

use crate::domain::{AnswerKind, MatchTier};

pub use equiv::{equivalent, equivalent_with_question};
pub use extract::{extract_answer, last_boxed};
pub use verdict::{ParsedVerdict, parse_confidence, parse_verdict, parse_verdict_full};

/// Switches of the grader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradeOptions {
    /// Also accept x·100 and x/100 of the reference (Qwen2.5-Math quirk); off by default.
    pub qwen_compat: bool,
}

/// The grade of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// The answer that was compared (explicit or extracted); `None` when there was none.
    pub answer: Option<String>,
    pub correct: bool,
    /// The equivalence tier that matched; `MatchTier::None` when wrong or unanswered.
    pub tier: MatchTier,
}

/// Grade `text` against `reference`, preferring `explicit_answer` over extraction.
/// A blank explicit answer counts as no answer.
pub fn grade(
    text: &str,
    explicit_answer: Option<&str>,
    reference: &str,
    kind: AnswerKind,
    opts: GradeOptions,
) -> Grade {
    grade_with_question(text, explicit_answer, reference, kind, opts, None)
}

/// [`grade`], knowing the item's question (a question asking for a percentage also accepts
/// x·100 and x/100 of the reference; see [`equivalent_with_question`]).
pub fn grade_with_question(
    text: &str,
    explicit_answer: Option<&str>,
    reference: &str,
    kind: AnswerKind,
    opts: GradeOptions,
    question: Option<&str>,
) -> Grade {
    let answer = match explicit_answer {
        Some(given) => Some(given.trim().to_string()).filter(|a| !a.is_empty()),
        None => extract_answer(text, kind),
    };
    let tier = answer
        .as_deref()
        .map_or(MatchTier::None, |a| equivalent_with_question(a, reference, kind, opts, question));
    Grade { answer, correct: tier != MatchTier::None, tier }
}

// ---- Shared scanning helpers (ASCII-only matching, so byte offsets stay on char boundaries). ----

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Offsets where `word` (lower-case ASCII) stands as a whole word in `text`, ignoring ASCII case.
pub(crate) fn find_words_ci(text: &str, word: &str) -> Vec<usize> {
    // ASCII lower-casing keeps byte offsets identical to `text`.
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    lower
        .match_indices(word)
        .map(|(at, _)| at)
        .filter(|&at| {
            let before = at.checked_sub(1).and_then(|i| bytes.get(i)).copied();
            let after = bytes.get(at + word.len()).copied();
            !before.is_some_and(is_word_byte) && !after.is_some_and(is_word_byte)
        })
        .collect()
}

/// Offset of the `}` matching the `{` at `open` (braces counted, nesting allowed).
pub(crate) fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.get(open) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The leading run of ASCII letters of `s`, and what follows it.
pub(crate) fn leading_word(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(s.len());
    s.split_at(end)
}

/// What follows `<word> is` when the whole word at `at` (of length `len`) is followed by "is".
pub(crate) fn tail_after_is(text: &str, at: usize, len: usize) -> Option<&str> {
    let rest = text.get(at + len..)?;
    let rest = rest.trim_start_matches([' ', '*', '_']);
    let (word, tail) = leading_word(rest);
    word.eq_ignore_ascii_case("is").then_some(tail)
}
