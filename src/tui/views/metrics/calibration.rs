//! The calibration panel: reliability diagram of one confidence source (its bins' mean
//! confidence against their accuracy, over the diagonal of perfect calibration), its scores,
//! and the what-if curve of revising only below a confidence threshold.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Wrap};

use super::{block, message};
use crate::fmt::num3;
use crate::metrics::WhatIf;
use crate::metrics::stats::Calibration;
use crate::tui::app::{App, calibration_sources};
use crate::tui::text::inert;
use crate::tui::theme::Theme;
use crate::tui::views::{pct, wrapped_height};

/// The what-if table goes beside the diagram from this width, else below it when tall enough.
const WHAT_IF_BESIDE: u16 = 70;
const WHAT_IF_WIDTH: u16 = 24;
/// Rows the diagram needs to stay readable.
const MIN_CHART: u16 = 10;

fn stats_lines(name: &str, c: &Calibration, t: &Theme) -> Vec<Line<'static>> {
    vec![
        Line::from(vec![
            Span::styled(format!("{}: ", inert(name)), t.title),
            Span::styled(
                format!(
                    "n {} ECE {} Brier {} AUROC {} ({} {} bins)",
                    c.n,
                    num3(Some(c.ece)),
                    num3(Some(c.brier)),
                    num3(c.auroc),
                    c.bins.len(),
                    inert(&c.scheme)
                ),
                t.base,
            ),
        ]),
        Line::styled("• bins: mean confidence vs accuracy   diagonal: calibrated", t.muted),
    ]
}

/// τ = 0, 0.2, …, 1 and "always": enough points to see the trade-off.
fn what_if_lines(w: &WhatIf, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::styled("what if revising only", t.title),
        Line::styled("below confidence τ", t.title),
        Line::styled(format!("({}, n {})", inert(&w.source), w.n), t.muted),
        Line::styled(format!("{:>6}{:>8}{:>9}", "τ", "acc", "revised"), t.muted),
    ];
    for p in w.points.iter().filter(|p| (p.tau * 10.0).round() as i64 % 2 == 0 || p.tau > 1.0) {
        let tau = if p.tau > 1.0 { "always".to_string() } else { format!("{:.1}", p.tau) };
        lines.push(Line::raw(format!(
            "{tau:>6}{:>8}{:>9}",
            pct(Some(p.acc)),
            pct(Some(p.revised))
        )));
    }
    lines
}

fn render_chart(frame: &mut Frame, area: Rect, c: &Calibration, t: &Theme) {
    let diagonal = [(0.0, 0.0), (1.0, 1.0)];
    let points: Vec<(f64, f64)> = c.bins.iter().map(|b| (b.confidence, b.accuracy)).collect();
    let axis = |title: &'static str| {
        Axis::default()
            .title(Line::styled(title, t.muted))
            .bounds([0.0, 1.0])
            .labels(["0", "0.5", "1"])
            .style(t.muted)
    };
    // Points after the line, so a bin on the diagonal stays visible.
    let chart = Chart::new(vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.muted)
            .data(&diagonal),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(t.title)
            .data(&points),
    ])
    .x_axis(axis("confidence"))
    .y_axis(axis("accuracy"));
    frame.render_widget(chart, area);
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some((_, report)) = &app.stats.report else {
        message(frame, area, t, " Calibration ", vec![Line::raw("computing metrics…")]);
        return;
    };
    let Some((name, cal)) =
        app.shown_calibration_source().and_then(|n| report.calibration.get_key_value(n))
    else {
        let why = "no critique gave a verbalised confidence or logprobs, and no item has several \
                   samples";
        let lines = vec![Line::raw("no confidence recorded"), Line::raw(""), Line::raw(why)];
        message(frame, area, t, " Calibration ", lines);
        return;
    };
    let sources = calibration_sources(report);
    let count = sources.len();
    let title = if count > 1 {
        let i = sources.iter().position(|k| k == name).unwrap_or(0) + 1;
        format!(" Calibration · {} ({i} of {count}) ", inert(name))
    } else {
        format!(" Calibration · {} ", inert(name))
    };
    let b = block(t, title);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let stats = stats_lines(name, cal, t);
    let rows = u16::try_from(wrapped_height(&stats, inner.width)).unwrap_or(u16::MAX);
    let [top, rest] =
        Layout::vertical([Constraint::Length(rows), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(Paragraph::new(stats).wrap(Wrap { trim: false }), top);
    let table = report.what_if.as_ref().map(|w| what_if_lines(w, t));
    let table_rows = table.as_ref().map_or(0, |l| u16::try_from(l.len()).unwrap_or(u16::MAX));
    match table {
        Some(lines) if rest.width >= WHAT_IF_BESIDE => {
            let [chart, _, side] = Layout::horizontal([
                Constraint::Fill(1),
                Constraint::Length(2),
                Constraint::Length(WHAT_IF_WIDTH),
            ])
            .areas(rest);
            render_chart(frame, chart, cal, t);
            frame.render_widget(Paragraph::new(lines), side);
        }
        Some(lines) if rest.height >= MIN_CHART + 1 + table_rows => {
            let [chart, _, below] = Layout::vertical([
                Constraint::Fill(1),
                Constraint::Length(1),
                Constraint::Length(table_rows),
            ])
            .areas(rest);
            render_chart(frame, chart, cal, t);
            frame.render_widget(Paragraph::new(lines), below);
        }
        // Short of room the diagram wins; the table is in `critloop metrics`.
        _ => render_chart(frame, rest, cal, t),
    }
}
