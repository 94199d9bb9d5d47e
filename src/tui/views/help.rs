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
    let mut lines = Vec::new();
    for mode in Mode::ALL {
        lines.push(Line::styled(format!("{} keys", mode.name()), t.title));
        let mut spans = Vec::new();
        for (action, keys) in app.keymap.bindings(mode) {
            let k: Vec<String> = keys.iter().map(|k| k.display()).collect();
            spans.push(Span::styled(k.join("/"), t.key_hint));
            spans.push(Span::styled(format!(" {}   ", action.describe()), t.base));
        }
        lines.push(Line::from(spans));
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Labels apply to the selected turn: error_found, critique_quality, tone on critiques; followed_critique on revisions; grade_override on attempts.",
        t.muted,
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::styled(" Help ", t.title));
    let inner = block.inner(area);
    let scroll = super::clamp_scroll(&mut app.scroll, &lines, inner.width, inner.height);
    let para = Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((scroll, 0));
    frame.render_widget(para.block(block), area);
}
