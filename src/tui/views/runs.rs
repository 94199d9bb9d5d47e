use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

use super::pct;
use crate::tui::app::App;

const SPIN: [&str; 4] = ["|", "/", "-", "\\"];

pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::styled(" Runs ", t.title));
    if app.table.rows.is_empty() {
        let msg = if app.table.loaded {
            "no runs yet — press n for a sim run"
        } else {
            "loading runs…"
        };
        frame.render_widget(Paragraph::new(msg).style(t.muted).block(block), area);
        return;
    }
    // Signs of life of the running runs, one line each under the table (at most 3).
    let signs: Vec<Line> = app
        .table
        .rows
        .iter()
        .filter_map(|r| {
            let l = app.table.live.get(&r.record.id).filter(|l| l.running)?;
            let s = l.signs?;
            let failed =
                if l.failed > 0 { format!(" · {} failed", l.failed) } else { String::new() };
            let head = format!(
                " {} {}/{}{failed} · ",
                crate::tui::text::inert(&r.record.name),
                l.done,
                l.total
            );
            let room = usize::from(area.width).saturating_sub(head.chars().count() + 1);
            Some(Line::styled(format!("{head}{}", s.fit(room)), t.muted))
        })
        .take(3)
        .collect();
    // The selected run's annotation queue: how far each annotator is.
    let mut signs = signs;
    if let Some(q) = app.selected_run().and_then(|r| r.queue.as_ref()) {
        let blind = if q.blind { " · blind" } else { "" };
        let text = format!(
            " queue: {} · {} shared{blind}",
            crate::tui::text::inert(&q.summary()),
            q.overlap
        );
        signs.push(Line::styled(text, t.muted));
    }
    let area = if signs.is_empty() {
        area
    } else {
        let [table, footer] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(signs.len() as u16)])
                .areas(area);
        frame.render_widget(Paragraph::new(signs), footer);
        table
    };
    // Narrow terminals keep the columns a reader needs most.
    let narrow = area.width < 90;
    let medium = area.width < 120;
    let keep = |i: usize| {
        if narrow { [0, 3, 5, 8].contains(&i) } else { !medium || i != 2 }
    };
    let pick = |cells: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
        cells.into_iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, c)| c).collect()
    };
    let header = Row::new(pick(
        vec![
            "name",
            "protocol",
            "provider",
            "episodes",
            "failed",
            "acc t1→t2",
            "CL",
            "CS",
            "status",
        ]
        .into_iter()
        .map(Cell::from)
        .collect(),
    ))
    .style(t.title);
    let rows: Vec<Row> = app
        .table
        .rows
        .iter()
        .map(|r| {
            let live = app.table.live.get(&r.record.id).filter(|l| l.running);
            let (episodes, status) = match live {
                Some(l) => (
                    format!("{}/{}", l.done, l.total),
                    format!(
                        "{} running {:.0}%",
                        SPIN[app.spinner % 4],
                        100.0 * l.done as f64 / l.total.max(1) as f64
                    ),
                ),
                None => (
                    // A stopped run says how far it got.
                    if r.totals.pending > 0 {
                        format!("{}/{}", r.totals.done, r.totals.total)
                    } else {
                        format!("{}", r.totals.total)
                    },
                    if r.totals.pending > 0 {
                        format!("{} pending", r.totals.pending)
                    } else {
                        r.record.status.as_str().to_string()
                    },
                ),
            };
            Row::new(pick(vec![
                Cell::from(crate::tui::text::inert(&r.record.name)),
                Cell::from(r.record.protocol.name.clone()),
                Cell::from(r.record.provider.name()),
                Cell::from(episodes),
                Cell::from(r.totals.failed.to_string()),
                Cell::from(format!("{} → {}", pct(r.acc_t1), pct(r.acc_t2))),
                Cell::from(pct(r.cl)),
                Cell::from(pct(r.cs)),
                Cell::from(status),
            ]))
            .style(if app.stats.compare == Some(r.record.id) {
                t.label
            } else {
                t.base
            })
        })
        .collect();
    let widths: Vec<Constraint> = if narrow {
        vec![
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Length(15),
            Constraint::Length(14),
        ]
    } else {
        // The name column is as wide as the longest name (at least 20), not the whole rest of a
        // wide terminal: the numbers stay next to the names they belong to.
        let longest = app
            .table
            .rows
            .iter()
            .map(|r| crate::domain::text::width(&crate::tui::text::inert(&r.record.name)))
            .max()
            .unwrap_or(0);
        let name = u16::try_from(longest.max(20) + 2).unwrap_or(u16::MAX);
        let all = [
            Constraint::Max(name),
            Constraint::Length(15),
            Constraint::Length(8),
            Constraint::Length(11),
            Constraint::Length(6),
            Constraint::Length(15),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(14),
        ];
        all.into_iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, c)| c).collect()
    };
    let table =
        Table::new(rows, widths).header(header).block(block).row_highlight_style(t.selected);
    let mut state = TableState::default().with_selected(Some(app.table.sel));
    frame.render_stateful_widget(table, area, &mut state);
}
