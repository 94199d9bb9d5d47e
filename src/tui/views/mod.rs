//! One render function per screen; `render` draws the frame around them.

mod episode;
mod episodes;
mod help;
mod metrics;
mod new_run;
mod runs;
mod step;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::Action;
use super::app::{App, MetricsPanel, Screen};
use super::keymap::Mode;

/// Rows `lines` take when wrapped at `width` columns.
pub fn wrapped_height(lines: &[Line], width: u16) -> usize {
    let w = usize::from(width.max(1));
    lines.iter().map(|l| l.width().div_ceil(w).max(1)).sum()
}

/// Clamps a scroll offset so the last screenful stays in view.
pub fn clamp_scroll(scroll: &mut u16, lines: &[Line], width: u16, height: u16) -> u16 {
    let max = wrapped_height(lines, width).saturating_sub(usize::from(height));
    *scroll = (*scroll).min(u16::try_from(max).unwrap_or(u16::MAX));
    *scroll
}

/// Lays out entries (a key and what it does, …) in lines of at most `width` columns, `gap`
/// spaces apart, never breaking inside an entry (one wider than a line gets a line alone).
pub fn pack(entries: Vec<Vec<Span<'static>>>, width: u16, gap: usize) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    let mut lines = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for entry in entries {
        let w: usize = entry.iter().map(Span::width).sum();
        if used > 0 && used + gap + w > width {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        if used > 0 {
            line.push(Span::raw(" ".repeat(gap)));
            used += gap;
        }
        used += w;
        line.extend(entry);
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

pub use crate::fmt::pct;

/// Draws the whole frame. Only ratatui widget state may change here.
pub fn render(app: &mut App, frame: &mut Frame) {
    let [head, body, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_header(app, frame, head);
    match app.screen {
        Screen::Runs => runs::render(app, frame, body),
        Screen::Episodes => episodes::render(app, frame, body),
        Screen::Episode => episode::render(app, frame, body),
        Screen::Metrics => metrics::render(app, frame, body),
        Screen::Help => help::render(app, frame, body),
        Screen::Step => step::render(app, frame, body),
        Screen::NewRun => new_run::render(app, frame, body),
    }
    render_status(app, frame, status);
    render_hints(app, frame, hints);
}

fn render_header(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let tab = |name: &str, on: bool| {
        Span::styled(format!(" {name} "), if on { t.selected } else { t.muted })
    };
    let mut spans = vec![
        Span::styled("critloop ", t.title),
        tab("1 Runs", app.screen == Screen::Runs),
        tab("2 Episodes", matches!(app.screen, Screen::Episodes | Screen::Episode)),
        tab("3 Metrics", app.screen == Screen::Metrics),
        tab("? Help", app.screen == Screen::Help),
    ];
    if let Some(r) = app.current_run() {
        spans.push(Span::styled(format!("  run {}", super::text::inert(&r.record.name)), t.base));
        if r.record.provider.name() == "sim" {
            spans.push(Span::styled(" [simulated]", t.muted));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(t.base), area);
}

fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let line = match &app.status {
        Some((msg, true)) => Line::from(Span::styled(super::text::inert(msg), t.alert_error)),
        Some((msg, false)) => Line::from(Span::styled(super::text::inert(msg), t.alert_info)),
        None => {
            let who = app
                .annotator
                .as_deref()
                .map_or("annotator not named yet: the first label asks".to_string(), |a| {
                    format!("annotator {}", super::text::inert(a))
                });
            Line::from(Span::styled(who, t.muted))
        }
    };
    // The name prompt takes the status line while it is open.
    let line = match &app.naming {
        Some(n) => Line::from(vec![
            Span::styled("your name for labels: ", t.title),
            Span::styled(format!("{}▏", super::text::inert(&n.text)), t.base),
            Span::styled("  enter saves · esc cancels", t.muted),
        ]),
        None => line,
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The keys of the current screen, drawn from the keymap; most useful first, as narrow
/// terminals cut the end.
fn hint_actions(app: &App) -> Vec<Action> {
    match app.screen {
        Screen::Runs => vec![
            Action::Open,
            Action::MetricsScreen,
            Action::Step,
            Action::NewRun,
            Action::NewDemoRun,
            Action::ResumeRun,
            Action::CancelRun,
            Action::Compare,
            Action::Help,
            Action::Quit,
        ],
        Screen::Episodes => vec![
            Action::Open,
            Action::NextUnlabelled,
            Action::NextFilter,
            Action::Search,
            Action::Sort,
            Action::JumpToItem,
            Action::MetricsScreen,
            Action::Back,
            Action::Help,
            Action::Quit,
        ],
        Screen::Episode => vec![
            Action::NextTurn,
            Action::NextUnlabelled,
            Action::Undo,
            Action::LabelHistory,
            Action::SideBySide,
            Action::NextEpisode,
            Action::AutoAdvance,
            Action::Blind,
            Action::Back,
            Action::Help,
        ],
        Screen::Metrics => {
            let mut keys = vec![Action::NextPanel];
            if app.stats.panel == MetricsPanel::Calibration {
                keys.push(Action::NextSource);
            }
            // The tab bar names 1 and 2 too: they come last.
            keys.extend([
                Action::Back,
                Action::Help,
                Action::Quit,
                Action::RunsScreen,
                Action::EpisodesScreen,
            ]);
            keys
        }
        Screen::Help => vec![Action::Back, Action::Quit],
        Screen::NewRun => Vec::new(),
        Screen::Step => vec![
            Action::StepNext,
            Action::WriteCritique,
            Action::TypeQuestion,
            Action::Up,
            Action::Down,
            Action::Back,
            Action::Help,
        ],
    }
}

/// The footer: as many whole `key what` hints as fit, then `? more keys` when some did not.
fn render_hints(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mode: Mode = app.mode();
    let hints: Vec<(String, String)> = hint_actions(app)
        .into_iter()
        .filter_map(|a| app.keymap.key_for(mode, &a).map(|k| (k, format!(" {}  ", a.describe()))))
        .collect();
    let more =
        app.keymap.key_for(mode, &crate::tui::Action::Help).map(|k| (k, " more keys".to_string()));
    let width = usize::from(area.width);
    let cols =
        |(k, d): &(String, String)| crate::domain::text::width(k) + crate::domain::text::width(d);
    let all: usize = hints.iter().map(cols).sum();
    let room =
        if all > width { width.saturating_sub(more.as_ref().map_or(0, cols)) } else { width };
    let mut spans = Vec::new();
    let mut used = 0;
    let mut cut = false;
    for h in &hints {
        if used + cols(h) > room {
            cut = true;
            break;
        }
        used += cols(h);
        spans.push(Span::styled(h.0.clone(), t.key_hint));
        spans.push(Span::styled(h.1.clone(), t.muted));
    }
    if cut && let Some((k, d)) = more {
        spans.push(Span::styled(k, t.key_hint));
        spans.push(Span::styled(d, t.muted));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
