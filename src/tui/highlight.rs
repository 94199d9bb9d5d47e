//! Code blocks in model text, highlighted with syntect. Sets load once; one function maps
//! syntect styles to ratatui and drops syntect's background so the theme owns it.

use std::sync::LazyLock;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, ThemeSet};
use syntect::parsing::SyntaxSet;

use super::text::{Piece, pieces};
use super::theme::Theme;

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

/// A model text line with control characters shown as styled escapes.
pub fn text_line(line: &str, base: Style, t: &Theme) -> Line<'static> {
    Line::from(
        pieces(line)
            .into_iter()
            .map(|p| match p {
                Piece::Text(s) => Span::styled(s, base),
                Piece::Escape(s) => Span::styled(s, t.escape),
            })
            .collect::<Vec<_>>(),
    )
}

/// A turn's text as screen lines, indented two columns under its header: Markdown-light
/// (headings stand out), fenced code highlighted by syntect. Built once per turn when the
/// episode arrives, never while drawing (syntect costs milliseconds per block).
pub fn turn_body(content: &str, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut code: Option<(String, Vec<&str>)> = None;
    for raw in content.lines() {
        if let Some(fence) = raw.trim_start().strip_prefix("```") {
            match code.take() {
                Some((lang, block)) => {
                    lines.extend(code_block(&block, &lang, &t.syntect_theme, t.escape));
                }
                None => code = Some((fence.trim().to_string(), Vec::new())),
            }
            let mut fence_line = text_line(raw, t.muted, t);
            fence_line.spans.insert(0, Span::raw("  "));
            lines.push(fence_line);
            continue;
        }
        if let Some((_, block)) = code.as_mut() {
            block.push(raw);
            continue;
        }
        let style = if raw.starts_with('#') { t.title } else { t.base };
        let mut l = text_line(raw, style, t);
        l.spans.insert(0, Span::raw("  "));
        lines.push(l);
    }
    // An unclosed fence still shows its code.
    if let Some((lang, block)) = code {
        lines.extend(code_block(&block, &lang, &t.syntect_theme, t.escape));
    }
    lines
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
