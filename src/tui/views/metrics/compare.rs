//! The comparison panel: the open run B against the marked run A on their shared items, every
//! rate with its paired interval of B − A, and McNemar's exact test on t1 and t2.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, bootstrap_note, message, rate_value};
use crate::domain::RunId;
use crate::fmt::{MISSING, p_value, signed_num3, signed_points};
use crate::metrics::{Comparison, RateDiff};
use crate::tui::app::App;
use crate::tui::text::inert;
use crate::tui::theme::Theme;
use crate::tui::views::clamp_scroll;

/// Episodes listed per side of the discordant t2 pairs.
const LISTED: usize = 6;

/// A difference in points (rss: as a number), signed.
pub(super) fn points(key: &str, v: Option<f64>) -> String {
    if key == "rss" { signed_num3(v) } else { signed_points(v) }
}

fn run_name(app: &App, id: RunId) -> String {
    app.table
        .rows
        .iter()
        .find(|r| r.record.id == id)
        .map_or_else(|| format!("#{}", id.0), |r| inert(&r.record.name))
}

/// Row label: rates by key, critique scores and attempts by their short name.
fn label(key: &str) -> String {
    if let Some(k) = key.strip_prefix("critique.") {
        return k.to_string();
    }
    if let Some(j) = key.strip_prefix("rounds.").and_then(|k| k.strip_suffix(".acc")) {
        return j.parse::<u32>().map_or(key.to_string(), |j| format!("t{} acc", j + 1));
    }
    key.to_string()
}

fn row(r: &RateDiff, t: &Theme) -> Line<'static> {
    let ci = r.ci.map_or(MISSING.to_string(), |[lo, hi]| {
        format!("[{}, {}]", points(&r.key, Some(lo)), points(&r.key, Some(hi)))
    });
    Line::from(vec![
        Span::styled(format!("{:<10}", label(&r.key)), t.muted),
        Span::styled(
            format!("{:>8}{:>8}", rate_value(&r.key, r.a), rate_value(&r.key, r.b)),
            t.base,
        ),
        Span::styled(format!("{:>8}", points(&r.key, r.diff)), t.title),
        Span::styled(format!("   {ci}"), t.muted),
    ])
}

fn lines(c: &Comparison, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(vec![
            Span::styled("A ", t.muted),
            Span::styled(format!("{} (marked)", inert(&c.a)), t.title),
            Span::styled("   B ", t.muted),
            Span::styled(format!("{} (open)", inert(&c.b)), t.title),
        ]),
        Line::styled(
            format!(
                "{} shared items (only in A {}, only in B {}); B − A in points",
                c.shared_items, c.only_a, c.only_b
            ),
            t.muted,
        ),
        Line::raw(""),
        Line::styled(
            format!(
                "{:<10}{:>8}{:>8}{:>8}   {:.0}% CI, paired",
                "",
                "A",
                "B",
                "B − A",
                c.bootstrap.level * 100.0
            ),
            t.muted,
        ),
    ];
    // Per-attempt rows repeat acc_t1/acc_t2 unless there are several rounds.
    let multi_round = c.rates.iter().any(|r| r.key == "rounds.2.acc");
    let has_critique =
        c.rates.iter().any(|r| r.key.starts_with("critique.") && (r.a.is_some() || r.b.is_some()));
    let mut section = "";
    for r in &c.rates {
        let here = if r.key.starts_with("critique.") {
            "critique verdicts"
        } else if r.key.starts_with("rounds.") {
            "accuracy by attempt"
        } else {
            ""
        };
        if (here == "critique verdicts" && !has_critique)
            || (here == "accuracy by attempt" && !multi_round)
        {
            continue;
        }
        if here != section {
            lines.push(Line::styled(here.to_string(), t.title));
            section = here;
        }
        lines.push(row(r, t));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("{:<16}{:>6}{:>8}{:>8}{:>9}", "McNemar, exact", "pairs", "A only", "B only", "p"),
        t.title,
    ));
    for (key, m) in &c.mcnemar {
        lines.push(Line::raw(format!(
            "{key:<16}{:>6}{:>8}{:>8}{:>9}",
            m.pairs,
            m.a_only,
            m.b_only,
            m.p_value.map_or(MISSING.to_string(), p_value)
        )));
    }
    if let Some(m) = c.mcnemar.get("acc_t2") {
        for (who, list) in [("A", &m.a_only_episodes), ("B", &m.b_only_episodes)] {
            if list.is_empty() {
                continue;
            }
            let shown: Vec<String> = list.iter().take(LISTED).map(|e| inert(e)).collect();
            let more = if list.len() > LISTED {
                format!(" … +{}", list.len() - LISTED)
            } else {
                String::new()
            };
            let text = format!("right at t2 only in {who}: {}{more}", shown.join(", "));
            lines.push(Line::styled(text, t.muted));
        }
    }
    lines
}

pub(super) fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let (Some(b), Some(a)) = (app.run, app.stats.compare) else {
        let lines = vec![
            Line::raw("no run is marked for comparison"),
            Line::raw(""),
            Line::raw(
                "on the runs screen, space marks a run; open another run's metrics to see it against the marked one",
            ),
        ];
        message(frame, area, &t, " Compare ", lines);
        return;
    };
    if a == b {
        let lines = vec![Line::raw(
            "the marked run is the open run: mark another run on the runs screen (space)",
        )];
        message(frame, area, &t, " Compare ", lines);
        return;
    }
    let title = format!(" Compare · A {} · B {} ", run_name(app, a), run_name(app, b));
    let c = match app.current_comparison() {
        None => {
            message(frame, area, &t, &title, vec![Line::raw("computing the comparison…")]);
            return;
        }
        Some(Err(e)) => {
            let line = Line::styled(format!("comparison failed: {}", inert(e)), t.alert_error);
            message(frame, area, &t, &title, vec![line]);
            return;
        }
        Some(Ok(c)) if c.shared_items == 0 => {
            let line = Line::raw("the two runs share no items: nothing to compare");
            message(frame, area, &t, &title, vec![line]);
            return;
        }
        Some(Ok(c)) => c,
    };
    let note = bootstrap_note(&c.bootstrap, &["paired bootstrap"], area.width);
    let lines = lines(c, &t);
    let b = block(&t, title).title_bottom(Line::styled(note, t.muted));
    let inner = b.inner(area);
    let scroll = clamp_scroll(&mut app.scroll, &lines, inner.width, inner.height);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((scroll, 0)).block(b),
        area,
    );
}
