use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::keymap::Mode;

/// Every binding of every mode, straight from the keymap (so it is never out of date).
pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let theme = app.theme.clone();
    let t = &theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::styled(" Help ", t.title));
    let inner = block.inner(area);
    let mut lines = Vec::new();
    for mode in Mode::ALL {
        lines.push(Line::styled(format!("{} keys", mode.name()), t.title));
        let entries: Vec<Vec<Span<'static>>> = app
            .keymap
            .bindings(mode)
            .iter()
            .map(|(action, keys)| {
                let k: Vec<String> = keys.iter().map(|k| k.display()).collect();
                vec![
                    Span::styled(k.join("/"), t.key_hint),
                    Span::styled(format!(" {}", action.describe()), t.base),
                ]
            })
            .collect();
        lines.extend(super::pack(entries, inner.width, 3));
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Labels apply to the selected turn: error_found, critique_quality, tone on critiques; followed_critique on revisions; grade_override on attempts.",
        t.muted,
    ));
    let scroll = super::clamp_scroll(&mut app.scroll, &lines, inner.width, inner.height);
    let para = Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((scroll, 0));
    frame.render_widget(para.block(block), area);
}
