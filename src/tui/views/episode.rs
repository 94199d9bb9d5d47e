use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::browse::EpisodeDetail;
use crate::domain::{Role, Turn};
use crate::protocol::attempt_indices;
use crate::tui::app::App;
use crate::tui::highlight;
use crate::tui::text::{Piece, inert, pieces, word_diff};
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

fn badges(turn: &Turn, is_attempt: bool, blind: bool, t: &Theme) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    if is_attempt {
        let ans = turn.answer.as_deref().map_or("no answer".to_string(), inert);
        out.push(Span::styled(format!(" answer {ans} "), t.neutral));
        if !blind {
            match turn.correct {
                Some(true) => out.push(Span::styled(" ✓ right ", t.right)),
                Some(false) => out.push(Span::styled(" ✗ wrong ", t.wrong)),
                None => {}
            }
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
    let mut lines = Vec::new();
    for (i, turn) in d.turns.iter().enumerate() {
        let selected = i == app.turn_sel;
        let marker = if selected { "▶ " } else { "  " };
        let mut head = vec![
            Span::styled(marker, t.key_hint),
            Span::styled(format!("{} #{i}", turn.role.as_str()), role_style(turn.role, t)),
            Span::raw(" "),
        ];
        head.extend(badges(turn, attempts.contains(&i), app.blind, t));
        let n = d.labels.iter().filter(|(_, l)| l.turn == u32::try_from(i).ok()).count();
        if n > 0 {
            head.push(Span::styled(format!(" {n} label(s)"), t.label));
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
            let spans: Vec<Span> = word_diff(&inert(&x.content), &inert(&y.content))
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

fn label_panel(d: &EpisodeDetail, app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = vec![Line::styled("labels", t.title)];
    if d.labels.is_empty() {
        lines.push(Line::styled("none yet", t.muted));
    }
    for (_, l) in &d.labels {
        let on = l.turn.map_or("ep".to_string(), |x| format!("#{x}"));
        lines.push(Line::styled(format!("{on} {}={}", inert(&l.name), inert(&l.value)), t.label));
        lines.push(Line::styled(format!("   by {}", inert(&l.annotator)), t.muted));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("keys (selected turn)", t.title));
    let role = d.turns.get(app.turn_sel).map(|x| x.role);
    for (action, keys) in app.keymap.bindings(crate::tui::keymap::Mode::Episode) {
        if let crate::tui::action::Action::Label { name, .. } = action {
            let is_attempt = attempt_indices(d.protocol, &d.turns).contains(&app.turn_sel);
            if role.is_some_and(|r| crate::tui::app::label_applies(name, r, is_attempt)) {
                let k: Vec<String> = keys.iter().map(|k| k.display()).collect();
                lines.push(Line::from(vec![
                    Span::styled(format!("{:>3} ", k.join("/")), t.key_hint),
                    Span::styled(action.describe(), t.base),
                ]));
            }
        }
    }
    lines
}

pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme.clone();
    let Some(d) = app.detail.clone() else {
        frame.render_widget(Paragraph::new("loading episode…").style(t.muted), area);
        return;
    };
    let panel_width = if area.width >= 80 { 30 } else { 0 };
    let [main, side] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(panel_width)]).areas(area);
    let [head, body] = Layout::vertical([Constraint::Length(4), Constraint::Fill(1)]).areas(main);

    let reference = if app.blind { "hidden (blind)".to_string() } else { inert(&d.item.reference) };
    let sim = if d.simulated { "  [simulated output]" } else { "" };
    let mut head_lines = vec![
        Line::from(vec![
            Span::styled(format!("item {} · sample {}", inert(&d.item.id.0), d.id.sample), t.title),
            Span::styled(
                format!("  {} · {:?}{sim}", inert(&d.run_name), d.status).to_lowercase(),
                t.muted,
            ),
        ]),
        Line::from(vec![Span::styled("reference ", t.muted), Span::styled(reference, t.base)]),
    ];
    if let Some(e) = &d.error {
        head_lines.push(Line::styled(format!("failed: {}", inert(e)), t.alert_error));
    }
    if panel_width == 0 && !d.labels.is_empty() {
        let ls: Vec<String> = d
            .labels
            .iter()
            .map(|(_, l)| format!("{}={}", inert(&l.name), inert(&l.value)))
            .collect();
        head_lines.insert(1, Line::styled(format!("labels {}", ls.join(", ")), t.label));
    }
    let q: Vec<Line> = d.item.question.lines().take(2).map(|l| text_line(l, t.base, &t)).collect();
    head_lines.extend(q);
    frame.render_widget(Paragraph::new(head_lines).wrap(Wrap { trim: false }), head);

    let block = Block::default().borders(Borders::TOP).border_style(t.border);
    let lines = turn_lines(&d, app);
    let inner = block.inner(body);
    let scroll = super::clamp_scroll(&mut app.scroll, &lines, inner.width, inner.height);
    let para = Paragraph::new(lines).wrap(Wrap { trim: false }).block(block).scroll((scroll, 0));
    frame.render_widget(para, body);
    if panel_width > 0 {
        let block = Block::default().borders(Borders::LEFT).border_style(t.border);
        frame.render_widget(
            Paragraph::new(label_panel(&d, app)).wrap(Wrap { trim: false }).block(block),
            side,
        );
    }
}
