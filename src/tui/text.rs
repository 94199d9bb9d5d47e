//! Model text is data, never terminal input: control characters and escape sequences become
//! visible escapes before anything reaches the screen.

/// A piece of text: plain, or a control character shown as an escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Escape(String),
}

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::domain::text::escape;

/// Splits one line (no newlines) into plain and escaped pieces; tabs become spaces.
pub fn pieces(line: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut plain = String::new();
    for c in line.chars() {
        if c == '\t' {
            plain.push_str("    ");
        } else if let Some(e) = escape(c) {
            if !plain.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut plain)));
            }
            out.push(Piece::Escape(e));
        } else {
            plain.push(c);
        }
    }
    if !plain.is_empty() {
        out.push(Piece::Text(plain));
    }
    out
}

/// The whole text made inert as one string (for places without styling).
pub fn inert(text: &str) -> String {
    text.split('\n')
        .map(|l| {
            pieces(l)
                .into_iter()
                .map(|p| match p {
                    Piece::Text(t) | Piece::Escape(t) => t,
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Word-level diff of two texts: (word, -1 removed | 0 same | 1 added), by longest common
/// subsequence; long texts fall back to a whole-text replacement to stay fast.
pub fn word_diff(a: &str, b: &str) -> Vec<(String, i8)> {
    let wa: Vec<&str> = a.split_whitespace().collect();
    let wb: Vec<&str> = b.split_whitespace().collect();
    token_diff(&wa, &wb)
}

fn token_diff(wa: &[&str], wb: &[&str]) -> Vec<(String, i8)> {
    if wa.len().saturating_mul(wb.len()) > 250_000 {
        let mut out: Vec<(String, i8)> = wa.iter().map(|w| (w.to_string(), -1)).collect();
        out.extend(wb.iter().map(|w| (w.to_string(), 1)));
        return out;
    }
    let (n, m) = (wa.len(), wb.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if wa[i] == wb[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && wa[i] == wb[j] {
            out.push((wa[i].to_string(), 0));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals first, so a change reads "old → new".
            out.push((wa[i].to_string(), -1));
            i += 1;
        } else {
            out.push((wb[j].to_string(), 1));
            j += 1;
        }
    }
    out
}

/// Words of a text with its line structure: each line starts with a token `"\n"` followed
/// by the line's indent, so a diff keeps line breaks and compares indentation too.
fn line_tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let body = line.trim_start();
        // The break token is the newline before the line plus its indent: a slice of `text`.
        let start = line.len() - body.len();
        let offset = line.as_ptr() as usize - text.as_ptr() as usize;
        let brk = if offset > 0 { &text[offset - 1..offset + start] } else { &line[..start] };
        out.push(brk);
        out.extend(body.split_whitespace());
    }
    out
}

/// One column of a side-by-side diff: lines of (text, -1 removed | 0 same | 1 added) runs.
pub type DiffColumn = Vec<Vec<(String, i8)>>;

/// The first and the final text side by side: the left column keeps the removed words, the
/// right the added ones, both with their own line breaks and indents.
pub fn side_by_side(a: &str, b: &str) -> (DiffColumn, DiffColumn) {
    let diff = token_diff(&line_tokens(a), &line_tokens(b));
    let column = |keep: i8| {
        let mut lines: DiffColumn = Vec::new();
        for (tok, k) in diff.iter().filter(|(_, k)| *k == 0 || *k == keep) {
            if tok.is_empty() || tok.starts_with('\n') || tok.trim().is_empty() {
                // A break token: a new line with its indent (the first one has no newline).
                let indent = tok.trim_start_matches('\n');
                lines.push(if indent.is_empty() {
                    Vec::new()
                } else {
                    vec![(indent.to_string(), 0)]
                });
                continue;
            }
            if lines.is_empty() {
                lines.push(Vec::new());
            }
            let Some(line) = lines.last_mut() else { continue };
            // Same-kind words join into one run with a space; a space separates runs.
            let joined = line.last().is_some_and(|(t, _)| !t.trim().is_empty());
            match line.last_mut() {
                Some((run, kind)) if *kind == *k && joined => {
                    run.push(' ');
                    run.push_str(tok);
                }
                _ => {
                    if joined {
                        line.push((" ".to_string(), 0));
                    }
                    line.push((tok.to_string(), *k));
                }
            }
        }
        lines
    };
    (column(-1), column(1))
}

/// How far a wrapped line's continuation is indented: its leading spaces, plus a list
/// marker (`- `, `* `, `+ `, `1. `, `2) `) so list items hang under their text.
pub fn hanging_indent(text: &str) -> usize {
    let body = text.trim_start_matches(' ');
    let lead = text.len() - body.len();
    let marker = if ["- ", "* ", "+ "].iter().any(|m| body.starts_with(m)) {
        2
    } else {
        let digits = body.chars().take_while(char::is_ascii_digit).count();
        let rest = &body[digits..];
        if digits > 0 && digits < 4 && (rest.starts_with(". ") || rest.starts_with(") ")) {
            digits + 2
        } else {
            0
        }
    };
    lead + marker
}

/// Word-wraps one styled line to `width` columns; continuation lines keep the line's indent
/// (`hanging_indent`), so wrapped prose, lists and code stay aligned. A word wider than a
/// line is broken where it reaches the edge.
pub fn wrap_hanging(line: Line<'static>, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    if line.width() <= width {
        return vec![line];
    }
    let chars: Vec<(char, Style)> =
        line.spans.iter().flat_map(|s| s.content.chars().map(move |c| (c, s.style))).collect();
    let text: String = chars.iter().map(|(c, _)| *c).collect();
    // A very deep indent would leave no room for text.
    let indent = hanging_indent(&text).min(width / 2);
    let cw = |c: char| UnicodeWidthChar::width(c).unwrap_or(0);
    let mut rows: Vec<Vec<(char, Style)>> = Vec::new();
    let mut row: Vec<(char, Style)> = Vec::new();
    let (mut used, mut content) = (0usize, false);
    let mut i = 0;
    while i < chars.len() {
        let space = chars[i].0 == ' ';
        let mut j = i;
        while j < chars.len() && (chars[j].0 == ' ') == space {
            j += 1;
        }
        let token = &chars[i..j];
        let w: usize = token.iter().map(|(c, _)| cw(*c)).sum();
        if space {
            if used + w <= width {
                row.extend_from_slice(token);
                used += w;
            } else if content {
                // The break eats the spaces.
                rows.push(std::mem::take(&mut row));
                row = vec![(' ', Style::default()); indent];
                (used, content) = (indent, false);
            }
        } else {
            if content && used + w > width {
                rows.push(std::mem::take(&mut row));
                row = vec![(' ', Style::default()); indent];
                used = indent;
            }
            for &(c, st) in token {
                if used + cw(c) > width && used > indent {
                    rows.push(std::mem::take(&mut row));
                    row = vec![(' ', Style::default()); indent];
                    used = indent;
                }
                row.push((c, st));
                used += cw(c);
            }
            content = true;
        }
        i = j;
    }
    if content || rows.is_empty() {
        rows.push(row);
    }
    rows.into_iter()
        .map(|r| {
            let mut spans: Vec<Span<'static>> = Vec::new();
            for (c, st) in r {
                match spans.last_mut() {
                    Some(s) if s.style == st => s.content.to_mut().push(c),
                    _ => spans.push(Span::styled(c.to_string(), st)),
                }
            }
            // Trailing spaces at a break would only push the row past the edge.
            while spans.last().is_some_and(|s| s.content.trim_end_matches(' ').is_empty()) {
                if spans.len() == 1 {
                    break;
                }
                spans.pop();
            }
            if let Some(last) = spans.last_mut() {
                let kept = last.content.trim_end_matches(' ').len();
                last.content.to_mut().truncate(kept);
            }
            Line::from(spans).style(line.style)
        })
        .collect()
}

/// The word diff grouped for reading: each changed stretch as one removed run then one added
/// run, each unchanged stretch as one run, words joined by single spaces.
pub fn diff_runs(a: &str, b: &str) -> Vec<(String, i8)> {
    let mut out: Vec<(String, i8)> = Vec::new();
    let (mut removed, mut added): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let flush =
        |out: &mut Vec<(String, i8)>, removed: &mut Vec<String>, added: &mut Vec<String>| {
            if !removed.is_empty() {
                out.push((removed.join(" "), -1));
                removed.clear();
            }
            if !added.is_empty() {
                out.push((added.join(" "), 1));
                added.clear();
            }
        };
    for (w, k) in word_diff(a, b) {
        match k {
            -1 => removed.push(w),
            1 => added.push(w),
            _ => {
                flush(&mut out, &mut removed, &mut added);
                match out.last_mut() {
                    Some((run, 0)) => {
                        run.push(' ');
                        run.push_str(&w);
                    }
                    _ => out.push((w, 0)),
                }
            }
        }
    }
    flush(&mut out, &mut removed, &mut added);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_become_visible() {
        let line = "ok\u{1b}]0;pwned\u{7}\u{1b}[2Jdone\r\u{9b}\u{202e}";
        let shown = inert(line);
        assert_eq!(shown, "ok\\e]0;pwned\\x07\\e[2Jdone\\r\\u{9b}\\u{202e}");
        assert!(!shown.chars().any(|c| c.is_control()));
        assert_eq!(pieces("a\tb"), vec![Piece::Text("a    b".into())]);
        assert_eq!(pieces("\u{1b}x"), vec![Piece::Escape("\\e".into()), Piece::Text("x".into())]);
    }

    #[test]
    fn word_diff_marks_changes() {
        let d = word_diff("the answer is 41", "the answer is 42 now");
        let want: Vec<(String, i8)> =
            [("the", 0), ("answer", 0), ("is", 0), ("41", -1), ("42", 1), ("now", 1)]
                .into_iter()
                .map(|(w, k)| (w.to_string(), k))
                .collect();
        assert_eq!(d, want);
        assert!(word_diff("", "").is_empty());
    }

    #[test]
    fn diff_runs_group_each_change_into_one_removal_and_one_addition() {
        let runs = diff_runs(
            "So the total is 35 dollars. Final answer: 35",
            "Reconsidering: so the total is 5 dollars short. Final answer: 5",
        );
        let want: Vec<(String, i8)> = [
            ("So", -1),
            ("Reconsidering: so", 1),
            ("the total is", 0),
            ("35 dollars.", -1),
            ("5 dollars short.", 1),
            ("Final answer:", 0),
            ("35", -1),
            ("5", 1),
        ]
        .into_iter()
        .map(|(w, k)| (w.to_string(), k))
        .collect();
        assert_eq!(runs, want);
        assert_eq!(diff_runs("same words", "same words"), vec![("same words".to_string(), 0)]);
        assert!(diff_runs("", "").is_empty());
    }

    fn rows(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn hanging_indent_follows_spaces_and_list_markers() {
        assert_eq!(hanging_indent("plain words"), 0);
        assert_eq!(hanging_indent("    code()"), 4);
        assert_eq!(hanging_indent("  - item"), 4);
        assert_eq!(hanging_indent("* item"), 2);
        assert_eq!(hanging_indent("12. step"), 4);
        assert_eq!(hanging_indent("  3) step"), 5);
        // Not markers: a year, a dash glued to a word.
        assert_eq!(hanging_indent("2024. was"), 0);
        assert_eq!(hanging_indent("-5 degrees"), 0);
    }

    #[test]
    fn wrapped_lines_keep_their_indent() {
        let line = Line::raw("  - the answer is forty two");
        assert_eq!(
            rows(&wrap_hanging(line, 14)),
            vec!["  - the answer", "    is forty", "    two"]
        );
        // A word wider than the line breaks at the edge, under the indent.
        assert_eq!(
            rows(&wrap_hanging(Line::raw("  abcdefghij"), 6)),
            vec!["  abcd", "  efgh", "  ij"]
        );
        // A line that fits is left alone, spaces and all.
        assert_eq!(rows(&wrap_hanging(Line::raw("  short  "), 20)), vec!["  short  "]);
    }

    #[test]
    fn wrapping_keeps_each_words_style_and_counts_wide_characters() {
        let red = Style::default().fg(ratatui::style::Color::Red);
        let line = Line::from(vec![Span::raw("  plain "), Span::styled("red words", red)]);
        let wrapped = wrap_hanging(line, 12);
        assert_eq!(rows(&wrapped), vec!["  plain red", "  words"]);
        assert_eq!(wrapped[0].spans[1], Span::styled("red", red));
        assert_eq!(wrapped[1].spans[1], Span::styled("words", red));
        // 漢字 is two columns each: three fit in 6 columns, not six.
        assert_eq!(rows(&wrap_hanging(Line::raw("漢字漢字漢字"), 6)), vec!["漢字漢", "字漢字"]);
    }

    #[test]
    fn side_by_side_marks_each_side_and_keeps_lines_and_indents() {
        let (left, right) = side_by_side("Total: 35\n  so 35", "Total: 5\n  so 5 dollars");
        let run = |t: &str, k: i8| (t.to_string(), k);
        assert_eq!(
            left,
            vec![
                vec![run("Total:", 0), run(" ", 0), run("35", -1)],
                vec![run("  ", 0), run("so", 0), run(" ", 0), run("35", -1)],
            ]
        );
        assert_eq!(
            right,
            vec![
                vec![run("Total:", 0), run(" ", 0), run("5", 1)],
                vec![run("  ", 0), run("so", 0), run(" ", 0), run("5 dollars", 1)],
            ]
        );
        // A line the final attempt dropped breaks only on the left.
        let (left, right) = side_by_side("a\nb", "a b");
        assert_eq!(left.len(), 2);
        assert_eq!(right, vec![vec![run("a b", 0)]]);
    }
}
