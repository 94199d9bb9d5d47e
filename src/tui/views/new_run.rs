use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::effect::SIM_PARAMS;
use crate::tui::text::inert;

/// What the focused field takes, in one or two lines (all of it does not fit at 80×24).
fn hint(app: &App, field: &str) -> String {
    let choices = |i: usize| {
        app.form_choices(i)
            .map(|c| {
                c.iter()
                    .map(|v| if v.is_empty() { "(none)".to_string() } else { inert(v) })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let data_size = crate::dataset::bundled()
        .iter()
        .find(|b| b.name == app.new_run.form.dataset.trim())
        .map(|b| {
            let n = b.text.lines().filter(|l| !l.trim().is_empty()).count();
            format!(" ({} has {n} items)", b.name)
        })
        .unwrap_or_default();
    match field {
        "name" => "the run's name: a visible character, no controls, at most 100".into(),
        "dataset" => format!("←/→ a bundled one ({}) or type a file path", choices(1)),
        "protocol" => format!("←/→ {}", choices(2)),
        "provider" => "←/→ sim (no key, no network) or openai (key from OPENAI_API_KEY)".into(),
        "profile" if app.new_run.profiles.is_empty() => {
            "no [profiles.NAME] in the config: set base url and model here instead".into()
        }
        "profile" => {
            format!("←/→ a [profiles.NAME] of the config: {} (the fields above win)", choices(4))
        }
        "base url" => "an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1".into(),
        "model" | "critic model" => "the model name the endpoint serves".into(),
        "rounds" => "critique-revise rounds after the first answer".into(),
        "limit" => format!("the first N items of the dataset; empty = all{data_size}"),
        "samples" => "answers per item (k)".into(),
        "seed" => "the sim's and the endpoint's seed; a new one for each form".into(),
        "temperature" => "sampling temperature, 0 to 2".into(),
        "sim" => format!("sim provider only: name=value pairs of {}", SIM_PARAMS.join(", ")),
        _ => String::new(),
    }
}

/// The new-run form: one line per field, the focused one highlighted, and what it takes.
pub fn render(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut lines = vec![Line::styled(
        "tab/↓ next · S-tab/↑ previous · ←/→ choose · enter start · esc cancel",
        t.muted,
    )];
    let fields = app.new_run.form.fields();
    for (i, (label, value)) in fields.iter().enumerate() {
        let focused = i == app.new_run.focus;
        let cursor = if focused { "▏" } else { "" };
        let pick = if focused && app.form_choices(i).is_some() { "  ◂ ▸" } else { "" };
        lines.push(Line::from(vec![
            Span::styled(format!("{label:>13}  "), if focused { t.key_hint } else { t.muted }),
            Span::styled(
                format!("{}{cursor}", inert(value)),
                if focused { t.selected } else { t.base },
            ),
            Span::styled(pick, t.key_hint),
        ]));
    }
    lines.push(Line::raw(""));
    let field = fields.get(app.new_run.focus).map_or("", |(l, _)| *l);
    lines.push(Line::styled(hint(app, field), t.muted));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border)
        .title(Line::styled(" New run ", t.title));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}
