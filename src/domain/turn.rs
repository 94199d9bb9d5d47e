use serde::{Deserialize, Serialize};

use super::Meta;

/// What a turn did inside an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An imported solution (critic-only protocols); an attempt.
    Given,
    /// The first model answer; an attempt.
    Generate,
    /// A critique of the previous attempt (may also carry a corrected answer in critic-correct).
    Critique,
    /// A revised answer; an attempt.
    Revise,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Given => "given",
            Role::Generate => "generate",
            Role::Critique => "critique",
            Role::Revise => "revise",
        }
    }
}

/// The critic's verdict on the answer it critiqued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Correct,
    Incorrect,
    /// The critique stated no verdict that could be parsed.
    Unparsed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Correct => "correct",
            Verdict::Incorrect => "incorrect",
            Verdict::Unparsed => "unparsed",
        }
    }
}

/// Which rule of the verdict parser read a critique's verdict (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictMethod {
    /// An explicit label: `Verdict: incorrect`, `**Verdict:** Correct`.
    Labelled,
    /// CriticBench brackets: `[[correct]]`.
    Bracket,
    /// A JSON object with a `verdict` key.
    Json,
    /// A statement about the whole attempt: "the solution is (not) correct", "Incorrect.".
    Stated,
    /// Other prose: "there is an error in step 2", "no mistakes", "I made a mistake".
    Prose,
}

impl VerdictMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictMethod::Labelled => "labelled",
            VerdictMethod::Bracket => "bracket",
            VerdictMethod::Json => "json",
            VerdictMethod::Stated => "stated",
            VerdictMethod::Prose => "prose",
        }
    }
}

/// Which equivalence tier matched a graded answer (DESIGN §3); `None` means no tier matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchTier {
    /// Identical strings after whitespace trimming.
    Exact,
    /// Identical after LaTeX/unit/format normalisation.
    Normalized,
    /// Numerically equal: a decimal within its written precision and 1e-4 relative.
    Numeric,
    /// Equal as exact rationals.
    Rational,
    /// Tuples, intervals or matrices equal element by element.
    Elementwise,
    /// Same multiple-choice letter.
    Choice,
    /// Accepted only under `--qwen-compat` (x·100 or x/100).
    QwenCompat,
    /// x·100 or x/100 of the reference, accepted because the question asks for a percentage.
    Percent,
    /// Equal as math expressions (the symbolic tier, `grade::symbolic`).
    Symbolic,
    /// No tier matched: the answer is wrong.
    None,
}

/// One model call (or imported solution) inside an episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    /// Extracted final answer (attempts, and critic-correct critiques).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Grade of `answer` against the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<MatchTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Which parser rule produced `verdict` (absent for imported or synthetic verdicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict_method: Option<VerdictMethod>,
    /// Verbalised confidence in [0,1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// P(True)-style: probability of the verdict "correct" from the verdict token's logprobs,
    /// renormalised over the two options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_true: Option<f64>,
    /// The same before renormalisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_true_raw: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Error message when the call failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Hash of the request (response-cache key) instead of the full messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_key: Option<String>,
    /// True when the text came from the `sim` provider.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
    /// Failed attempts before this turn's reply, by cause (`rate_limited`, `server`, …).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub retries: std::collections::BTreeMap<String, u32>,
    /// Fields critloop does not know, kept through import and export.
    #[serde(flatten, default)]
    pub meta: Meta,
}

impl Turn {
    /// A turn with only role and content set.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Turn {
            role,
            content: content.into(),
            answer: None,
            correct: None,
            tier: None,
            verdict: None,
            verdict_method: None,
            confidence: None,
            p_true: None,
            p_true_raw: None,
            prompt_tokens: None,
            completion_tokens: None,
            latency_ms: None,
            model: None,
            finish_reason: None,
            error: None,
            request_key: None,
            simulated: false,
            retries: Default::default(),
            meta: Meta::new(),
        }
    }

    /// Attempts carry an answer that is graded (t1, t2, …).
    pub fn is_attempt(&self) -> bool {
        matches!(self.role, Role::Given | Role::Generate | Role::Revise)
    }
}

/// Meta key marking a turn no model wrote; its value is the critique source (`empty`, `oracle`).
pub const SYNTHETIC: &str = "synthetic";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_method_is_snake_case_and_optional() {
        let mut t = Turn::new(Role::Critique, "No errors.");
        let bare = serde_json::to_value(&t).unwrap();
        assert!(bare.get("verdict_method").is_none(), "absent when None: {bare}");
        t.verdict_method = Some(VerdictMethod::Prose);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["verdict_method"], "prose");
        let back: Turn = serde_json::from_value(json).unwrap();
        assert_eq!(back.verdict_method, Some(VerdictMethod::Prose));
        let old: Turn = serde_json::from_value(bare).unwrap();
        assert_eq!(old.verdict_method, None);
        let all = [
            (VerdictMethod::Labelled, "labelled"),
            (VerdictMethod::Bracket, "bracket"),
            (VerdictMethod::Json, "json"),
            (VerdictMethod::Stated, "stated"),
            (VerdictMethod::Prose, "prose"),
        ];
        for (m, name) in all {
            assert_eq!(serde_json::to_value(m).unwrap(), name);
            assert_eq!(m.as_str(), name);
        }
    }
}
