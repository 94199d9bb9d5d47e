//! Pure data of critloop (DESIGN §1): items, runs, episodes, turns, labels.
//! Serde only; no I/O.

mod episode;
mod item;
mod label;
mod run;
mod turn;

pub use episode::{Episode, EpisodeId, EpisodeStatus};
pub use item::{AnswerKind, GivenSolution, Item, ItemId};
pub use label::Label;
pub use run::{
    CritiqueSource, EndpointSpec, OpenAiSpec, Prices, Prompts, ProtocolKind, ProtocolSpec,
    ProviderSpec, RunId, RunRecord, RunStatus, Sampling, SimParams,
};
pub use turn::{MatchTier, Role, Turn, Verdict, VerdictMethod};

/// Free-form metadata carried through import and export untouched.
pub type Meta = serde_json::Map<String, serde_json::Value>;
