//! Read models for interactive browsing: owned snapshots of runs, episodes and one episode,
//! built from the store. Headless, so the UI and its tests share them.

use std::collections::HashMap;

use crate::analysis::run_metrics_with;
use crate::domain::{
    EpisodeId, EpisodeStatus, Item, Label, LabelSchema, ProtocolKind, Queue, RunId, RunRecord,
    Turn, TurnShape,
};
use crate::metrics::AnalysisOptions;
use crate::protocol::attempt_indices;
use crate::runner::{Totals, totals};
use crate::store::{Store, StoreError};

/// One line of the runs table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRow {
    pub record: RunRecord,
    pub totals: Totals,
    pub acc_t1: Option<f64>,
    pub acc_t2: Option<f64>,
    pub cl: Option<f64>,
    pub cs: Option<f64>,
    /// Progress of the run's annotation queue, when it has one.
    pub queue: Option<QueueProgress>,
    /// Whether the metrics and queue above were computed (the quick first load leaves them out).
    #[serde(default)]
    pub measured: bool,
}

/// Per annotator of a queue: episodes whose labels are complete, of those assigned.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueueProgress {
    pub annotators: Vec<(String, usize, usize)>,
    /// Episodes assigned to every annotator.
    pub overlap: usize,
    pub blind: bool,
}

impl QueueProgress {
    /// `ana 12/60 · ben 8/60`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> =
            self.annotators.iter().map(|(a, done, n)| format!("{a} {done}/{n}")).collect();
        parts.join(" · ")
    }
}

/// The turns of an episode as the label schema sees them.
pub fn shapes(kind: ProtocolKind, turns: &[Turn]) -> Vec<TurnShape> {
    let attempts = attempt_indices(kind, turns);
    turns
        .iter()
        .enumerate()
        .map(|(i, t)| TurnShape { role: t.role, is_attempt: attempts.contains(&i) })
        .collect()
}

/// How far each annotator of `queue` is, from the run's episode rows.
pub fn queue_progress(queue: &Queue, rows: &[EpisodeRow], schema: &LabelSchema) -> QueueProgress {
    let by_id: HashMap<EpisodeId, &EpisodeRow> = rows.iter().map(|r| (r.id, r)).collect();
    let annotators = queue
        .annotators
        .iter()
        .map(|a| {
            let mine = queue.of(a);
            let done = mine
                .iter()
                .filter(|id| by_id.get(id).is_some_and(|r| r.complete_for(schema, a)))
                .count();
            (a.clone(), done, mine.len())
        })
        .collect();
    QueueProgress { annotators, overlap: queue.overlap_set().len(), blind: queue.blind }
}

/// The t1 → t2 cell of an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Transition {
    RightRight,
    RightWrong,
    WrongRight,
    WrongWrong,
}

impl Transition {
    pub fn of(t1: bool, t2: bool) -> Transition {
        match (t1, t2) {
            (true, true) => Transition::RightRight,
            (true, false) => Transition::RightWrong,
            (false, true) => Transition::WrongRight,
            (false, false) => Transition::WrongWrong,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Transition::RightRight => "c→c",
            Transition::RightWrong => "c→w",
            Transition::WrongRight => "w→c",
            Transition::WrongWrong => "w→w",
        }
    }
}

/// One line of the episodes table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpisodeRow {
    pub id: EpisodeId,
    pub item_id: String,
    pub status: EpisodeStatus,
    pub transition: Option<Transition>,
    /// Label entries on the episode or its turns, history included.
    pub labels: Vec<Label>,
    /// The episode's turns as the label schema sees them.
    pub shapes: Vec<TurnShape>,
    /// First line of the question, for display and search.
    pub question: String,
}

impl EpisodeRow {
    /// Effective labels (what the table shows and the unlabelled filter reads).
    pub fn effective_labels(&self) -> usize {
        crate::domain::label::effective(&self.labels).len()
    }

    /// Whether `annotator` has set every required field; a failed or unfinished episode has
    /// nothing to label and counts as complete.
    pub fn complete_for(&self, schema: &LabelSchema, annotator: &str) -> bool {
        self.status != EpisodeStatus::Done
            || schema.missing(&self.shapes, &self.labels, annotator).is_empty()
    }
}

/// Everything the episode screen shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpisodeDetail {
    pub id: EpisodeId,
    pub run_name: String,
    pub protocol: ProtocolKind,
    pub item: Item,
    pub status: EpisodeStatus,
    pub error: Option<String>,
    pub turns: Vec<Turn>,
    /// (sequence number, label) in the order written.
    pub labels: Vec<(u64, Label)>,
    pub simulated: bool,
}

impl EpisodeDetail {
    /// Indices of the first and final attempt.
    pub fn first_and_final(&self) -> Option<(usize, usize)> {
        let a = attempt_indices(self.protocol, &self.turns);
        Some((*a.first()?, *a.last()?))
    }
}

/// Runs with their counts but no metrics (cheap: no turn is decoded).
pub fn runs_quick(store: &Store) -> Result<Vec<RunRow>, StoreError> {
    store
        .runs()?
        .into_iter()
        .map(|record| {
            Ok(RunRow {
                totals: totals(store, record.id)?,
                acc_t1: None,
                acc_t2: None,
                cl: None,
                cs: None,
                queue: None,
                measured: false,
                record,
            })
        })
        .collect()
}

pub fn runs(store: &Store, schema: &LabelSchema) -> Result<Vec<RunRow>, StoreError> {
    store
        .runs()?
        .into_iter()
        .map(|record| {
            let m = run_metrics_with(store, &record, &AnalysisOptions::quick())?;
            let queue = match store.queue(record.id)? {
                Some(q) => Some(queue_progress(&q, &episodes(store, &record)?, schema)),
                None => None,
            };
            Ok(RunRow {
                queue,
                totals: totals(store, record.id)?,
                acc_t1: m.summary.acc_t1,
                acc_t2: m.summary.acc_t2,
                cl: m.summary.cl,
                cs: m.summary.cs,
                measured: true,
                record,
            })
        })
        .collect()
}

pub fn episodes(store: &Store, run: &RunRecord) -> Result<Vec<EpisodeRow>, StoreError> {
    // The outcome records hold every turn's role and grade: no turn text is read.
    let questions = store.item_first_lines(run.id)?;
    let mut labels = store.labels_by_episode(run.id)?;
    Ok(store
        .outcomes_of_run(run.id)?
        .into_iter()
        .map(|(id, o)| {
            let ep = o.episode(id);
            let t = o.to_turns();
            let l = labels.remove(&id).unwrap_or_default();
            EpisodeRow {
                id,
                item_id: ep.item_id.0.clone(),
                status: ep.status,
                // The cell the metrics count, so the table and the metrics never disagree.
                transition: if ep.status == EpisodeStatus::Done {
                    crate::metrics::episode_cell(run.protocol.kind, &ep, &t, &l)
                        .map(|(a, b)| Transition::of(a, b))
                } else {
                    None
                },
                shapes: shapes(run.protocol.kind, &t),
                labels: l,
                question: questions.get(id.item as usize).cloned().unwrap_or_default(),
            }
        })
        .collect())
}

pub fn episode(store: &Store, run: &RunRecord, id: EpisodeId) -> Result<EpisodeDetail, StoreError> {
    let ep = store
        .episode(id)?
        .ok_or_else(|| StoreError::NoSuchRun(format!("{} (episode {id})", run.name)))?;
    let item = store.item(run.id, id.item)?.ok_or_else(|| StoreError::Corrupt {
        tree: "items",
        message: format!("no item {}", id.item),
    })?;
    let turns = store.turns(id)?;
    Ok(EpisodeDetail {
        id,
        run_name: run.name.clone(),
        protocol: run.protocol.kind,
        simulated: turns.iter().any(|t| t.simulated),
        item,
        status: ep.status,
        error: ep.error,
        turns,
        labels: store.labels(id)?,
    })
}

/// The run a snapshot belongs to.
pub fn run_by_id(store: &Store, id: RunId) -> Result<RunRecord, StoreError> {
    store
        .runs()?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| StoreError::NoSuchRun(format!("#{}", id.0)))
}
