//! The outcome of an episode: everything the metrics read about it, in one small binary
//! record per episode (tree `outcomes`), so that computing a run's metrics never decodes turn
//! text, items or episode records. The store rewrites it in the same transaction as each write
//! of the episode or one of its turns; it is derived data, rebuilt whenever its format changes.

use serde::{Deserialize, Serialize};

use crate::domain::{Episode, EpisodeId, EpisodeStatus, ItemId, Meta, Role, Turn, Verdict};

/// Bumped whenever the record's layout changes: records of another format are rebuilt.
pub(super) const FORMAT: u32 = 1;

/// One episode as the metrics see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub item_id: String,
    pub status: EpisodeStatus,
    /// The dataset's label of the item's given solution (grader agreement).
    pub given_label: Option<bool>,
    /// The episode's turns in index order.
    pub turns: Vec<TurnOutcome>,
}

/// One turn as the metrics see it: every graded field, no text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnOutcome {
    pub role: Role,
    pub answer: Option<String>,
    pub correct: Option<bool>,
    pub verdict: Option<Verdict>,
    pub confidence: Option<f64>,
    pub p_true: Option<f64>,
    pub p_true_raw: Option<f64>,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub latency_ms: Option<u64>,
    /// The reply was cut at the token limit (`finish_reason` "length").
    pub truncated: bool,
    /// Served from the response cache.
    pub cached: bool,
    /// Made without a model call (control arms).
    pub synthetic: bool,
}

impl TurnOutcome {
    pub fn of(t: &Turn) -> TurnOutcome {
        TurnOutcome {
            role: t.role,
            answer: t.answer.clone(),
            correct: t.correct,
            verdict: t.verdict,
            confidence: t.confidence,
            p_true: t.p_true,
            p_true_raw: t.p_true_raw,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            latency_ms: t.latency_ms,
            truncated: t.finish_reason.as_deref() == Some("length"),
            cached: t.meta.contains_key("cached"),
            synthetic: t.meta.contains_key(crate::domain::SYNTHETIC),
        }
    }

    /// The turn as the metrics code reads it: no text, and only the meta keys it looks at.
    pub fn to_turn(&self) -> Turn {
        let mut meta = Meta::new();
        if self.cached {
            meta.insert("cached".into(), serde_json::Value::Bool(true));
        }
        if self.synthetic {
            meta.insert(crate::domain::SYNTHETIC.into(), serde_json::Value::Bool(true));
        }
        Turn {
            role: self.role,
            content: String::new(),
            answer: self.answer.clone(),
            correct: self.correct,
            tier: None,
            verdict: self.verdict,
            verdict_method: None,
            confidence: self.confidence,
            p_true: self.p_true,
            p_true_raw: self.p_true_raw,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            latency_ms: self.latency_ms,
            model: None,
            finish_reason: self.truncated.then(|| "length".to_string()),
            error: None,
            request_key: None,
            simulated: false,
            retries: Default::default(),
            meta,
        }
    }
}

impl Outcome {
    pub fn new(ep: &Episode, turns: &[Turn], given_label: Option<bool>) -> Outcome {
        Outcome {
            item_id: ep.item_id.0.clone(),
            status: ep.status,
            given_label,
            turns: turns.iter().map(TurnOutcome::of).collect(),
        }
    }

    /// The episode record as the metrics read it (no error text, no meta).
    pub fn episode(&self, id: EpisodeId) -> Episode {
        Episode {
            id,
            item_id: ItemId(self.item_id.clone()),
            status: self.status,
            error: None,
            meta: Meta::new(),
        }
    }

    pub fn to_turns(&self) -> Vec<Turn> {
        self.turns.iter().map(TurnOutcome::to_turn).collect()
    }
}

pub(super) fn encode(o: &Outcome) -> super::Result<Vec<u8>> {
    postcard::to_allocvec(o)
        .map_err(|e| super::StoreError::Corrupt { tree: "outcomes", message: e.to_string() })
}

pub(super) fn decode(b: &[u8]) -> super::Result<Outcome> {
    postcard::from_bytes(b)
        .map_err(|e| super::StoreError::Corrupt { tree: "outcomes", message: e.to_string() })
}
