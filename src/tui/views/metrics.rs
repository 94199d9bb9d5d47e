//! The metrics screen: a row of panel tabs over the summary, calibration, comparison or labels
//! panel.

mod calibration;
mod compare;
mod labels;
mod summary;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{pct, wrapped_height};
use crate::fmt::num3;
use crate::metrics::BootstrapOptions;
use crate::tui::app::{App, MetricsPanel};
use crate::tui::theme::Theme;

pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let [tabs, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    render_tabs(app, frame, tabs);
    match app.stats.panel {
        MetricsPanel::Summary => summary::render(app, frame, body),
        MetricsPanel::Calibration => calibration::render(app, frame, body),
        MetricsPanel::Compare => compare::render(app, frame, body),
        MetricsPanel::Labels => labels::render(app, frame, body),
    }
}

/// The panel names; brackets mark the shown one, since snapshots and some terminals lack colour.
fn render_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    for p in MetricsPanel::ALL {
        let on = p == app.stats.panel;
        let text = if on { format!("[{}]", p.label()) } else { format!(" {} ", p.label()) };
        spans.push(Span::styled(text, if on { t.selected } else { t.muted }));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn block(t: &Theme, title: String) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::styled(title, t.title))
}

/// A panel with only a message in it (still computing, nothing to show).
fn message(frame: &mut Frame, area: Rect, t: &Theme, title: &str, lines: Vec<Line<'static>>) {
    let para = Paragraph::new(lines).style(t.muted).wrap(Wrap { trim: false });
    frame.render_widget(para.block(block(t, title.to_string())), area);
}

/// Clamps the shared scroll of two columns to the taller one.
fn clamp_two(scroll: &mut u16, cols: [(&[Line], Rect); 2]) -> u16 {
    let rows = cols.iter().map(|(lines, a)| wrapped_height(lines, a.width)).max().unwrap_or(0);
    let height = cols.iter().map(|(_, a)| a.height).min().unwrap_or(0);
    let max = rows.saturating_sub(usize::from(height));
    *scroll = (*scroll).min(u16::try_from(max).unwrap_or(u16::MAX));
    *scroll
}

/// A rate as shown: percent, but rss is a plain number.
fn rate_value(key: &str, v: Option<f64>) -> String {
    if key == "rss" { num3(v) } else { pct(v) }
}

/// How the intervals were drawn, for the bottom border of a panel `width` wide: the first
/// wording of `what` that fits.
fn bootstrap_note(b: &BootstrapOptions, what: &[&str], width: u16) -> String {
    if b.resamples == 0 {
        return " no intervals (bootstrap off) ".into();
    }
    let note = |w: &str| {
        format!(" {:.0}% {w}, {} resamples, seed {} ", b.level * 100.0, b.resamples, b.seed)
    };
    let room = usize::from(width.saturating_sub(2));
    let fits = what.iter().map(|w| note(w)).find(|n| n.chars().count() <= room);
    fits.unwrap_or_else(|| note(what.last().copied().unwrap_or("bootstrap")))
}

#[cfg(test)]
mod tests {
    use super::compare::points;
    use super::*;

    #[test]
    fn rates_are_percent_but_rss_is_a_number() {
        assert_eq!(rate_value("acc_t1", Some(0.5556)), "55.6%");
        assert_eq!(rate_value("rss", Some(0.95)), "0.950");
        assert_eq!(rate_value("rss", None), "—");
    }

    #[test]
    fn differences_are_signed_points() {
        assert_eq!(points("acc_t1", Some(-0.2222)), "-22.2");
        assert_eq!(points("acc_t1", Some(0.05)), "+5.0");
        // A tiny negative rounds to zero without a minus sign.
        assert_eq!(points("acc_t1", Some(-1e-17)), "+0.0");
        assert_eq!(points("rss", Some(0.3)), "+0.300");
        assert_eq!(points("cl", None), "—");
    }

    #[test]
    fn the_bootstrap_note_names_resamples_and_seed() {
        let b = BootstrapOptions::default();
        let what = ["bootstrap over items", "item bootstrap"];
        assert_eq!(
            bootstrap_note(&b, &what, 100),
            " 95% bootstrap over items, 1000 resamples, seed 0 "
        );
        assert_eq!(bootstrap_note(&b, &what, 50), " 95% item bootstrap, 1000 resamples, seed 0 ");
        let off = BootstrapOptions { resamples: 0, ..b };
        assert_eq!(bootstrap_note(&off, &what, 100), " no intervals (bootstrap off) ");
    }
}
