//! The episode screen: one episode's turns, the selected turn, side by side, blind mode.

use super::*;

/// The episode screen: one episode, its turns as screen lines, the selected turn.
#[derive(Debug, Default)]
pub struct EpisodeReader {
    pub detail: Option<EpisodeDetail>,
    /// The turn texts as screen lines (highlighted once, when the episode arrives).
    pub turn_bodies: Vec<Vec<ratatui::text::Line<'static>>>,
    /// The first and the final attempt side by side.
    pub side_by_side: bool,
    /// The selected turn changed: the screen scrolls it into view when it draws.
    pub follow_turn: bool,
    pub turn_sel: usize,
    /// Show every entry of the selected turn's labels.
    pub show_history: bool,
}

/// The turn a labeller most likely wants first: the first critique.
fn first_labelable(d: &EpisodeDetail) -> Option<usize> {
    d.turns.iter().position(|t| t.role == Role::Critique)
}

impl App {
    /// The actions this screen handles.
    pub(super) fn episode_act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::SideBySide => {
                let pair = self.reader.detail.as_ref().and_then(|d| d.first_and_final());
                match pair {
                    Some((a, b)) if a != b => {
                        self.reader.side_by_side = !self.reader.side_by_side;
                        self.scroll = 0;
                        if self.reader.side_by_side {
                            self.info(format!("side by side: first attempt #{a} · final #{b}"));
                        }
                    }
                    _ => {
                        self.reader.side_by_side = false;
                        self.info("one attempt only: nothing to set side by side");
                    }
                }
                Vec::new()
            }
            Action::NextEpisode | Action::PreviousEpisode => {
                let Some(d) = &self.reader.detail else { return Vec::new() };
                let pos = self
                    .list
                    .visible
                    .iter()
                    .position(|&i| self.list.rows.get(i).map(|r| r.id) == Some(d.id));
                let Some(pos) = pos else { return Vec::new() };
                let next =
                    if action == Action::NextEpisode { pos + 1 } else { pos.wrapping_sub(1) };
                if next >= self.list.visible.len() {
                    self.info("no more episodes");
                    return Vec::new();
                }
                self.open_episode_at(next)
            }
            Action::NextTurn | Action::PreviousTurn => {
                if let Some(d) = &self.reader.detail {
                    self.reader.follow_turn = true;
                    let n = d.turns.len().max(1);
                    self.reader.turn_sel = if action == Action::NextTurn {
                        (self.reader.turn_sel + 1) % n
                    } else {
                        (self.reader.turn_sel + n - 1) % n
                    };
                }
                Vec::new()
            }
            Action::AutoAdvance => {
                self.auto_advance = !self.auto_advance;
                self.info(if self.auto_advance {
                    "auto-advance on: once this episode's labels are complete, the next one opens"
                } else {
                    "auto-advance off"
                });
                Vec::new()
            }
            Action::Blind => {
                self.blind = !self.blind;
                self.info(if self.blind {
                    "blind mode: references, grades and other annotators' labels hidden"
                } else {
                    "blind mode off"
                });
                Vec::new()
            }
            Action::LabelHistory => {
                self.reader.show_history = !self.reader.show_history;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The events this screen handles.
    pub(super) fn episode_update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Episode(d) => {
                if self.run != Some(d.id.run) {
                    return Vec::new();
                }
                self.dirty = true;
                if self.reader.detail.as_ref().map(|x| x.id) != Some(d.id) {
                    self.reader.turn_sel = d
                        .first_and_final()
                        .map_or(0, |(_, f)| f.min(d.turns.len().saturating_sub(1)));
                    self.reader.turn_sel = first_labelable(&d).unwrap_or(self.reader.turn_sel);
                    self.scroll = 0;
                }
                // A reload of the same episode (labels changed) keeps the turns' lines.
                let same = self
                    .reader
                    .detail
                    .as_ref()
                    .is_some_and(|x| x.id == d.id && x.turns.len() == d.turns.len())
                    && self.reader.turn_bodies.len() == d.turns.len();
                if !same {
                    self.reader.turn_bodies = d
                        .turns
                        .iter()
                        .map(|t| crate::tui::highlight::turn_body(&t.content, &self.theme))
                        .collect();
                }
                self.reader.detail = Some(*d);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
