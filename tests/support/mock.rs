//! An in-process OpenAI-compatible chat server for tests and benchmarks.
//!
//! Serves `POST /v1/chat/completions` (plain JSON or SSE streaming, optional logprobs) and
//! `GET /v1/models` on 127.0.0.1 at a random port, logs every chat request it receives, and
//! injects faults (rate limits, server errors, malformed or truncated bodies, dropped
//! connections) according to a [`FaultPlan`]. It can also play the quirks of small local
//! servers: one request at a time ([`SerialQueue`]), unlisted or unknown model names, no
//! logprobs, an ignored `max_tokens`, a stream head sent before the first token, slow chunks.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use futures_util::stream;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

/// The model id `GET /v1/models` lists, and the one replies name when a request names none.
pub const MOCK_MODEL: &str = "mock-model";

/// What [`MockConfig::default`] answers to every request.
pub const DEFAULT_REPLY: &str = "The answer is \\boxed{0}";

/// Logprob of every token that is not a verdict word: ln(0.9).
const PLAIN_TOKEN_PROB: f64 = 0.9;

/// Verdict probability when the reply gives none.
const DEFAULT_VERDICT_PROB: f64 = 0.9;

/// Tokens per streamed content chunk.
const TOKENS_PER_CHUNK: usize = 4;

/// The content a [`Fault::TruncatedStream`] or [`Fault::MalformedJson`] reply starts to send.
const CUT_OFF_CONTENT: &str = "Let me work through this step by step. First, we restate the \
     problem and then we check each case carefully before we";

/// Computes the reply to a (non-faulted) request.
pub type ReplyFn = Arc<dyn Fn(&ChatRequest) -> MockReply + Send + Sync>;

/// How the mock behaves.
#[derive(Clone)]
pub struct MockConfig {
    /// Delay before every reply (simulated model latency).
    pub latency: Duration,
    /// What to answer (called for non-faulted requests, and for [`Fault::Slow`] ones).
    pub reply: ReplyFn,
    /// Which requests get a fault.
    pub faults: FaultPlan,
    /// The ids `GET /v1/models` lists.
    pub models: Vec<String>,
    /// A chat request for a model not in `models` gets 404 `model_not_found` at once (as vLLM
    /// and OpenAI answer); when false any name is answered (as llama.cpp's servers do).
    pub strict_models: bool,
    /// When false, `logprobs` in a request is ignored and replies carry `"logprobs": null`.
    pub logprobs_supported: bool,
    /// When true, a reply longer than the request's `max_tokens` (or `max_completion_tokens`,
    /// the smaller if both) is cut to that many [`tokenize`] tokens, with finish_reason
    /// `length`; when false the limit is ignored.
    pub honour_max_tokens: bool,
    /// One request in service at a time, the others waiting in line (llama.cpp with one slot,
    /// a CPU server); None serves every request at once.
    pub serial: Option<SerialQueue>,
    /// Streams send their HTTP head at once and wait the latency (and any [`Fault::Slow`])
    /// before the first SSE chunk, as vLLM does; otherwise the head waits too.
    pub stream_head_first: bool,
    /// Pause between SSE chunks (for idle-timeout tests).
    pub chunk_interval: Duration,
    /// When set, requests (chat and models) without `Authorization: Bearer <key>` get 401
    /// `invalid_api_key` at once, the message quoting the key sent, as some servers do.
    pub api_key: Option<String>,
}

/// A one-at-a-time server's line: when `capacity` requests are already waiting, a new one gets
/// 429 with `Retry-After: retry_after_secs` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SerialQueue {
    pub capacity: usize,
    pub retry_after_secs: u64,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            latency: Duration::ZERO,
            reply: Arc::new(|_: &ChatRequest| MockReply::text(DEFAULT_REPLY)),
            faults: FaultPlan::None,
            models: vec![MOCK_MODEL.into()],
            strict_models: false,
            logprobs_supported: true,
            honour_max_tokens: true,
            serial: None,
            stream_head_first: false,
            chunk_interval: Duration::ZERO,
            api_key: None,
        }
    }
}

impl MockConfig {
    /// The default config with `reply` as the answer function.
    pub fn replying(reply: impl Fn(&ChatRequest) -> MockReply + Send + Sync + 'static) -> Self {
        MockConfig { reply: Arc::new(reply), ..MockConfig::default() }
    }
}

impl std::fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockConfig")
            .field("latency", &self.latency)
            .field("faults", &self.faults)
            .field("models", &self.models)
            .field("strict_models", &self.strict_models)
            .field("logprobs_supported", &self.logprobs_supported)
            .field("honour_max_tokens", &self.honour_max_tokens)
            .field("serial", &self.serial)
            .field("stream_head_first", &self.stream_head_first)
            .field("chunk_interval", &self.chunk_interval)
            .field("api_key", &self.api_key.as_ref().map(|_| "[set]"))
            .finish_non_exhaustive()
    }
}

/// A chat request as the mock understood it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ChatRequest {
    pub model: String,
    /// (role, content) pairs; array contents are the concatenation of their text parts.
    pub messages: Vec<(String, String)>,
    pub stream: bool,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<i64>,
    pub n: Option<u32>,
    pub logprobs: bool,
    pub top_logprobs: Option<u32>,
}

impl ChatRequest {
    /// Content of the last message with this role, if any.
    pub fn last(&self, role: &str) -> Option<&str> {
        self.messages.iter().rev().find(|(r, _)| r == role).map(|(_, c)| c.as_str())
    }
}

/// What the mock model answers.
#[derive(Clone, Debug, PartialEq)]
pub struct MockReply {
    pub content: String,
    /// Probability the model puts on the verdict word it wrote, for logprobs (default 0.9).
    pub verdict_prob: Option<f64>,
    /// An HTTP 400 with this message instead of a reply (a permanent, non-retryable failure).
    pub reject: Option<String>,
}

impl MockReply {
    pub fn text(s: impl Into<String>) -> Self {
        MockReply { content: s.into(), verdict_prob: None, reject: None }
    }

    /// A 400 `invalid_request_error` with this message.
    pub fn rejected(message: impl Into<String>) -> Self {
        MockReply { content: String::new(), verdict_prob: None, reject: Some(message.into()) }
    }

    pub fn with_verdict_prob(mut self, p: f64) -> Self {
        self.verdict_prob = Some(p);
        self
    }
}

/// One chat request the mock received.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    /// 0-based arrival index.
    pub index: usize,
    pub request: ChatRequest,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    pub fault: Option<Fault>,
    /// HTTP status sent (0 when the connection was dropped without a response).
    pub status: u16,
    /// When it entered service (at once unless [`MockConfig::serial`]); None if it never did:
    /// turned away (unknown model, full line) or abandoned while waiting.
    pub served_at: Option<Instant>,
    /// When the mock finished producing its response (for streams, after the last chunk);
    /// None if the client went away first or the connection was dropped by a fault.
    pub completed_at: Option<Instant>,
}

impl LoggedRequest {
    /// Whether its whole response was produced (see `status` and `fault` for what it was).
    pub fn completed(&self) -> bool {
        self.completed_at.is_some()
    }
}

/// A failure the mock can inject.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 with a `Retry-After` header and an OpenAI-style error body.
    RateLimited { retry_after_secs: u64 },
    /// 500 with an OpenAI-style `server_error` body.
    ServerError,
    /// 503 with an OpenAI-style `server_error` body.
    Unavailable,
    /// Sleeps this long (on top of the latency) before replying normally.
    Slow(Duration),
    /// 200, `application/json`, the body cut off half-way.
    MalformedJson,
    /// Streaming: a few SSE chunks, then the body ends without finish_reason and without
    /// `[DONE]`. Non-streaming: same as [`Fault::MalformedJson`].
    TruncatedStream,
    /// The connection is closed without any HTTP response.
    DropConnection,
}

impl Fault {
    /// The status the mock sends (and logs) for this fault; 0 for a dropped connection.
    pub fn status(&self) -> u16 {
        match self {
            Fault::RateLimited { .. } => 429,
            Fault::ServerError => 500,
            Fault::Unavailable => 503,
            Fault::Slow(_) | Fault::MalformedJson | Fault::TruncatedStream => 200,
            Fault::DropConnection => 0,
        }
    }
}

/// Which requests get a fault.
#[derive(Clone, Debug, Default)]
pub enum FaultPlan {
    #[default]
    None,
    /// Each request independently gets a fault with probability `rate` (seeded ChaCha8Rng,
    /// deterministic given arrival order), the kind chosen uniformly from `kinds`.
    Random { rate: f64, seed: u64, kinds: Vec<Fault> },
    /// The i-th request (0-based arrival index) gets `script[i]`; requests past the end get none.
    Script(Vec<Option<Fault>>),
}

impl FaultPlan {
    /// The fault of the request with this arrival index.
    pub fn fault_for(&self, index: usize) -> Option<Fault> {
        match self {
            FaultPlan::None => None,
            FaultPlan::Script(script) => script.get(index).cloned().flatten(),
            FaultPlan::Random { rate, seed, kinds } => {
                if kinds.is_empty() {
                    return None;
                }
                // One independent ChaCha stream per arrival index: the plan does not depend on
                // how concurrent requests interleave, only on their order.
                let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                rng.set_stream(index as u64);
                if rng.random::<f64>() < *rate {
                    Some(kinds[rng.random_range(0..kinds.len())].clone())
                } else {
                    None
                }
            }
        }
    }
}

/// Installs the ring crypto provider for rustls, which critloop's reqwest is built without: a
/// reqwest client cannot be built until some provider is installed, even for plain HTTP.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain reqwest client for talking to the mock directly (no proxies, no timeout).
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder().no_proxy().build().expect("mock: cannot build a reqwest client")
}

/// A running mock server; stops on [`MockServer::shutdown`] or drop.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl MockServer {
    /// Starts on the current tokio runtime.
    pub async fn start(config: MockConfig) -> MockServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("mock server: cannot bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("mock server: no local address");
        let shared = Arc::new(Shared::new(config));
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        MockServer { addr, shared, stop, thread: Mutex::new(None) }
    }

    /// Starts on a dedicated background thread with its own 1-thread tokio runtime (for tests
    /// that are not async, and for tests that spawn the critloop binary as a child process).
    pub fn start_blocking(config: MockConfig) -> MockServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("mock server: cannot bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("mock server: cannot make the socket non-blocking");
        let addr = listener.local_addr().expect("mock server: no local address");
        let shared = Arc::new(Shared::new(config));
        let (stop, stop_rx) = watch::channel(false);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("mock-openai-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("mock server: cannot build a tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("mock server: cannot register the listener");
                    let mut until_stopped = stop_rx.clone();
                    tokio::spawn(serve(listener, thread_shared, stop_rx));
                    // Err means the MockServer is gone: stop too.
                    let _ = until_stopped.wait_for(|&stopped| stopped).await;
                });
                // Dropping the runtime here cancels the connections still open.
            })
            .expect("mock server: cannot spawn its thread");
        MockServer { addr, shared, stop, thread: Mutex::new(Some(thread)) }
    }

    /// e.g. "http://127.0.0.1:43123/v1"
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every chat request received, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log().clone()
    }

    /// How many requests arrived so far, without copying the log.
    pub fn request_count(&self) -> usize {
        self.shared.log().len()
    }

    /// The requests whose response was produced to its end, in the order they finished.
    pub fn completed(&self) -> Vec<LoggedRequest> {
        let mut done: Vec<LoggedRequest> =
            self.shared.log().iter().filter(|r| r.completed()).cloned().collect();
        done.sort_by_key(|r| r.completed_at);
        done
    }

    /// Requests in service right now.
    pub fn in_service(&self) -> usize {
        lock(&self.shared.service).now
    }

    /// The most requests ever in service at once.
    pub fn max_in_service(&self) -> usize {
        lock(&self.shared.service).max
    }

    /// Stop serving (also on drop). A server from [`MockServer::start_blocking`] has stopped
    /// when this returns; one from [`MockServer::start`] stops accepting at its runtime's next
    /// turn and closes each connection once its in-flight request is answered.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
        let thread = lock(&self.thread).take();
        if let Some(thread) = thread {
            // The thread only panics if its runtime could not be built; nothing to add then.
            let _ = thread.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

struct Shared {
    config: MockConfig,
    log: Mutex<Vec<LoggedRequest>>,
    queue: Option<Arc<Queue>>,
    service: Mutex<ServiceCount>,
}

#[derive(Default)]
struct ServiceCount {
    now: usize,
    max: usize,
}

impl Shared {
    fn new(config: MockConfig) -> Self {
        let queue = config
            .serial
            .map(|serial| Arc::new(Queue { capacity: serial.capacity, state: Mutex::default() }));
        Shared { config, log: Mutex::new(Vec::new()), queue, service: Mutex::default() }
    }

    fn log(&self) -> MutexGuard<'_, Vec<LoggedRequest>> {
        lock(&self.log)
    }

    /// Logs an arriving request and decides its fault; returns (arrival index, fault). A
    /// request answered with `refused` (an error status decided on arrival) gets no fault,
    /// though it still takes its arrival index.
    fn arrive(
        &self,
        request: &ChatRequest,
        authorization: Option<String>,
        refused: Option<u16>,
    ) -> (usize, Option<Fault>) {
        let mut log = self.log();
        let index = log.len();
        let fault = if refused.is_none() { self.config.faults.fault_for(index) } else { None };
        let status = match (&fault, refused) {
            (Some(fault), _) => fault.status(),
            (None, Some(status)) => status,
            (None, None) => 200,
        };
        log.push(LoggedRequest {
            index,
            request: request.clone(),
            authorization,
            fault: fault.clone(),
            status,
            served_at: None,
            completed_at: None,
        });
        (index, fault)
    }

    fn set_status(&self, index: usize, status: u16) {
        if let Some(entry) = self.log().get_mut(index) {
            entry.status = status;
        }
    }
}

/// The one service slot of a [`SerialQueue`] server and the line of requests waiting for it.
struct Queue {
    capacity: usize,
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    busy: bool,
    /// Waiting requests, first come first served: (ticket id, where to hand the slot).
    line: VecDeque<(u64, oneshot::Sender<()>)>,
    next_id: u64,
}

enum Admission {
    Now(Slot),
    Wait(Ticket),
    Full,
}

impl Queue {
    /// Takes the free slot, joins the line, or finds the line full.
    fn admit(self: &Arc<Self>) -> Admission {
        let mut state = lock(&self.state);
        if !state.busy {
            state.busy = true;
            return Admission::Now(Slot(Arc::clone(self)));
        }
        if state.line.len() >= self.capacity {
            return Admission::Full;
        }
        let (tx, rx) = oneshot::channel();
        let id = state.next_id;
        state.next_id += 1;
        state.line.push_back((id, tx));
        Admission::Wait(Ticket { queue: Arc::clone(self), id, rx, granted: false })
    }

    /// Hands the slot to the first waiter still there, or frees it.
    fn pass_on(&self) {
        let mut state = lock(&self.state);
        while let Some((_, tx)) = state.line.pop_front() {
            if tx.send(()).is_ok() {
                return;
            }
        }
        state.busy = false;
    }
}

/// The service slot; passed on when dropped.
struct Slot(Arc<Queue>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.pass_on();
    }
}

/// A place in line. Dropped before its turn (the client went away), it leaves the line; dropped
/// after the slot was handed to it but before it noticed, it passes the slot on. `rx` lives as
/// long as the ticket, so a hand-over under the queue's lock can never fail half-way.
struct Ticket {
    queue: Arc<Queue>,
    id: u64,
    rx: oneshot::Receiver<()>,
    granted: bool,
}

impl Ticket {
    async fn wait(mut self) -> Slot {
        // The sender is only dropped once it has sent, or by this ticket's own drop.
        let _ = (&mut self.rx).await;
        self.granted = true;
        Slot(Arc::clone(&self.queue))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.granted {
            return;
        }
        let mut state = lock(&self.queue.state);
        if let Some(at) = state.line.iter().position(|(id, _)| *id == self.id) {
            state.line.remove(at);
            return;
        }
        drop(state);
        self.queue.pass_on();
    }
}

/// A request in service: counted in `in_service`, holding the slot of a serial server until
/// it is dropped (for streams, with the body).
struct InService {
    shared: Arc<Shared>,
    index: usize,
    _slot: Option<Slot>,
}

impl InService {
    fn begin(shared: &Arc<Shared>, index: usize, slot: Option<Slot>) -> Self {
        {
            let mut count = lock(&shared.service);
            count.now += 1;
            count.max = count.max.max(count.now);
        }
        if let Some(entry) = shared.log().get_mut(index) {
            entry.served_at = Some(Instant::now());
        }
        InService { shared: Arc::clone(shared), index, _slot: slot }
    }

    /// The response was produced to its end.
    fn complete(self) {
        if let Some(entry) = self.shared.log().get_mut(self.index) {
            entry.completed_at = Some(Instant::now());
        }
    }
}

impl Drop for InService {
    fn drop(&mut self) {
        // Counted out before the slot (a field) is passed on, so the next one never overlaps.
        lock(&self.shared.service).now -= 1;
    }
}

/// A poisoned lock only means a panicking test thread held it; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .with_state(shared);
    // Streamed replies go out as several small writes: without TCP_NODELAY, Nagle's algorithm
    // and delayed ACKs would add tens of milliseconds to each.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let stopped = async move {
        let _ = stop.wait_for(|&stopped| stopped).await;
    };
    // Serving on a bound listener only ends on shutdown; there is no error worth reporting.
    let _ = axum::serve(listener, app).with_graceful_shutdown(stopped).await;
}

async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = key_refusal(&shared.config, authorization(&headers).as_deref()) {
        return refusal;
    }
    let data: Vec<Value> = shared
        .config
        .models
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 0, "owned_by": "critloop-mock" }))
        .collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = authorization(&headers);
    let (request, invalid) = match serde_json::from_slice::<Value>(&body) {
        Ok(value) if value.is_object() => (parse_request(&value), None),
        Ok(_) => (ChatRequest::default(), Some("the request body must be a JSON object".into())),
        Err(e) => (ChatRequest::default(), Some(format!("the request body is not JSON: {e}"))),
    };
    let config = &shared.config;
    // A wrong key, an unknown model and a full line are turned away at once, before service.
    let key_refused = key_refusal(config, authorization.as_deref());
    let unknown_model = key_refused.is_none()
        && invalid.is_none()
        && config.strict_models
        && !config.models.contains(&request.model);
    let admission = match &shared.queue {
        Some(queue) if key_refused.is_none() && !unknown_model => Some(queue.admit()),
        _ => None,
    };
    let refused = if key_refused.is_some() {
        Some(401)
    } else if unknown_model {
        Some(404)
    } else if matches!(admission, Some(Admission::Full)) {
        Some(429)
    } else {
        invalid.as_ref().map(|_| 400)
    };
    let (index, fault) = shared.arrive(&request, authorization, refused);
    if let Some(refusal) = key_refused {
        return refusal;
    }
    if unknown_model {
        return error_response(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            &format!("The model `{}` does not exist", request.model),
        );
    }
    let slot = match admission {
        None => None,
        Some(Admission::Now(slot)) => Some(slot),
        Some(Admission::Wait(ticket)) => Some(ticket.wait().await),
        Some(Admission::Full) => {
            let retry_after = config.serial.map_or(1, |serial| serial.retry_after_secs);
            return rate_limited(
                retry_after,
                "The server is busy: too many requests are waiting (mock). Please try again \
                 later.",
            );
        }
    };
    let service = InService::begin(&shared, index, slot);

    // The reply function is only asked for requests that get a real answer.
    let reply = match fault {
        None | Some(Fault::Slow(_)) if invalid.is_none() => {
            let reply = (config.reply)(&request);
            if reply.reject.is_some() {
                shared.set_status(index, 400);
            }
            Some(reply)
        }
        _ => None,
    };

    let delay = config.latency
        + match fault {
            Some(Fault::Slow(extra)) => extra,
            _ => Duration::ZERO,
        };
    let streamed = invalid.is_none()
        && request.stream
        && match &fault {
            None | Some(Fault::Slow(_)) => reply.as_ref().is_some_and(|r| r.reject.is_none()),
            Some(Fault::TruncatedStream) => true,
            _ => false,
        };
    // A head-first stream waits inside its body instead.
    let before_head = if config.stream_head_first && streamed { Duration::ZERO } else { delay };
    if !before_head.is_zero() {
        tokio::time::sleep(before_head).await;
    }
    let pacing = Pacing { first: delay - before_head, between: config.chunk_interval };

    if let Some(message) = invalid {
        service.complete();
        return error_response(StatusCode::BAD_REQUEST, "invalid_request_error", None, &message);
    }
    let ctx = ReplyContext::new(index, &request, config);
    let response = match fault {
        Some(Fault::RateLimited { retry_after_secs }) => rate_limited(
            retry_after_secs,
            "Rate limit reached for requests (mock). Please try again later.",
        ),
        Some(Fault::ServerError) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            "The server had an error while processing your request (mock).",
        ),
        Some(Fault::Unavailable) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            None,
            "The server is overloaded or not ready yet (mock).",
        ),
        Some(Fault::TruncatedStream) if request.stream => {
            return truncated_stream(&ctx, pacing, service);
        }
        Some(Fault::MalformedJson | Fault::TruncatedStream) => malformed_json(&ctx),
        // Nothing is answered: the service ends without completing.
        Some(Fault::DropConnection) => return dropped_connection(),
        None | Some(Fault::Slow(_)) => {
            let reply = reply.unwrap_or_else(|| MockReply::text(DEFAULT_REPLY));
            if let Some(message) = reply.reject {
                error_response(StatusCode::BAD_REQUEST, "invalid_request_error", None, &message)
            } else if request.stream {
                return stream_response(&ctx, &reply, false, pacing, service);
            } else {
                completion_response(&ctx, &reply)
            }
        }
    };
    service.complete();
    response
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The 401 for a request without the configured key, if it has not got it.
fn key_refusal(config: &MockConfig, authorization: Option<&str>) -> Option<Response> {
    let key = config.api_key.as_deref()?;
    let sent = authorization.and_then(|a| a.strip_prefix("Bearer "));
    if sent == Some(key) {
        return None;
    }
    let message = match sent {
        Some(sent) => format!("Incorrect API key provided: {sent}."),
        None => "You didn't provide an API key.".to_owned(),
    };
    Some(error_response(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        Some("invalid_api_key"),
        &message,
    ))
}

fn rate_limited(retry_after_secs: u64, message: &str) -> Response {
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "requests",
        Some("rate_limit_exceeded"),
        message,
    );
    response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
    response
}

// ---------------------------------------------------------------------------------------------
// Request parsing

fn parse_request(v: &Value) -> ChatRequest {
    let uint = |key: &str| v.get(key).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
    let float = |key: &str| v.get(key).and_then(Value::as_f64);
    let flag = |key: &str| v.get(key).and_then(Value::as_bool).unwrap_or(false);
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .map(|m| {
                    let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                    (role.to_owned(), m.get("content").map(content_text).unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    ChatRequest {
        model: v.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(),
        messages,
        stream: flag("stream"),
        max_tokens: uint("max_tokens"),
        max_completion_tokens: uint("max_completion_tokens"),
        temperature: float("temperature"),
        top_p: float("top_p"),
        seed: v.get("seed").and_then(Value::as_i64),
        n: uint("n"),
        logprobs: flag("logprobs"),
        top_logprobs: uint("top_logprobs"),
    }
}

/// A message content: a string, or an array of parts whose texts are concatenated.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part {
                Value::String(s) => Some(s.as_str()),
                _ => part.get("text").and_then(Value::as_str),
            })
            .collect(),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

struct ReplyContext {
    id: String,
    model: String,
    created: u64,
    logprobs: bool,
    prompt_words: usize,
    /// The `max_tokens` the mock keeps to, if any.
    limit: Option<usize>,
}

impl ReplyContext {
    fn new(index: usize, request: &ChatRequest, config: &MockConfig) -> Self {
        let model = if request.model.is_empty() { MOCK_MODEL } else { &request.model };
        let limit = [request.max_tokens, request.max_completion_tokens].into_iter().flatten().min();
        ReplyContext {
            id: format!("chatcmpl-mock-{index}"),
            model: model.to_owned(),
            created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            logprobs: request.logprobs && config.logprobs_supported,
            prompt_words: request.messages.iter().map(|(_, c)| c.split_whitespace().count()).sum(),
            limit: limit.filter(|_| config.honour_max_tokens).map(|n| n as usize),
        }
    }

    /// The content as sent: cut to the limit, if it is longer.
    fn shape<'a>(&self, content: &'a str) -> Shaped<'a> {
        let tokens = tokenize(content);
        match self.limit {
            Some(limit) if tokens.len() > limit => Shaped {
                tokens: tokens[..limit].to_vec(),
                finish_reason: "length",
                completion_tokens: limit,
            },
            // Uncut replies count whitespace words, as the mock always has.
            _ => Shaped {
                completion_tokens: content.split_whitespace().count(),
                tokens,
                finish_reason: "stop",
            },
        }
    }
}

/// A reply's content after `max_tokens`.
struct Shaped<'a> {
    tokens: Vec<&'a str>,
    finish_reason: &'static str,
    /// `usage.completion_tokens`: the tokens kept when cut, else whitespace words.
    completion_tokens: usize,
}

fn completion_body(ctx: &ReplyContext, content: &str, verdict_prob: Option<f64>) -> Value {
    let shaped = ctx.shape(content);
    let logprobs = ctx.logprobs.then(
        || json!({ "content": token_logprobs(&shaped.tokens, verdict_prob), "refusal": null }),
    );
    let content = shaped.tokens.concat();
    let completion_words = shaped.completion_tokens;
    json!({
        "id": ctx.id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": shaped.finish_reason,
            "logprobs": logprobs,
        }],
        "usage": {
            "prompt_tokens": ctx.prompt_words,
            "completion_tokens": completion_words,
            "total_tokens": ctx.prompt_words + completion_words,
        },
    })
}

fn completion_response(ctx: &ReplyContext, reply: &MockReply) -> Response {
    Json(completion_body(ctx, &reply.content, reply.verdict_prob)).into_response()
}

fn malformed_json(ctx: &ReplyContext) -> Response {
    let full = completion_body(ctx, CUT_OFF_CONTENT, None).to_string();
    let mut cut = full.len() / 2;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut body = full;
    body.truncate(cut);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// One SSE event holding a `chat.completion.chunk`.
fn chunk_event(
    ctx: &ReplyContext,
    delta: Value,
    finish_reason: Option<&str>,
    logprobs: Option<Vec<Value>>,
) -> String {
    let chunk = json!({
        "id": ctx.id,
        "object": "chat.completion.chunk",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [{
            "index": 0,
            "delta": delta,
            "finish_reason": finish_reason,
            "logprobs": logprobs.map(|content| json!({ "content": content, "refusal": null })),
        }],
    });
    format!("data: {chunk}\n\n")
}

/// The waits of a streamed body.
#[derive(Clone, Copy)]
struct Pacing {
    /// Before the first chunk (the latency of a head-first stream).
    first: Duration,
    /// Between chunks.
    between: Duration,
}

/// The SSE reply; `truncated` sends only the first half of the content chunks and neither the
/// final chunk nor `[DONE]`. The body holds `service` until its last chunk is out.
fn stream_response(
    ctx: &ReplyContext,
    reply: &MockReply,
    truncated: bool,
    pacing: Pacing,
    service: InService,
) -> Response {
    let shaped = ctx.shape(&reply.content);
    let tokens = shaped.tokens;
    let mut logprobs = ctx.logprobs.then(|| token_logprobs(&tokens, reply.verdict_prob));
    let pieces: Vec<&[&str]> = tokens.chunks(TOKENS_PER_CHUNK).collect();
    let sent = if truncated { pieces.len().div_ceil(2) } else { pieces.len() };

    let mut events = Vec::with_capacity(sent + 3);
    events.push(chunk_event(ctx, json!({ "role": "assistant", "content": "" }), None, None));
    for piece in &pieces[..sent] {
        let piece_logprobs =
            logprobs.as_mut().map(|all| all.drain(..piece.len()).collect::<Vec<_>>());
        events.push(chunk_event(ctx, json!({ "content": piece.concat() }), None, piece_logprobs));
    }
    if !truncated {
        events.push(chunk_event(ctx, json!({}), Some(shaped.finish_reason), None));
        events.push("data: [DONE]\n\n".to_owned());
    }
    let body = Body::from_stream(paced(events, pacing, service));
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body)
        .into_response()
}

/// The events, each after its wait; the service completes after the last one. If hyper drops
/// the body first (the client went away), the service ends uncompleted.
fn paced(
    events: Vec<String>,
    pacing: Pacing,
    service: InService,
) -> impl futures_util::Stream<Item = Result<String, Infallible>> {
    let start = (events.into_iter(), pacing.first, Some(service));
    stream::unfold(start, move |(mut events, wait, mut service)| async move {
        let Some(event) = events.next() else {
            if let Some(service) = service.take() {
                service.complete();
            }
            return None;
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Some((Ok(event), (events, pacing.between, service)))
    })
}

fn truncated_stream(ctx: &ReplyContext, pacing: Pacing, service: InService) -> Response {
    stream_response(ctx, &MockReply::text(CUT_OFF_CONTENT), true, pacing, service)
}

/// A response whose body fails before its first byte: hyper then closes the connection without
/// writing the head, so the client sees a connection error, not a status.
fn dropped_connection() -> Response {
    let failing = stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("mock: connection dropped"))
    });
    Response::new(Body::from_stream(failing))
}

fn error_response(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body =
        json!({ "error": { "message": message, "type": kind, "param": null, "code": code } });
    (status, Json(body)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Tokens and logprobs

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits text into tokens that concatenate back to it: a run of whitespace up to and including
/// its last line break is a token; otherwise a token is its leading spaces followed by either a
/// run of word characters or one other character ("Verdict", ":", " correct"); trailing spaces
/// are a token of their own.
pub fn tokenize(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let space = rest.len() - rest.trim_start().len();
        if let Some(newline) = rest[..space].rfind(['\n', '\r']) {
            // Line breaks are tokens of their own; only the indentation after them leads a word.
            let (token, tail) = rest.split_at(newline + 1);
            tokens.push(token);
            rest = tail;
            continue;
        }
        let after = &rest[space..];
        let body = match after.chars().next() {
            None => 0,
            Some(c) if is_word_char(c) => after.find(|c| !is_word_char(c)).unwrap_or(after.len()),
            Some(c) => c.len_utf8(),
        };
        let (token, tail) = rest.split_at(space + body);
        tokens.push(token);
        rest = tail;
    }
    tokens
}

/// Indices of the verdict words: the first word after a "Verdict" word and a ":" (other
/// punctuation such as markdown "**" may come between), if it is "correct" or "incorrect".
fn verdict_indices(tokens: &[&str]) -> Vec<usize> {
    let mut found = Vec::new();
    // Some(colon seen) right after a "Verdict" word.
    let mut after_verdict: Option<bool> = None;
    for (i, token) in tokens.iter().enumerate() {
        let text = token.trim_start();
        if text.starts_with(is_word_char) {
            if after_verdict == Some(true)
                && (text.eq_ignore_ascii_case("correct") || text.eq_ignore_ascii_case("incorrect"))
            {
                found.push(i);
            }
            after_verdict = text.eq_ignore_ascii_case("verdict").then_some(false);
        } else if let Some(colon) = after_verdict.as_mut() {
            *colon |= text == ":";
        }
    }
    found
}

/// ln(p), with OpenAI's -9999 for a zero probability (JSON has no -inf).
fn ln(p: f64) -> f64 {
    if p > 0.0 { p.ln() } else { -9999.0 }
}

fn top_entry(token: &str, logprob: f64) -> Value {
    json!({ "token": token, "logprob": logprob, "bytes": null })
}

/// `word` in the letter case of `like` (all caps, capitalised, or as is).
fn cased_like(word: &str, like: &str) -> String {
    if like.chars().all(|c| !c.is_lowercase()) {
        word.to_uppercase()
    } else if like.starts_with(char::is_uppercase) {
        let mut chars = word.chars();
        chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
    } else {
        word.to_owned()
    }
}

/// One `choices[0].logprobs.content` entry per token.
fn token_logprobs(tokens: &[&str], verdict_prob: Option<f64>) -> Vec<Value> {
    let verdicts = verdict_indices(tokens);
    let p = verdict_prob.unwrap_or(DEFAULT_VERDICT_PROB).clamp(0.0, 1.0);
    tokens
        .iter()
        .enumerate()
        .map(|(i, &token)| {
            if verdicts.contains(&i) {
                let word = token.trim_start();
                let space = &token[..token.len() - word.len()];
                let other =
                    if word.eq_ignore_ascii_case("correct") { "incorrect" } else { "correct" };
                let other = format!("{space}{}", cased_like(other, word));
                let mut top = [(token.to_owned(), ln(p)), (other, ln(1.0 - p))];
                // Most likely first, as the API lists them.
                top.sort_by(|a, b| b.1.total_cmp(&a.1));
                let top: Vec<Value> = top.iter().map(|(t, lp)| top_entry(t, *lp)).collect();
                json!({ "token": token, "logprob": ln(p), "bytes": null, "top_logprobs": top })
            } else {
                let lp = ln(PLAIN_TOKEN_PROB);
                let top = [top_entry(token, lp)];
                json!({ "token": token, "logprob": lp, "bytes": null, "top_logprobs": top })
            }
        })
        .collect()
}
