use serde::{Deserialize, Serialize};

/// A human judgement on an episode (turn = None) or one of its turns (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub annotator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    pub name: String,
    pub value: String,
    /// Seconds since the Unix epoch, UTC.
    #[serde(default)]
    pub time: u64,
}
