//! The new-run form: its fields, the pickers, starting the run.

use super::*;

/// The new-run form: its values, the focused field, the profiles it can pick.
#[derive(Debug, Default)]
pub struct NewRunForm {
    pub form: RunForm,
    pub focus: usize,
    /// The config's `[profiles.NAME]`, for the profile picker.
    pub profiles: Vec<String>,
    /// The form was sent to start a run (the next form gets a new name and seed).
    pub started: bool,
}

impl App {
    /// Keys on the new-run form: typing edits the focused field; `None` for a chord that is
    /// no editing key (the keymap has it).
    pub(super) fn form_key(&mut self, k: &KeyEvent) -> Option<Vec<Effect>> {
        let n = self.new_run.form.fields().len();
        match k.code {
            KeyCode::Tab | KeyCode::Down => self.new_run.focus = (self.new_run.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => self.new_run.focus = (self.new_run.focus + n - 1) % n,
            KeyCode::Left | KeyCode::Right => {
                let Some(choices) = self.form_choices(self.new_run.focus) else {
                    return Some(Vec::new());
                };
                let forward = k.code == KeyCode::Right;
                let Some(field) = self.new_run.form.field_mut(self.new_run.focus) else {
                    return Some(Vec::new());
                };
                let n = choices.len();
                // A typed value not in the list starts the cycle at its first entry.
                let next = match choices.iter().position(|c| c == field.trim()) {
                    Some(i) if forward => (i + 1) % n,
                    Some(i) => (i + n - 1) % n,
                    None => 0,
                };
                if let Some(c) = choices.get(next) {
                    field.clone_from(c);
                }
                // A profile names an endpoint: the provider follows.
                if crate::tui::effect::FORM_FIELDS[self.new_run.focus] == "profile"
                    && !self.new_run.form.profile.is_empty()
                {
                    self.new_run.form.provider = "openai".into();
                    self.new_run.form.sim.clear();
                }
            }
            _ => {
                let mut scratch = String::new();
                let field = match self.new_run.form.field_mut(self.new_run.focus) {
                    Some(f) => f,
                    None => &mut scratch,
                };
                match input::edit(field, k, false, 200) {
                    Edit::Cancel => self.back(),
                    Edit::Submit => {
                        // What the form alone can tell is checked here, so a mistake keeps
                        // the form open with everything typed.
                        if let Err(e) = self.new_run.form.plan() {
                            self.error(e);
                            return Some(Vec::new());
                        }
                        let form = self.new_run.form.clone();
                        self.new_run.started = true;
                        self.back();
                        self.info(format!("starting {}…", form.name));
                        return Some(vec![Effect::StartRun(Box::new(form))]);
                    }
                    Edit::Changed => {}
                    Edit::Other if k.modifiers.contains(KeyModifiers::CONTROL) => return None,
                    Edit::Other => {}
                }
            }
        }
        Some(Vec::new())
    }

    /// What ←/→ pick from on a form field, when it has a fixed set of values.
    pub fn form_choices(&self, field: usize) -> Option<Vec<String>> {
        let owned = |v: Vec<&str>| v.into_iter().map(str::to_string).collect();
        match *crate::tui::effect::FORM_FIELDS.get(field)? {
            "dataset" => Some(owned(crate::dataset::bundled().iter().map(|b| b.name).collect())),
            "protocol" => Some(owned(crate::protocol::preset_names())),
            "provider" => Some(owned(vec!["sim", "openai"])),
            "profile" => {
                Some(std::iter::once(String::new()).chain(self.new_run.profiles.clone()).collect())
            }
            _ => None,
        }
    }
}
