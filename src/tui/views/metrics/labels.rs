//! The labels panel: what the human labels of the open run say (counts per value and per
//! transition cell, the auto grade against grade overrides, Cohen's κ between annotators and
//! between human grade and critic verdict), and the grader against the dataset's own labels.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{block, clamp_two, message};
use crate::fmt::MISSING;
use crate::metrics::{GraderAgreement, HumanStats, MetricsReport, Transitions};
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::keymap::{Keymap, Mode};
use crate::tui::text::inert;
use crate::tui::theme::Theme;
use crate::tui::views::clamp_scroll;

/// From this inner width the agreements go beside the table.
const TWO_COLUMNS: u16 = 96;
/// Width of the table column when there are two: exactly the table's own width.
const TABLE_WIDTH: u16 = 47;
/// Ids listed after an agreement count.
const LISTED: usize = 5;
/// Room for a label value in the table; longer values are cut.
const VALUE: usize = 16;
/// Most room a label name gets in the κ rows and the key list.
const NAME: usize = 18;

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// User text made inert and cut to `width` characters, so table columns stay aligned.
fn fit(s: &str, width: usize) -> String {
    let s = inert(s);
    if s.chars().count() <= width {
        return s;
    }
    let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// ` (a, b … +2)`: the first few ids, or nothing.
fn first_few(ids: &[String]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = ids.iter().take(LISTED).map(|i| inert(i)).collect();
    let more =
        if ids.len() > LISTED { format!(" … +{}", ids.len() - LISTED) } else { String::new() };
    format!(" ({}{more})", shown.join(", "))
}

fn heading(r: &MetricsReport, t: &Theme) -> Line<'static> {
    let h = &r.human;
    let who: Vec<String> = h.annotators.iter().map(|a| inert(a)).collect();
    let n = h.annotators.len();
    Line::from(vec![
        Span::styled(format!("{} — ", inert(&r.run)), t.title),
        Span::styled(
            format!(
                "{} label{} in force ({} entries), {n} annotator{}",
                h.effective,
                plural(h.effective),
                h.labels,
                plural(n as u64)
            ),
            t.base,
        ),
        Span::styled(format!(": {}", who.join(", ")), t.muted),
    ])
}

/// Per label name, each value's count and the transition cells of its scored episodes.
fn table_lines(h: &HumanStats, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        format!(
            "{:<w$}{:>5}{:>6}{:>6}{:>6}{:>6}",
            "label / value",
            "n",
            "c→c",
            "c→w",
            "w→c",
            "w→w",
            w = VALUE + 2
        ),
        t.muted,
    )];
    for (name, values) in &h.counts {
        lines.push(Line::styled(inert(name), t.title));
        let by_value = h.by_transition.get(name);
        for (value, n) in values {
            let tr = by_value.and_then(|m| m.get(value));
            // No scored episode carries the value: no cells rather than four zeros.
            let cell =
                |f: fn(&Transitions) -> u64| tr.map_or(MISSING.to_string(), |tr| f(tr).to_string());
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<VALUE$}", fit(value, VALUE)), t.base),
                Span::styled(format!("{n:>5}"), t.base),
                Span::styled(format!("{:>6}", cell(|c| c.cc)), t.neutral),
                Span::styled(format!("{:>6}", cell(|c| c.cw)), t.wrong),
                Span::styled(format!("{:>6}", cell(|c| c.wc)), t.right),
                Span::styled(format!("{:>6}", cell(|c| c.ww)), t.neutral),
            ]));
        }
    }
    lines.push(Line::styled("cells: t1→t2 of scored episodes with the label", t.muted));
    lines
}

/// Width of a name column: the longest name (capped) and a gap.
fn name_width<'a>(names: impl Iterator<Item = &'a String>) -> usize {
    names.map(|n| inert(n).chars().count()).max().unwrap_or(0).min(NAME) + 2
}

fn grader_line(g: &GraderAgreement) -> Line<'static> {
    Line::raw(format!(
        "dataset labels vs critloop's grade: agree {} disagree {}{}",
        g.agree,
        g.disagree,
        first_few(&g.disagreements)
    ))
}

/// Auto grade against overrides, κ between annotators and against the critic, the grader.
fn agreement_lines(r: &MetricsReport, t: &Theme) -> Vec<Line<'static>> {
    let h = &r.human;
    let o = &h.overrides;
    let mut lines = vec![if o.agree + o.disagree == 0 {
        Line::styled("auto grade vs overrides: no grade_override labels", t.muted)
    } else {
        Line::raw(format!(
            "auto grade vs overrides: agree {} disagree {}{}",
            o.agree,
            o.disagree,
            first_few(&o.disagreements)
        ))
    }];
    lines.push(Line::raw(""));
    if h.agreement.is_empty() {
        lines.push(Line::styled(
            "agreement between annotators: no target labelled by two annotators",
            t.muted,
        ));
    } else {
        lines.push(Line::styled("agreement between annotators (95% intervals)", t.title));
    }
    let shared = crate::metrics::agreement_lines(h);
    for l in &shared {
        let style = if l.starts_with(' ') { t.base } else { t.muted };
        lines.push(Line::styled(inert(l), style));
    }
    if h.human_critic.is_none() {
        lines.push(Line::styled(
            "human grade vs critic verdict: no critiqued attempt has a grade_override",
            t.muted,
        ));
    }
    for (name, a) in &h.agreement {
        for p in &a.pairs {
            lines.push(Line::raw(""));
            lines.push(Line::styled(format!("confusion on {}", inert(name)), t.muted));
            for l in crate::metrics::confusion_lines(p) {
                lines.push(Line::styled(inert(&l), t.base));
            }
        }
    }
    if let Some(g) = &r.grader {
        lines.push(Line::raw(""));
        lines.push(grader_line(g));
    }
    lines
}

/// The first key of a binding, for prose; `None` when the user unbound it.
fn key(keymap: &Keymap, mode: Mode, action: &Action) -> Option<String> {
    keymap.key_for(mode, action).map(|k| inert(&k))
}

/// How to label, from the keymap so a user's own bindings are the ones named.
fn how_to_label(keymap: &Keymap, t: &Theme) -> Vec<Line<'static>> {
    let steps: Vec<String> = [
        (Mode::Global, Action::EpisodesScreen, "lists the episodes"),
        (Mode::Episodes, Action::Open, "opens one"),
        (Mode::Episode, Action::NextTurn, "selects a turn"),
    ]
    .into_iter()
    .filter_map(|(m, a, what)| key(keymap, m, &a).map(|k| format!("{k} {what}")))
    .collect();
    let mut lines =
        vec![Line::raw(format!("Label on the Episode screen ({}), with:", steps.join(", ")))];
    // Label keys grouped by name, in keymap order.
    let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (action, keys) in keymap.bindings(Mode::Episode) {
        let (Action::Label { name, value }, Some(k)) = (action, keys.first()) else { continue };
        let entry = (inert(&k.display()), inert(value));
        match groups.iter_mut().find(|(n, _)| n == name) {
            Some((_, list)) => list.push(entry),
            None => groups.push((name.clone(), vec![entry])),
        }
    }
    let w = name_width(groups.iter().map(|(n, _)| n));
    for (name, list) in groups {
        let mut spans = vec![Span::styled(format!("{:<w$}", fit(&name, NAME)), t.muted)];
        for (i, (k, value)) in list.into_iter().enumerate() {
            // Separators only between keys: a trailing gap would wrap a line that fits.
            if i > 0 {
                spans.push(Span::raw("  "));
            }
            spans.push(Span::styled(k, t.key_hint));
            spans.push(Span::styled(format!(" {value}"), t.base));
        }
        lines.push(Line::from(spans));
    }
    if let Some(u) = key(keymap, Mode::Episode, &Action::Undo) {
        lines.push(Line::from(vec![
            Span::styled(u, t.key_hint),
            Span::styled(" undoes the last label", t.muted),
        ]));
    }
    lines
}

fn empty_lines(r: &MetricsReport, keymap: &Keymap, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} — ", inert(&r.run)), t.title),
            Span::styled("no human labels yet", t.base),
        ]),
        Line::raw(""),
    ];
    lines.extend(how_to_label(keymap, t));
    if let Some(g) = &r.grader {
        lines.push(Line::raw(""));
        lines.push(grader_line(g));
    }
    lines
}

pub(super) fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let Some((_, report)) = &app.stats.report else {
        message(frame, area, &t, " Labels ", vec![Line::raw("computing metrics…")]);
        return;
    };
    let b = block(&t, " Labels ".into());
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let wrap = Wrap { trim: false };
    if report.human.labels == 0 {
        let lines = empty_lines(report, &app.keymap, &t);
        let scroll = clamp_scroll(&mut app.scroll, &lines, inner.width, inner.height);
        frame.render_widget(Paragraph::new(lines).wrap(wrap).scroll((scroll, 0)), inner);
        return;
    }
    let mut left = vec![heading(report, &t)];
    if let Some(q) = app.current_run().and_then(|r| r.queue.as_ref()) {
        let text = format!("queue: {} · {} shared", inert(&q.summary()), q.overlap);
        left.push(Line::styled(text, t.muted));
    }
    left.push(Line::raw(""));
    left.extend(table_lines(&report.human, &t));
    let right = agreement_lines(report, &t);
    if inner.width >= TWO_COLUMNS {
        let [l, _, r] = Layout::horizontal([
            Constraint::Length(TABLE_WIDTH),
            Constraint::Length(2),
            Constraint::Fill(1),
        ])
        .areas(inner);
        let scroll = clamp_two(&mut app.scroll, [(&left, l), (&right, r)]);
        frame.render_widget(Paragraph::new(left).wrap(wrap).scroll((scroll, 0)), l);
        frame.render_widget(Paragraph::new(right).wrap(wrap).scroll((scroll, 0)), r);
    } else {
        left.push(Line::raw(""));
        left.extend(right);
        let scroll = clamp_scroll(&mut app.scroll, &left, inner.width, inner.height);
        frame.render_widget(Paragraph::new(left).wrap(wrap).scroll((scroll, 0)), inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_escaped() {
        assert_eq!(fit("yes", 16), "yes");
        assert_eq!(fit("abcdefgh", 5), "abcd…");
        assert_eq!(fit("a\u{1b}[2J", 16), "a\\e[2J");
    }

    #[test]
    fn a_few_ids_then_how_many_more() {
        assert_eq!(first_few(&[]), "");
        let ids: Vec<String> = (1..=7).map(|i| format!("q{i}")).collect();
        assert_eq!(first_few(&ids[..2]), " (q1, q2)");
        assert_eq!(first_few(&ids), " (q1, q2, q3, q4, q5 … +2)");
    }
}
