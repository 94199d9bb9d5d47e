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
use crate::tui::text::{Piece, diff_runs, inert, pieces};
use crate::tui::theme::Theme;

/// A model text line with control characters shown as styled escapes.
fn text_line(line: &str, base: Style, t: &Theme) -> Line<'static> {
    Line::from(
        pieces(line)
            .into_iter()
            .map(|p| match p {
                Piece::Text(s) => Span::styled(s, base),
                Piece::Escape(s) => Span::styled(s, t.escape),
            })
            .collect::<Vec<_>>(),
    )
}

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

fn turn_lines(d: &EpisodeDetail, app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let attempts = attempt_indices(d.protocol, &d.turns);
    let labels: Vec<Label> = d.labels.iter().map(|(_, l)| l.clone()).collect();
    let overrides = applied_overrides(&labels);
    let mut lines = Vec::new();
    for (i, turn) in d.turns.iter().enumerate() {
        let selected = i == app.turn_sel;
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
        lines.push(Line::from(head));
        if let Some(e) = &turn.error {
            lines.push(Line::styled(format!("  error: {}", inert(e)), t.alert_error));
        }
        // Markdown-light: headings stand out, fenced code is highlighted by syntect.
        let mut code: Option<(String, Vec<&str>)> = None;
        for raw in turn.content.lines() {
            if let Some(fence) = raw.trim_start().strip_prefix("```") {
                match code.take() {
                    Some((lang, block)) => {
                        lines.extend(highlight::code_block(
                            &block,
                            &lang,
                            &t.syntect_theme,
                            t.escape,
                        ));
                    }
                    None => code = Some((fence.trim().to_string(), Vec::new())),
                }
                let mut fence_line = text_line(raw, t.muted, t);
                fence_line.spans.insert(0, Span::raw("  "));
                lines.push(fence_line);
                continue;
            }
            if let Some((_, block)) = code.as_mut() {
                block.push(raw);
                continue;
            }
            let style = if raw.starts_with('#') { t.title } else { t.base };
            let mut l = text_line(raw, style, t);
            l.spans.insert(0, Span::raw("  "));
            lines.push(l);
        }
        // An unclosed fence still shows its code.
        if let Some((lang, block)) = code {
            lines.extend(highlight::code_block(&block, &lang, &t.syntect_theme, t.escape));
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
    lines
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
    let sel = u32::try_from(app.turn_sel).ok();
    let me = app.annotator.as_deref();
    let who = me.map_or("(name asked on first label)".to_string(), inert);
    let mut lines = vec![Line::styled(format!("labels · {who}"), t.title)];
    let role = d.turns.get(app.turn_sel).map_or("", |x| x.role.as_str());
    if app.show_history {
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
            let value = e.and_then(|e| e.value()).map_or("—".to_string(), inert);
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
    section(&mut lines, sel, format!("#{} {role}", app.turn_sel));
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
        format!("history of #{} {role} and the episode", app.turn_sel),
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
    let Some(d) = app.detail.clone() else {
        frame.render_widget(Paragraph::new("loading episode…").style(t.muted), area);
        return;
    };
    let panel_width = match area.width {
        110.. => 36,
        80.. => 30,
        _ => 0,
    };
    let [main, side] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(panel_width)]).areas(area);

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
    let q: Vec<Line> = d.item.question.lines().take(2).map(|l| text_line(l, t.base, &t)).collect();
    head_lines.extend(q);
    head_lines.extend(choice_lines(&d.item, &t));
    // The header grows with the options of a multiple-choice item, up to a third of the screen.
    let want = super::wrapped_height(&head_lines, main.width);
    let head_height = u16::try_from(want).unwrap_or(u16::MAX).clamp(4, (main.height / 3).max(4));
    let [head, body] =
        Layout::vertical([Constraint::Length(head_height), Constraint::Fill(1)]).areas(main);
    frame.render_widget(Paragraph::new(head_lines).wrap(Wrap { trim: false }), head);

    let block = Block::default().borders(Borders::TOP).border_style(t.border);
    let lines = turn_lines(&d, app);
    let inner = block.inner(body);
    let scroll = super::clamp_scroll(&mut app.scroll, &lines, inner.width, inner.height);
    let para = Paragraph::new(lines).wrap(Wrap { trim: false }).block(block).scroll((scroll, 0));
    frame.render_widget(para, body);
    if panel_width > 0 {
        let block = Block::default().borders(Borders::LEFT).border_style(t.border);
        let width = block.inner(side).width;
        frame.render_widget(
            Paragraph::new(label_panel(&d, app, width)).wrap(Wrap { trim: false }).block(block),
            side,
        );
    }
}
