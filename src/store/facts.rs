//! A stored turn as the metrics read it: every graded field, no text. Field names and defaults
//! mirror `Turn` (the oracle test in `tests.rs` decodes both and compares).

use serde::Deserialize;

use crate::domain::{MatchTier, Meta, Role, Turn, Verdict, VerdictMethod};

#[derive(Deserialize)]
pub(super) struct TurnFacts {
    role: Role,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    correct: Option<bool>,
    #[serde(default)]
    tier: Option<MatchTier>,
    #[serde(default)]
    verdict: Option<Verdict>,
    #[serde(default)]
    verdict_method: Option<VerdictMethod>,
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default)]
    p_true: Option<f64>,
    #[serde(default)]
    p_true_raw: Option<f64>,
    #[serde(default)]
    prompt_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens: Option<u32>,
    #[serde(default)]
    latency_ms: Option<u64>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    request_key: Option<String>,
    #[serde(default)]
    simulated: bool,
    #[serde(default)]
    retries: std::collections::BTreeMap<String, u32>,
    /// The two `meta` keys metrics look at.
    #[serde(default)]
    cached: Option<serde_json::Value>,
    #[serde(default)]
    synthetic: Option<serde_json::Value>,
}

impl TurnFacts {
    pub(super) fn into_turn(self) -> Turn {
        let mut meta = Meta::new();
        if let Some(v) = self.cached {
            meta.insert("cached".into(), v);
        }
        if let Some(v) = self.synthetic {
            meta.insert("synthetic".into(), v);
        }
        Turn {
            role: self.role,
            content: String::new(),
            answer: self.answer,
            correct: self.correct,
            tier: self.tier,
            verdict: self.verdict,
            verdict_method: self.verdict_method,
            confidence: self.confidence,
            p_true: self.p_true,
            p_true_raw: self.p_true_raw,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            latency_ms: self.latency_ms,
            model: self.model,
            finish_reason: self.finish_reason,
            error: self.error,
            request_key: self.request_key,
            simulated: self.simulated,
            retries: self.retries,
            meta,
        }
    }
}
