//! Providers (DESIGN §8). `sim` is the offline default; `replay` serves imported transcripts.

mod sim;

pub use sim::simulate;

use crate::domain::{Item, ProtocolKind, ProviderSpec, Turn};
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
    pub seed: u64,
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
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("replay runs have no endpoint: their turns come from the imported transcript")]
    Replay,
}

/// A configured provider.
#[derive(Debug, Clone)]
pub enum Provider {
    Sim(crate::domain::SimParams),
    Replay,
}

impl Provider {
    pub fn from_spec(spec: &ProviderSpec) -> Provider {
        match spec {
            ProviderSpec::Sim { params } => Provider::Sim(params.clone()),
            ProviderSpec::Replay => Provider::Replay,
        }
    }

    pub async fn complete(&self, req: Request<'_>) -> Result<Reply, LlmError> {
        match self {
            Provider::Sim(params) => Ok(simulate(params, &req)),
            Provider::Replay => Err(LlmError::Replay),
        }
    }
}

/// Response-cache key: a hash of model, messages and sampling, including seed and sample index.
/// Endpoint-specific providers add their base URL to `model`'s side of the hash.
pub fn request_key(
    model: &str,
    messages: &[crate::protocol::ChatMessage],
    sampling: &crate::domain::Sampling,
    sample: u32,
) -> String {
    use sha2::{Digest, Sha256};
    let payload = serde_json::json!({
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
