//! Providers (DESIGN §8). `sim` is the offline default; `replay` serves imported transcripts.

pub mod doctor;
mod flow;
mod logprobs;
mod openai;
mod sim;
mod transport;

pub use flow::{Congestion, Flow, Permit};
pub use logprobs::{TokenLogprob, TopLogprob, p_true, p_true_at};
pub use openai::OpenAiProvider;
pub use sim::simulate;
pub use transport::{Replicas, RetryPolicy, retry_after};

use std::sync::Arc;

use crate::domain::{Item, ProtocolKind, ProviderSpec, Sampling, Turn};
use crate::protocol::Step;

/// Everything a provider may look at to produce one turn.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub item: &'a Item,
    pub sample: u32,
    pub step: &'a Step,
    /// Turns of the episode so far, graded.
    pub prior: &'a [Turn],
    pub protocol: ProtocolKind,
    pub model: &'a str,
    pub sampling: &'a Sampling,
    /// Receives text as it streams in (step mode); forces streaming when set.
    pub deltas: Option<&'a tokio::sync::mpsc::UnboundedSender<String>>,
}

/// A provider's answer, before grading.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub content: String,
    pub model: String,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub finish_reason: Option<String>,
    pub simulated: bool,
    /// (raw, renormalised) P(verdict "correct") from logprobs.
    pub p_true: Option<(f64, f64)>,
    /// The reply's tokens with their logprobs, when the endpoint returned them.
    pub tokens: Vec<TokenLogprob>,
    /// Wall time of the successful attempt.
    pub latency_ms: Option<u64>,
    /// Attempts that failed before this reply, by cause (`Kind::name`).
    pub retried: std::collections::BTreeMap<String, u32>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("replay runs have no endpoint: their turns come from the imported transcript")]
    Replay,
    /// The endpoint failed for good (after retries); `message` is the endpoint's own,
    /// `cause` the kind of the last failure, `retried` the failed attempts before it.
    #[error("{endpoint}: {message}")]
    Endpoint {
        endpoint: String,
        message: String,
        cause: String,
        retried: std::collections::BTreeMap<String, u32>,
    },
    #[error("{0}")]
    Config(String),
}

/// The innermost cause of an error: what actually happened on the wire.
pub(crate) fn innermost_cause(e: &dyn std::error::Error) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// Seconds from a flag or a stored spec, kept within 0.1 s … ~30 years (NaN and ∞ included).
pub fn secs(v: f64) -> std::time::Duration {
    let v = if v.is_nan() { 0.1 } else { v.clamp(0.1, 1e9) };
    std::time::Duration::from_secs_f64(v)
}

/// What a provider is doing right now (openai: summed over its endpoints).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Requests sent so far, retries included.
    pub requests: u64,
    pub retries: u64,
    /// Completion tokens received so far.
    pub tokens: u64,
    /// Requests waiting for their reply.
    pub in_flight: u64,
    /// Requests allowed in flight now (adapts under timeouts and 429s).
    pub concurrency: u64,
    /// The most allowed (`--concurrency`).
    pub max_concurrency: u64,
}

/// A configured provider.
#[derive(Debug, Clone)]
pub enum Provider {
    Sim(crate::domain::SimParams),
    OpenAi(Arc<OpenAiProvider>),
    Replay,
}

impl Provider {
    pub fn from_spec(spec: &ProviderSpec) -> Result<Provider, LlmError> {
        Ok(match spec {
            ProviderSpec::Sim { params } => Provider::Sim(params.clone()),
            ProviderSpec::OpenAi(o) => Provider::OpenAi(Arc::new(OpenAiProvider::new(o)?)),
            ProviderSpec::Replay => Provider::Replay,
        })
    }

    /// Whether replies cost something and so belong in the response cache.
    pub fn cacheable(&self) -> bool {
        matches!(self, Provider::OpenAi(_))
    }

    /// Text that distinguishes endpoints in cache keys.
    pub fn endpoint_label(&self, role: crate::domain::Role) -> &str {
        match self {
            Provider::OpenAi(p) => p.endpoint_label(role),
            Provider::Sim(_) => "sim",
            Provider::Replay => "replay",
        }
    }

    /// Live counters, for providers that talk to an endpoint.
    pub fn live(&self) -> Option<LiveStats> {
        match self {
            Provider::OpenAi(p) => Some(p.live()),
            _ => None,
        }
    }

    pub async fn complete(&self, req: Request<'_>) -> Result<Reply, LlmError> {
        match self {
            Provider::Sim(params) => {
                let reply = simulate(params, &req);
                if let Some(tx) = req.deltas {
                    let _ = tx.send(reply.content.clone());
                }
                Ok(reply)
            }
            Provider::OpenAi(p) => p.complete(&req).await,
            Provider::Replay => Err(LlmError::Replay),
        }
    }
}

/// Response-cache key: a hash of model, messages and sampling, including seed and sample index.
/// Endpoint-specific providers add their base URL to `model`'s side of the hash.
pub fn request_key(
    endpoint: &str,
    logprobs: bool,
    model: &str,
    messages: &[crate::protocol::ChatMessage],
    sampling: &crate::domain::Sampling,
    sample: u32,
) -> String {
    use sha2::{Digest, Sha256};
    let payload = serde_json::json!({
        "endpoint": endpoint,
        "logprobs": logprobs,
        "model": model,
        "messages": messages,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "seed": sampling.seed,
        "sample": sample,
    });
    let digest = Sha256::digest(payload.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
