//! Labelling on the Episode screen. The schema decides what a key may label; the stored entries
//! and their effective values ([`crate::domain::label`]) decide what the screen, undo and
//! "next" read.

use super::{App, Filter, Screen};
use crate::browse::shapes;
use crate::domain::label::slots;
use crate::domain::{AppliesTo, EpisodeId, Label, Queue, TurnShape};
use crate::tui::effect::Effect;

/// The prompt for the annotator's name, asked once on the first label.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Naming {
    pub text: String,
    /// The label that waits for the name.
    pub pending: Option<(String, String)>,
}

fn turn_name(turn: Option<u32>) -> String {
    turn.map_or("the episode".to_string(), |t| format!("turn #{t}"))
}

impl App {
    /// The open episode's turns as the schema sees them.
    pub fn detail_shapes(&self) -> Vec<TurnShape> {
        self.reader.detail.as_ref().map_or_else(Vec::new, |d| shapes(d.protocol, &d.turns))
    }

    /// The open episode's label entries, history included.
    pub fn detail_labels(&self) -> Vec<Label> {
        self.reader
            .detail
            .as_ref()
            .map_or_else(Vec::new, |d| d.labels.iter().map(|(_, l)| l.clone()).collect())
    }

    /// Required (turn, field) slots this annotator has not set on the open episode.
    pub fn missing_here(&self) -> Vec<(Option<u32>, String)> {
        let Some(me) = self.annotator.as_deref() else { return Vec::new() };
        let labels = self.detail_labels();
        self.schema
            .missing(&self.detail_shapes(), &labels, me)
            .into_iter()
            .map(|(t, n)| (t, n.to_string()))
            .collect()
    }

    /// A queue made `--blind` puts its annotators in blind mode.
    pub(super) fn set_queue(&mut self, queue: Option<Queue>) {
        let mine = |q: &Queue| self.annotator.as_ref().is_some_and(|a| q.annotators.contains(a));
        if let Some(q) = queue.as_ref().filter(|q| q.blind && mine(q))
            && !self.blind
        {
            self.blind = true;
            let n = self.annotator.as_ref().map_or(0, |a| q.of(a).len());
            self.info(format!("blind queue: {n} episodes are yours; references and grades hidden"));
        }
        self.queue = queue;
    }

    pub(super) fn label(&mut self, name: String, value: String) -> Vec<Effect> {
        if self.screen != Screen::Episode {
            return Vec::new();
        }
        let Some(d) = &self.reader.detail else { return Vec::new() };
        let id = d.id;
        let Some(field) = self.schema.field(&name) else {
            self.error(format!("`{name}` is not in the label schema"));
            return Vec::new();
        };
        let turn = match field.applies_to {
            AppliesTo::Episode => None,
            _ => u32::try_from(self.reader.turn_sel).ok(),
        };
        if !self.schema.fits(&name, turn, &self.detail_shapes()) {
            let need = field.applies_to.as_str();
            let a = if need.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            self.error(format!("{name} labels {a} {need} turn: select one with tab"));
            return Vec::new();
        }
        if let Err(e) = self.schema.validate(&name, &value) {
            self.error(e);
            return Vec::new();
        }
        let Some(annotator) = self.annotator.clone() else {
            self.naming = Some(Naming { text: String::new(), pending: Some((name, value)) });
            self.info("who is labelling? type your name, enter saves it for next time");
            return Vec::new();
        };
        let label = Label { annotator, turn, name, value, time: 0, millis: 0, retracted: false }
            .at((self.clock)());
        let current = slots(&self.detail_labels())
            .into_iter()
            .find(|e| e.slot == label.slot())
            .and_then(|e| e.value().map(str::to_string));
        if current.as_deref() == Some(label.value.as_str()) {
            self.info(format!("{} is already set on {}", label.describe(), turn_name(turn)));
            return Vec::new();
        }
        self.info(format!("saving {}…", label.describe()));
        vec![Effect::SaveLabel { id, label, undo: false }]
    }

    pub(super) fn label_saved(
        &mut self,
        id: EpisodeId,
        seq: u64,
        label: Label,
        undo: bool,
    ) -> Vec<Effect> {
        self.dirty = true;
        let on = turn_name(label.turn);
        let msg = if undo {
            match label.retracted {
                true => format!("undone: {} has no value on {on}", label.name),
                false => format!("undone: {} back to {} on {on}", label.name, label.value),
            }
        } else {
            format!("saved {} on {on} ({})", label.describe(), label.annotator)
        };
        if !undo {
            self.undo.push((id, label.clone()));
        }
        if let Some(row) = self.list.rows.iter_mut().find(|r| r.id == id) {
            row.labels.push(label.clone());
        }
        let here = self.screen == Screen::Episode
            && self.reader.detail.as_ref().is_some_and(|d| d.id == id);
        if let Some(d) = self.reader.detail.as_mut().filter(|d| d.id == id) {
            d.labels.push((seq, label));
        }
        // The open episode stays listed until the list is shown again.
        if !here {
            self.refilter_keeping();
        }
        let missing = if here { self.missing_here() } else { Vec::new() };
        if here && !missing.is_empty() {
            let first: Vec<String> =
                missing.iter().take(3).map(|(t, n)| format!("{n} {}", turn_name(*t))).collect();
            let more = missing.len().saturating_sub(3);
            let more = if more > 0 { format!(" +{more}") } else { String::new() };
            self.info(format!("{msg} · to do: {}{more}", first.join(", ")));
            return Vec::new();
        }
        self.info(msg.clone());
        if here && !undo && self.auto_advance {
            let fx = self.next_to_label();
            if !fx.is_empty() {
                self.info(format!("{msg} · complete → next"));
            }
            return fx;
        }
        Vec::new()
    }

    /// Takes back my last label on the open episode: its slot gets the value it had before
    /// (or none), written as a new entry so the history keeps both.
    pub(super) fn undo_label(&mut self) -> Vec<Effect> {
        let Some(d) = &self.reader.detail else { return Vec::new() };
        let here = d.id;
        let Some(pos) = self.undo.iter().rposition(|(id, _)| *id == here) else {
            let msg = match self.undo.last() {
                Some((other, _)) => {
                    let item = self
                        .list
                        .rows
                        .iter()
                        .find(|r| r.id == *other)
                        .map_or_else(|| format!("#{}", other.item), |r| r.item_id.clone());
                    format!(
                        "nothing to undo on this episode (your last label is on item {item} \
                         sample {})",
                        other.sample
                    )
                }
                None => "nothing to undo".to_string(),
            };
            self.info(msg);
            return Vec::new();
        };
        let (id, last) = self.undo.remove(pos);
        let labels = self.detail_labels();
        let before = slots(&labels).into_iter().find(|e| e.slot == last.slot()).and_then(|e| {
            let at = e.history.iter().position(|l| **l == last)?;
            at.checked_sub(1).and_then(|i| e.history.get(i).copied()).filter(|l| !l.retracted)
        });
        let entry = Label {
            value: before.map_or(String::new(), |l| l.value.clone()),
            retracted: before.is_none(),
            ..last
        }
        .at((self.clock)());
        vec![Effect::SaveLabel { id, label: entry, undo: true }]
    }

    fn incomplete_for_me(&self, id: EpisodeId) -> bool {
        let Some(row) = self.list.rows.iter().find(|r| r.id == id) else { return false };
        match self.annotator.as_deref() {
            Some(me) => !row.complete_for(&self.schema, me),
            None => row.effective_labels() == 0 && row.status == crate::domain::EpisodeStatus::Done,
        }
    }

    /// The next episode to label: along my queue when the run has one for me (wrapping round),
    /// else down the visible list.
    pub(super) fn next_to_label(&mut self) -> Vec<Effect> {
        // From the episodes list the search starts at the top (the head of my queue).
        let cur =
            self.reader.detail.as_ref().map(|d| d.id).filter(|_| self.screen == Screen::Episode);
        let mine = match (&self.queue, &self.annotator) {
            (Some(q), Some(me)) => q.of(me),
            _ => Vec::new(),
        };
        if !mine.is_empty() {
            let n = mine.len();
            let start = cur.and_then(|c| mine.iter().position(|x| *x == c)).map_or(0, |p| p + 1);
            let found = (0..n)
                .filter_map(|k| mine.get((start + k) % n).copied())
                .find(|&id| Some(id) != cur && self.incomplete_for_me(id));
            return match found {
                Some(id) => self.open_episode_id(id),
                None => {
                    let done = mine.iter().filter(|&&id| !self.incomplete_for_me(id)).count();
                    self.info(format!("your queue is done: {done} of {n} episodes labelled"));
                    Vec::new()
                }
            };
        }
        let start = self
            .list
            .visible
            .iter()
            .position(|&i| self.list.rows.get(i).map(|r| r.id) == cur)
            .map_or(0, |p| p + 1);
        let found = (start..self.list.visible.len()).find(|&p| {
            self.list
                .visible
                .get(p)
                .and_then(|&i| self.list.rows.get(i))
                .is_some_and(|r| self.incomplete_for_me(r.id))
        });
        match found {
            Some(p) => self.open_episode_at(p),
            None => {
                self.info("every episode below is labelled");
                Vec::new()
            }
        }
    }

    /// Opens an episode by id; one the filter hides brings every episode back into view.
    fn open_episode_id(&mut self, id: EpisodeId) -> Vec<Effect> {
        let find = |app: &App| {
            app.list.visible.iter().position(|&i| app.list.rows.get(i).is_some_and(|r| r.id == id))
        };
        if let Some(p) = find(self) {
            return self.open_episode_at(p);
        }
        self.list.filter = Filter::All;
        self.list.search.clear();
        self.refilter();
        match find(self) {
            Some(p) => self.open_episode_at(p),
            None => Vec::new(),
        }
    }

    /// Keys while the annotator's name is asked for.
    pub(super) fn name_key(&mut self, k: &crossterm::event::KeyEvent) -> Vec<Effect> {
        use crate::tui::input::{Edit, edit};
        let Some(n) = self.naming.as_mut() else { return Vec::new() };
        match edit(&mut n.text, k, false, 64) {
            Edit::Cancel => {
                self.naming = None;
                self.info("label not saved: labels need the annotator's name");
            }
            Edit::Submit if n.text.trim().is_empty() => {}
            Edit::Submit => {
                let name = n.text.trim().to_string();
                let pending = n.pending.take();
                self.naming = None;
                self.annotator = Some(name.clone());
                let mut fx = Vec::new();
                if let Some(path) = self.config_file.clone() {
                    fx.push(Effect::SaveAnnotator { path, name });
                }
                if let Some((name, value)) = pending {
                    fx.extend(self.label(name, value));
                }
                return fx;
            }
            Edit::Changed | Edit::Other => {}
        }
        Vec::new()
    }
}
