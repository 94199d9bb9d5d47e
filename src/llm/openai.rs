//! The `openai` provider: any OpenAI-compatible chat endpoint through async-openai (bring-your-
//! own-types calls, so server quirks such as a missing `usage` never break parsing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::logprobs::{TokenLogprob, p_true};
use super::transport::{Replicas, RetryPolicy, Transport, TransportStats, transient};
use super::{LlmError, Reply, Request};
use crate::domain::{EndpointSpec, OpenAiSpec, Role};
use crate::protocol::ChatMessage;

#[derive(Debug, Default, Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Default, Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    delta: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<Logprobs>,
}

#[derive(Debug, Default, Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Logprobs {
    #[serde(default)]
    content: Option<Vec<TokenLogprob>>,
}

#[derive(Debug, Default, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens: Option<u32>,
}

/// One endpoint: its client and replicas.
struct Endpoint {
    client: Client<OpenAIConfig>,
    label: String,
    stats: Arc<TransportStats>,
}

/// The configured provider; cheap to share behind an `Arc`.
pub struct OpenAiProvider {
    generator: Endpoint,
    critic: Option<Endpoint>,
    spec: OpenAiSpec,
    policy: RetryPolicy,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the client: its config holds the key.
        f.debug_struct("OpenAiProvider").field("generator", &self.generator.label).finish()
    }
}

fn check_url(url: &str) -> Result<(), LlmError> {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(()),
        Ok(_) => {
            Err(LlmError::Config(format!("base URL {url} must start with http:// or https://")))
        }
        Err(e) => Err(LlmError::Config(format!("base URL {url} is not a URL: {e}"))),
    }
}

fn endpoint(
    spec: &EndpointSpec,
    timeout: Duration,
    policy: RetryPolicy,
    rpm: Option<u32>,
) -> Result<Endpoint, LlmError> {
    let Some(first) = spec.base_urls.first() else {
        return Err(LlmError::Config("no base URL given (--base-url or OPENAI_BASE_URL)".into()));
    };
    for u in &spec.base_urls {
        check_url(u)?;
    }
    // reqwest is built without a default TLS backend choice; ring is the lean one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(256)
        // Drop idle connections before servers do (uvicorn closes them after 5 s), so a
        // request never lands on a socket that is being closed.
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))?;
    let key = std::env::var(&spec.api_key_env).unwrap_or_default();
    let config = OpenAIConfig::new().with_api_base(first.trim_end_matches('/')).with_api_key(key);
    let stats = Arc::new(TransportStats::default());
    let transport = Transport {
        client: http,
        replicas: Arc::new(Replicas::new(spec.base_urls.clone())),
        policy,
        stats: stats.clone(),
        limiter: rpm.map(|r| Arc::new(super::transport::RateLimiter::per_minute(r))),
    };
    Ok(Endpoint {
        client: Client::with_config(config).with_http_service(transport),
        label: spec.base_urls.join(","),
        stats,
    })
}

/// Whether an error from async-openai deserves another try at this level (the transport has
/// already retried statuses and connection failures).
fn retry_body(e: &OpenAIError) -> bool {
    match e {
        OpenAIError::Reqwest(e) => transient(e),
        OpenAIError::JSONDeserialize(..) | OpenAIError::StreamError(_) => true,
        _ => false,
    }
}

/// The error with its innermost cause, which says what actually happened on the wire.
fn with_cause(e: &dyn std::error::Error) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let (top, cause) = (e.to_string(), inner.to_string());
    if top.contains(&cause) { top } else { format!("{top}: {cause}") }
}

fn describe(e: &OpenAIError) -> String {
    match e {
        OpenAIError::Reqwest(err) => with_cause(err),
        OpenAIError::ApiError(r) => format!("HTTP {}: {}", r.status_code, r.api_error.message),
        OpenAIError::JSONDeserialize(err, body) => {
            let snippet: String = body.chars().take(120).collect();
            format!("malformed response ({err}): {snippet}")
        }
        other => other.to_string(),
    }
}

impl OpenAiProvider {
    pub fn new(spec: &OpenAiSpec) -> Result<OpenAiProvider, LlmError> {
        let timeout = Duration::from_secs_f64(spec.timeout_secs.max(0.1));
        let policy = RetryPolicy { max_retries: spec.max_retries, ..RetryPolicy::default() };
        let generator = endpoint(&spec.generator, timeout, policy, spec.rpm)?;
        let critic =
            spec.critic.as_ref().map(|c| endpoint(c, timeout, policy, spec.rpm)).transpose()?;
        Ok(OpenAiProvider { generator, critic, spec: spec.clone(), policy })
    }

    /// Requests sent and retried so far (all endpoints).
    pub fn counters(&self) -> (u64, u64) {
        let mut out = (0, 0);
        for e in std::iter::once(&self.generator).chain(self.critic.iter()) {
            out.0 += e.stats.requests.load(std::sync::atomic::Ordering::Relaxed);
            out.1 += e.stats.retries.load(std::sync::atomic::Ordering::Relaxed);
        }
        out
    }

    /// Fails fast with the URL when an endpoint cannot be reached at all.
    pub async fn preflight(&self) -> Result<(), LlmError> {
        for e in std::iter::once(&self.generator).chain(self.critic.iter()) {
            let url =
                e.label.split(',').next().unwrap_or_default().trim_end_matches('/').to_string();
            let probe = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|err| LlmError::Config(err.to_string()))?;
            // Any HTTP answer (even 404) proves the server is there.
            if let Err(err) = probe.get(format!("{url}/models")).send().await {
                let mut cause: &dyn std::error::Error = &err;
                while let Some(next) = cause.source() {
                    cause = next;
                }
                return Err(LlmError::Config(format!("cannot reach endpoint {url}: {cause}")));
            }
        }
        Ok(())
    }

    fn endpoint_for(&self, role: Role) -> &Endpoint {
        match (&self.critic, role) {
            (Some(c), Role::Critique) => c,
            _ => &self.generator,
        }
    }

    /// Identifies the endpoint in cache keys.
    pub fn endpoint_label(&self, role: Role) -> &str {
        &self.endpoint_for(role).label
    }

    fn body(&self, req: &Request<'_>, stream: bool) -> Value {
        let messages: Vec<Value> = req
            .step
            .messages
            .iter()
            .map(|m: &ChatMessage| json!({"role": m.role, "content": m.content}))
            .collect();
        let s = req.sampling;
        let mut body = json!({
            "model": req.model,
            "messages": messages,
            "temperature": s.temperature,
            "top_p": s.top_p,
            // llama.cpp's server ignores max_completion_tokens.
            "max_tokens": s.max_tokens,
            // k samples are k requests with their own seed (servers ignore n > 1).
            "seed": s.seed.wrapping_add(u64::from(req.sample)) as i64,
            "stream": stream,
        });
        if self.spec.logprobs
            && let Some(o) = body.as_object_mut()
        {
            o.insert("logprobs".into(), json!(true));
            o.insert("top_logprobs".into(), json!(5));
        }
        body
    }

    /// One turn, with retries of malformed or truncated bodies on top of the transport's.
    pub async fn complete(&self, req: &Request<'_>) -> Result<Reply, LlmError> {
        let ep = self.endpoint_for(req.step.role);
        let stream = self.spec.stream || req.deltas.is_some();
        let mut attempt = 0u32;
        loop {
            let started = Instant::now();
            let result =
                if stream { self.once_stream(ep, req).await } else { self.once(ep, req).await };
            match result {
                Ok(mut reply) => {
                    reply.latency_ms = Some(started.elapsed().as_millis() as u64);
                    return Ok(reply);
                }
                Err(Attempt::Retry(msg)) if attempt < self.policy.max_retries => {
                    tracing::debug!(attempt, %msg, "retrying body");
                    ep.stats.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(self.policy.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(Attempt::Retry(message)) | Err(Attempt::Fatal(message)) => {
                    return Err(LlmError::Endpoint { endpoint: ep.label.clone(), message });
                }
            }
        }
    }

    async fn once(&self, ep: &Endpoint, req: &Request<'_>) -> Result<Reply, Attempt> {
        let c: Completion =
            ep.client.chat().create_byot(self.body(req, false)).await.map_err(Attempt::from)?;
        let Some(choice) = c.choices.into_iter().next() else {
            return Err(Attempt::Retry("response has no choices".into()));
        };
        let content = choice.message.and_then(|m| m.content).unwrap_or_default();
        let tokens = choice.logprobs.and_then(|l| l.content).unwrap_or_default();
        Ok(Reply {
            content,
            model: c.model.unwrap_or_else(|| req.model.to_string()),
            prompt_tokens: c.usage.as_ref().and_then(|u| u.prompt_tokens),
            completion_tokens: c.usage.as_ref().and_then(|u| u.completion_tokens),
            finish_reason: choice.finish_reason,
            simulated: false,
            p_true: p_true(&tokens),
            latency_ms: None,
        })
    }

    async fn once_stream(&self, ep: &Endpoint, req: &Request<'_>) -> Result<Reply, Attempt> {
        let mut chunks = ep
            .client
            .chat()
            .create_stream_byot::<Value, Completion>(self.body(req, true))
            .await
            .map_err(Attempt::from)?;
        let mut content = String::new();
        let mut tokens = Vec::new();
        let mut finish = None;
        let mut model = None;
        let mut usage = None;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(Attempt::from)?;
            model = model.or(chunk.model);
            usage = usage.or(chunk.usage);
            for choice in chunk.choices {
                if let Some(d) = choice.delta.and_then(|d| d.content) {
                    if let Some(tx) = req.deltas {
                        let _ = tx.send(d.clone());
                    }
                    content.push_str(&d);
                }
                if let Some(lp) = choice.logprobs.and_then(|l| l.content) {
                    tokens.extend(lp);
                }
                if choice.finish_reason.is_some() {
                    finish = choice.finish_reason;
                }
            }
        }
        // A stream that ends without a finish reason was cut off.
        if finish.is_none() {
            return Err(Attempt::Retry("stream ended before the reply was complete".into()));
        }
        Ok(Reply {
            content,
            model: model.unwrap_or_else(|| req.model.to_string()),
            prompt_tokens: usage.as_ref().and_then(|u| u.prompt_tokens),
            completion_tokens: usage.as_ref().and_then(|u| u.completion_tokens),
            finish_reason: finish,
            simulated: false,
            p_true: p_true(&tokens),
            latency_ms: None,
        })
    }
}

enum Attempt {
    Retry(String),
    Fatal(String),
}

impl From<OpenAIError> for Attempt {
    fn from(e: OpenAIError) -> Self {
        if retry_body(&e) { Attempt::Retry(describe(&e)) } else { Attempt::Fatal(describe(&e)) }
    }
}
