use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::browse::EpisodeDetail;
use crate::domain::label::{Override, applied_overrides, effective, slots};
use crate::domain::{Label, Role, Turn};
use crate::protocol::attempt_indices;
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::highlight;
use crate::tui::keymap::Mode;
use crate::tui::text::{diff_runs, inert, side_by_side as side_by_side_diff, wrap_hanging};
use crate::tui::theme::Theme;

pub fn role_style(role: Role, t: &Theme) -> Style {
    match role {
        Role::Generate => t.role_generate,
        Role::Critique => t.role_critique,
        Role::Revise => t.role_revise,
        Role::Given => t.role_given,
    }
}

/// The grade badge of an attempt: the automatic grade, or the override in force and whose.
fn grade_badge(
    auto: Option<bool>,
    over: Option<&Override<'_>>,
    t: &Theme,
) -> Option<Span<'static>> {
    let word = |c: bool| if c { "✓ correct" } else { "✗ wrong" };
    let style = |c: bool| if c { t.right } else { t.wrong };
    match (over, auto) {
        (Some(o), Some(a)) if a == o.correct => Some(Span::styled(
            format!(" {} (confirmed by {}) ", word(a), inert(&o.label.annotator)),
            style(a),
        )),
        (Some(o), auto) => {
            let was = auto.map_or("none".to_string(), |a| word(a)[4..].to_string());
            Some(Span::styled(
                format!(
                    " {} (override by {}; auto: {was}) ",
                    word(o.correct),
                    inert(&o.label.annotator)
                ),
                style(o.correct),
            ))
        }
        (None, Some(a)) => Some(Span::styled(format!(" {} ", word(a)), style(a))),
        (None, None) => None,
    }
}

fn badges(
    turn: &Turn,
    is_attempt: bool,
    over: Option<&Override<'_>>,
    blind: bool,
    t: &Theme,
) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    if is_attempt {
        let ans = turn.answer.as_deref().map_or("no answer".to_string(), inert);
        out.push(Span::styled(format!(" answer {ans} "), t.neutral));
        if !blind {
            out.extend(grade_badge(turn.correct, over, t));
        }
    }
    if let Some(v) = turn.verdict {
        // How the verdict was read tells an annotator how much to trust it.
        let how = turn.verdict_method.map_or(String::new(), |m| format!("({}) ", m.as_str()));
        out.push(Span::styled(format!(" verdict {} {how}", v.as_str()), t.neutral));
    }
    if let Some(c) = turn.confidence {
        out.push(Span::styled(format!(" conf {:.0}% ", c * 100.0), t.muted));
    }
    if let Some(p) = turn.p_true {
        out.push(Span::styled(format!(" P(true) {:.2} ", p), t.muted));
    }
    // Cut at max_tokens: the answer or verdict may be missing for that reason alone.
    if turn.finish_reason.as_deref() == Some("length") {
        out.push(Span::styled(" truncated ", t.wrong));
    }
    out
}

/// The turns as lines, and which line heads the selected turn.
fn turn_lines(d: &EpisodeDetail, app: &App) -> (Vec<Line<'static>>, usize) {
    let t = &app.theme;
    let mut selected_head = 0;
    let attempts = attempt_indices(d.protocol, &d.turns);
    let labels: Vec<Label> = d.labels.iter().map(|(_, l)| l.clone()).collect();
    let overrides = applied_overrides(&labels);
    let mut lines = Vec::new();
    for (i, turn) in d.turns.iter().enumerate() {
        let selected = i == app.reader.turn_sel;
        let marker = if selected { "▶ " } else { "  " };
        let mut head = vec![
            Span::styled(marker, t.key_hint),
            Span::styled(format!("{} #{i}", turn.role.as_str()), role_style(turn.role, t)),
            Span::raw(" "),
        ];
        let idx = u32::try_from(i).ok();
        let over = idx.and_then(|x| overrides.get(&x));
        head.extend(badges(turn, attempts.contains(&i), over, app.blind, t));
        let mine = visible_effective(&labels, app).filter(|l| l.turn == idx).count();
        if mine > 0 {
            head.push(Span::styled(
                format!(" {mine} label{}", if mine == 1 { "" } else { "s" }),
                t.label,
            ));
        }
        if selected {
            selected_head = lines.len();
        }
        lines.push(Line::from(head));
        if let Some(e) = &turn.error {
            lines.push(Line::styled(format!("  error: {}", inert(e)), t.alert_error));
        }
        // Built once when the episode arrived (`App::turn_bodies`), not on every frame.
        match app.reader.turn_bodies.get(i) {
            Some(body) => lines.extend(body.iter().cloned()),
            None => lines.extend(highlight::turn_body(&turn.content, t)),
        }
        lines.push(Line::raw(""));
    }
    if let Some((a, b)) = d.first_and_final().filter(|(a, b)| a != b)
        && let (Some(x), Some(y)) = (d.turns.get(a), d.turns.get(b))
    {
        {
            lines.push(Line::styled("word diff: first → final attempt", t.title));
            let spans: Vec<Span> = diff_runs(&inert(&x.content), &inert(&y.content))
                .into_iter()
                .map(|(w, k)| match k {
                    -1 => Span::styled(format!("[-{w}-] "), t.diff_removed),
                    1 => Span::styled(format!("{{+{w}+}} "), t.diff_added),
                    _ => Span::styled(format!("{w} "), t.muted),
                })
                .collect();
            lines.push(Line::from(spans));
        }
    }
    (lines, selected_head)
}

/// The effective labels an annotator may see: everyone's, or in blind mode only their own.
fn visible_effective<'a>(labels: &'a [Label], app: &'a App) -> impl Iterator<Item = &'a Label> {
    effective(labels)
        .into_iter()
        .filter(move |l| !app.blind || app.annotator.as_deref() == Some(&l.annotator))
}

fn clock_time(l: &Label) -> String {
    let s = l.time % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn keys_of(app: &App, name: &str, value: &str) -> String {
    let action = Action::Label { name: name.into(), value: value.into() };
    app.keymap.key_for(Mode::Episode, &action).map_or(String::new(), |k| inert(&k))
}

/// Per field of the schema that fits the selected turn (and the episode's own fields): my
/// effective value with its history count, the keys, then the others' values and what is left.
fn label_panel(d: &EpisodeDetail, app: &App, width: u16) -> Vec<Line<'static>> {
    let t = &app.theme;
    let labels: Vec<Label> = d.labels.iter().map(|(_, l)| l.clone()).collect();
    let shapes = app.detail_shapes();
    let sel = u32::try_from(app.reader.turn_sel).ok();
    let me = app.annotator.as_deref();
    let who = me.map_or("(name asked on first label)".to_string(), inert);
    let mut lines = vec![Line::styled(format!("labels · {who}"), t.title)];
    let role = d.turns.get(app.reader.turn_sel).map_or("", |x| x.role.as_str());
    if app.reader.show_history {
        return history_lines(lines, &labels, sel, role, app);
    }
    let all = slots(&labels);
    let mine = |turn: Option<u32>, name: &str| {
        all.iter()
            .find(|e| e.slot.turn == turn && e.slot.name == name && Some(e.slot.annotator) == me)
    };
    let section = |lines: &mut Vec<Line<'static>>, turn: Option<u32>, heading: String| {
        let fields: Vec<_> =
            app.schema.labels.iter().filter(|f| app.schema.fits(&f.name, turn, &shapes)).collect();
        if fields.is_empty() {
            return;
        }
        lines.push(Line::styled(heading, t.muted));
        for f in fields {
            let e = mine(turn, &f.name);
            let value = e.and_then(|e| e.value()).map_or(crate::fmt::MISSING.to_string(), inert);
            let hist = e.map_or(0, |e| e.history.len());
            let mut head = vec![
                Span::styled(
                    format!("{} ", inert(&f.name)),
                    if f.required { t.base } else { t.muted },
                ),
                Span::styled(value, t.label),
            ];
            if hist > 1 {
                head.push(Span::styled(format!(" ({hist} entries)"), t.muted));
            }
            lines.push(Line::from(head));
            // Whole `key value` entries per line: a narrow panel never splits one.
            let keys: Vec<Vec<Span<'static>>> = f
                .values
                .iter()
                .filter_map(|v| {
                    let k = keys_of(app, &f.name, &v.value);
                    (!k.is_empty()).then(|| {
                        vec![
                            Span::styled(format!(" {k}"), t.key_hint),
                            Span::styled(format!(" {}", inert(&v.value)), t.muted),
                        ]
                    })
                })
                .collect();
            lines.extend(super::pack(keys, width, 1));
        }
    };
    section(&mut lines, sel, format!("#{} {role}", app.reader.turn_sel));
    section(&mut lines, None, "episode".to_string());
    if !app.blind {
        let others: Vec<&Label> =
            effective(&labels).into_iter().filter(|l| Some(l.annotator.as_str()) != me).collect();
        if !others.is_empty() {
            lines.push(Line::styled("others", t.muted));
            for l in others {
                let on = l.turn.map_or("ep".to_string(), |x| format!("#{x}"));
                lines.push(Line::styled(
                    format!(" {} {on} {}={}", inert(&l.annotator), inert(&l.name), inert(&l.value)),
                    t.base,
                ));
            }
        }
    }
    let missing = app.missing_here();
    if me.is_some() {
        if missing.is_empty() {
            lines.push(Line::styled("✓ complete", t.right));
        } else {
            let left: Vec<String> = missing
                .iter()
                .map(|(turn, n)| {
                    format!("{n} {}", turn.map_or("ep".to_string(), |x| format!("#{x}")))
                })
                .collect();
            lines.push(Line::styled(format!("to do: {}", left.join(", ")), t.wrong));
        }
    }
    if let Some(q) = &app.queue
        && let Some(me) = me
    {
        let mine = q.of(me);
        if let Some(pos) = mine.iter().position(|id| *id == d.id) {
            lines.push(Line::styled(format!("queue {}/{}", pos + 1, mine.len()), t.muted));
        } else if !mine.is_empty() {
            lines.push(Line::styled("not in your queue", t.muted));
        }
    }
    lines
}

/// Every entry of the selected turn's labels (and the episode's), oldest first.
fn history_lines(
    mut lines: Vec<Line<'static>>,
    labels: &[Label],
    sel: Option<u32>,
    role: &str,
    app: &App,
) -> Vec<Line<'static>> {
    let t = &app.theme;
    lines.push(Line::styled(
        format!("history of #{} {role} and the episode", app.reader.turn_sel),
        t.muted,
    ));
    let mut shown: Vec<&Label> = labels
        .iter()
        .filter(|l| l.turn == sel || l.turn.is_none())
        .filter(|l| !app.blind || app.annotator.as_deref() == Some(&l.annotator))
        .collect();
    shown.sort_by_key(|l| l.stamp());
    if shown.is_empty() {
        lines.push(Line::styled("no entries", t.muted));
    }
    for l in shown {
        let on = l.turn.map_or("ep ".to_string(), |x| format!("#{x} "));
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", clock_time(l)), t.muted),
            Span::styled(format!("{on}{} ", inert(&l.annotator)), t.base),
            Span::styled(inert(&l.describe()), if l.retracted { t.muted } else { t.label }),
        ]));
    }
    let key = app.keymap.key_for(Mode::Episode, &Action::LabelHistory).unwrap_or_default();
    lines.push(Line::styled(format!("{} back to the labels", inert(&key)), t.muted));
    lines
}

/// The item's options, for multiple-choice items: `A) four  B) five`.
fn choice_lines(item: &crate::domain::Item, t: &Theme) -> Vec<Line<'static>> {
    let Some(choices) = &item.choices else { return Vec::new() };
    let spans: Vec<Span<'static>> = choices
        .iter()
        .zip('A'..='Z')
        .flat_map(|(c, letter)| {
            [
                Span::styled(format!("{letter}) "), t.key_hint),
                Span::styled(format!("{}   ", inert(c)), t.base),
            ]
        })
        .collect();
    vec![Line::from(spans)]
}

pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let Some(d) = app.reader.detail.clone() else {
        frame.render_widget(Paragraph::new("loading episode…").style(t.muted), area);
        return;
    };
    // Side by side needs the width: the label panel gives way below 120 columns (its keys
    // still work).
    let pair = d.first_and_final().filter(|(a, b)| a != b);
    let sbs = app.reader.side_by_side && pair.is_some();
    let panel_width = match area.width {
        _ if sbs && area.width < 120 => 0,
        110.. => 36,
        80.. => 30,
        _ => 0,
    };
    let [main, side] =
        Layout::horizontal([Constraint::Length(area.width - panel_width), Constraint::Fill(1)])
            .areas(area);
    let reference = if app.blind { "hidden (blind)".to_string() } else { inert(&d.item.reference) };
    let item = format!("item {} · sample {}", inert(&d.item.id.0), d.id.sample);
    let run = format!("  {} · {:?}", inert(&d.run_name), d.status).to_lowercase();
    // The whole marker when it fits on the line, the short one when not (never wrapped away).
    let room = usize::from(main.width).saturating_sub(item.chars().count() + run.chars().count());
    let sim = match (d.simulated, room >= "  [simulated output]".len()) {
        (false, _) => "",
        (true, true) => "  [simulated output]",
        (true, false) => "  [sim]",
    };
    let mut head_lines = vec![
        Line::from(vec![Span::styled(item, t.title), Span::styled(format!("{run}{sim}"), t.muted)]),
        Line::from(vec![Span::styled("reference ", t.muted), Span::styled(reference, t.base)]),
    ];
    if let Some(e) = &d.error {
        head_lines.push(Line::styled(format!("failed: {}", inert(e)), t.alert_error));
    }
    let labels: Vec<Label> = d.labels.iter().map(|(_, l)| l.clone()).collect();
    if panel_width == 0 && !labels.is_empty() {
        let ls: Vec<String> = visible_effective(&labels, app)
            .map(|l| format!("{}={}", inert(&l.name), inert(&l.value)))
            .collect();
        head_lines.insert(1, Line::styled(format!("labels {}", ls.join(", ")), t.label));
    }
    let q: Vec<Line> =
        d.item.question.lines().take(2).map(|l| highlight::text_line(l, t.base, &t)).collect();
    head_lines.extend(q);
    head_lines.extend(choice_lines(&d.item, &t));
    // The header grows with the options of a multiple-choice item, up to a third of the screen.
    let want = super::wrapped_height(&head_lines, main.width);
    let head_height = u16::try_from(want).unwrap_or(u16::MAX).clamp(4, (main.height / 3).max(4));
    let [head, body] =
        Layout::vertical([Constraint::Length(head_height), Constraint::Fill(1)]).areas(main);
    frame.render_widget(Paragraph::new(head_lines).wrap(Wrap { trim: false }), head);

    let block = Block::default().borders(Borders::TOP).border_style(t.border);
    let inner = block.inner(body);
    frame.render_widget(block, body);
    match pair.filter(|_| sbs) {
        Some((a, b)) => side_by_side(&d, app, frame, inner, (a, b)),
        None => {
            let (lines, head) = turn_lines(&d, app);
            // A turn chosen with tab scrolls into view: its header goes to the top.
            let head_row: usize =
                lines.iter().take(head).map(|l| wrap_hanging(l.clone(), inner.width).len()).sum();
            if std::mem::take(&mut app.reader.follow_turn) {
                app.scroll = u16::try_from(head_row).unwrap_or(u16::MAX);
            }
            let lines = wrap_all(lines, inner.width);
            let scroll = super::clamp_scroll(&mut app.scroll, &lines, inner.width, inner.height);
            frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
        }
    }
    if panel_width > 0 {
        let block = Block::default().borders(Borders::LEFT).border_style(t.border);
        let width = block.inner(side).width;
        frame.render_widget(
            Paragraph::new(label_panel(&d, app, width)).wrap(Wrap { trim: false }).block(block),
            side,
        );
    }
}

/// Lines wrapped to `width` with their hanging indents kept.
fn wrap_all(lines: Vec<Line<'static>>, width: u16) -> Vec<Line<'static>> {
    lines.into_iter().flat_map(|l| wrap_hanging(l, width)).collect()
}

/// The first attempt on the left, the final one on the right: removed words marked on the
/// left, added ones on the right, each column with its own line breaks; one scroll for both.
fn side_by_side(
    d: &EpisodeDetail,
    app: &mut App,
    frame: &mut Frame,
    area: Rect,
    (a, b): (usize, usize),
) {
    let t = app.theme.clone();
    let (Some(x), Some(y)) = (d.turns.get(a), d.turns.get(b)) else { return };
    let (left, right) = side_by_side_diff(&inert(&x.content), &inert(&y.content));
    let labels: Vec<Label> = d.labels.iter().map(|(_, l)| l.clone()).collect();
    let overrides = applied_overrides(&labels);
    let column = |turn: &Turn, i: usize, what: &str, words: Vec<Vec<(String, i8)>>| {
        let over = u32::try_from(i).ok().and_then(|x| overrides.get(&x));
        let mut head = vec![Span::styled(
            format!("{what} · {} #{i}", turn.role.as_str()),
            role_style(turn.role, &t),
        )];
        head.extend(badges(turn, true, over, app.blind, &t));
        let mut lines = vec![Line::from(head)];
        for words in words {
            let spans: Vec<Span<'static>> = words
                .into_iter()
                .map(|(w, k)| match k {
                    -1 => Span::styled(w, t.diff_removed),
                    1 => Span::styled(w, t.diff_added),
                    _ => Span::styled(w, t.base),
                })
                .collect();
            lines.push(Line::from(spans));
        }
        lines
    };
    let [l_area, gap, r_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(1), Constraint::Fill(1)])
            .areas(area);
    let l_lines = wrap_all(column(x, a, "first", left), l_area.width);
    let r_lines = wrap_all(column(y, b, "final", right), r_area.width);
    // One scroll for both columns, bounded by the longer one.
    let longer = if l_lines.len() >= r_lines.len() { &l_lines } else { &r_lines };
    let scroll = super::clamp_scroll(&mut app.scroll, longer, l_area.width, area.height);
    frame.render_widget(Paragraph::new(l_lines).scroll((scroll, 0)), l_area);
    let bar: Vec<Line> = (0..gap.height).map(|_| Line::styled("│", t.border)).collect();
    frame.render_widget(Paragraph::new(bar), gap);
    frame.render_widget(Paragraph::new(r_lines).scroll((scroll, 0)), r_area);
}
