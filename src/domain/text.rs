//! Text from outside (model output, run names, server messages) is data, never terminal input:
//! one rule turns its control characters into visible escapes, for every screen and command.

use std::fmt::Write;

use unicode_width::UnicodeWidthStr;

/// The visible escape of a character that would drive a terminal or reorder text, or `None`
/// for a character shown as itself. Newline and tab are left to the caller.
pub fn escape(c: char) -> Option<String> {
    match c {
        '\n' | '\t' => None,
        '\u{1b}' => Some("\\e".into()),
        '\r' => Some("\\r".into()),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => Some(format!("\\x{:02x}", c as u32)),
        // C1 controls (0x9b is a one-byte CSI), directional marks and overrides.
        '\u{80}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => Some(format!("\\u{{{:x}}}", c as u32)),
        _ => None,
    }
}

/// `text` as one inert line: every control character escaped, newlines and tabs included.
pub fn inert_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => match escape(c) {
                Some(e) => out.push_str(&e),
                None => out.push(c),
            },
        }
    }
    out
}

/// Columns `text` takes on a terminal (wide characters count two).
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` made inert and padded with spaces to `cols` display columns (left-aligned).
pub fn pad(text: &str, cols: usize) -> String {
    let mut s = inert_line(text);
    let w = width(&s);
    if w < cols {
        let _ = write!(s, "{:1$}", "", cols - w);
    }
    s
}

/// Why `name` cannot name a run, if it cannot: it must have a visible character, no control
/// characters and at most 100 characters.
pub fn run_name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("a run name cannot be empty".into());
    }
    if name.chars().any(|c| escape(c).is_some() || c == '\n' || c == '\t') {
        return Some(format!(
            "run name {} has control characters; use letters, digits and punctuation",
            inert_line(name)
        ));
    }
    if name.chars().count() > 100 {
        return Some("a run name has at most 100 characters".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_becomes_a_visible_escape() {
        assert_eq!(
            inert_line("a\u{1b}[31mb\u{7}c\u{9b}2J\u{202e}x\u{2066}\n\t\r\u{7f}é ✓"),
            "a\\e[31mb\\x07c\\u{9b}2J\\u{202e}x\\u{2066}\\n\\t\\r\\x7fé ✓"
        );
        assert_eq!(escape('\u{200f}').as_deref(), Some("\\u{200f}"));
        assert_eq!(escape('é'), None);
        assert_eq!(escape('\n'), None);
    }

    #[test]
    fn padding_counts_display_columns() {
        assert_eq!(pad("数学", 6), "数学  ");
        assert_eq!(width(&pad("数学", 6)), 6);
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("toolong", 3), "toolong", "never cut");
        assert_eq!(pad("\u{1b}x", 4), "\\ex ");
    }

    #[test]
    fn run_names_must_be_visible_text() {
        assert!(run_name_problem("").is_some());
        assert!(run_name_problem("   ").is_some());
        assert!(run_name_problem("a\u{1b}[2Jb").unwrap().contains("\\e[2J"));
        assert!(run_name_problem("a\u{202e}b").is_some());
        assert!(run_name_problem(&"x".repeat(101)).is_some());
        assert_eq!(run_name_problem("gsm8k-qwen 7b (t=0.7) 数学"), None);
    }
}
