use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::pct;
use crate::metrics::{MetricsReport, rate_keys};
use crate::tui::app::App;
use crate::tui::theme::Theme;

fn report_lines(r: &MetricsReport, t: &Theme) -> Vec<Line<'static>> {
    let s = &r.summary;
    let tr = &s.transitions;
    let mut lines = vec![
        Line::styled(
            format!(
                "{} — {} episodes, {} scored, {} failed",
                r.run, s.episodes, s.scored, s.failed
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
        let v = s.rate(key);
        let shown =
            if *key == "rss" { v.map_or("—".into(), |x| format!("{x:.3}")) } else { pct(v) };
        let ci = r.ci.get(*key).map_or(String::new(), |[lo, hi]| {
            format!("  [{}, {}]", pct(Some(*lo)), pct(Some(*hi)))
        });
        lines.push(Line::from(vec![
            Span::styled(format!("{key:<10}"), t.muted),
            Span::styled(format!("{shown:>8}"), t.base),
            Span::styled(ci, t.muted),
        ]));
    }
    if s.rounds.len() > 1 {
        lines.push(Line::raw(""));
        lines.push(Line::styled("accuracy by attempt", t.title));
        for rd in &s.rounds {
            let width = rd.acc.map_or(0, |a| (a * 30.0).round() as usize);
            lines.push(Line::from(vec![
                Span::styled(format!("t{:<3}", rd.attempt + 1), t.muted),
                Span::styled("█".repeat(width), t.role_revise),
                Span::styled(format!(" {}", pct(rd.acc)), t.base),
            ]));
        }
    }
    let c = &s.critique;
    if c.n > 0 {
        lines.push(Line::raw(""));
        lines.push(Line::styled("critique verdicts (positive = answer wrong)", t.title));
        lines.push(Line::styled("              truth wrong  truth right", t.muted));
        lines.push(Line::raw(format!("said wrong    tp {:>7}   fp {:>7}", c.tp, c.fp)));
        lines.push(Line::raw(format!("said right    fn {:>7}   tn {:>7}", c.fn_, c.tn)));
        lines.push(Line::raw(format!(
            "unparsed {}  accuracy {}  precision {}  recall {}  F1 {}",
            c.unparsed,
            pct(c.accuracy),
            pct(c.precision),
            pct(c.recall),
            pct(c.f1)
        )));
    }
    if let Some(g) = &r.grader {
        lines.push(Line::raw(""));
        lines.push(Line::raw(format!(
            "grader vs dataset labels: {} agree, {} disagree",
            g.agree, g.disagree
        )));
    }
    if r.provenance.simulated {
        lines.push(Line::raw(""));
        lines.push(Line::styled("simulated output (sim provider)", t.muted));
    }
    lines
}

pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let block = |title: String| {
        Block::default()
            .borders(Borders::ALL)
            .border_style(t.border)
            .title(Line::styled(title, t.title))
    };
    let Some((_, report)) = &app.metrics else {
        frame.render_widget(
            Paragraph::new("computing metrics…").style(t.muted).block(block(" Metrics ".into())),
            area,
        );
        return;
    };
    let (run, report) = (app.metrics.as_ref().map(|m| m.0), report.clone());
    // Never beside itself.
    let other = app.compare_report.clone().filter(|(c, _)| Some(*c) != run);
    let wrap = Wrap { trim: false };
    match other {
        Some((_, other)) => {
            let [a, b] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
            let (left, right) = (report_lines(&report, &t), report_lines(&other, &t));
            let inner = block(String::new()).inner(a);
            let longest = if left.len() >= right.len() { &left } else { &right };
            let scroll = super::clamp_scroll(&mut app.scroll, longest, inner.width, inner.height);
            let l = Paragraph::new(left).wrap(wrap).scroll((scroll, 0));
            frame.render_widget(l.block(block(" Metrics ".into())), a);
            let r = Paragraph::new(right).wrap(wrap).scroll((scroll, 0));
            frame.render_widget(r.block(block(" compared with ".into())), b);
        }
        None => {
            let lines = report_lines(&report, &t);
            let inner = block(String::new()).inner(area);
            let scroll = super::clamp_scroll(&mut app.scroll, &lines, inner.width, inner.height);
            let para = Paragraph::new(lines).wrap(wrap).scroll((scroll, 0));
            frame.render_widget(para.block(block(" Metrics ".into())), area);
        }
    }
}
