use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::text::inert;

/// The new-run form: one line per field, the focused one highlighted.
pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut lines = vec![
        Line::styled("tab/↓ next field · S-tab/↑ previous · enter start · esc cancel", t.muted),
        Line::raw(""),
    ];
    for (i, (label, value)) in app.form.fields().into_iter().enumerate() {
        let focused = i == app.form_focus;
        let cursor = if focused { "▏" } else { "" };
        lines.push(Line::from(vec![
            Span::styled(format!("{label:>13}  "), if focused { t.key_hint } else { t.muted }),
            Span::styled(
                format!("{}{cursor}", inert(value)),
                if focused { t.selected } else { t.base },
            ),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "dataset: a bundled name (arith, choice) or a file path · protocol: critique-revise, self-correct, critic-correct, critique-only · provider: sim or openai (key from OPENAI_API_KEY) · profile: a [profiles.NAME] of the config (its endpoint, models, timeouts; the fields above win) · empty limit = all items",
        t.muted,
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::styled(" New run ", t.title));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}
