use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};

use crate::tui::app::App;
use crate::tui::text::inert;

/// Step mode: items on the left, the conversation (with the streaming turn) on the right.
pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let Some(s) = app.step.clone() else {
        frame
            .render_widget(Paragraph::new("preparing a run to step through…").style(t.muted), area);
        return;
    };
    let list_width = if area.width >= 80 { 28 } else { 16 };
    let [left, right] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Fill(1)]).areas(area);
    let items: Vec<ListItem> = s.items.iter().map(|i| ListItem::new(inert(&i.id.0))).collect();
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(t.border)
                .title(Line::styled(" items ", t.title)),
        )
        .highlight_style(t.selected);
    let mut state = ListState::default().with_selected(Some(s.sel));
    frame.render_stateful_widget(list, left, &mut state);

    let mut lines = Vec::new();
    if let Some(item) = s.items.get(s.sel) {
        for l in item.question.lines() {
            lines.push(Line::styled(inert(l), t.base));
        }
        let reference = if app.blind { "hidden (blind)".into() } else { inert(&item.reference) };
        lines.push(Line::styled(format!("reference {reference}"), t.muted));
        lines.push(Line::raw(""));
    }
    for (i, turn) in s.turns.iter().enumerate() {
        let role = super::episode::role_style(turn.role, &t);
        let mut head = vec![Span::styled(format!("{} #{i}", turn.role.as_str()), role)];
        if let Some(a) = &turn.answer {
            head.push(Span::styled(format!("  answer {}", inert(a)), t.neutral));
        }
        if !app.blind {
            match turn.correct {
                Some(true) => head.push(Span::styled(" ✓ ", t.right)),
                Some(false) => head.push(Span::styled(" ✗ ", t.wrong)),
                None => {}
            }
        }
        if let Some(v) = turn.verdict {
            head.push(Span::styled(format!("  verdict {}", v.as_str()), t.neutral));
        }
        if turn.meta.contains_key("oracle") {
            head.push(Span::styled("  (your critique)", t.label));
        }
        lines.push(Line::from(head));
        for l in turn.content.lines() {
            lines.push(Line::styled(format!("  {}", inert(l)), t.base));
        }
        lines.push(Line::raw(""));
    }
    if s.busy {
        lines.push(Line::styled("generating…", t.key_hint));
        for l in s.streaming.lines() {
            lines.push(Line::styled(format!("  {}", inert(l)), t.muted));
        }
    }
    // Typed text may have several lines; the cursor ends the last.
    let typed = |lines: &mut Vec<Line<'static>>, text: &str| {
        let rows: Vec<&str> = text.split('\n').collect();
        for (i, row) in rows.iter().enumerate() {
            let cursor = if i + 1 == rows.len() { "▏" } else { "" };
            lines.push(Line::styled(format!("  {}{cursor}", inert(row)), t.base));
        }
    };
    if let Some(text) = &s.editing {
        lines.push(Line::styled(
            "your critique (enter saves, alt-enter or ctrl-j new line, esc cancels):",
            t.key_hint,
        ));
        typed(&mut lines, text);
    }
    if let Some(text) = &s.asking {
        lines.push(Line::styled(
            "your question (`=> reference` optional; enter adds, alt-enter new line, esc cancels):",
            t.key_hint,
        ));
        typed(&mut lines, text);
    }
    if s.done {
        lines.push(Line::styled("episode complete", t.alert_info));
    }
    let title = format!(" step: {} (saved as its own run) ", inert(&s.source));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::styled(title, t.title));
    // Keep the newest text in view, counting wrapped rows.
    let inner = block.inner(right);
    let lines: Vec<Line> =
        lines.into_iter().flat_map(|l| crate::tui::text::wrap_hanging(l, inner.width)).collect();
    let mut newest = u16::MAX;
    let scroll = super::clamp_scroll(&mut newest, &lines, inner.width, inner.height);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), right);
}
