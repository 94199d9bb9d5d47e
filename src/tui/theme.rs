//! Semantic styles from themes/*.toml; views use these and never name a colour.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const THEMES: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub syntect_theme: String,
    pub base: Style,
    pub muted: Style,
    pub title: Style,
    pub selected: Style,
    pub key_hint: Style,
    pub alert_error: Style,
    pub alert_info: Style,
    pub role_generate: Style,
    pub role_critique: Style,
    pub role_revise: Style,
    pub role_given: Style,
    pub right: Style,
    pub wrong: Style,
    pub neutral: Style,
    pub label: Style,
    pub diff_added: Style,
    pub diff_removed: Style,
    pub escape: Style,
    pub border: Style,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underlined: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    dim: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    syntect_theme: Option<String>,
    #[serde(default)]
    styles: BTreeMap<String, StyleSpec>,
}

fn color(s: &str) -> Result<Color, String> {
    s.parse::<Color>().map_err(|_| format!("unknown colour `{s}`"))
}

fn style(spec: &StyleSpec) -> Result<Style, String> {
    let mut st = Style::default();
    if let Some(fg) = &spec.fg {
        st = st.fg(color(fg)?);
    }
    if let Some(bg) = &spec.bg {
        st = st.bg(color(bg)?);
    }
    for (on, m) in [
        (spec.bold, Modifier::BOLD),
        (spec.italic, Modifier::ITALIC),
        (spec.underlined, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
        (spec.dim, Modifier::DIM),
    ] {
        if on {
            st = st.add_modifier(m);
        }
    }
    Ok(st)
}

fn parse(name: &str, text: &str, fallback: Option<&Theme>) -> Result<Theme, String> {
    let file: ThemeFile = toml::from_str(text).map_err(|e| format!("theme {name}: {e}"))?;
    let mut styles = BTreeMap::new();
    for (k, spec) in &file.styles {
        styles.insert(k.as_str(), style(spec).map_err(|e| format!("theme {name}: {k}: {e}"))?);
    }
    let get = |k: &str, fb: fn(&Theme) -> Style| -> Style {
        styles.get(k).copied().or_else(|| fallback.map(fb)).unwrap_or_default()
    };
    let known = [
        "base",
        "muted",
        "title",
        "selected",
        "key_hint",
        "alert_error",
        "alert_info",
        "role_generate",
        "role_critique",
        "role_revise",
        "role_given",
        "right",
        "wrong",
        "neutral",
        "label",
        "diff_added",
        "diff_removed",
        "escape",
        "border",
    ];
    if let Some(bad) = styles.keys().find(|k| !known.contains(k)) {
        return Err(format!("theme {name}: unknown style `{bad}` (known: {})", known.join(", ")));
    }
    Ok(Theme {
        name: name.to_string(),
        syntect_theme: file
            .syntect_theme
            .or_else(|| fallback.map(|f| f.syntect_theme.clone()))
            .unwrap_or_else(|| "base16-ocean.dark".into()),
        base: get("base", |t| t.base),
        muted: get("muted", |t| t.muted),
        title: get("title", |t| t.title),
        selected: get("selected", |t| t.selected),
        key_hint: get("key_hint", |t| t.key_hint),
        alert_error: get("alert_error", |t| t.alert_error),
        alert_info: get("alert_info", |t| t.alert_info),
        role_generate: get("role_generate", |t| t.role_generate),
        role_critique: get("role_critique", |t| t.role_critique),
        role_revise: get("role_revise", |t| t.role_revise),
        role_given: get("role_given", |t| t.role_given),
        right: get("right", |t| t.right),
        wrong: get("wrong", |t| t.wrong),
        neutral: get("neutral", |t| t.neutral),
        label: get("label", |t| t.label),
        diff_added: get("diff_added", |t| t.diff_added),
        diff_removed: get("diff_removed", |t| t.diff_removed),
        escape: get("escape", |t| t.escape),
        border: get("border", |t| t.border),
    })
}

impl Theme {
    /// The built-in dark theme.
    pub fn dark() -> Theme {
        // The embedded file is checked by a test; an empty theme is the last resort.
        parse("dark", THEMES[0].1, None).unwrap_or_else(|_| Theme::plain())
    }

    /// No colours at all (also what snapshots see).
    pub fn plain() -> Theme {
        let s = Style::default();
        Theme {
            name: "plain".into(),
            syntect_theme: "base16-ocean.dark".into(),
            base: s,
            muted: s,
            title: s,
            selected: s.add_modifier(Modifier::REVERSED),
            key_hint: s,
            alert_error: s,
            alert_info: s,
            role_generate: s,
            role_critique: s,
            role_revise: s,
            role_given: s,
            right: s,
            wrong: s,
            neutral: s,
            label: s,
            diff_added: s,
            diff_removed: s,
            escape: s,
            border: s,
        }
    }

    /// A built-in theme by name, or a theme file by path; missing styles come from `dark`.
    pub fn load(name_or_path: &str) -> Result<Theme, String> {
        let dark = Theme::dark();
        if let Some((n, text)) = THEMES.iter().find(|(n, _)| *n == name_or_path) {
            return parse(n, text, Some(&dark));
        }
        let path = std::path::Path::new(name_or_path);
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{name_or_path}: {e}"))?;
            return parse(name_or_path, &text, Some(&dark));
        }
        let known: Vec<&str> = THEMES.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "unknown theme `{name_or_path}` (built in: {}, or a .toml path)",
            known.join(", ")
        ))
    }

    pub fn names() -> Vec<&'static str> {
        THEMES.iter().map(|(n, _)| *n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_parse_and_differ() {
        let themes: Vec<Theme> = Theme::names().iter().map(|n| Theme::load(n).unwrap()).collect();
        assert_eq!(themes.len(), 3);
        assert_ne!(themes[0].selected, themes[1].selected);
        assert_eq!(themes[0].right.bg, Some(Color::Green));
        assert_eq!(Theme::dark(), themes[0]);
    }

    #[test]
    fn user_theme_falls_back_and_bad_ones_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mine.toml");
        std::fs::write(&p, "[styles]\ntitle = { fg = \"#ff0000\" }\n").unwrap();
        let t = Theme::load(p.to_str().unwrap()).unwrap();
        assert_eq!(t.title.fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(t.selected, Theme::dark().selected);
        std::fs::write(&p, "[styles]\ntitle = { fg = \"ultraviolet\" }\n").unwrap();
        assert!(Theme::load(p.to_str().unwrap()).unwrap_err().contains("ultraviolet"));
        std::fs::write(&p, "[styles]\nsparkle = { fg = \"red\" }\n").unwrap();
        assert!(Theme::load(p.to_str().unwrap()).unwrap_err().contains("sparkle"));
        assert!(Theme::load("neon").unwrap_err().contains("high-contrast"));
    }
}
