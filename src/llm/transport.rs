//! The HTTP layer under async-openai: one attempt per call, spread over the replicas of an
//! endpoint (backing off a failing one) under the requests-per-minute limit, reporting what the
//! provider's retry loop needs to know (status, `Retry-After`). The backoff policy lives here.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use rand::Rng;

/// When and how often to try again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// First backoff; doubles per attempt.
    pub base: Duration,
    /// Longest backoff (and longest honoured `Retry-After`).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with "equal jitter": half fixed, half random, so retries spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(2u32.saturating_pow(attempt.min(16)));
        let d = exp.min(self.cap);
        let half = d / 2;
        let jitter = rand::rng().random_range(0.0..=1.0);
        half + half.mul_f64(jitter)
    }
}

/// `Retry-After` in seconds (integer or decimal); HTTP dates are not used by model servers.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Whether a transport error is worth another try.
pub fn transient(e: &reqwest::Error) -> bool {
    e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() || e.is_decode()
}

#[derive(Debug, Default, Clone, Copy)]
struct ReplicaState {
    failures: u32,
    until: Option<Instant>,
}

/// The base URLs of one endpoint (replicas of one model) with their health.
#[derive(Debug)]
pub struct Replicas {
    urls: Vec<String>,
    state: Mutex<Vec<ReplicaState>>,
    next: AtomicUsize,
}

impl Replicas {
    pub fn new(urls: Vec<String>) -> Replicas {
        let n = urls.len();
        Replicas {
            urls,
            state: Mutex::new(vec![ReplicaState::default(); n]),
            next: AtomicUsize::new(0),
        }
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Round robin over healthy replicas; if none is healthy, the one that recovers first.
    pub fn pick(&self) -> usize {
        let n = self.urls.len().max(1);
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let Ok(state) = self.state.lock() else { return start % n };
        let now = Instant::now();
        for k in 0..n {
            let i = (start + k) % n;
            if state.get(i).is_none_or(|s| s.until.is_none_or(|u| u <= now)) {
                return i;
            }
        }
        (0..n).min_by_key(|&i| state.get(i).and_then(|s| s.until)).unwrap_or(0)
    }

    pub fn failed(&self, i: usize, policy: &RetryPolicy) {
        if self.urls.len() < 2 {
            return;
        }
        if let Ok(mut state) = self.state.lock()
            && let Some(s) = state.get_mut(i)
        {
            s.failures = s.failures.saturating_add(1);
            s.until = Some(Instant::now() + policy.backoff(s.failures));
        }
    }

    pub fn ok(&self, i: usize) {
        if let Ok(mut state) = self.state.lock()
            && let Some(s) = state.get_mut(i)
        {
            *s = ReplicaState::default();
        }
    }
}

/// Spaces requests evenly to stay under a requests-per-minute limit.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl RateLimiter {
    pub fn per_minute(rpm: u32) -> RateLimiter {
        RateLimiter {
            interval: Duration::from_secs(60) / rpm.max(1),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for this request's slot.
    pub async fn acquire(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Counters shared by every request through one transport.
#[derive(Debug, Default)]
pub struct TransportStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    /// Completion tokens received (streamed chunks as they arrive, else each reply's usage).
    pub tokens: AtomicU64,
}

/// What the transport saw of an attempt's HTTP response, for the one retry loop above it
/// (async-openai keeps only the status and body of a failed response).
#[derive(Debug, Default, Clone, Copy)]
pub struct AttemptHint {
    pub retry_after: Option<Duration>,
    /// The HTTP status, when a response came.
    pub status: Option<u16>,
}

tokio::task_local! {
    /// Set by the provider around each attempt; the transport future runs inside it.
    pub static HINT: Arc<Mutex<AttemptHint>>;
}

/// The tower service async-openai sends every request through: one attempt each (the provider
/// owns retries, so there is one retry budget), spread over replicas, rate-limited.
#[derive(Clone)]
pub struct Transport {
    pub client: reqwest::Client,
    pub replicas: Arc<Replicas>,
    pub policy: RetryPolicy,
    pub stats: Arc<TransportStats>,
}

/// Points a request built for the first replica at replica `i`.
fn retarget(req: &mut reqwest::Request, from: &str, to: &str) {
    if from == to {
        return;
    }
    let url = req.url().as_str();
    if let Some(rest) = url.strip_prefix(from.trim_end_matches('/'))
        && let Ok(u) = reqwest::Url::parse(&format!("{}{rest}", to.trim_end_matches('/')))
    {
        *req.url_mut() = u;
    }
}

impl Transport {
    async fn send(self, factory: HttpRequestFactory) -> Result<reqwest::Response, OpenAIError> {
        let mut req = factory.build().await?;
        let i = self.replicas.pick();
        if let (Some(first), Some(to)) = (self.replicas.urls.first(), self.replicas.urls.get(i)) {
            retarget(&mut req, first, to);
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let result = self.client.execute(req).await;
        let mut hint = AttemptHint::default();
        match &result {
            Ok(resp) => {
                let status = resp.status();
                hint.status = Some(status.as_u16());
                if status.is_server_error() {
                    self.replicas.failed(i, &self.policy);
                } else {
                    self.replicas.ok(i);
                }
                if status.as_u16() == 429 || status.is_server_error() {
                    hint.retry_after = retry_after(resp.headers());
                }
            }
            Err(e) if transient(e) => self.replicas.failed(i, &self.policy),
            Err(_) => {}
        }
        let _ = HINT.try_with(|h| {
            if let Ok(mut h) = h.lock() {
                *h = hint;
            }
        });
        result.map_err(OpenAIError::Reqwest)
    }
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        Box::pin(self.clone().send(factory))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let d0 = p.backoff(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100), "{d0:?}");
            let d3 = p.backoff(3);
            assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800), "{d3:?}");
            let d10 = p.backoff(10);
            assert!(d10 >= Duration::from_millis(500) && d10 <= Duration::from_secs(1), "{d10:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(reqwest::header::RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn replicas_round_robin_and_skip_a_failing_one() {
        let r =
            Replicas::new(vec!["http://a/v1".into(), "http://b/v1".into(), "http://c/v1".into()]);
        let picks: Vec<usize> = (0..6).map(|_| r.pick()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        let slow = RetryPolicy { base: Duration::from_secs(60), ..RetryPolicy::default() };
        r.failed(1, &slow);
        let picks: Vec<usize> = (0..6).map(|_| r.pick()).collect();
        assert!(!picks.contains(&1), "{picks:?}");
        r.ok(1);
        let picks: Vec<usize> = (0..3).map(|_| r.pick()).collect();
        assert!(picks.contains(&1));
    }

    #[test]
    fn retarget_swaps_the_base_url() {
        let url = reqwest::Url::parse("http://a:1/v1/chat/completions").unwrap();
        let mut req = reqwest::Request::new(reqwest::Method::POST, url);
        retarget(&mut req, "http://a:1/v1", "http://b:2/api/v1/");
        assert_eq!(req.url().as_str(), "http://b:2/api/v1/chat/completions");
    }
}
