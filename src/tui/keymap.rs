//! (mode, key) → Action, from the embedded assets/keymap.toml overlaid by the user's `[keys]`.

use std::collections::{BTreeMap, HashMap};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;
use crate::domain::LabelSchema;

const DEFAULT: &str = include_str!("../../assets/keymap.toml");

/// Keymap sections; `Global` applies everywhere below the mode's own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    Global,
    Runs,
    Episodes,
    Episode,
    Step,
    Metrics,
}

impl Mode {
    pub const ALL: [Mode; 6] =
        [Mode::Global, Mode::Runs, Mode::Episodes, Mode::Episode, Mode::Step, Mode::Metrics];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Global => "global",
            Mode::Runs => "runs",
            Mode::Episodes => "episodes",
            Mode::Episode => "episode",
            Mode::Step => "step",
            Mode::Metrics => "metrics",
        }
    }
}

/// A key as bindings name it: code plus ctrl/alt (shift is in the character itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Key {
        Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            alt: e.modifiers.contains(KeyModifiers::ALT),
        }
    }

    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("shift-").filter(|r| !r.is_empty()) {
                // Shifted letters are their upper case; other shifted keys keep their code.
                rest = r;
                if r.chars().count() == 1 {
                    let up: String = r.to_uppercase();
                    return Key::parse(&format!(
                        "{}{}{up}",
                        if ctrl { "ctrl-" } else { "" },
                        if alt { "alt-" } else { "" }
                    ));
                }
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            _ => return Err(crate::domain::text::one_line(&format!("unknown key `{s}`"))),
        };
        Ok(Key { code, ctrl, alt })
    }

    /// How help and hints show the key.
    pub fn display(&self) -> String {
        let base = match self.code {
            KeyCode::Enter => "enter".to_string(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::BackTab => "S-tab".into(),
            KeyCode::Backspace => "bksp".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "pgup".into(),
            KeyCode::PageDown => "pgdn".into(),
            KeyCode::Home => "home".into(),
            KeyCode::End => "end".into(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Char(' ') => "space".into(),
            KeyCode::Char(c) => c.to_string(),
            _ => "?".into(),
        };
        format!("{}{}{base}", if self.ctrl { "C-" } else { "" }, if self.alt { "M-" } else { "" })
    }
}

/// User overrides: `[keys.MODE] action = ["key", …]`.
pub type KeyOverrides = BTreeMap<String, BTreeMap<String, Vec<String>>>;

#[derive(Debug, Clone)]
pub struct Keymap {
    /// Per mode: action → keys, in file order for help.
    bindings: BTreeMap<Mode, Vec<(Action, Vec<Key>)>>,
    lookup: HashMap<(Mode, Key), Action>,
}

#[derive(serde::Deserialize)]
struct File {
    keys: BTreeMap<String, toml::Table>,
}

fn mode_named(name: &str) -> Result<Mode, String> {
    Mode::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
        format!("unknown key mode `{name}` (global, runs, episodes, episode, step, metrics)")
    })
}

impl Keymap {
    /// The embedded defaults, then the label schema's keys (Episode mode), then `overrides`
    /// laid over them action by action.
    pub fn load(overrides: &KeyOverrides, schema: &LabelSchema) -> Result<Keymap, String> {
        // Names and keys come from the user's config: one line, however they are written.
        Self::build(overrides, schema).map_err(|e| crate::domain::text::one_line(&e))
    }

    fn build(overrides: &KeyOverrides, schema: &LabelSchema) -> Result<Keymap, String> {
        let file: File = toml::from_str(DEFAULT).map_err(|e| format!("keymap.toml: {e}"))?;
        let mut bindings: BTreeMap<Mode, Vec<(Action, Vec<Key>)>> = BTreeMap::new();
        for (mode_name, table) in &file.keys {
            let mode = mode_named(mode_name)?;
            let list = bindings.entry(mode).or_default();
            for (action, keys) in table {
                let action: Action = action.parse()?;
                let keys = keys
                    .as_array()
                    .ok_or_else(|| format!("keymap: `{action}` needs a list of keys"))?
                    .iter()
                    .map(|k| k.as_str().ok_or("keys are strings".to_string()).and_then(Key::parse))
                    .collect::<Result<Vec<_>, _>>()?;
                list.push((action, keys));
            }
        }
        // A label key may not take a key the Episode screen already uses.
        let taken = |key: &Key| {
            [Mode::Episode, Mode::Global].into_iter().find_map(|m| {
                bindings.get(&m)?.iter().find(|(_, ks)| ks.contains(key)).map(|(a, _)| a.name())
            })
        };
        let mut labels = Vec::new();
        for f in &schema.labels {
            for v in &f.values {
                let Some(k) = v.key.as_deref() else { continue };
                let key = Key::parse(k).map_err(|e| format!("label `{}`: {e}", f.name))?;
                if let Some(other) = taken(&key) {
                    return Err(format!(
                        "label key `{k}` ({}={}) is already bound to `{other}`",
                        f.name, v.value
                    ));
                }
                labels.push((
                    Action::Label { name: f.name.clone(), value: v.value.clone() },
                    vec![key],
                ));
            }
        }
        bindings.entry(Mode::Episode).or_default().extend(labels);
        for (mode_name, table) in overrides {
            let mode = mode_named(mode_name)?;
            let list = bindings.entry(mode).or_default();
            for (action, keys) in table {
                let action: Action =
                    action.parse().map_err(|e| format!("[keys.{mode_name}]: {e}"))?;
                let keys = keys.iter().map(|k| Key::parse(k)).collect::<Result<Vec<_>, _>>()?;
                match list.iter_mut().find(|(a, _)| *a == action) {
                    Some(entry) => entry.1 = keys,
                    None => list.push((action, keys)),
                }
            }
        }
        let mut lookup = HashMap::new();
        for (mode, list) in &bindings {
            for (action, keys) in list {
                for k in keys {
                    lookup.insert((*mode, *k), action.clone());
                }
            }
        }
        Ok(Keymap { bindings, lookup })
    }

    /// The action for a key in a mode, falling back to the global keys.
    pub fn action(&self, mode: Mode, key: &KeyEvent) -> Option<Action> {
        let k = Key::from_event(key);
        self.lookup.get(&(mode, k)).or_else(|| self.lookup.get(&(Mode::Global, k))).cloned()
    }

    /// Bindings of a mode, for help and hint bars.
    pub fn bindings(&self, mode: Mode) -> &[(Action, Vec<Key>)] {
        self.bindings.get(&mode).map_or(&[], Vec::as_slice)
    }

    /// The first key bound to an action in a mode (or globally), for hints.
    pub fn key_for(&self, mode: Mode, action: &Action) -> Option<String> {
        [mode, Mode::Global].into_iter().find_map(|m| {
            self.bindings(m)
                .iter()
                .find(|(a, _)| a == action)
                .and_then(|(_, k)| k.first())
                .map(Key::display)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> LabelSchema {
        LabelSchema::load(&[]).unwrap()
    }

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn a_bad_key_name_is_one_short_line() {
        assert_eq!(Key::parse("ctrl-\n\u{1b}[2J").unwrap_err(), "unknown key `ctrl-\\n\\e[2J`");
        let long = "x".repeat(10_000);
        assert!(Key::parse(&long).unwrap_err().chars().count() < 100);
        let mut overrides = KeyOverrides::new();
        overrides.insert("a\nb".into(), Default::default());
        let err = Keymap::load(&overrides, &schema()).unwrap_err();
        assert!(err.starts_with("unknown key mode `a\\nb`"), "{err}");
    }

    #[test]
    fn defaults_bind_quit_help_and_labels() {
        let km = Keymap::load(&KeyOverrides::new(), &schema()).unwrap();
        assert_eq!(
            km.action(Mode::Runs, &ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(Mode::Runs, &ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(Mode::Episode, &ev(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::Help)
        );
        assert_eq!(
            km.action(Mode::Episode, &ev(KeyCode::Char('y'), KeyModifiers::NONE)),
            Some(Action::Label { name: "error_found".into(), value: "yes".into() })
        );
        // Mode keys win over global ones: `G` is bottom everywhere, `f` differs per mode.
        assert_eq!(
            km.action(Mode::Episodes, &ev(KeyCode::Char('f'), KeyModifiers::NONE)),
            Some(Action::NextFilter)
        );
        assert_eq!(
            km.action(Mode::Episode, &ev(KeyCode::Char('f'), KeyModifiers::NONE)),
            Some(Action::Label { name: "followed_critique".into(), value: "yes".into() })
        );
        assert_eq!(
            km.action(Mode::Runs, &ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
    }

    #[test]
    fn user_overrides_replace_an_action_keys() {
        let mut o = KeyOverrides::new();
        o.entry("global".into()).or_default().insert("quit".into(), vec!["ctrl-q".into()]);
        let km = Keymap::load(&o, &schema()).unwrap();
        assert_eq!(km.action(Mode::Runs, &ev(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        assert_eq!(
            km.action(Mode::Runs, &ev(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(km.key_for(Mode::Runs, &Action::Quit).as_deref(), Some("C-q"));
    }

    #[test]
    fn bad_overrides_are_explained() {
        let mut o = KeyOverrides::new();
        o.entry("episode".into()).or_default().insert("fly".into(), vec!["z".into()]);
        assert!(Keymap::load(&o, &schema()).unwrap_err().contains("unknown action `fly`"));
        let mut o = KeyOverrides::new();
        o.entry("nowhere".into()).or_default().insert("quit".into(), vec!["z".into()]);
        assert!(Keymap::load(&o, &schema()).unwrap_err().contains("unknown key mode"));
        let mut o = KeyOverrides::new();
        o.entry("global".into()).or_default().insert("quit".into(), vec!["hyper-z".into()]);
        assert!(Keymap::load(&o, &schema()).unwrap_err().contains("unknown key"));
    }

    #[test]
    fn a_label_key_that_clashes_with_a_screen_key_is_refused() {
        let mut field = schema().labels[0].clone();
        field.name = "hallucination".into();
        field.values.truncate(1);
        field.values[0].key = Some("H".into());
        let clash = LabelSchema::load(&[field]).unwrap();
        let err = Keymap::load(&KeyOverrides::new(), &clash).unwrap_err();
        assert_eq!(err, "label key `H` (hallucination=yes) is already bound to `label_history`");
    }

    #[test]
    fn key_names_parse() {
        assert_eq!(Key::parse("shift-g").unwrap(), Key::parse("G").unwrap());
        assert_eq!(Key::parse("f5").unwrap().code, KeyCode::F(5));
        assert_eq!(
            Key::parse("ctrl-alt-x").unwrap(),
            Key { code: KeyCode::Char('x'), ctrl: true, alt: true }
        );
        assert_eq!(Key::parse("-").unwrap().code, KeyCode::Char('-'));
    }
}
