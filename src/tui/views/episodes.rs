use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

use crate::browse::Transition;
use crate::domain::EpisodeStatus;
use crate::tui::app::{App, Filter};
use crate::tui::text::inert;

pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let mut spans = vec![Span::styled("filter ", t.muted)];
    for f in Filter::ALL {
        let style = if f == app.list.filter { t.selected } else { t.muted };
        spans.push(Span::styled(format!(" {} ", f.label()), style));
    }
    if let Some(id) = &app.list.jumping {
        spans.push(Span::styled("  go to item ", t.key_hint));
        spans.push(Span::styled(format!("{}▏", inert(id)), t.base));
    } else {
        spans.push(Span::styled("  search ", t.muted));
        let cursor = if app.list.searching { "▏" } else { "" };
        spans.push(Span::styled(format!("{}{cursor}", inert(&app.list.search)), t.base));
    }
    if app.list.jumping.is_none() {
        spans.push(Span::styled(format!("  {} shown", app.list.visible.len()), t.muted));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), bar);

    let title = app.current_run().map_or(" Episodes ".to_string(), |r| {
        format!(
            " Episodes of {} · by {} ",
            crate::tui::text::inert(&r.record.name),
            app.list.sort.label()
        )
    });
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::styled(title, t.title));
    if app.list.loading {
        frame.render_widget(Paragraph::new("loading episodes…").style(t.muted).block(block), body);
        return;
    }
    // Only the rows that fit are built, so a 50,000-episode run scrolls as fast as a small one.
    let height = body.height.saturating_sub(3) as usize;
    let start = app.list.sel.saturating_sub(height.saturating_sub(1));
    let rows: Vec<Row> = app
        .list
        .visible
        .iter()
        .skip(start)
        .take(height.max(1))
        .filter_map(|&i| app.list.rows.get(i))
        .map(|r| {
            let (cell, style) = match (r.status, r.transition) {
                (EpisodeStatus::Failed, _) => ("failed".to_string(), t.wrong),
                (EpisodeStatus::Pending, _) => ("pending".to_string(), t.muted),
                (_, Some(_)) if app.blind => (crate::fmt::MISSING.to_string(), t.muted),
                (_, Some(tr)) => (
                    tr.label().to_string(),
                    match tr {
                        Transition::WrongRight => t.right,
                        Transition::RightWrong => t.wrong,
                        _ => t.neutral,
                    },
                ),
                (_, None) => (crate::fmt::MISSING.to_string(), t.muted),
            };
            Row::new([
                Cell::from(inert(&r.item_id)),
                Cell::from(r.id.sample.to_string()),
                Cell::from(Span::styled(cell, style)),
                Cell::from(labels_cell(app, r)),
                Cell::from(inert(&r.question)),
            ])
        })
        .collect();
    let header = Row::new(["item", "k", "t1→t2", "labels", "question"]).style(t.title);
    let widths = [
        Constraint::Length(12),
        Constraint::Length(3),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Fill(1),
    ];
    let table =
        Table::new(rows, widths).header(header).block(block).row_highlight_style(t.selected);
    let mut state = TableState::default().with_selected(Some(app.list.sel - start));
    if app.list.visible.is_empty() {
        state.select(None);
    }
    frame.render_stateful_widget(table, body, &mut state);
}

/// `✓ 4` when my labels here are complete, else the number of effective labels.
fn labels_cell(app: &App, r: &crate::browse::EpisodeRow) -> String {
    let n = r.effective_labels();
    let mine = app.annotator.as_deref().is_some_and(|a| {
        r.status == crate::domain::EpisodeStatus::Done
            && r.labels.iter().any(|l| l.annotator == a)
            && r.complete_for(&app.schema, a)
    });
    match (mine, n) {
        (true, n) => format!("✓ {n}"),
        (false, 0) => String::new(),
        (false, n) => n.to_string(),
    }
}
