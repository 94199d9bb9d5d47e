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

/// Longest quoted piece of outside text an error message keeps whole.
const MAX_QUOTED: usize = 80;
/// Longest error message: one readable line, whatever the input was.
const MAX_MESSAGE: usize = 1000;

/// An error message as one readable line: controls and newlines escaped ([`inert_line`]), each
/// `quoted` piece of outside text cut to 80 characters and the whole to 1000, so a 1 MB field
/// or a multi-line value cannot turn one error into a screenful.
pub fn one_line(message: &str) -> String {
    let inert = inert_line(message);
    let mut out = String::with_capacity(inert.len().min(MAX_MESSAGE + 8));
    // Odd pieces of the split are inside backquotes; an unclosed quote runs to the end.
    for (i, piece) in inert.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        match piece.char_indices().nth(MAX_QUOTED) {
            Some((cut, _)) if i % 2 == 1 => {
                out.push_str(&piece[..cut]);
                out.push('…');
            }
            _ => out.push_str(piece),
        }
        if out.len() > MAX_MESSAGE * 4 {
            break;
        }
    }
    match out.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

/// A TOML error as one line that names where: `line L, column C: message`.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = one_line(e.message().trim());
    let Some(at) = e.span().map(|s| s.start.min(text.len())) else { return message };
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {message}")
}

/// Where `bytes` stop being UTF-8, as `(line, column)` counted from 1 (column in bytes), or
/// `None` when they are UTF-8 throughout.
pub fn utf8_problem(bytes: &[u8]) -> Option<(usize, usize)> {
    let valid = std::str::from_utf8(bytes).err()?.valid_up_to();
    let before = &bytes[..valid];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Some((line, valid - start + 1))
}

/// The text of a file read as bytes, or where it stops being UTF-8 (`line L, column C: …`).
pub fn utf8_text(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let (line, column) = utf8_problem(e.as_bytes()).unwrap_or((1, 1));
        format!("line {line}, column {column}: not UTF-8 text")
    })
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
    fn error_messages_become_one_short_line() {
        assert_eq!(one_line("unknown key `a\nb`"), "unknown key `a\\nb`");
        let long = format!("unknown variant `{}`, expected `x`", "é".repeat(5000));
        let short = one_line(&long);
        assert!(short.starts_with(&format!("unknown variant `{}…`", "é".repeat(80))), "{short}");
        assert!(short.ends_with(", expected `x`"), "the tail after a long quote stays");
        assert!(one_line(&"k, ".repeat(10_000)).chars().count() <= 1001);
        assert_eq!(one_line("plain"), "plain");
    }

    #[test]
    fn toml_errors_name_line_and_column() {
        let text = "a = 1\nb = = 2\n";
        let e = toml::from_str::<toml::Table>(text).unwrap_err();
        let msg = toml_error(text, &e);
        assert!(msg.starts_with("line 2, column 5: "), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn utf8_problems_are_located() {
        assert_eq!(utf8_problem(b"ok\nfine"), None);
        assert_eq!(utf8_problem(b"ok\nab\xffc"), Some((2, 3)));
        assert_eq!(utf8_problem(b"\xc3"), Some((1, 1)));
        assert_eq!(
            utf8_text(b"a\n\n\xff".to_vec()).unwrap_err(),
            "line 3, column 1: not UTF-8 text"
        );
        assert_eq!(utf8_text(b"fine".to_vec()).unwrap(), "fine");
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
