//! The summary panel: 2×2 transitions, rates with intervals, accuracy per attempt, critique
//! confusion and scores. Beside the marked run's summary when one is compared and there is room.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, bootstrap_note, clamp_two, message, rate_value};
use crate::metrics::{MetricsReport, rate_keys};
use crate::tui::app::App;
use crate::tui::text::inert;
use crate::tui::theme::Theme;
use crate::tui::views::{clamp_scroll, pct};

/// Below this width two summaries side by side wrap every line: show the open run only.
const SIDE_BY_SIDE: u16 = 80;
/// From this width one summary puts the critique beside the rates.
const TWO_COLUMNS: u16 = 96;
const BAR: f64 = 20.0;

const ITEMS_NOTE: [&str; 2] = ["bootstrap over items", "item bootstrap"];

/// `key  value  [lo, hi]`, the interval from the report's `ci` under `ci_key`.
fn rate_line(
    r: &MetricsReport,
    t: &Theme,
    label: &str,
    key: &str,
    v: Option<f64>,
) -> Line<'static> {
    let shown = rate_value(key, v);
    let ci = r.ci.get(key).map_or(String::new(), |[lo, hi]| {
        format!("  [{}, {}]", rate_value(key, Some(*lo)), rate_value(key, Some(*hi)))
    });
    Line::from(vec![
        Span::styled(format!("{label:<10}"), t.muted),
        Span::styled(format!("{shown:>8}"), t.base),
        Span::styled(ci, t.muted),
    ])
}

/// Heading, transitions, rates and accuracy per attempt.
fn rates_lines(r: &MetricsReport, t: &Theme) -> Vec<Line<'static>> {
    let s = &r.summary;
    let tr = &s.transitions;
    let mut lines = vec![
        Line::styled(
            format!(
                "{} — {} episodes, {} scored, {} failed",
                inert(&r.run),
                s.episodes,
                s.scored,
                s.failed
            ),
            t.title,
        ),
        Line::raw(""),
        Line::styled("             t2 right   t2 wrong", t.muted),
        Line::from(vec![
            Span::styled("t1 right   ", t.muted),
            Span::styled(format!(" c→c {:>5} ", tr.cc), t.neutral),
            Span::raw(" "),
            Span::styled(format!(" c→w {:>5} ", tr.cw), t.wrong),
        ]),
        Line::from(vec![
            Span::styled("t1 wrong   ", t.muted),
            Span::styled(format!(" w→c {:>5} ", tr.wc), t.right),
            Span::raw(" "),
            Span::styled(format!(" w→w {:>5} ", tr.ww), t.neutral),
        ]),
        Line::raw(""),
    ];
    for key in rate_keys() {
        lines.push(rate_line(r, t, key, key, s.rate(key)));
    }
    if s.rounds.len() > 1 {
        lines.push(Line::raw(""));
        lines.push(Line::styled("accuracy by attempt", t.title));
        for rd in &s.rounds {
            let width = rd.acc.map_or(0, |a| (a.clamp(0.0, 1.0) * BAR).round() as usize);
            let ci =
                r.ci.get(&format!("rounds.{}.acc", rd.attempt))
                    .map_or(String::new(), |[lo, hi]| {
                        format!("  [{}, {}]", pct(Some(*lo)), pct(Some(*hi)))
                    });
            lines.push(Line::from(vec![
                Span::styled(format!("t{:<3}", rd.attempt + 1), t.muted),
                Span::styled("█".repeat(width), t.role_revise),
                Span::styled(format!(" {}", pct(rd.acc)), t.base),
                Span::styled(ci, t.muted),
            ]));
        }
    }
    lines
}

/// Critique confusion and scores, grader agreement, the simulated-output note.
fn critique_lines(r: &MetricsReport, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let c = &r.summary.critique;
    if c.n > 0 {
        lines.push(Line::styled("critique verdicts (positive = answer wrong)", t.title));
        lines.push(Line::styled("              truth wrong  truth right", t.muted));
        lines.push(Line::raw(format!("said wrong    tp {:>7}   fp {:>7}", c.tp, c.fp)));
        lines.push(Line::raw(format!("said right    fn {:>7}   tn {:>7}", c.fn_, c.tn)));
        for (k, v) in [
            ("accuracy", c.accuracy),
            ("precision", c.precision),
            ("recall", c.recall),
            ("f1", c.f1),
        ] {
            lines.push(rate_line(r, t, k, &format!("critique.{k}"), v));
        }
        lines.push(Line::styled(format!("unparsed {} (counted in fp or fn)", c.unparsed), t.muted));
    }
    if let Some(g) = &r.grader {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::raw(format!(
            "grader vs dataset labels: {} agree, {} disagree",
            g.agree, g.disagree
        )));
    }
    if r.provenance.simulated {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled("simulated output (sim provider)", t.muted));
    }
    lines
}

fn one_column(r: &MetricsReport, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = rates_lines(r, t);
    let more = critique_lines(r, t);
    if !more.is_empty() {
        lines.push(Line::raw(""));
        lines.extend(more);
    }
    lines
}

pub(super) fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let Some((run, report)) = &app.stats.report else {
        message(frame, area, &t, " Summary ", vec![Line::raw("computing metrics…")]);
        return;
    };
    let marked = app.stats.compare_report.as_ref().filter(|(c, _)| c != run).map(|(_, r)| r);
    let wrap = Wrap { trim: false };
    match marked {
        Some(a) if area.width >= SIDE_BY_SIDE => {
            let (left, right) = (one_column(a, &t), one_column(report, &t));
            let [la, lb] =
                Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
            let pane = |name: String, r: &MetricsReport, width: u16| {
                let note = bootstrap_note(&r.provenance.bootstrap, &ITEMS_NOTE, width);
                block(&t, name).title_bottom(Line::styled(note, t.muted))
            };
            let ba = pane(format!(" A {} (marked) ", inert(&a.run)), a, la.width);
            let bb = pane(format!(" B {} (open) ", inert(&report.run)), report, lb.width);
            let scroll =
                clamp_two(&mut app.scroll, [(&left, ba.inner(la)), (&right, bb.inner(lb))]);
            frame.render_widget(Paragraph::new(left).wrap(wrap).scroll((scroll, 0)).block(ba), la);
            frame.render_widget(Paragraph::new(right).wrap(wrap).scroll((scroll, 0)).block(bb), lb);
        }
        _ => {
            let note = bootstrap_note(&report.provenance.bootstrap, &ITEMS_NOTE, area.width);
            let mut b = block(&t, " Summary ".into()).title_bottom(Line::styled(note, t.muted));
            let inner = b.inner(area);
            let mut left = rates_lines(report, &t);
            if let Some(a) = marked {
                // Too narrow for two summaries: the comparison panel has both runs' rates.
                left.insert(
                    1,
                    Line::styled(
                        format!("compared with A {}: see the Compare panel", inert(&a.run)),
                        t.muted,
                    ),
                );
            }
            let right = critique_lines(report, &t);
            if inner.width >= TWO_COLUMNS && !right.is_empty() {
                let [l, _, r] = Layout::horizontal([
                    Constraint::Length(50),
                    Constraint::Length(2),
                    Constraint::Fill(1),
                ])
                .areas(inner);
                let scroll = clamp_two(&mut app.scroll, [(&left, l), (&right, r)]);
                frame.render_widget(b, area);
                frame.render_widget(Paragraph::new(left).wrap(wrap).scroll((scroll, 0)), l);
                frame.render_widget(Paragraph::new(right).wrap(wrap).scroll((scroll, 0)), r);
            } else {
                if !right.is_empty() {
                    left.push(Line::raw(""));
                    left.extend(right);
                }
                let scroll = clamp_scroll(&mut app.scroll, &left, inner.width, inner.height);
                // The critique block may be below the fold at 80×24: say so, with the keys.
                let below = super::super::wrapped_height(&left, inner.width)
                    > usize::from(scroll) + usize::from(inner.height);
                if below {
                    b = b.title(Line::styled(" ↓ more: j / pgdn ", t.key_hint).right_aligned());
                }
                frame.render_widget(b, area);
                frame.render_widget(Paragraph::new(left).wrap(wrap).scroll((scroll, 0)), inner);
            }
        }
    }
}
