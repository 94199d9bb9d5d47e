//! The `openai` provider: any OpenAI-compatible chat endpoint through async-openai (bring-your-
//! own-types calls, so server quirks such as a missing `usage` never break parsing).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use tokio::time::Instant;

use super::flow::{Congestion, Flow, Permit};
use super::logprobs::{TokenLogprob, p_true};
use super::transport::{
    AttemptHint, HINT, Replicas, RetryPolicy, Transport, TransportStats, transient,
};
use super::{LiveStats, LlmError, Reply, Request};
use crate::domain::{EndpointSpec, OpenAiSpec, Role};
use crate::protocol::ChatMessage;

#[derive(Debug, Default, Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    /// An error sent as a stream event instead of a chunk.
    #[serde(default)]
    error: Option<StreamedError>,
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
    /// A thinking model's tokens (llama.cpp, vLLM: `reasoning_content`; Ollama: `reasoning`):
    /// not the reply, but signs that the server is working on it. Two fields, not an alias:
    /// a server may send both.
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamedError {
    #[serde(default)]
    message: Option<String>,
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

/// One endpoint: its client and replicas, its counters and its flow control.
struct Endpoint {
    client: Client<OpenAIConfig>,
    label: String,
    stats: Arc<TransportStats>,
    flow: Arc<Flow>,
    /// `--rpm`: waited for before a request takes its place in flight, so the wait is no
    /// request's timeout.
    limiter: Option<Arc<super::transport::RateLimiter>>,
    /// The key, only to blank it out of error messages a server may echo it in.
    key: String,
}

impl Endpoint {
    fn redact(&self, message: String) -> String {
        if self.key.len() >= 8 { message.replace(&self.key, "[key]") } else { message }
    }
}

/// The timeouts of one request (see `critloop run --help`).
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    cap: Duration,
    first_token: Duration,
    idle: Duration,
}

/// The configured provider; cheap to share behind an `Arc`.
pub struct OpenAiProvider {
    generator: Endpoint,
    critic: Option<Endpoint>,
    spec: OpenAiSpec,
    policy: RetryPolicy,
    timeouts: Timeouts,
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
    o: &OpenAiSpec,
    policy: RetryPolicy,
) -> Result<Endpoint, LlmError> {
    let Some(first) = spec.base_urls.first() else {
        return Err(LlmError::Config("no base URL given (--base-url or OPENAI_BASE_URL)".into()));
    };
    for u in &spec.base_urls {
        check_url(u)?;
    }
    // reqwest is built without a default TLS backend choice; ring is the lean one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No overall reqwest timeout: the provider's clocks leave out time in a server's queue.
    let http = reqwest::Client::builder()
        .connect_timeout(super::secs(o.connect_timeout_secs))
        .pool_max_idle_per_host(256)
        // Drop idle connections before servers do (uvicorn closes them after 5 s), so a
        // request never lands on a socket that is being closed.
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))?;
    let key = crate::env::var(&spec.api_key_env).unwrap_or_default();
    let config =
        OpenAIConfig::new().with_api_base(first.trim_end_matches('/')).with_api_key(key.clone());
    let stats = Arc::new(TransportStats::default());
    let transport = Transport {
        client: http,
        replicas: Arc::new(Replicas::new(spec.base_urls.clone())),
        policy,
        stats: stats.clone(),
    };
    let label = spec.base_urls.join(",");
    Ok(Endpoint {
        client: Client::with_config(config).with_http_service(transport),
        flow: Flow::new(label.clone(), o.concurrency),
        label,
        stats,
        limiter: o.rpm.map(|r| Arc::new(super::transport::RateLimiter::per_minute(r))),
        key,
    })
}

/// The error with its innermost cause, which says what actually happened on the wire.
fn with_cause(e: &dyn std::error::Error) -> String {
    let (top, cause) = (e.to_string(), super::innermost_cause(e));
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
        let policy = RetryPolicy { max_retries: spec.max_retries, ..RetryPolicy::default() };
        let generator = endpoint(&spec.generator, spec, policy)?;
        let critic = spec.critic.as_ref().map(|c| endpoint(c, spec, policy)).transpose()?;
        let timeouts = Timeouts {
            cap: super::secs(spec.timeout_secs),
            first_token: super::secs(spec.first_token_timeout_secs),
            idle: super::secs(spec.idle_timeout_secs),
        };
        Ok(OpenAiProvider { generator, critic, spec: spec.clone(), policy, timeouts })
    }

    fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        std::iter::once(&self.generator).chain(self.critic.iter())
    }

    /// Requests sent and retried so far (all endpoints).
    pub fn counters(&self) -> (u64, u64) {
        let mut out = (0, 0);
        for e in self.endpoints() {
            out.0 += e.stats.requests.load(std::sync::atomic::Ordering::Relaxed);
            out.1 += e.stats.retries.load(std::sync::atomic::Ordering::Relaxed);
        }
        out
    }

    /// What is happening right now, summed over the endpoints.
    pub fn live(&self) -> LiveStats {
        use std::sync::atomic::Ordering::Relaxed;
        let mut l = LiveStats::default();
        for e in self.endpoints() {
            l.requests += e.stats.requests.load(Relaxed);
            l.retries += e.stats.retries.load(Relaxed);
            l.tokens += e.stats.tokens.load(Relaxed);
            l.in_flight += e.flow.in_flight() as u64;
            l.concurrency += e.flow.limit() as u64;
            l.max_concurrency += e.flow.max() as u64;
        }
        l
    }

    /// Every value the generator endpoint's concurrency limit took, in order.
    pub fn concurrency_history(&self) -> Vec<usize> {
        self.generator.flow.history()
    }

    /// The endpoints as `doctor` checks them: (role, first base URL, model, key variable).
    pub fn spec(&self) -> &OpenAiSpec {
        &self.spec
    }

    /// Fails fast with the URL when an endpoint cannot be reached at all.
    pub async fn reachable(&self) -> Result<(), LlmError> {
        for e in self.endpoints() {
            let url =
                e.label.split(',').next().unwrap_or_default().trim_end_matches('/').to_string();
            let probe = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|err| LlmError::Config(err.to_string()))?;
            // Any HTTP answer (even 404) proves the server is there.
            if let Err(err) = probe.get(format!("{url}/models")).send().await {
                let cause = super::innermost_cause(&err);
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

    /// One turn: the one retry loop (statuses, connection errors, timeouts, malformed or cut
    /// bodies), each attempt under the endpoint's adaptive concurrency limit and timeouts.
    pub async fn complete(&self, req: &Request<'_>) -> Result<Reply, LlmError> {
        let ep = self.endpoint_for(req.step.role);
        let stream = self.spec.stream || req.deltas.is_some();
        let body = self.body(req, stream);
        let mut attempt = 0u32;
        let mut retried = std::collections::BTreeMap::new();
        loop {
            if let Some(l) = &ep.limiter {
                l.acquire().await;
            }
            let permit = ep.flow.acquire().await;
            let hint = Arc::new(Mutex::new(AttemptHint::default()));
            let started = Instant::now();
            let result = HINT
                .scope(hint.clone(), async {
                    if stream {
                        self.once_stream(ep, req, body.clone(), &permit).await
                    } else {
                        self.once(ep, req, body.clone(), &permit).await
                    }
                })
                .await;
            let hint = hint.lock().map(|h| *h).unwrap_or_default();
            let failure = match result {
                Ok(mut reply) => {
                    permit.succeeded();
                    reply.latency_ms = Some(started.elapsed().as_millis() as u64);
                    reply.retried = retried;
                    return Ok(reply);
                }
                Err(f) => f.with_status(hint.status),
            };
            match failure.kind {
                Kind::Timeout => permit.congested(Congestion::Timeout),
                Kind::RateLimited => permit.congested(Congestion::RateLimited),
                _ => drop(permit),
            }
            if !failure.kind.retry() || attempt >= self.policy.max_retries {
                return Err(LlmError::Endpoint {
                    endpoint: ep.label.clone(),
                    message: ep.redact(failure.message),
                    cause: failure.kind.name().into(),
                    retried,
                });
            }
            *retried.entry(failure.kind.name().into()).or_insert(0) += 1;
            let wait = hint
                .retry_after
                .map(|d| d.min(self.policy.cap))
                .unwrap_or_else(|| self.policy.backoff(attempt));
            let msg = ep.redact(failure.message);
            tracing::debug!(attempt, delay_ms = wait.as_millis() as u64, %msg, "retrying");
            ep.stats.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn once(
        &self,
        ep: &Endpoint,
        req: &Request<'_>,
        body: Value,
        permit: &Permit,
    ) -> Result<Reply, Failure> {
        let cap = self.timeouts.cap;
        let chat = ep.client.chat();
        let call = chat.create_byot::<Value, Completion>(body);
        let c = until(call, || permit.clock() + cap)
            .await
            .ok_or_else(|| Failure::timeout(format!("no reply within {} (--timeout)", show(cap))))?
            .map_err(Failure::from)?;
        let Some(choice) = c.choices.into_iter().next() else {
            return Err(Failure::new(Kind::Malformed, "response has no choices"));
        };
        let content = choice.message.and_then(|m| m.content).unwrap_or_default();
        let tokens = choice.logprobs.and_then(|l| l.content).unwrap_or_default();
        let completion_tokens = c.usage.as_ref().and_then(|u| u.completion_tokens);
        let counted = completion_tokens.map_or(content.len() as u64 / 4, u64::from);
        ep.stats.tokens.fetch_add(counted, std::sync::atomic::Ordering::Relaxed);
        Ok(Reply {
            model: c.model.unwrap_or_else(|| req.model.to_string()),
            prompt_tokens: c.usage.as_ref().and_then(|u| u.prompt_tokens),
            completion_tokens,
            finish_reason: choice.finish_reason,
            simulated: false,
            p_true: p_true(&tokens),
            tokens,
            content,
            latency_ms: None,
            retried: Default::default(),
        })
    }

    async fn once_stream(
        &self,
        ep: &Endpoint,
        req: &Request<'_>,
        body: Value,
        permit: &Permit,
    ) -> Result<Reply, Failure> {
        let Timeouts { cap, first_token, idle } = self.timeouts;
        let first_deadline = || permit.clock() + first_token.min(cap);
        let no_first = || {
            Failure::timeout(format!(
                "no first token within {} (--first-token-timeout)",
                show(first_token.min(cap))
            ))
        };
        let chat = ep.client.chat();
        let open = chat.create_stream_byot::<Value, Completion>(body);
        let mut chunks =
            until(open, first_deadline).await.ok_or_else(no_first)?.map_err(Failure::from)?;
        let mut content = String::new();
        let mut tokens = Vec::new();
        let mut finish = None;
        let mut model = None;
        let mut usage = None;
        let mut last: Option<Instant> = None;
        loop {
            let next = match last {
                None => until(chunks.next(), first_deadline).await.ok_or_else(no_first)?,
                Some(at) => {
                    match until(chunks.next(), || (at + idle).min(permit.clock() + cap)).await {
                        Some(next) => next,
                        // The reply is whole; a server that then neither sends [DONE] nor closes
                        // the connection has still answered.
                        None if finish.is_some() => break,
                        None => {
                            let why = if Instant::now() >= permit.clock() + cap {
                                format!("no complete reply within {} (--timeout)", show(cap))
                            } else {
                                format!("the stream stalled for {} (--idle-timeout)", show(idle))
                            };
                            return Err(Failure::timeout(why));
                        }
                    }
                }
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(Failure::from)?;
            if let Some(e) = chunk.error {
                let msg = e.message.unwrap_or_else(|| "an error event without a message".into());
                return Err(Failure::new(Kind::Server, format!("error in the stream: {msg}")));
            }
            model = model.or(chunk.model);
            usage = usage.or(chunk.usage);
            let mut alive = false;
            for choice in chunk.choices {
                let delta = choice.delta.unwrap_or_default();
                let thinking = [&delta.reasoning_content, &delta.reasoning];
                if thinking.iter().any(|r| r.as_deref().is_some_and(|r| !r.is_empty())) {
                    alive = true;
                }
                if let Some(d) = delta.content
                    && !d.is_empty()
                {
                    if let Some(tx) = req.deltas {
                        let _ = tx.send(d.clone());
                    }
                    content.push_str(&d);
                    alive = true;
                }
                let n_before = tokens.len();
                if let Some(lp) = choice.logprobs.and_then(|l| l.content) {
                    tokens.extend(lp);
                }
                let n = (tokens.len() - n_before).max(usize::from(alive)) as u64;
                ep.stats.tokens.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                if choice.finish_reason.is_some() {
                    finish = choice.finish_reason;
                    alive = true;
                }
            }
            // A role-only first chunk can come before the server starts on the request.
            if alive {
                last = Some(Instant::now());
                permit.progress();
            }
        }
        // A stream that ends without a finish reason was cut off.
        if finish.is_none() {
            return Err(Failure::new(
                Kind::Malformed,
                "stream ended before the reply was complete",
            ));
        }
        Ok(Reply {
            content,
            model: model.unwrap_or_else(|| req.model.to_string()),
            prompt_tokens: usage.as_ref().and_then(|u| u.prompt_tokens),
            completion_tokens: usage.as_ref().and_then(|u| u.completion_tokens),
            finish_reason: finish,
            simulated: false,
            p_true: p_true(&tokens),
            tokens,
            latency_ms: None,
            retried: Default::default(),
        })
    }
}

/// Awaits `fut` until `deadline()` passes; the deadline may move later while waiting (a
/// request queued behind others). `None` on timeout.
async fn until<F: Future>(fut: F, deadline: impl Fn() -> Instant) -> Option<F::Output> {
    tokio::pin!(fut);
    loop {
        let at = deadline();
        tokio::select! {
            // A reply ready as the deadline passes is a reply, not a timeout.
            biased;
            out = &mut fut => return Some(out),
            () = tokio::time::sleep_until(at) => {
                if Instant::now() >= deadline() {
                    return None;
                }
            }
        }
    }
}

fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0} s") } else { format!("{s:.1} s") }
}

/// What went wrong in one attempt, and so whether another is worth it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Timeout,
    RateLimited,
    /// 5xx, 408, connection errors.
    Server,
    /// A cut or unreadable body.
    Malformed,
    /// The endpoint refused the request itself (400, 401, 404, …): asking again cannot help.
    Fatal,
}

impl Kind {
    fn retry(self) -> bool {
        self != Kind::Fatal
    }

    /// How `runs show` counts retries and failures by cause.
    fn name(self) -> &'static str {
        match self {
            Kind::Timeout => "timeout",
            Kind::RateLimited => "rate_limited",
            Kind::Server => "server",
            Kind::Malformed => "malformed",
            Kind::Fatal => "refused",
        }
    }
}

#[derive(Debug)]
struct Failure {
    kind: Kind,
    message: String,
}

impl Failure {
    fn new(kind: Kind, message: impl Into<String>) -> Failure {
        Failure { kind, message: message.into() }
    }

    fn timeout(message: String) -> Failure {
        Failure::new(Kind::Timeout, message)
    }

    /// An error status decides, whatever its body (a plain-text 429 from a proxy, a non-JSON
    /// 404): rate limits and overload lower concurrency, other client errors are final.
    fn with_status(mut self, status: Option<u16>) -> Failure {
        let Some(s) = status.filter(|s| *s >= 400) else { return self };
        let kind = match s {
            429 | 503 => Kind::RateLimited,
            408 => Kind::Server,
            s if s >= 500 => Kind::Server,
            _ => Kind::Fatal,
        };
        if self.kind == Kind::Malformed && !self.message.starts_with("HTTP") {
            self.message = format!("HTTP {s}: {}", self.message);
        }
        self.kind = kind;
        self
    }
}

impl From<OpenAIError> for Failure {
    fn from(e: OpenAIError) -> Self {
        let kind = match &e {
            OpenAIError::ApiError(r) => match r.status_code.as_u16() {
                // 503: Ollama's and vLLM's "busy", as much a sign to slow down as a 429.
                429 | 503 => Kind::RateLimited,
                408 => Kind::Server,
                s if s >= 500 => Kind::Server,
                _ => Kind::Fatal,
            },
            OpenAIError::Reqwest(e) if e.is_connect() => Kind::Server,
            OpenAIError::Reqwest(e) if e.is_timeout() => Kind::Timeout,
            OpenAIError::Reqwest(e) if transient(e) => Kind::Server,
            OpenAIError::JSONDeserialize(..) | OpenAIError::StreamError(_) => Kind::Malformed,
            _ => Kind::Fatal,
        };
        Failure::new(kind, describe(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_status_decides_whatever_the_body() {
        let cut = || Failure::new(Kind::Malformed, "malformed response (EOF): <html>");
        assert_eq!(cut().with_status(Some(429)).kind, Kind::RateLimited, "a proxy's plain 429");
        assert_eq!(cut().with_status(Some(503)).kind, Kind::RateLimited, "Ollama's busy");
        assert_eq!(cut().with_status(Some(502)).kind, Kind::Server);
        assert_eq!(cut().with_status(Some(408)).kind, Kind::Server);
        let not_found = cut().with_status(Some(404));
        assert_eq!(not_found.kind, Kind::Fatal, "asking again cannot help");
        assert!(not_found.message.starts_with("HTTP 404: malformed"), "{}", not_found.message);
        assert_eq!(cut().with_status(Some(200)).kind, Kind::Malformed, "a cut 200 is retried");
        assert_eq!(cut().with_status(None).kind, Kind::Malformed);
        assert!(Kind::RateLimited.retry() && Kind::Server.retry() && !Kind::Fatal.retry());
    }

    #[tokio::test(start_paused = true)]
    async fn a_reply_ready_as_the_deadline_passes_is_a_reply() {
        let deadline = Instant::now() + Duration::from_secs(1);
        for _ in 0..20 {
            let reply = async {
                tokio::time::sleep_until(deadline).await;
                42
            };
            assert_eq!(until(reply, || deadline).await, Some(42));
        }
        let late = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            1
        };
        let soon = Instant::now() + Duration::from_secs(1);
        assert_eq!(until(late, || soon).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_that_moves_later_keeps_the_request_waiting() {
        let start = Instant::now();
        let moved = std::sync::atomic::AtomicU64::new(1);
        let reply = async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            7
        };
        // The clock restarts twice (queued behind others), each time just before it expires.
        let pending = until(reply, || {
            let now = Instant::now();
            if now >= start + Duration::from_millis(900)
                && moved.load(std::sync::atomic::Ordering::Relaxed) < 3
            {
                moved.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            start
                + Duration::from_secs(moved.load(std::sync::atomic::Ordering::Relaxed))
                + Duration::from_millis(500)
        });
        assert_eq!(pending.await, Some(7));
    }

    #[test]
    fn seconds_are_kept_sane() {
        assert_eq!(crate::llm::secs(f64::NAN), Duration::from_millis(100));
        assert_eq!(crate::llm::secs(0.0), Duration::from_millis(100));
        assert_eq!(crate::llm::secs(f64::INFINITY), Duration::from_secs(1_000_000_000));
        assert_eq!(crate::llm::secs(2.5), Duration::from_millis(2500));
    }

    #[test]
    fn a_key_the_server_echoes_is_blanked_out() {
        let spec = OpenAiSpec::new(
            EndpointSpec {
                base_urls: vec!["http://127.0.0.1:9/v1".into()],
                api_key_env: "X".into(),
            },
            1,
        );
        let mut ep = endpoint(&spec.generator, &spec, RetryPolicy::default()).unwrap();
        ep.key = "sk-secret-0123456789".into();
        assert_eq!(
            ep.redact("HTTP 401: Incorrect API key provided: sk-secret-0123456789.".into()),
            "HTTP 401: Incorrect API key provided: [key]."
        );
    }
}
