//! Model text is data, never terminal input: control characters and escape sequences become
//! visible escapes before anything reaches the screen.

/// A piece of text: plain, or a control character shown as an escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Escape(String),
}

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
}
