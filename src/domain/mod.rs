//! Pure data of critloop (DESIGN §1): items, runs, episodes, turns, labels.
//! Serde only; no I/O.

mod episode;
mod item;
pub mod label;
mod queue;
mod run;
mod schema;
pub mod text;
mod turn;

pub use episode::{Episode, EpisodeId, EpisodeStatus};
pub use item::{AnswerKind, GivenSolution, Item, ItemId};
pub use label::{GRADE_OVERRIDE, Label, override_value};
pub use queue::Queue;
pub use run::{
    ARM, ARM_OF, CritiqueSource, DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_FIRST_TOKEN_TIMEOUT_SECS,
    DEFAULT_IDLE_TIMEOUT_SECS, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECS, EndpointSpec, Grading,
    IMPORTED_FROM, OpenAiSpec, Origin, Prices, Prompts, ProtocolKind, ProtocolSpec, ProviderSpec,
    RunId, RunRecord, RunStatus, Sampling, SimParams,
};
pub use schema::{AppliesTo, LabelField, LabelSchema, LabelValue, TurnShape};
pub use turn::{MatchTier, Role, SYNTHETIC, Turn, Verdict, VerdictMethod};

/// Free-form metadata carried through import and export untouched.
pub type Meta = serde_json::Map<String, serde_json::Value>;
