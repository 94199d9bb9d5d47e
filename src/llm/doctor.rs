//! `critloop doctor` (DESIGN §8): probes one OpenAI-compatible endpoint before any episode
//! exists: `GET /models`, then at most five tiny chat requests (one, retried once without
//! logprobs if the server refuses them; one with another seed; an identical pair sent
//! together). The report says what a run can rely on: the model name, latency,
//! tokens/s, parallelism, and whether usage, seed, max_tokens and logprobs are honoured.
//!
//! Everything the server or the user supplied is made inert before it is shown, and the API
//! key is removed from any text the server sends back.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

/// The `max_tokens` every probe asks for.
pub(crate) const PROBE_MAX_TOKENS: u32 = 8;

/// Invites a reply far longer than [`PROBE_MAX_TOKENS`], so an ignored cap shows.
const COUNT_PROMPT: &str = "Count from 1 to 100, separated by spaces.";

/// Invites a different reply per sample, so a seed that does nothing shows, and one long enough
/// that generating it, not the HTTP round trip or the prompt, sets its time.
const SEED_PROMPT: &str = "Write a list of forty random English words, separated by spaces.";

/// `max_tokens` of the timed requests: with 8, overheads hid a one-at-a-time server.
const PAIR_MAX_TOKENS: u32 = 32;

const PROBE_SEED: i64 = 4242;
const OTHER_SEED: i64 = 9001;

/// Alternatives asked for per token; what critloop's runs ask for.
const TOP_LOGPROBS: usize = 5;

/// Served names kept for the report.
const MAX_NAMES: usize = 10;

/// Longest server message shown, in characters.
const MESSAGE_CHARS: usize = 200;

/// A pair that takes at most this many times one request ran in parallel...
const PARALLEL_RATIO: f64 = 1.4;
/// ... and at least this many times, one after the other.
const SERIAL_RATIO: f64 = 1.6;
/// Below this a reply is too quick for its time to say anything.
const TOO_QUICK: Duration = Duration::from_millis(20);

/// One endpoint to check.
#[derive(Debug, Clone)]
pub struct DoctorTarget {
    /// "generator" or "critic", for the report.
    pub role: &'static str,
    /// e.g. `http://127.0.0.1:8080/v1`; a trailing slash does not matter.
    pub base_url: String,
    pub model: String,
    /// Name of the environment variable holding the API key (sent as `Authorization: Bearer`).
    pub api_key_env: String,
    pub connect_timeout: Duration,
    /// Cap on each probe request.
    pub request_timeout: Duration,
    /// The run asks for logprobs: their absence is a warning.
    pub want_logprobs: bool,
}

/// A token count, from the server's `usage` or estimated from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TokenCount {
    pub n: u32,
    pub estimated: bool,
}

/// What became of `logprobs: true, top_logprobs: 5`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Logprobs {
    /// Token logprobs with up to `top` alternatives each.
    Returned { top: usize },
    /// Token logprobs without alternatives (P(true) needs them).
    TokensOnly,
    /// The request was accepted but no logprobs came back.
    Missing,
    /// The server refused the request because of them; it was sent again without.
    Rejected { message: String },
}

/// Whether the server works on two requests at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Parallelism {
    /// The pair took about as long as one request.
    Parallel {
        together: Duration,
        alone: Duration,
    },
    /// Between one and two requests' time: some batching, or a shared CPU.
    Partial {
        together: Duration,
        alone: Duration,
    },
    /// About twice one request: one at a time.
    Serial {
        together: Duration,
        alone: Duration,
    },
    Unknown {
        reason: String,
    },
}

/// What a fixed seed does to sampling at temperature 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Seed {
    /// Same seed, same reply; another seed, another reply.
    Honoured,
    /// Same seed, same reply; the other seed could not be tried.
    HonouredOrDeterministic,
    /// The same reply under another seed too: the seed could not be tested.
    Deterministic,
    /// Same seed, different replies.
    Ignored,
    Unknown {
        reason: String,
    },
}

/// The doctor's findings for one endpoint. Strings from the server are already inert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    pub role: &'static str,
    pub base_url: String,
    pub model: String,
    /// Whether some HTTP answer came back; None when the URL was not even tried.
    pub reachable: Option<bool>,
    /// Up to ten names `/models` lists; None when it gave no list.
    pub models: Option<Vec<String>>,
    /// How many models `/models` lists in all.
    pub models_total: usize,
    /// Why `/models` gave no list, when it did not.
    pub models_note: Option<String>,
    pub model_listed: Option<bool>,
    /// Wall time of the first chat request.
    pub latency: Option<Duration>,
    pub completion_tokens: Option<TokenCount>,
    pub tokens_per_s: Option<f64>,
    pub finish_reason: Option<String>,
    /// The reply had no text (a reasoning model may spend the probe's tokens thinking).
    pub empty_content: bool,
    pub usage_reported: Option<bool>,
    pub max_tokens_honoured: Option<bool>,
    pub logprobs: Option<Logprobs>,
    pub parallel: Option<Parallelism>,
    pub seed: Option<Seed>,
    /// Why the chat request failed, when it did.
    pub chat_error: Option<String>,
    pub warnings: Vec<String>,
    pub fatal: Option<String>,
}

impl DoctorReport {
    fn new(target: &DoctorTarget, base: &str) -> Self {
        DoctorReport {
            role: target.role,
            base_url: inert(base),
            model: inert(&target.model),
            reachable: None,
            models: None,
            models_total: 0,
            models_note: None,
            model_listed: None,
            latency: None,
            completion_tokens: None,
            tokens_per_s: None,
            finish_reason: None,
            empty_content: false,
            usage_reported: None,
            max_tokens_honoured: None,
            logprobs: None,
            parallel: None,
            seed: None,
            chat_error: None,
            warnings: Vec::new(),
            fatal: None,
        }
    }

    /// The one line that stops a run, if any.
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// The short human report: a header, one line per check that ran, the warnings, and a
    /// verdict (`ready`, `ready, with N warning(s)` or `cannot work: …`).
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("{:<10} {}  model {}", self.role, self.base_url, self.model)];
        let mut check = |label: &str, text: String| out.push(format!("  {label:<11} {text}"));
        if let Some(text) = self.models_line() {
            check("models", text);
        }
        if let Some(text) = self.chat_line() {
            check("chat", text);
        }
        if let Some(usage) = self.usage_reported {
            let text = if usage { "reported" } else { "not reported (token counts estimated)" };
            check("usage", text.into());
        }
        if let (Some(honoured), Some(tokens)) = (self.max_tokens_honoured, self.completion_tokens) {
            let verdict = if honoured { "honoured" } else { "ignored" };
            let finish = self.finish_reason.as_deref().unwrap_or("none");
            let got = tokens_text(tokens);
            check(
                "max_tokens",
                format!("{verdict} (asked {PROBE_MAX_TOKENS}, got {got}, finish_reason {finish})"),
            );
        }
        if let Some(logprobs) = &self.logprobs {
            check("logprobs", logprobs_text(logprobs));
        }
        if let Some(seed) = &self.seed {
            check("seed", seed_text(seed));
        }
        if let Some(parallel) = &self.parallel {
            check("parallel", parallel_text(parallel));
        }
        for warning in &self.warnings {
            check("warning", warning.clone());
        }
        out.push(match (&self.fatal, self.warnings.len()) {
            (Some(fatal), _) => format!("  cannot work: {fatal}"),
            (None, 0) => "  ready".into(),
            (None, 1) => "  ready, with 1 warning".into(),
            (None, n) => format!("  ready, with {n} warnings"),
        });
        out
    }

    fn models_line(&self) -> Option<String> {
        match self.reachable {
            None => return None,
            Some(false) => return Some("no answer".into()),
            Some(true) => {}
        }
        let listed = match self.model_listed {
            Some(true) => format!("; `{}` listed", self.model),
            Some(false) if self.latency.is_some() => {
                format!("; `{}` not listed but answered", self.model)
            }
            Some(false) => format!("; `{}` not listed", self.model),
            None => String::new(),
        };
        Some(match (&self.models, &self.models_note) {
            (Some(names), _) => {
                let plural = if self.models_total == 1 { "" } else { "s" };
                let names = name_list(names, self.models_total);
                let names = if names.is_empty() { String::new() } else { format!(" ({names})") };
                format!("/models lists {} model{plural}{names}{listed}", self.models_total)
            }
            (None, Some(note)) => format!("/models gives no list ({note})"),
            (None, None) => "/models gives no list".into(),
        })
    }

    fn chat_line(&self) -> Option<String> {
        if let Some(error) = &self.chat_error {
            return Some(format!("failed: {error}"));
        }
        let latency = self.latency?;
        let mut text = format!("ok in {}", secs(latency));
        if let Some(tokens) = self.completion_tokens {
            let estimated = if tokens.estimated { " (estimated from the text)" } else { "" };
            let _ = write!(text, ": {} tokens{estimated}", tokens_text(tokens));
        }
        if let Some(rate) = self.tokens_per_s {
            let _ = write!(text, ", {rate:.1} tok/s");
        }
        if self.empty_content {
            text.push_str(" (empty content: a reasoning model may spend the tokens thinking)");
        }
        Some(text)
    }
}

/// "8", or "~8" for an estimate.
fn tokens_text(tokens: TokenCount) -> String {
    if tokens.estimated { format!("~{}", tokens.n) } else { tokens.n.to_string() }
}

fn logprobs_text(logprobs: &Logprobs) -> String {
    match logprobs {
        Logprobs::Returned { top } => format!("returned (top {top})"),
        Logprobs::TokensOnly => "tokens only, no top_logprobs alternatives".into(),
        Logprobs::Missing => "not returned (the request was accepted without them)".into(),
        Logprobs::Rejected { message } => {
            format!("not supported: the server refused them ({message}); asked again without")
        }
    }
}

fn seed_text(seed: &Seed) -> String {
    match seed {
        Seed::Honoured => "honoured (same seed, same reply; another seed, another reply)".into(),
        Seed::HonouredOrDeterministic => {
            "honoured or deterministic (same seed, same reply; another seed untried)".into()
        }
        Seed::Deterministic => {
            "untestable: another seed gave the same reply too (deterministic at temperature 1)"
                .into()
        }
        Seed::Ignored => {
            "ignored: two requests with one seed at temperature 1 replied differently".into()
        }
        Seed::Unknown { reason } => format!("unknown ({reason})"),
    }
}

fn parallel_text(parallel: &Parallelism) -> String {
    let pair = |together: &Duration, alone: &Duration| {
        format!("2 requests took {} together, {} alone", secs(*together), secs(*alone))
    };
    match parallel {
        Parallelism::Parallel { together, alone } => format!("yes: {}", pair(together, alone)),
        Parallelism::Partial { together, alone } => {
            format!("partly: {} (some slowdown when two run at once)", pair(together, alone))
        }
        Parallelism::Serial { together, alone } => format!(
            "no: {} (one at a time: critloop queues on its side, and time in the server's queue \
             does not count against timeouts)",
            pair(together, alone)
        ),
        Parallelism::Unknown { reason } => format!("unknown ({reason})"),
    }
}

/// "a, b, c" or "a, …, j and 47 more".
fn name_list(names: &[String], total: usize) -> String {
    let mut text = names.join(", ");
    if total > names.len() {
        let _ = write!(text, " and {} more", total - names.len());
    }
    text
}

/// "850 ms" below a second, else "1.9 s".
fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Text shown as text (model names, URLs, server messages): one line, controls escaped.
pub(crate) use crate::domain::text::inert_line as inert;

/// A server's text as one inert line of at most [`MESSAGE_CHARS`] characters, with the key
/// (if any) cut out: some servers echo what they were sent.
fn clean(text: &str, key: Option<&str>) -> String {
    let redacted = match key {
        Some(key) if !key.is_empty() => text.replace(key, "[key]"),
        _ => text.to_owned(),
    };
    let one_line = redacted.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown: String = one_line.chars().take(MESSAGE_CHARS).collect();
    if shown.len() < one_line.len() {
        shown.push('…');
    }
    let shown = inert(&shown);
    if shown.is_empty() { "(no message)".into() } else { shown }
}

/// The message of an error body: OpenAI's `error.message`, or the shapes other servers use
/// (`error` as a string, `message`, FastAPI's `detail`), else the body itself.
fn error_message(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return String::from_utf8_lossy(body).into_owned();
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    text(v.pointer("/error/message"))
        .or_else(|| text(v.get("error")))
        .or_else(|| text(v.get("message")))
        .or_else(|| text(v.get("detail")))
        .or_else(|| v.get("detail").map(Value::to_string))
        .unwrap_or_else(|| v.to_string())
}

/// Whether an error says the model does not exist (vLLM, OpenAI, Ollama, LiteLLM wordings).
fn says_model_missing(status: u16, body: &[u8], message: &str) -> bool {
    if status != 404 && status != 400 {
        return false;
    }
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/code").and_then(Value::as_str).map(str::to_owned));
    if code.as_deref() == Some("model_not_found") {
        return true;
    }
    let m = message.to_lowercase();
    m.contains("model")
        && ["not exist", "not found", "unknown", "no such", "not available", "not served"]
            .iter()
            .any(|p| m.contains(p))
}

/// Whether the server refused the request because of `logprobs` / `top_logprobs`.
fn rejects_logprobs(status: u16, message: &str) -> bool {
    (status == 400 || status == 422) && message.to_lowercase().contains("logprob")
}

/// `data[].id` of a `/models` body, if it has that shape.
fn model_ids(body: &Value) -> Option<Vec<String>> {
    let data = body.get("data")?.as_array()?;
    Some(data.iter().filter_map(|m| m.get("id")?.as_str().map(str::to_owned)).collect())
}

/// Whether `model` is among the served names (Ollama lists `name:latest` for `name`).
fn is_listed(model: &str, ids: &[String]) -> bool {
    ids.iter().any(|id| id == model || id.strip_suffix(":latest") == Some(model))
}

/// A rough token count for servers that report no usage: one per run of letters and digits
/// and one per other visible character.
fn estimate_tokens(text: &str) -> u32 {
    let mut n = 0u32;
    let mut in_word = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if !in_word {
                n = n.saturating_add(1);
            }
            in_word = true;
        } else {
            in_word = false;
            if !c.is_whitespace() {
                n = n.saturating_add(1);
            }
        }
    }
    n
}

/// Whether the reply kept to `max_tokens`: the count is within it, or the server stopped at
/// its length limit with a short text (servers count tokens their own way).
fn max_tokens_kept(tokens: TokenCount, finish_reason: Option<&str>, content: &str) -> bool {
    tokens.n <= PROBE_MAX_TOKENS
        || (finish_reason == Some("length") && estimate_tokens(content) <= 2 * PROBE_MAX_TOKENS)
}

/// What the pair's wall time says, next to one request alone.
fn parallelism(together: Duration, alone: Duration) -> Parallelism {
    if alone < TOO_QUICK {
        let reason = format!(
            "too quick to time: 2 requests took {} together, {} alone",
            secs(together),
            secs(alone)
        );
        return Parallelism::Unknown { reason };
    }
    let ratio = together.as_secs_f64() / alone.as_secs_f64().max(1e-3);
    if ratio <= PARALLEL_RATIO {
        Parallelism::Parallel { together, alone }
    } else if ratio < SERIAL_RATIO {
        Parallelism::Partial { together, alone }
    } else {
        Parallelism::Serial { together, alone }
    }
}

/// The parts of a chat completion the doctor looks at.
#[derive(Debug, Clone, PartialEq)]
struct Completion {
    content: String,
    finish_reason: Option<String>,
    completion_tokens: Option<u32>,
    /// Tokens in `choices[0].logprobs.content`.
    logprob_tokens: usize,
    /// Most alternatives any token has.
    top: usize,
}

impl Completion {
    fn parse(body: &[u8]) -> Option<Completion> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let choice = v.get("choices")?.as_array()?.first()?;
        let tokens = choice.pointer("/logprobs/content").and_then(Value::as_array);
        let top = tokens
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("top_logprobs").and_then(Value::as_array).map(Vec::len))
            .max()
            .unwrap_or(0);
        Some(Completion {
            content: choice
                .pointer("/message/content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_owned),
            completion_tokens: v
                .pointer("/usage/completion_tokens")
                .and_then(Value::as_u64)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            logprob_tokens: tokens.map_or(0, Vec::len),
            top,
        })
    }

    fn logprobs(&self) -> Logprobs {
        match (self.logprob_tokens, self.top) {
            (0, _) => Logprobs::Missing,
            (_, 0) => Logprobs::TokensOnly,
            (_, top) => Logprobs::Returned { top },
        }
    }
}

/// An HTTP answer, read to its end.
struct Answer {
    status: u16,
    body: Vec<u8>,
    elapsed: Duration,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The client and what every request needs.
struct Probe<'a> {
    client: reqwest::Client,
    base: String,
    /// `base` as shown in messages.
    shown: String,
    key: Option<String>,
    target: &'a DoctorTarget,
}

impl Probe<'_> {
    fn clean(&self, text: &str) -> String {
        clean(text, self.key.as_deref())
    }

    /// "HTTP 404: message", cleaned.
    fn status_text(&self, answer: &Answer) -> String {
        format!("HTTP {}: {}", answer.status, self.clean(&error_message(&answer.body)))
    }

    /// The innermost cause of a transport error, which says what happened on the wire.
    fn cause(&self, error: &reqwest::Error) -> String {
        self.clean(&super::innermost_cause(error))
    }

    /// Why a request got no HTTP answer, in a few words.
    fn failure(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            format!("no answer within {}", secs(self.target.request_timeout))
        } else {
            self.cause(error)
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let started = Instant::now();
        let response = request.timeout(self.target.request_timeout).send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?.to_vec();
        Ok(Answer { status, body, elapsed: started.elapsed() })
    }

    async fn chat(&self, body: &Value) -> Result<Answer, reqwest::Error> {
        let request = self
            .client
            .post(format!("{}/chat/completions", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    fn chat_body(&self, prompt: &str, temperature: f64, seed: i64, logprobs: bool) -> Value {
        let mut body = json!({
            "model": self.target.model,
            "messages": [{ "role": "user", "content": prompt }],
            "stream": false,
            "temperature": temperature,
            // llama.cpp's server ignores max_completion_tokens.
            "max_tokens": PROBE_MAX_TOKENS,
            "seed": seed,
        });
        if logprobs && let Some(o) = body.as_object_mut() {
            o.insert("logprobs".into(), json!(true));
            o.insert("top_logprobs".into(), json!(TOP_LOGPROBS));
        }
        body
    }

    /// The fatal line for a 401/403.
    fn key_refused(&self, answer: &Answer) -> String {
        let var = inert(&self.target.api_key_env);
        let status = self.status_text(answer);
        match self.key {
            Some(_) => format!("{} rejected the API key from ${var} ({status})", self.shown),
            None => format!("{} wants an API key, but ${var} is not set ({status})", self.shown),
        }
    }

    fn timed_out(&self, what: &str) -> String {
        format!(
            "{} gave no answer to {what} within {} (the request timeout; a one-at-a-time server \
             may be busy with other requests)",
            self.shown,
            secs(self.target.request_timeout)
        )
    }
}

/// Runs the checks in order, stopping early only when the rest cannot run.
pub async fn doctor(target: &DoctorTarget) -> DoctorReport {
    let base = target.base_url.trim_end_matches('/').to_owned();
    let mut report = DoctorReport::new(target, &base);
    let probe = match probe(target, base) {
        Ok(probe) => probe,
        Err(fatal) => {
            report.fatal = Some(fatal);
            return report;
        }
    };
    if let Err(fatal) = check_models(&probe, &mut report).await {
        report.fatal = Some(fatal);
        return report;
    }
    if let Err(fatal) = check_chat(&probe, &mut report).await {
        report.fatal = Some(fatal);
        return report;
    }
    check_pair(&probe, &mut report).await;
    report
}

fn probe(target: &DoctorTarget, base: String) -> Result<Probe<'_>, String> {
    match reqwest::Url::parse(&base) {
        Ok(url) if url.scheme() == "http" || url.scheme() == "https" => {}
        Ok(_) => {
            return Err(format!("base URL {} must start with http:// or https://", inert(&base)));
        }
        Err(e) => return Err(format!("base URL {} is not a URL: {e}", inert(&base))),
    }
    // reqwest is built without a default TLS backend choice; ring is the lean one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(target.connect_timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let key = crate::env::var(&target.api_key_env).filter(|k| !k.is_empty());
    Ok(Probe { client, shown: inert(&base), base, key, target })
}

/// Check 1: `GET /models`. Err is the fatal line.
async fn check_models(probe: &Probe<'_>, report: &mut DoctorReport) -> Result<(), String> {
    let request = probe.client.get(format!("{}/models", probe.base));
    let answer = match probe.send(request).await {
        Ok(answer) => answer,
        // A server that accepted the connection but is slow to list models may still chat.
        Err(e) if e.is_timeout() && !e.is_connect() => {
            report.reachable = Some(true);
            report.models_note = Some(probe.failure(&e));
            return Ok(());
        }
        Err(e) => {
            report.reachable = Some(false);
            return Err(format!("cannot reach endpoint {}: {}", probe.shown, probe.cause(&e)));
        }
    };
    report.reachable = Some(true);
    if answer.status == 401 || answer.status == 403 {
        report.models_note = Some(probe.status_text(&answer));
        return Err(probe.key_refused(&answer));
    }
    if !answer.ok() {
        report.models_note = Some(probe.status_text(&answer));
        return Ok(());
    }
    let ids = serde_json::from_slice::<Value>(&answer.body).ok().and_then(|v| model_ids(&v));
    let Some(ids) = ids else {
        report.models_note = Some("not the OpenAI shape: no data[].id".into());
        return Ok(());
    };
    report.model_listed = Some(is_listed(&probe.target.model, &ids));
    report.models_total = ids.len();
    report.models = Some(ids.iter().take(MAX_NAMES).map(|id| probe.clean(id)).collect());
    Ok(())
}

/// Check 2: one tiny chat request. Err is the fatal line.
async fn check_chat(probe: &Probe<'_>, report: &mut DoctorReport) -> Result<(), String> {
    let mut answer = probe.chat(&probe.chat_body(COUNT_PROMPT, 0.0, PROBE_SEED, true)).await;
    if let Ok(refused) = &answer
        && rejects_logprobs(refused.status, &error_message(&refused.body))
    {
        report.logprobs = Some(Logprobs::Rejected { message: probe.status_text(refused) });
        answer = probe.chat(&probe.chat_body(COUNT_PROMPT, 0.0, PROBE_SEED, false)).await;
    }
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            let failure = probe.failure(&e);
            report.chat_error = Some(failure.clone());
            return Err(if e.is_timeout() {
                probe.timed_out("a chat request")
            } else {
                format!("{} failed a chat request: {failure}", probe.shown)
            });
        }
    };
    if !answer.ok() {
        let status = probe.status_text(&answer);
        report.chat_error = Some(status.clone());
        return Err(chat_refused(probe, report, &answer, status));
    }
    let Some(completion) = Completion::parse(&answer.body) else {
        let snippet = probe.clean(&String::from_utf8_lossy(&answer.body));
        report.chat_error = Some(format!("not a chat completion: {snippet}"));
        return Err(format!(
            "{} answered a chat request with no completion: {snippet}",
            probe.shown
        ));
    };

    let usage = completion.completion_tokens;
    let tokens = match usage {
        Some(n) => TokenCount { n, estimated: false },
        None => TokenCount { n: estimate_tokens(&completion.content), estimated: true },
    };
    report.latency = Some(answer.elapsed);
    report.completion_tokens = Some(tokens);
    report.tokens_per_s = Some(f64::from(tokens.n) / answer.elapsed.as_secs_f64().max(1e-3));
    report.finish_reason = completion.finish_reason.as_deref().map(|f| probe.clean(f));
    report.empty_content = completion.content.trim().is_empty();
    report.usage_reported = Some(usage.is_some());
    let kept = max_tokens_kept(tokens, completion.finish_reason.as_deref(), &completion.content);
    report.max_tokens_honoured = Some(kept);
    if report.logprobs.is_none() {
        report.logprobs = Some(completion.logprobs());
    }

    if report.model_listed == Some(false) {
        let listed =
            report.models.as_deref().filter(|n| !n.is_empty()).map_or(String::new(), |names| {
                format!("; listed: {}", name_list(names, report.models_total))
            });
        report.warnings.push(format!(
            "the server answers for `{}`, which /models does not list (it probably serves one \
             model whatever the name{listed})",
            report.model
        ));
    }
    if usage.is_none() {
        report.warnings.push(
            "no usage in replies: token counts in the run will be missing or estimated".into(),
        );
    }
    if !kept {
        report.warnings.push(format!(
            "max_tokens is ignored (asked {PROBE_MAX_TOKENS}, got {}): replies run as long as the \
             model likes, so episodes take longer and may hit timeouts; cap the output on the \
             server (llama.cpp: --n-predict)",
            tokens_text(tokens)
        ));
    }
    if probe.target.want_logprobs {
        let missing = match &report.logprobs {
            Some(Logprobs::Returned { .. }) | None => None,
            Some(Logprobs::TokensOnly) => Some("returns logprobs without top_logprobs"),
            Some(Logprobs::Missing) => Some("returns no logprobs"),
            Some(Logprobs::Rejected { .. }) => Some("does not support logprobs"),
        };
        if let Some(missing) = missing {
            report.warnings.push(format!(
                "the run asks for logprobs, but the server {missing}: P(true) confidences will \
                 be missing"
            ));
        }
    }
    Ok(())
}

/// The fatal line for a chat request answered with an error status.
fn chat_refused(
    probe: &Probe<'_>,
    report: &DoctorReport,
    answer: &Answer,
    status: String,
) -> String {
    if answer.status == 401 || answer.status == 403 {
        return probe.key_refused(answer);
    }
    let message = error_message(&answer.body);
    if report.model_listed != Some(true)
        && says_model_missing(answer.status, &answer.body, &message)
    {
        let serves = report
            .models
            .as_deref()
            .filter(|names| !names.is_empty())
            .map_or(String::new(), |names| {
                format!(" (it serves: {})", name_list(names, report.models_total))
            });
        return format!("model `{}` is not served by {}{serves}", report.model, probe.shown);
    }
    // Both paths missing usually means the base URL lacks its /v1.
    let hint = if answer.status == 404
        && report.models_note.as_deref().is_some_and(|n| n.starts_with("HTTP 404"))
    {
        " (is the base URL right? OpenAI-compatible servers usually serve under /v1)"
    } else {
        ""
    };
    format!("{} refused a chat request: {status}{hint}", probe.shown)
}

/// What one request of check 3 gave: its reply text, or why there is none.
async fn sample(probe: &Probe<'_>, seed: i64) -> Result<(String, Duration), String> {
    let mut body = probe.chat_body(SEED_PROMPT, 1.0, seed, false);
    if let Some(o) = body.as_object_mut() {
        o.insert("max_tokens".into(), json!(PAIR_MAX_TOKENS));
    }
    let answer = probe.chat(&body).await;
    let answer = answer.map_err(|e| probe.failure(&e))?;
    if !answer.ok() {
        return Err(probe.status_text(&answer));
    }
    match Completion::parse(&answer.body) {
        Some(c) => Ok((c.content, answer.elapsed)),
        None => Err("not a chat completion".into()),
    }
}

/// Check 3: one request with another seed (the time of one alone), then an identical pair
/// sent together: their wall time says whether the server works on both at once, and their
/// texts whether the seed fixes the sample.
async fn check_pair(probe: &Probe<'_>, report: &mut DoctorReport) {
    let alone = sample(probe, OTHER_SEED).await;
    let started = Instant::now();
    let (a, b) = tokio::join!(sample(probe, PROBE_SEED), sample(probe, PROBE_SEED));
    let together = started.elapsed();
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            report.warnings.push(format!("of two requests sent together, one failed: {e}"));
            let reason = format!("a request of the pair failed: {e}");
            report.parallel = Some(Parallelism::Unknown { reason: reason.clone() });
            report.seed = Some(Seed::Unknown { reason });
            return;
        }
    };
    // The first request may have paid for loading the model; prefer the warm one.
    let reference = match &alone {
        Ok((_, elapsed)) => *elapsed,
        Err(_) => report.latency.unwrap_or(together),
    };
    report.parallel = Some(parallelism(together, reference));
    let seed = if a.0 != b.0 {
        Seed::Ignored
    } else {
        match &alone {
            Ok((other, _)) if *other != a.0 => Seed::Honoured,
            Ok(_) => Seed::Deterministic,
            Err(_) => Seed::HonouredOrDeterministic,
        }
    };
    if seed == Seed::Ignored {
        report.warnings.push(
            "the seed is ignored: k samples of one item differ in ways the recorded seed cannot \
             reproduce"
                .into(),
        );
    }
    report.seed = Some(seed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> DoctorTarget {
        DoctorTarget {
            role: "generator",
            base_url: "http://127.0.0.1:8080/v1/".into(),
            model: "smollm2".into(),
            api_key_env: "CRITLOOP_DOCTOR_UNIT_KEY".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            want_logprobs: true,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn inert_escapes_terminal_controls_and_keeps_text() {
        assert_eq!(
            inert("a\u{1b}[31mb\u{7}c\u{9b}2J\u{202e}gpt\u{2066}\n\t\r\u{7f}é ✓"),
            "a\\e[31mb\\x07c\\u{9b}2J\\u{202e}gpt\\u{2066}\\n\\t\\r\\x7fé ✓"
        );
        assert_eq!(inert("mock-model:latest"), "mock-model:latest");
    }

    #[test]
    fn clean_redacts_the_key_flattens_and_trims() {
        assert_eq!(
            clean("Incorrect API key provided: sk-secret-1.\n  Try again", Some("sk-secret-1")),
            "Incorrect API key provided: [key]. Try again"
        );
        assert_eq!(clean("  \n ", None), "(no message)");
        assert_eq!(clean("\u{1b}]0;pwned\u{7}", None), "\\e]0;pwned\\x07");
        let long = "x".repeat(300);
        let shown = clean(&long, None);
        assert_eq!(shown.chars().count(), MESSAGE_CHARS + 1);
        assert!(shown.ends_with("x…"));
        // An empty key variable redacts nothing.
        assert_eq!(clean("abc", Some("")), "abc");
    }

    #[test]
    fn error_message_reads_the_shapes_servers_use() {
        let openai = br#"{"error":{"message":"The model `x` does not exist","type":"invalid_request_error"}}"#;
        assert_eq!(error_message(openai), "The model `x` does not exist");
        assert_eq!(error_message(br#"{"error":"model 'x' not found"}"#), "model 'x' not found");
        assert_eq!(error_message(br#"{"message":"Loading model","code":503}"#), "Loading model");
        let fastapi =
            br#"{"detail":[{"loc":["body","logprobs"],"msg":"extra fields not permitted"}]}"#;
        assert_eq!(
            error_message(fastapi),
            r#"[{"loc":["body","logprobs"],"msg":"extra fields not permitted"}]"#
        );
        assert_eq!(error_message(b"502 Bad Gateway"), "502 Bad Gateway");
    }

    #[test]
    fn model_missing_is_recognised_in_vllm_ollama_and_openai_wordings() {
        let body = br#"{"error":{"message":"x","code":"model_not_found"}}"#;
        assert!(says_model_missing(404, body, "x"));
        assert!(says_model_missing(404, b"", "The model `gpt-x` does not exist."));
        assert!(says_model_missing(404, b"", "model \"llama9\" not found, try pulling it first"));
        assert!(says_model_missing(400, b"", "Unknown model: foo"));
        assert!(!says_model_missing(400, b"", "max_tokens is too large for this model"));
        assert!(!says_model_missing(500, b"", "model not found"));
        assert!(!says_model_missing(404, b"", "Not Found"));
    }

    #[test]
    fn logprob_refusals_are_400_or_422_naming_them() {
        assert!(rejects_logprobs(400, "logprobs is not supported by this server"));
        assert!(rejects_logprobs(422, r#"[{"loc":["body","top_logprobs"]}]"#));
        assert!(!rejects_logprobs(400, "messages must not be empty"));
        assert!(!rejects_logprobs(500, "logprobs crashed"));
    }

    #[test]
    fn models_are_read_from_data_ids_and_ollama_tags_count_as_listed() {
        let body = json!({ "object": "list", "data": [{ "id": "a" }, { "object": "model" }, { "id": "llama3.2:latest" }] });
        let ids = model_ids(&body).unwrap();
        assert_eq!(ids, ["a", "llama3.2:latest"]);
        assert!(is_listed("llama3.2", &ids));
        assert!(is_listed("a", &ids));
        assert!(!is_listed("llama3", &ids));
        assert_eq!(model_ids(&json!({ "models": [] })), None);
    }

    #[test]
    fn tokens_are_estimated_per_word_and_symbol() {
        assert_eq!(estimate_tokens("1 2 3 4 5 6 7 8"), 8);
        assert_eq!(estimate_tokens("Hello, world!"), 4);
        assert_eq!(estimate_tokens(""), 0);
    }

    #[test]
    fn max_tokens_kept_within_the_cap_or_stopped_at_length_with_short_text() {
        let usage = |n| TokenCount { n, estimated: false };
        assert!(max_tokens_kept(usage(8), Some("length"), "1 2 3 4 5 6 7 8"));
        assert!(max_tokens_kept(usage(3), Some("stop"), "1 2 3"));
        // Counted as 9 by the server, but cut at the limit with a short text.
        assert!(max_tokens_kept(usage(9), Some("length"), "1 2 3 4 5 6 7 8"));
        let long: String = (1..=100).map(|i| format!("{i} ")).collect();
        assert!(!max_tokens_kept(usage(100), Some("stop"), &long));
        assert!(!max_tokens_kept(usage(100), Some("length"), &long));
    }

    #[test]
    fn pair_time_classifies_parallelism() {
        assert_eq!(
            parallelism(ms(1100), ms(1000)),
            Parallelism::Parallel { together: ms(1100), alone: ms(1000) }
        );
        assert!(matches!(parallelism(ms(1500), ms(1000)), Parallelism::Partial { .. }));
        assert!(matches!(parallelism(ms(2000), ms(1000)), Parallelism::Serial { .. }));
        assert!(matches!(parallelism(ms(1700), ms(1000)), Parallelism::Serial { .. }));
        assert_eq!(
            parallelism(ms(4), Duration::ZERO),
            Parallelism::Unknown {
                reason: "too quick to time: 2 requests took 4 ms together, 0 ms alone".into()
            }
        );
    }

    #[test]
    fn completion_parse_reads_content_usage_and_logprobs() {
        let body = json!({
            "choices": [{
                "message": { "role": "assistant", "content": "1 2" },
                "finish_reason": "length",
                "logprobs": { "content": [
                    { "token": "1", "logprob": -0.1, "top_logprobs": [{ "token": "1", "logprob": -0.1 }, { "token": "One", "logprob": -3.0 }] },
                    { "token": " 2", "logprob": -0.1, "top_logprobs": [] },
                ] },
            }],
            "usage": { "prompt_tokens": 10, "completion_tokens": 2 },
        });
        let c = Completion::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            c,
            Completion {
                content: "1 2".into(),
                finish_reason: Some("length".into()),
                completion_tokens: Some(2),
                logprob_tokens: 2,
                top: 2,
            }
        );
        assert_eq!(c.logprobs(), Logprobs::Returned { top: 2 });

        let bare = json!({ "choices": [{ "message": { "content": null }, "logprobs": null }] });
        let c = Completion::parse(bare.to_string().as_bytes()).unwrap();
        assert_eq!(
            (c.content.as_str(), c.completion_tokens, c.logprobs()),
            ("", None, Logprobs::Missing)
        );
        let tokens_only = json!({ "choices": [{ "logprobs": { "content": [{ "token": "a", "logprob": 0.0 }] } }] });
        let c = Completion::parse(tokens_only.to_string().as_bytes()).unwrap();
        assert_eq!(c.logprobs(), Logprobs::TokensOnly);
        assert_eq!(Completion::parse(br#"{"choices":[]}"#), None);
        assert_eq!(Completion::parse(b"<html>"), None);
    }

    fn good_report() -> DoctorReport {
        let mut r = DoctorReport::new(&target(), "http://127.0.0.1:8080/v1");
        r.reachable = Some(true);
        r.models = Some(vec!["smollm2.gguf".into()]);
        r.models_total = 1;
        r.model_listed = Some(false);
        r.latency = Some(ms(1900));
        r.completion_tokens = Some(TokenCount { n: 8, estimated: false });
        r.tokens_per_s = Some(8.0 / 1.9);
        r.finish_reason = Some("length".into());
        r.usage_reported = Some(true);
        r.max_tokens_honoured = Some(true);
        r.logprobs = Some(Logprobs::Returned { top: 5 });
        r.seed = Some(Seed::Honoured);
        r.parallel = Some(Parallelism::Serial { together: ms(3800), alone: ms(1900) });
        r
    }

    #[test]
    fn lines_render_one_check_per_line_and_the_verdict() {
        assert_eq!(
            good_report().lines(),
            [
                "generator  http://127.0.0.1:8080/v1  model smollm2",
                "  models      /models lists 1 model (smollm2.gguf); `smollm2` not listed but answered",
                "  chat        ok in 1.9 s: 8 tokens, 4.2 tok/s",
                "  usage       reported",
                "  max_tokens  honoured (asked 8, got 8, finish_reason length)",
                "  logprobs    returned (top 5)",
                "  seed        honoured (same seed, same reply; another seed, another reply)",
                "  parallel    no: 2 requests took 3.8 s together, 1.9 s alone (one at a time: \
                 critloop queues on its side, and time in the server's queue does not count \
                 against timeouts)",
                "  ready",
            ]
        );
        let mut warned = good_report();
        warned.warnings = vec!["one".into(), "two".into()];
        warned.usage_reported = Some(false);
        warned.completion_tokens = Some(TokenCount { n: 8, estimated: true });
        let lines = warned.lines();
        assert_eq!(
            lines[2],
            "  chat        ok in 1.9 s: ~8 tokens (estimated from the text), 4.2 tok/s"
        );
        assert_eq!(lines[3], "  usage       not reported (token counts estimated)");
        assert_eq!(lines[4], "  max_tokens  honoured (asked 8, got ~8, finish_reason length)");
        assert_eq!(
            &lines[lines.len() - 3..],
            ["  warning     one", "  warning     two", "  ready, with 2 warnings"]
        );
        warned.warnings.truncate(1);
        assert_eq!(warned.lines().last().unwrap(), "  ready, with 1 warning");
    }

    #[test]
    fn a_fatal_report_shows_what_ran_and_why_it_stops() {
        let mut r = DoctorReport::new(&target(), "http://127.0.0.1:8080/v1");
        r.reachable = Some(false);
        r.fatal = Some("cannot reach endpoint http://127.0.0.1:8080/v1: Connection refused".into());
        assert_eq!(r.fatal(), r.fatal.as_deref());
        assert_eq!(
            r.lines(),
            [
                "generator  http://127.0.0.1:8080/v1  model smollm2",
                "  models      no answer",
                "  cannot work: cannot reach endpoint http://127.0.0.1:8080/v1: Connection refused",
            ]
        );
        let mut r = DoctorReport::new(&target(), "http://h/v1");
        r.reachable = Some(true);
        r.models = Some((0..12).map(|i| format!("m{i}")).take(MAX_NAMES).collect());
        r.models_total = 12;
        r.model_listed = Some(false);
        r.chat_error = Some("HTTP 404: The model `smollm2` does not exist".into());
        r.fatal = Some("model `smollm2` is not served by http://h/v1".into());
        assert_eq!(
            r.lines()[1..],
            [
                "  models      /models lists 12 models (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9 \
                 and 2 more); `smollm2` not listed",
                "  chat        failed: HTTP 404: The model `smollm2` does not exist",
                "  cannot work: model `smollm2` is not served by http://h/v1",
            ]
        );
    }

    #[test]
    fn report_strings_from_the_user_are_inert() {
        let mut t = target();
        t.model = "evil\u{1b}[2J".into();
        let r = DoctorReport::new(&t, "http://h/v1");
        assert_eq!(r.lines()[0], "generator  http://h/v1  model evil\\e[2J");
    }

    #[test]
    fn durations_read_in_ms_below_a_second() {
        assert_eq!(secs(ms(310)), "310 ms");
        assert_eq!(secs(ms(1940)), "1.9 s");
        assert_eq!(secs(Duration::from_secs(120)), "120.0 s");
    }
}
