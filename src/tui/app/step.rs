//! Step mode: one item at a time by hand, streamed turns, a critique or question typed in.

use super::*;

/// Stepping through items by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct StepState {
    /// The run the stepped turns are saved in.
    pub run: RunId,
    /// Name of the run it was made from.
    pub source: String,
    pub items: Vec<Item>,
    pub sel: usize,
    /// Stored turns of the selected item.
    pub turns: Vec<Turn>,
    /// Text streaming in for the turn being generated.
    pub streaming: String,
    pub busy: bool,
    pub done: bool,
    /// The critique being typed, when writing one.
    pub editing: Option<String>,
    /// A question being typed (`question => reference`), when asking one.
    pub asking: Option<String>,
}

/// Which labels a turn role accepts (DESIGN §6).
/// The longest critique or question typed in step mode, in characters.
const EDIT_LIMIT: usize = 20_000;

impl App {
    /// Keys while typing a critique (or a question) in step mode; several lines allowed.
    pub(super) fn edit_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let annotator = self.annotator.clone().unwrap_or_else(|| "unnamed".into());
        let Some(s) = self.step.as_mut() else { return Vec::new() };
        if let Some(text) = s.asking.as_mut() {
            match input::edit(text, k, true, EDIT_LIMIT) {
                Edit::Cancel => s.asking = None,
                Edit::Submit if text.trim().is_empty() => {}
                Edit::Submit => {
                    let text = s.asking.take().unwrap_or_default();
                    return vec![Effect::StepAddQuestion { run: s.run, text }];
                }
                Edit::Changed | Edit::Other => {}
            }
            return Vec::new();
        }
        let Some(text) = s.editing.as_mut() else { return Vec::new() };
        match input::edit(text, k, true, EDIT_LIMIT) {
            Edit::Cancel => s.editing = None,
            Edit::Submit if text.trim().is_empty() => {}
            Edit::Submit => {
                let critique = s.editing.take();
                s.busy = true;
                return vec![Effect::StepNext {
                    run: s.run,
                    item: s.sel as u32,
                    critique,
                    annotator,
                }];
            }
            Edit::Changed | Edit::Other => {}
        }
        Vec::new()
    }

    /// The actions this screen handles.
    pub(super) fn step_act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::StepNext => {
                let annotator = self.annotator.clone().unwrap_or_else(|| "unnamed".into());
                let Some(s) = self.step.as_mut() else { return Vec::new() };
                if s.busy {
                    return Vec::new();
                }
                if s.done {
                    self.info("this item is complete: pick another (↑/↓)");
                    return Vec::new();
                }
                s.busy = true;
                s.streaming.clear();
                vec![Effect::StepNext { run: s.run, item: s.sel as u32, critique: None, annotator }]
            }
            Action::TypeQuestion => {
                let Some(s) = self.step.as_mut() else { return Vec::new() };
                if s.busy {
                    return Vec::new();
                }
                s.asking = Some(String::new());
                self.info("type a question, optionally `=> reference`; enter adds it, esc cancels");
                Vec::new()
            }
            Action::WriteCritique => {
                let Some(s) = self.step.as_mut() else { return Vec::new() };
                if s.busy || s.done {
                    return Vec::new();
                }
                s.editing = Some(String::new());
                self.info("type the critique; enter saves it as the critique turn, esc cancels");
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The events this screen handles.
    pub(super) fn step_update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::StepReady { run, source, items } => {
                self.dirty = true;
                self.info(format!(
                    "stepping through {source}: enter = next turn, w = write the critique yourself"
                ));
                self.step = Some(StepState {
                    run,
                    source,
                    items,
                    sel: 0,
                    turns: Vec::new(),
                    streaming: String::new(),
                    busy: false,
                    done: false,
                    editing: None,
                    asking: None,
                });
                vec![Effect::LoadRuns]
            }
            Event::StepItemAdded { run, item } => {
                let Some(s) = self.step.as_mut().filter(|s| s.run == run) else {
                    return Vec::new();
                };
                s.items.push(*item);
                s.sel = s.items.len() - 1;
                s.turns.clear();
                s.streaming.clear();
                s.done = false;
                self.dirty = true;
                self.info("question added: enter asks for the first answer");
                Vec::new()
            }
            Event::StepTurns { run, item, turns } => {
                if let Some(s) = self.step.as_mut().filter(|s| s.run == run && s.sel as u32 == item)
                {
                    self.dirty = true;
                    s.turns = turns;
                }
                Vec::new()
            }
            Event::StepDelta { run, item, text } => {
                if let Some(s) = self.step.as_mut().filter(|s| s.run == run && s.sel as u32 == item)
                {
                    self.dirty = true;
                    s.streaming.push_str(&text);
                }
                Vec::new()
            }
            Event::StepTurn { run, item, turn, done } => {
                let Some(s) = self.step.as_mut().filter(|s| s.run == run) else {
                    return Vec::new();
                };
                s.busy = false;
                if s.sel as u32 == item {
                    s.streaming.clear();
                    s.turns.push(*turn);
                    s.done = done;
                }
                self.dirty = true;
                self.info(if done {
                    "episode complete: pick another item (↑/↓)"
                } else {
                    "turn saved"
                });
                Vec::new()
            }
            Event::StepFailed { run, error, .. } => {
                if let Some(s) = self.step.as_mut().filter(|s| s.run == run) {
                    s.busy = false;
                    s.streaming.clear();
                }
                self.dirty = true;
                self.error(error);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
