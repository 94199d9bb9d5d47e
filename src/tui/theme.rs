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
    let name = &crate::domain::text::inert_line(name);
    let file: ThemeFile = toml::from_str(text)
        .map_err(|e| format!("theme {name}: {}", crate::domain::text::toml_error(text, &e)))?;
    let mut styles = BTreeMap::new();
    for (k, spec) in &file.styles {
        styles.insert(
            k.as_str(),
            style(spec)
                .map_err(|e| crate::domain::text::one_line(&format!("theme {name}: {k}: {e}")))?,
        );
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
        return Err(crate::domain::text::one_line(&format!(
            "theme {name}: unknown style `{bad}` (known: {})",
            known.join(", ")
        )));
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
            let shown = crate::domain::text::inert_line(name_or_path);
            let bytes = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
            let text =
                crate::domain::text::utf8_text(bytes).map_err(|e| format!("theme {shown}: {e}"))?;
            return parse(name_or_path, &text, Some(&dark));
        }
        let known: Vec<&str> = THEMES.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "unknown theme `{name_or_path}` (built in: {}, or a .toml path)",
            known.join(", ")
        ))
    }

    /// A theme from the text of a theme file (missing styles from `dark`); `name` names it.
    #[doc(hidden)]
    pub fn parse_text(name: &str, text: &str) -> Result<Theme, String> {
        parse(name, text, Some(&Theme::dark()))
    }

    pub fn names() -> Vec<&'static str> {
        THEMES.iter().map(|(n, _)| *n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_theme_is_refused_in_one_line_that_names_where() {
        let err = Theme::parse_text("t.toml", "[styles]\nbase = { fg = }\n").unwrap_err();
        assert!(err.starts_with("theme t.toml: line 2, column "), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = Theme::parse_text("t.toml", "[styles]\nbase = { fg = \"no\\ncolour\" }\n");
        assert_eq!(err.unwrap_err(), "theme t.toml: base: unknown colour `no\\ncolour`");
    }

    /// A colour as xterm's default palette shows it (`reset`: the terminal's own).
    fn rgb(c: Color, reset: [u8; 3]) -> [u8; 3] {
        const ANSI: [[u8; 3]; 16] = [
            [0, 0, 0],
            [205, 0, 0],
            [0, 205, 0],
            [205, 205, 0],
            [0, 0, 238],
            [205, 0, 205],
            [0, 205, 205],
            [229, 229, 229],
            [127, 127, 127],
            [255, 0, 0],
            [0, 255, 0],
            [255, 255, 0],
            [92, 92, 255],
            [255, 0, 255],
            [0, 255, 255],
            [255, 255, 255],
        ];
        let cube = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
        match c {
            Color::Reset => reset,
            Color::Black => ANSI[0],
            Color::Red => ANSI[1],
            Color::Green => ANSI[2],
            Color::Yellow => ANSI[3],
            Color::Blue => ANSI[4],
            Color::Magenta => ANSI[5],
            Color::Cyan => ANSI[6],
            Color::Gray => ANSI[7],
            Color::DarkGray => ANSI[8],
            Color::LightRed => ANSI[9],
            Color::LightGreen => ANSI[10],
            Color::LightYellow => ANSI[11],
            Color::LightBlue => ANSI[12],
            Color::LightMagenta => ANSI[13],
            Color::LightCyan => ANSI[14],
            Color::White => ANSI[15],
            Color::Rgb(r, g, b) => [r, g, b],
            Color::Indexed(i @ 0..16) => ANSI[usize::from(i)],
            Color::Indexed(i @ 16..232) => {
                let i = i - 16;
                [cube(i / 36), cube(i / 6 % 6), cube(i % 6)]
            }
            Color::Indexed(i) => [8 + 10 * (i - 232); 3],
        }
    }

    /// WCAG 2 relative luminance and contrast ratio.
    fn luminance(c: [u8; 3]) -> f64 {
        let lin = |v: u8| {
            let s = f64::from(v) / 255.0;
            if s <= 0.04045 { s / 12.92 } else { ((s + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    }

    fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn contrast_ratios_follow_wcag() {
        assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
        assert!((contrast([119, 119, 119], [255, 255, 255]) - 4.48).abs() < 0.01);
        assert_eq!(rgb(Color::Indexed(28), [0; 3]), [0, 135, 0]);
        assert_eq!(rgb(Color::Indexed(240), [0; 3]), [88, 88, 88]);
    }

    /// Issue 14, point 6: every text style of every bundled theme is readable on the
    /// background it is meant for: 4.5:1 for text, 3:1 for borders (WCAG AA).
    #[test]
    fn every_bundled_theme_has_readable_contrast() {
        let mut low = Vec::new();
        for name in Theme::names() {
            let t = Theme::load(name).unwrap();
            // The terminal's own colours the theme is for.
            let (fg0, bg0) = if name == "light" {
                ([0, 0, 0], [255, 255, 255])
            } else {
                ([229, 229, 229], [0, 0, 0])
            };
            let styles = [
                ("base", t.base),
                ("muted", t.muted),
                ("title", t.title),
                ("selected", t.selected),
                ("key_hint", t.key_hint),
                ("alert_error", t.alert_error),
                ("alert_info", t.alert_info),
                ("role_generate", t.role_generate),
                ("role_critique", t.role_critique),
                ("role_revise", t.role_revise),
                ("role_given", t.role_given),
                ("right", t.right),
                ("wrong", t.wrong),
                ("neutral", t.neutral),
                ("label", t.label),
                ("diff_added", t.diff_added),
                ("diff_removed", t.diff_removed),
                ("escape", t.escape),
                ("border", t.border),
            ];
            for (what, st) in styles {
                let mut fg = rgb(st.fg.unwrap_or(Color::Reset), fg0);
                let mut bg = rgb(st.bg.unwrap_or(Color::Reset), bg0);
                if st.add_modifier.contains(Modifier::REVERSED) {
                    std::mem::swap(&mut fg, &mut bg);
                }
                if st.add_modifier.contains(Modifier::DIM) {
                    fg = [0, 1, 2].map(|i| ((u16::from(fg[i]) + u16::from(bg[i])) / 2) as u8);
                }
                let need = if what == "border" { 3.0 } else { 4.5 };
                let ratio = contrast(fg, bg);
                if ratio < need {
                    low.push(format!("{name}.{what}: {ratio:.2} < {need}"));
                }
            }
        }
        assert!(low.is_empty(), "{low:#?}");
    }

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
