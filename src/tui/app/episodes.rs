//! The episodes screen: the open run's rows, filters, order, search and going to an item.

use super::*;

/// Episode table filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    All,
    Cell(Transition),
    Failed,
    Unlabelled,
}

impl Filter {
    pub const ALL: [Filter; 7] = [
        Filter::All,
        Filter::Cell(Transition::RightRight),
        Filter::Cell(Transition::RightWrong),
        Filter::Cell(Transition::WrongRight),
        Filter::Cell(Transition::WrongWrong),
        Filter::Failed,
        Filter::Unlabelled,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Cell(t) => t.label(),
            Filter::Failed => "failed",
            Filter::Unlabelled => "unlabelled",
        }
    }

    pub(super) fn keeps(self, row: &EpisodeRow) -> bool {
        match self {
            Filter::All => true,
            Filter::Cell(t) => row.transition == Some(t),
            Filter::Failed => row.status == EpisodeStatus::Failed,
            Filter::Unlabelled => row.effective_labels() == 0,
        }
    }
}

/// Orders of the episodes table (`o` cycles them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// As stored: item, then sample.
    #[default]
    Item,
    /// c→c, c→w, w→c, w→w, then unfinished.
    Transition,
    /// Fewest labels first (what is left to label on top).
    Labels,
    /// By question text.
    Question,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Item, Sort::Transition, Sort::Labels, Sort::Question];

    pub fn label(self) -> &'static str {
        match self {
            Sort::Item => "item",
            Sort::Transition => "t1→t2",
            Sort::Labels => "labels",
            Sort::Question => "question",
        }
    }

    pub(super) fn next(self) -> Sort {
        let i = Sort::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Sort::ALL[(i + 1) % Sort::ALL.len()]
    }
}

/// The episodes screen: the open run's rows, the filter, order and search, the selection.
#[derive(Debug, Default)]
pub struct EpisodeList {
    pub rows: Vec<EpisodeRow>,
    pub loading: bool,
    pub filter: Filter,
    pub sort: Sort,
    pub search: String,
    pub searching: bool,
    /// The item id being typed after `:`.
    pub jumping: Option<String>,
    /// Indices into `rows` that pass the filter and search, in the chosen order.
    pub visible: Vec<usize>,
    pub sel: usize,
}

impl App {
    pub fn selected_episode(&self) -> Option<&EpisodeRow> {
        self.list.visible.get(self.list.sel).and_then(|&i| self.list.rows.get(i))
    }

    /// Recomputes the visible episodes after their labels changed: the selected one stays
    /// selected while it is visible.
    pub(super) fn refilter_keeping(&mut self) {
        let selected =
            self.list.visible.get(self.list.sel).and_then(|&i| self.list.rows.get(i)).map(|r| r.id);
        self.refilter();
        let kept = selected.and_then(|id| {
            self.list
                .visible
                .iter()
                .position(|&i| self.list.rows.get(i).is_some_and(|r| r.id == id))
        });
        if let Some(p) = kept {
            self.list.sel = p;
        }
    }

    pub(super) fn refilter(&mut self) {
        let q = self.list.search.to_lowercase();
        self.list.visible = self
            .list
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| self.list.filter.keeps(r))
            .filter(|(_, r)| {
                q.is_empty()
                    || r.item_id.to_lowercase().contains(&q)
                    || r.question.to_lowercase().contains(&q)
            })
            .map(|(i, _)| i)
            .collect();
        // Stable sorts: ties keep the stored (item, sample) order.
        let rows = &self.list.rows;
        match self.list.sort {
            Sort::Item => {}
            Sort::Transition => self.list.visible.sort_by_key(|&i| {
                rows[i].transition.map_or(4, |t| match t {
                    Transition::RightRight => 0,
                    Transition::RightWrong => 1,
                    Transition::WrongRight => 2,
                    Transition::WrongWrong => 3,
                })
            }),
            Sort::Labels => self.list.visible.sort_by_key(|&i| rows[i].effective_labels()),
            Sort::Question => self.list.visible.sort_by(|&a, &b| {
                rows[a].question.to_lowercase().cmp(&rows[b].question.to_lowercase())
            }),
        }
        self.list.sel = self.list.sel.min(self.list.visible.len().saturating_sub(1));
    }

    /// `/` search: Enter keeps the query, Esc clears it.
    pub(super) fn search_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        match input::edit(&mut self.list.search, k, false, 200) {
            Edit::Submit => self.list.searching = false,
            Edit::Cancel => {
                self.list.search.clear();
                self.list.searching = false;
            }
            Edit::Changed | Edit::Other => {}
        }
        self.refilter();
        Vec::new()
    }

    /// `:` item id: Enter goes to the item's first episode, Esc gives up.
    pub(super) fn jump_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let Some(text) = self.list.jumping.as_mut() else { return Vec::new() };
        match input::edit(text, k, false, 200) {
            Edit::Submit => {
                let id = self.list.jumping.take().unwrap_or_default();
                self.jump_to_item(id.trim());
            }
            Edit::Cancel => self.list.jumping = None,
            Edit::Changed | Edit::Other => {}
        }
        Vec::new()
    }

    /// Selects the first episode of the item with this id (exact, else the first id that
    /// starts with it; case ignored). An item hidden by the filter or search clears them.
    pub(super) fn jump_to_item(&mut self, id: &str) {
        if id.is_empty() {
            return;
        }
        let q = id.to_lowercase();
        let rows = &self.list.rows;
        let find = |order: &[usize]| {
            let id_of = |i: &usize| rows.get(*i).map(|r| r.item_id.to_lowercase());
            order
                .iter()
                .position(|i| id_of(i).is_some_and(|x| x == q))
                .or_else(|| order.iter().position(|i| id_of(i).is_some_and(|x| x.starts_with(&q))))
        };
        if let Some(p) = find(&self.list.visible) {
            self.list.sel = p;
            return;
        }
        let all: Vec<usize> = (0..self.list.rows.len()).collect();
        let Some(row) = find(&all) else {
            self.error(format!("no item `{}` in this run", crate::tui::text::inert(id)));
            return;
        };
        let target = self.list.rows[row].id;
        self.list.filter = Filter::All;
        self.list.search.clear();
        self.refilter();
        if let Some(p) = self.list.visible.iter().position(|&i| self.list.rows[i].id == target) {
            self.list.sel = p;
        }
        self.info("filter and search cleared to show the item");
    }

    pub(super) fn open_episode_at(&mut self, sel: usize) -> Vec<Effect> {
        self.list.sel = sel;
        let Some(row) = self.selected_episode() else { return Vec::new() };
        let id = row.id;
        self.go(Screen::Episode);
        vec![Effect::LoadEpisode { run: id.run, id }]
    }

    /// The actions this screen handles.
    pub(super) fn episodes_act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::NextFilter | Action::PreviousFilter => {
                let i = Filter::ALL.iter().position(|f| *f == self.list.filter).unwrap_or(0);
                let n = Filter::ALL.len();
                let j = if action == Action::NextFilter { (i + 1) % n } else { (i + n - 1) % n };
                self.list.filter = Filter::ALL[j];
                self.list.sel = 0;
                self.refilter();
                Vec::new()
            }
            Action::Search => {
                self.list.searching = true;
                Vec::new()
            }
            Action::JumpToItem => {
                if self.screen == Screen::Episodes {
                    self.list.jumping = Some(String::new());
                }
                Vec::new()
            }
            Action::Sort => {
                self.list.sort = self.list.sort.next();
                self.list.sel = 0;
                self.refilter();
                self.info(format!("sorted by {}", self.list.sort.label()));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The events this screen handles.
    pub(super) fn episodes_update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Episodes { run, rows, queue } => {
                if self.run != Some(run) {
                    return Vec::new();
                }
                self.dirty = true;
                self.list.rows = rows;
                self.set_queue(queue);
                self.list.loading = false;
                self.refilter();
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
