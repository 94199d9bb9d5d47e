//! Final-answer extraction from model text.

use super::equiv::{MAX_LEN, parse_number};
use super::normalize::normalize;
use super::{find_words_ci, matching_brace, tail_after_is};
use crate::domain::AnswerKind;

const BOX_COMMANDS: [&str; 2] = ["\\boxed", "\\fbox"];

/// The content of the last `\boxed{...}` or `\fbox{...}` (brace-balanced, nested braces ok), trimmed.
/// `None` when there is none or the last one is never closed (a truncated output).
pub fn last_boxed(text: &str) -> Option<String> {
    let open = BOX_COMMANDS.iter().filter_map(|cmd| last_box_open(text, cmd)).max()?;
    let close = matching_brace(text, open)?;
    text.get(open + 1..close).map(|s| s.trim().to_string())
}

/// Offset of the `{` opening the last `cmd{` in `text` (spaces allowed before the brace).
fn last_box_open(text: &str, cmd: &str) -> Option<usize> {
    text.match_indices(cmd)
        .filter_map(|(at, _)| {
            let after = at + cmd.len();
            let rest = text.get(after..)?;
            let trimmed = rest.trim_start();
            trimmed.starts_with('{').then(|| after + rest.len() - trimmed.len())
        })
        .last()
}

/// Final-answer extraction: `\boxed{}`, then `#### N`, then "the answer is X", then the last
/// number. For `Choice`: boxed or stated letter first, then a standalone letter.
pub fn extract_answer(text: &str, kind: AnswerKind) -> Option<String> {
    let found = match kind {
        AnswerKind::Choice => extract_choice(text).map(String::from),
        _ => extract_value(text, kind),
    };
    found.filter(|a| !a.is_empty())
}

fn extract_value(text: &str, kind: AnswerKind) -> Option<String> {
    if let Some(boxed) = last_boxed(text).filter(|b| !b.is_empty()) {
        return Some(boxed);
    }
    let stated = after_hashes(text).or_else(|| after_answer_is(text));
    match (stated, kind) {
        // "The answer is 42 apples": keep the number; a sentence without one is no answer.
        (Some(s), AnswerKind::Number) => number_part(s).or_else(|| last_number(text)),
        (Some(s), _) => Some(s),
        (None, _) => last_number(text),
    }
}

/// GSM8K: the rest of the line after the last `####`.
fn after_hashes(text: &str) -> Option<String> {
    let at = text.rfind("####")?;
    let rest = text.get(at..)?.trim_start_matches('#');
    let line = rest.lines().next().unwrap_or_default();
    Some(clean_stated(line)).filter(|s| !s.is_empty())
}

/// The sentence after the last "answer is" that says something.
fn after_answer_is(text: &str) -> Option<String> {
    find_words_ci(text, "answer")
        .into_iter()
        .rev()
        .filter_map(|at| tail_after_is(text, at, "answer".len()))
        .map(|tail| clean_stated(first_sentence(tail)))
        .find(|s| !s.is_empty())
}

/// Up to the end of the line or of the sentence (a `.` followed by whitespace).
fn first_sentence(s: &str) -> &str {
    let s = s.trim_start_matches(|c: char| c == ':' || c.is_whitespace());
    let line = s.lines().next().unwrap_or_default();
    match line.find(". ").or_else(|| line.find(".\t")) {
        Some(end) => line.get(..end).unwrap_or(line),
        None => line,
    }
}

/// Strip the decoration around a stated answer: trailing `.`, `$`, `**`, `\(`…`\)`, `\[`…`\]`.
fn clean_stated(s: &str) -> String {
    let mut cur = s.trim();
    loop {
        let next = cur
            .trim_end_matches('.')
            .trim_start_matches("**")
            .trim_end_matches("**")
            .trim_matches('$');
        let next = next.strip_prefix("\\(").unwrap_or(next);
        let next = next.strip_prefix("\\[").unwrap_or(next);
        let next = next.strip_suffix("\\)").unwrap_or(next);
        let next = next.strip_suffix("\\]").unwrap_or(next).trim();
        if next == cur {
            return cur.to_string();
        }
        cur = next;
    }
}

/// `s` when it already reads as one number, else the first number inside it.
fn number_part(s: String) -> Option<String> {
    // Past the grader's length bound a stated answer is no single number anyway.
    if s.len() <= MAX_LEN && parse_number(&normalize(&s, AnswerKind::Number)).is_some() {
        return Some(s);
    }
    number_tokens(&s).first().map(|t| t.replace(',', ""))
}

/// The last number of the text, thousands separators removed.
fn last_number(text: &str) -> Option<String> {
    number_tokens(text).last().map(|t| t.replace(',', ""))
}

/// Numbers in reading order: integers, decimals, negatives, `1,234`, `3/4`.
fn number_tokens(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match number_end(bytes, i) {
            Some(end) => {
                // Tokens start and end on ASCII bytes, so the slice is on char boundaries.
                out.extend(text.get(i..end));
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

fn digits_end(bytes: &[u8], from: usize) -> usize {
    let run = bytes.get(from..).unwrap_or_default();
    from + run.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// End of the number starting at `start`, if one starts there.
fn number_end(bytes: &[u8], start: usize) -> Option<usize> {
    let prev = start.checked_sub(1).and_then(|j| bytes.get(j)).copied();
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        // A minus glued to a preceding operand is subtraction, not a sign.
        if prev.is_some_and(|p| p.is_ascii_alphanumeric() || p == b')') {
            return None;
        }
        i += 1;
    }
    let int_end = digits_end(bytes, i);
    if int_end == i {
        // ".5" (but not the ".3" of "1.2.3").
        let frac_end = digits_end(bytes, i + 1);
        let bare_decimal = bytes.get(i) == Some(&b'.') && frac_end > i + 1;
        return (bare_decimal && !prev.is_some_and(|p| p.is_ascii_digit())).then_some(frac_end);
    }
    let mut end = int_end;
    let mut grouped = false;
    // Thousands groups: exactly three digits after each comma ("3,4" is two numbers).
    while int_end - i <= 3 && bytes.get(end) == Some(&b',') && digits_end(bytes, end + 1) == end + 4
    {
        end += 4;
        grouped = true;
    }
    let after_sep = digits_end(bytes, end + 1);
    match bytes.get(end) {
        Some(b'.') if after_sep > end + 1 => Some(after_sep),
        Some(b'/') if !grouped && after_sep > end + 1 => Some(after_sep),
        _ => Some(end),
    }
}

// ---- Multiple choice ----

fn extract_choice(text: &str) -> Option<char> {
    last_boxed(text)
        .and_then(|b| leading_choice(&b))
        .or_else(|| stated_choice(text))
        .or_else(|| standalone_choice(text))
}

/// The letter after the last "answer is" / "answer:" that names one.
fn stated_choice(text: &str) -> Option<char> {
    find_words_ci(text, "answer")
        .into_iter()
        .rev()
        .filter_map(|at| {
            let rest = text.get(at + "answer".len()..)?;
            let rest = rest.trim_start_matches(['*', '_', ' ']);
            rest.strip_prefix(':').or_else(|| tail_after_is(text, at, "answer".len()))
        })
        .find_map(leading_choice)
}

/// A letter A–E at the start of `s`, after decoration such as `(`, `**`, `$`, `\text{`, "option".
fn leading_choice(s: &str) -> Option<char> {
    let decor = |c: char| c.is_whitespace() || "*$([{:\"'`".contains(c);
    let mut t = s.trim_start_matches(decor);
    for prefix in ["\\textbf{", "\\text{", "\\mathrm{", "option ", "choice "] {
        if t.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix)) {
            t = t.get(prefix.len()..).unwrap_or_default().trim_start_matches(decor);
        }
    }
    let opened = s.get(..s.len() - t.len()).is_some_and(|p| p.contains('('));
    let mut chars = t.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    let rest = chars.as_str();
    let valid =
        ('A'..='E').contains(&letter) && !rest.starts_with(|c: char| c.is_ascii_alphanumeric());
    // "the answer is a prime": an article, not option A.
    let article = letter == 'A' && !opened && starts_like_article_tail(rest.as_bytes());
    (valid && !article).then_some(letter)
}

/// Whitespace then a lower-case letter: what follows the article "a"/"A".
fn starts_like_article_tail(rest: &[u8]) -> bool {
    let spaces = rest.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
    spaces > 0 && rest.get(spaces).is_some_and(u8::is_ascii_lowercase)
}

/// The last standalone upper-case letter A–E: `(B)`, `B)` or a bare `B`.
fn standalone_choice(text: &str) -> Option<char> {
    let bytes = text.as_bytes();
    (0..bytes.len()).rev().find_map(|i| standalone_at(bytes, i))
}

fn standalone_at(bytes: &[u8], i: usize) -> Option<char> {
    let c = *bytes.get(i)?;
    if !(b'A'..=b'E').contains(&c) {
        return None;
    }
    let prev = i.checked_sub(1).and_then(|j| bytes.get(j)).copied();
    let next = bytes.get(i + 1).copied();
    // Glued to a word, a LaTeX command, a sub/superscript or an apostrophe: not a choice.
    if prev.is_some_and(|p| p.is_ascii_alphanumeric() || b"\\^_'".contains(&p)) {
        return None;
    }
    if next.is_some_and(|n| n.is_ascii_alphanumeric() || n == b'_' || n == b'\'') {
        return None;
    }
    let parenthesised = prev == Some(b'(') && next == Some(b')');
    let tail = bytes.get(i + 1..).unwrap_or_default();
    if c == b'A' && !parenthesised && starts_like_article_tail(tail) {
        return None;
    }
    Some(char::from(c))
}

/// The letter when `s` is nothing but a choice letter in decoration: `B`, `(b)`, `B.`, `\text{(B)}`.
pub(crate) fn sole_choice_letter(s: &str) -> Option<char> {
    let mut rest = s.to_string();
    for cmd in ["\\textbf", "\\text", "\\mathrm"] {
        rest = rest.replace(cmd, "");
    }
    let mut letters = rest.chars().filter(|c| !c.is_whitespace() && !"${}()[]*.:".contains(*c));
    let letter = letters.next()?;
    (letter.is_ascii_alphabetic() && letters.next().is_none()).then(|| letter.to_ascii_uppercase())
}
