use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Meta;

/// Meta key an older record used to name the run a control arm shares its first attempts with.
pub const ARM_OF: &str = "arm_of";
/// Meta key an older record used to name a control arm's kind.
pub const ARM: &str = "arm";
/// Meta key an older record used to name the transcript a run was imported from.
pub const IMPORTED_FROM: &str = "imported_from";

/// Database-wide run number; runs are addressed by name in the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub u64);

/// The four protocol shapes of DESIGN §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtocolKind {
    CritiqueRevise,
    SelfCorrect,
    CriticCorrect,
    CritiqueOnly,
}

impl ProtocolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolKind::CritiqueRevise => "critique-revise",
            ProtocolKind::SelfCorrect => "self-correct",
            ProtocolKind::CriticCorrect => "critic-correct",
            ProtocolKind::CritiqueOnly => "critique-only",
        }
    }

    /// Protocols that start from the item's given solution.
    pub fn uses_given(self) -> bool {
        matches!(self, ProtocolKind::CriticCorrect | ProtocolKind::CritiqueOnly)
    }
}

/// Prompt templates. Placeholders: `{question}`, `{choices}`, `{solution}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Prompts {
    /// Optional system message placed first in every conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The user message that poses the question.
    #[serde(default)]
    pub question: String,
    /// Asks for a critique of the previous answer (critique-revise).
    #[serde(default)]
    pub critique: String,
    /// Asks for a revised answer after the critique (critique-revise).
    #[serde(default)]
    pub revise: String,
    /// The second prompt of self-correct.
    #[serde(default)]
    pub second: String,
    /// The critic prompt on a given solution (critic-correct, critique-only).
    #[serde(default)]
    pub critic: String,
    /// The second-try prompt of a critique-revise run without critique (control arm); it
    /// mentions no critique. Absent in older records, so their prompts hash is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
}

/// A protocol preset with its prompt texts: stored whole with every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolSpec {
    pub name: String,
    pub kind: ProtocolKind,
    /// Critique/revise rounds (self-correct: extra attempts).
    pub rounds: u32,
    /// critique-revise: skip the revise when the verdict is `correct`.
    #[serde(default)]
    pub stop_when_correct: bool,
    /// critique-revise: where the critique comes from (control arms replace the model's).
    #[serde(default, skip_serializing_if = "CritiqueSource::is_model")]
    pub critique_source: CritiqueSource,
    pub prompts: Prompts,
}

/// Where the critique of a critique-revise episode comes from. Everything but `Model` is a
/// control arm that isolates the critique's own effect on the revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CritiqueSource {
    /// The critic model writes it (the experiment itself).
    #[default]
    Model,
    /// No critique turn: the model is only asked to try again.
    None,
    /// An empty critique turn, written without a model call.
    Empty,
    /// "Your answer is wrong/right", from the grade of the critiqued answer (no model call).
    Oracle,
}

impl CritiqueSource {
    pub fn is_model(&self) -> bool {
        *self == CritiqueSource::Model
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CritiqueSource::Model => "model",
            CritiqueSource::None => "none",
            CritiqueSource::Empty => "empty",
            CritiqueSource::Oracle => "oracle",
        }
    }
}

/// Sampling settings sent with every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: u32,
    pub seed: u64,
    /// Samples per item (k).
    pub samples: u32,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { temperature: 0.7, top_p: 1.0, max_tokens: 1024, seed: 0, samples: 1 }
    }
}

/// Parameters of the `sim` provider: a seeded model of a self-correcting LLM whose true
/// confidence level and critique score follow from these numbers (see `llm::sim`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimParams {
    /// P(first attempt correct).
    pub p_correct: f64,
    /// Critic true-positive rate: P(verdict incorrect | answer wrong).
    pub tpr: f64,
    /// Critic false-positive rate: P(verdict incorrect | answer right).
    pub fpr: f64,
    /// P(revision right | answer wrong, critique flagged it wrong).
    pub p_fix: f64,
    /// P(revision right | answer wrong, critique called it right).
    pub p_fix_unflagged: f64,
    /// P(revision wrong | answer right, critique flagged it wrong).
    pub p_break: f64,
    /// P(revision wrong | answer right, critique called it right).
    pub p_break_unflagged: f64,
    /// P(a critique states no parseable verdict).
    pub p_unparsed: f64,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            p_correct: 0.6,
            tpr: 0.7,
            fpr: 0.15,
            p_fix: 0.5,
            p_fix_unflagged: 0.05,
            p_break: 0.3,
            p_break_unflagged: 0.02,
            p_unparsed: 0.02,
        }
    }
}

impl SimParams {
    /// P(critique flags the answer wrong | answer right), counting unparsed verdicts as not flagged.
    fn flag_given_right(&self) -> f64 {
        (1.0 - self.p_unparsed) * self.fpr
    }

    fn flag_given_wrong(&self) -> f64 {
        (1.0 - self.p_unparsed) * self.tpr
    }

    /// True confidence level P(t2 right | t1 right) for one critique-revise round.
    pub fn true_cl(&self) -> f64 {
        let f = self.flag_given_right();
        1.0 - (f * self.p_break + (1.0 - f) * self.p_break_unflagged)
    }

    /// True critique score P(t2 right | t1 wrong) for one critique-revise round.
    pub fn true_cs(&self) -> f64 {
        let f = self.flag_given_wrong();
        f * self.p_fix + (1.0 - f) * self.p_fix_unflagged
    }
}

/// One OpenAI-compatible endpoint: one or more replicas of a model. The key itself is never
/// stored: only the name of the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSpec {
    pub base_urls: Vec<String>,
    pub api_key_env: String,
}

/// Prices in currency units per million tokens, for cost estimates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    pub prompt_per_mtok: f64,
    pub completion_per_mtok: f64,
}

/// Settings of the `openai` provider, stored with the run so `--resume` can rebuild it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiSpec {
    pub generator: EndpointSpec,
    /// A separate critic endpoint (cross-critique on another server); `None` = the generator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critic: Option<EndpointSpec>,
    /// Overall cap per request, from the moment it reaches the front of the server's queue.
    pub timeout_secs: f64,
    /// TCP (and TLS) connect.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: f64,
    /// Streams: until the first chunk, from the moment the request reaches the front of the queue.
    #[serde(default = "default_first_token_timeout")]
    pub first_token_timeout_secs: f64,
    /// Streams: the longest gap between two chunks.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: f64,
    pub max_retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    pub concurrency: usize,
    #[serde(default)]
    pub logprobs: bool,
    /// Use SSE streaming for every call.
    #[serde(default)]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
}

/// Defaults of the openai provider's timeouts, in seconds (like the OpenAI SDK's 600 s cap).
pub const DEFAULT_TIMEOUT_SECS: f64 = 600.0;
pub const DEFAULT_CONNECT_TIMEOUT_SECS: f64 = 10.0;
pub const DEFAULT_FIRST_TOKEN_TIMEOUT_SECS: f64 = 180.0;
pub const DEFAULT_IDLE_TIMEOUT_SECS: f64 = 60.0;
pub const DEFAULT_MAX_RETRIES: u32 = 5;

fn default_connect_timeout() -> f64 {
    DEFAULT_CONNECT_TIMEOUT_SECS
}

fn default_first_token_timeout() -> f64 {
    DEFAULT_FIRST_TOKEN_TIMEOUT_SECS
}

fn default_idle_timeout() -> f64 {
    DEFAULT_IDLE_TIMEOUT_SECS
}

impl OpenAiSpec {
    /// One endpoint with every other setting at its default.
    pub fn new(generator: EndpointSpec, concurrency: usize) -> OpenAiSpec {
        OpenAiSpec {
            generator,
            critic: None,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            first_token_timeout_secs: DEFAULT_FIRST_TOKEN_TIMEOUT_SECS,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            max_retries: DEFAULT_MAX_RETRIES,
            rpm: None,
            concurrency,
            logprobs: false,
            stream: false,
            prices: None,
        }
    }
}

/// Which provider answers the run's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProviderSpec {
    /// The offline simulator.
    Sim { params: SimParams },
    /// An OpenAI-compatible chat endpoint.
    #[serde(rename = "openai")]
    OpenAi(OpenAiSpec),
    /// Turns come from an imported transcript.
    Replay,
}

impl ProviderSpec {
    pub fn name(&self) -> &'static str {
        match self {
            ProviderSpec::Sim { .. } => "sim",
            ProviderSpec::OpenAi(_) => "openai",
            ProviderSpec::Replay => "replay",
        }
    }
}

/// Lifecycle of a run as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Created,
    Running,
    Finished,
    Cancelled,
}

impl RunStatus {
    /// The status as the word stored and shown (`created`, `running`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Created => "created",
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

/// How a run grades answers (typed; older records kept it as the note `qwen_compat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Grading {
    /// Also accept x·100 and x/100 (Qwen2.5-Math's evaluation quirk).
    #[serde(default)]
    pub qwen_compat: bool,
}

impl Grading {
    fn is_default(&self) -> bool {
        *self == Grading::default()
    }
}

/// Where a run came from (typed; older records kept it in `meta`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    /// Made by `critloop run`, the workbench or step mode.
    #[default]
    Created,
    /// A control arm of run `of`: its first attempts are copies of `of`'s.
    Arm { of: String, arm: String },
    /// Imported from a transcript file.
    Imported { from: String },
}

impl Origin {
    fn is_default(&self) -> bool {
        *self == Origin::Created
    }
}

/// A named experiment with everything needed to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub name: String,
    /// Dataset name (bundled) or path.
    pub dataset: String,
    /// Hash of the item list as stored with the run.
    pub dataset_hash: String,
    pub protocol: ProtocolSpec,
    pub provider: ProviderSpec,
    pub model: String,
    pub critic_model: String,
    pub sampling: Sampling,
    pub status: RunStatus,
    /// critloop version that created the run.
    pub version: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
    #[serde(default, skip_serializing_if = "Grading::is_default")]
    pub grading: Grading,
    #[serde(default, skip_serializing_if = "Origin::is_default")]
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

impl RunRecord {
    /// Where the run came from (an older record's meta keys read too).
    pub fn origin(&self) -> Origin {
        if self.origin != Origin::Created {
            return self.origin.clone();
        }
        let meta = |k: &str| self.meta.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if let Some(of) = meta(ARM_OF) {
            return Origin::Arm { of, arm: meta(ARM).unwrap_or_else(|| "arm".into()) };
        }
        match meta(IMPORTED_FROM) {
            Some(from) => Origin::Imported { from },
            None => Origin::Created,
        }
    }

    /// The run whose first attempts this one shares (a control arm's source).
    pub fn arm_of(&self) -> Option<String> {
        match self.origin() {
            Origin::Arm { of, .. } => Some(of),
            _ => None,
        }
    }

    /// The grading options the run was made with (an older record's `qwen_compat` note too).
    pub fn grading(&self) -> Grading {
        let noted = self.notes.get("qwen_compat").is_some_and(|v| v == "true");
        Grading { qwen_compat: self.grading.qwen_compat || noted }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunRecord {
        RunRecord {
            id: RunId(1),
            name: "r".into(),
            dataset: "d".into(),
            dataset_hash: "h".into(),
            protocol: ProtocolSpec {
                name: "critique-revise".into(),
                kind: ProtocolKind::CritiqueRevise,
                rounds: 1,
                stop_when_correct: false,
                critique_source: Default::default(),
                prompts: Default::default(),
            },
            provider: ProviderSpec::Sim { params: SimParams::default() },
            model: "m".into(),
            critic_model: "m".into(),
            sampling: Sampling::default(),
            status: RunStatus::Finished,
            version: "0.1.0".into(),
            created: 0,
            grading: Grading::default(),
            origin: Origin::Created,
            notes: BTreeMap::new(),
            meta: Meta::new(),
        }
    }

    #[test]
    fn grading_is_typed_and_an_older_record_note_still_reads() {
        let mut record = sample();
        record.notes.insert("qwen_compat".into(), "true".into());
        // As an older critloop wrote it: no `grading`, the option in a note.
        let mut v = serde_json::to_value(&record).unwrap();
        assert!(v.get("grading").is_none(), "the default is left out");
        let old: RunRecord = serde_json::from_value(v.clone()).unwrap();
        assert!(!old.grading.qwen_compat);
        assert!(old.grading().qwen_compat, "the old note still counts");
        v["notes"] = serde_json::json!({});
        v["grading"] = serde_json::json!({"qwen_compat": true});
        let new: RunRecord = serde_json::from_value(v.clone()).unwrap();
        assert!(new.grading().qwen_compat);
        v["grading"] = serde_json::json!({});
        let plain: RunRecord = serde_json::from_value(v).unwrap();
        assert!(!plain.grading().qwen_compat);
        assert_eq!(plain.origin(), Origin::Created);
    }

    #[test]
    fn origin_is_typed_and_older_meta_keys_still_read() {
        let mut old = sample();
        old.meta.insert(ARM_OF.into(), "base".into());
        old.meta.insert(ARM.into(), "no-critique".into());
        let arm = Origin::Arm { of: "base".into(), arm: "no-critique".into() };
        assert_eq!(old.origin(), arm);
        assert_eq!(old.arm_of().as_deref(), Some("base"));
        let mut new = sample();
        new.origin = arm.clone();
        let v = serde_json::to_value(&new).unwrap();
        assert_eq!(
            v["origin"],
            serde_json::json!({"kind": "arm", "of": "base", "arm": "no-critique"})
        );
        let back: RunRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back.origin(), arm);
        let mut imported = sample();
        imported.meta.insert(IMPORTED_FROM.into(), "t.jsonl".into());
        assert_eq!(imported.origin(), Origin::Imported { from: "t.jsonl".into() });
        assert_eq!(imported.arm_of(), None);
    }
}
