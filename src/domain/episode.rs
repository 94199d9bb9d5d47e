use serde::{Deserialize, Serialize};

use super::{ItemId, Meta, RunId};

/// One (run, item, sample): the key of an episode and the prefix of its turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EpisodeId {
    pub run: RunId,
    /// Index of the item in the run's item list.
    pub item: u32,
    pub sample: u32,
}

impl std::fmt::Display for EpisodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.run.0, self.item, self.sample)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpisodeStatus {
    /// Not finished: turns may still be missing.
    Pending,
    Done,
    /// A turn failed for good; `error` says why.
    Failed,
}

/// An episode record (its turns live in their own tree).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub id: EpisodeId,
    pub item_id: ItemId,
    pub status: EpisodeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}
