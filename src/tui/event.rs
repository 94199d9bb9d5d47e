//! Everything that can happen to the UI. `App::update` turns these into state and effects.

use crate::browse::{EpisodeDetail, EpisodeRow, RunRow};
use crate::domain::{EpisodeId, Item, Label, Queue, RunId, Turn};
use crate::metrics::{Comparison, MetricsReport};
use crate::runner::RunEvent;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// Terminal input: keys, mouse, resize.
    #[serde(skip)]
    Term(crossterm::event::Event),
    /// A quarter-second tick, for spinners and elapsed times.
    #[serde(skip)]
    Tick,
    /// The runs table was (re)loaded.
    Runs(Vec<RunRow>),
    /// The episodes of a run were loaded.
    Episodes { run: RunId, rows: Vec<EpisodeRow>, queue: Option<Queue> },
    /// One episode with its turns and labels was loaded.
    Episode(Box<EpisodeDetail>),
    /// Metrics of a run were computed.
    Metrics { run: RunId, report: Box<MetricsReport> },
    /// Run `b` compared with run `a` on their shared items, or why it could not be.
    Comparison { a: RunId, b: RunId, result: Result<Box<Comparison>, String> },
    /// A label entry is durable in the database (only now is it shown as saved); `undo` when
    /// it took back an earlier one.
    LabelSaved { id: EpisodeId, seq: u64, label: Label, undo: bool },
    /// The annotator's name was saved in the config file.
    AnnotatorSaved(String),
    /// Progress of a background run.
    Run(RunEvent),
    /// Step mode: a run to step through was created from `source`.
    StepReady { run: RunId, source: String, items: Vec<Item> },
    /// Step mode: a typed question was added to the run's items (it is the last one).
    StepItemAdded { run: RunId, item: Box<Item> },
    /// Step mode: the stored turns of the selected item.
    StepTurns { run: RunId, item: u32, turns: Vec<Turn> },
    /// Step mode: streamed text of the turn being generated.
    StepDelta { run: RunId, item: u32, text: String },
    /// Step mode: a turn finished and is durable; `done` when the protocol has no next turn.
    StepTurn { run: RunId, item: u32, turn: Box<Turn>, done: bool },
    /// Step mode: the request failed.
    StepFailed { run: RunId, item: u32, error: String },
    /// Another client of the database's server stored a label on this episode.
    LabelChanged(EpisodeId),
    /// Runs were created or deleted elsewhere, or news was missed: reload the runs table.
    RunsChanged,
    /// The link to the database's server was lost and made again (a new server took over).
    Reconnected,
    /// Background work failed; shown on the status line.
    Error(String),
    /// Background work has something to say (a run took the first N items); status line.
    Info(String),
}
