//! Code blocks in model text, highlighted with syntect. Sets load once; one function maps
//! syntect styles to ratatui and drops syntect's background so the theme owns it.

use std::sync::LazyLock;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, ThemeSet};
use syntect::parsing::SyntaxSet;

use super::text::{Piece, pieces};

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);
static THEMES: LazyLock<ThemeSet> = LazyLock::new(ThemeSet::load_defaults);

fn to_style(s: syntect::highlighting::Style) -> Style {
    let mut st = Style::default().fg(Color::Rgb(s.foreground.r, s.foreground.g, s.foreground.b));
    if s.font_style.contains(FontStyle::BOLD) {
        st = st.add_modifier(Modifier::BOLD);
    }
    if s.font_style.contains(FontStyle::ITALIC) {
        st = st.add_modifier(Modifier::ITALIC);
    }
    st
}

/// Highlights the lines of one fenced block; `lang` is the fence's info string. Control
/// characters stay inert: each highlighted token is split like any other model text.
pub fn code_block(lines: &[&str], lang: &str, theme: &str, escape: Style) -> Vec<Line<'static>> {
    let syntax = SYNTAXES
        .find_syntax_by_token(lang.trim())
        .unwrap_or_else(|| SYNTAXES.find_syntax_plain_text());
    let Some(theme) = THEMES.themes.get(theme).or_else(|| THEMES.themes.values().next()) else {
        return lines.iter().map(|l| Line::raw(super::text::inert(l))).collect();
    };
    let mut h = HighlightLines::new(syntax, theme);
    lines
        .iter()
        .map(|line| {
            let mut spans = vec![Span::raw("  ")];
            match h.highlight_line(&format!("{line}\n"), &SYNTAXES) {
                Ok(tokens) => {
                    for (style, text) in tokens {
                        for p in pieces(text.trim_end_matches('\n')) {
                            spans.push(match p {
                                Piece::Text(s) => Span::styled(s, to_style(style)),
                                Piece::Escape(s) => Span::styled(s, escape),
                            });
                        }
                    }
                }
                Err(_) => spans.push(Span::raw(super::text::inert(line))),
            }
            Line::from(spans)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_code_gets_colours_and_keeps_its_text() {
        let lines = code_block(
            &["fn main() { let x = 1; }"],
            "rust",
            "base16-ocean.dark",
            Style::default(),
        );
        assert_eq!(lines.len(), 1);
        let text: String = lines[0].spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "  fn main() { let x = 1; }");
        let colours: std::collections::HashSet<_> =
            lines[0].spans.iter().filter_map(|s| s.style.fg).collect();
        assert!(colours.len() > 1, "tokens differ in colour");
        assert!(
            lines[0].spans.iter().all(|s| s.style.bg.is_none()),
            "background left to the theme"
        );
    }

    #[test]
    fn escapes_inside_code_stay_inert() {
        let lines =
            code_block(&["print('\u{1b}[2J')"], "python", "base16-ocean.dark", Style::default());
        let text: String = lines[0].spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(text.contains("\\e[2J") && !text.contains('\u{1b}'), "{text}");
    }
}
