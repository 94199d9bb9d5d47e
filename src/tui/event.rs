//! Everything that can happen to the UI. `App::update` turns these into state and effects.

use crate::browse::{EpisodeDetail, EpisodeRow, RunRow};
use crate::domain::{EpisodeId, Label, RunId};
use crate::metrics::MetricsReport;
use crate::runner::RunEvent;

#[derive(Debug, Clone)]
pub enum Event {
    /// Terminal input: keys, mouse, resize.
    Term(crossterm::event::Event),
    /// A quarter-second tick, for spinners and elapsed times.
    Tick,
    /// The runs table was (re)loaded.
    Runs(Vec<RunRow>),
    /// The episodes of a run were loaded.
    Episodes { run: RunId, rows: Vec<EpisodeRow> },
    /// One episode with its turns and labels was loaded.
    Episode(Box<EpisodeDetail>),
    /// Metrics of a run were computed.
    Metrics { run: RunId, report: Box<MetricsReport> },
    /// A label is durable in the database (only now is it shown as saved).
    LabelSaved { id: EpisodeId, seq: u64, label: Label },
    /// An undo removed a label, durably.
    LabelRemoved { id: EpisodeId, seq: u64 },
    /// Progress of a background run.
    Run(RunEvent),
    /// Background work failed; shown on the status line.
    Error(String),
}
