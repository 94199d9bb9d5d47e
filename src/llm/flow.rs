//! Flow control of one endpoint: how many requests may be in flight (adapted AIMD-style to
//! timeouts and 429s), and the clocks that keep a request's wait in a server's queue from
//! counting against its timeouts.
//!
//! Queue clock: a server that answers one request at a time (llama.cpp, llama-cpp-python on a
//! CPU) works on the requests sent before ours while ours waits. So while an earlier request to
//! the same endpoint (or one sent at about the same time: sends race) is still making progress
//! (a chunk or a whole reply arrives), ours is taken to be queued behind it and its clock
//! restarts. Once every earlier request is done, or ours has
//! started to stream, the clock runs. A dead server makes no progress at all, so its requests
//! still time out on time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

/// How far apart two sends may be and still reach the server in either order.
const SEND_RACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Why concurrency went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Congestion {
    Timeout,
    RateLimited,
}

impl Congestion {
    fn as_str(self) -> &'static str {
        match self {
            Congestion::Timeout => "a request timed out",
            Congestion::RateLimited => "the server answered 429 (rate limited)",
        }
    }
}

#[derive(Debug)]
struct Pending {
    /// When it took its place in flight.
    acquired: Instant,
    /// When this request's timeout clocks (re)started.
    clock: Instant,
    /// The request's own reply has begun to stream: it is being served.
    started: bool,
}

#[derive(Debug)]
struct State {
    /// The adaptive limit; requests may start while `in_flight < limit.floor()`.
    limit: f64,
    in_flight: usize,
    next_seq: u64,
    pending: BTreeMap<u64, Pending>,
    /// When concurrency was last lowered: one decrease per window of requests.
    last_decrease: Option<Instant>,
    /// Every value the limit took, starting with the first (for progress and tests).
    history: Vec<usize>,
}

/// Shared by every request to one endpoint.
#[derive(Debug)]
pub struct Flow {
    label: String,
    max: usize,
    state: Mutex<State>,
    wake: Notify,
}

/// A request's place in flight; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    flow: Arc<Flow>,
    seq: u64,
    acquired: Instant,
}

impl Flow {
    /// `max` requests in flight at most (the run's `--concurrency`), never fewer than 1.
    pub fn new(label: impl Into<String>, max: usize) -> Arc<Flow> {
        let max = max.max(1);
        Arc::new(Flow {
            label: label.into(),
            max,
            state: Mutex::new(State {
                limit: max as f64,
                in_flight: 0,
                next_seq: 0,
                pending: BTreeMap::new(),
                last_decrease: None,
                history: vec![max],
            }),
            wake: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a slot under the current limit.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if s.in_flight < s.limit.floor().max(1.0) as usize {
                    s.in_flight += 1;
                    let seq = s.next_seq;
                    s.next_seq += 1;
                    let now = Instant::now();
                    s.pending.insert(seq, Pending { acquired: now, clock: now, started: false });
                    return Permit { flow: self.clone(), seq, acquired: now };
                }
            }
            notified.await;
        }
    }

    /// The current limit (requests allowed in flight).
    pub fn limit(&self) -> usize {
        self.lock().limit.floor().max(1.0) as usize
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Every value the limit took, in order.
    pub fn history(&self) -> Vec<usize> {
        self.lock().history.clone()
    }

    /// Restarts the queue clocks of the requests that have not begun and may be queued behind
    /// request `seq` (acquired at `acquired`): those sent after it, and those sent at most
    /// [`SEND_RACE`] before it, since two requests sent together can reach the server in
    /// either order. Requests sent long after ours never move its clock, so a stuck request
    /// still times out.
    fn progress_by(s: &mut State, seq: u64, acquired: Instant, now: Instant) {
        for (&other, p) in s.pending.iter_mut() {
            let behind = other > seq || (other < seq && acquired <= p.acquired + SEND_RACE);
            if behind && !p.started {
                p.clock = now;
            }
        }
    }

    fn set_limit(&self, s: &mut State, limit: f64, why: &str) {
        let before = s.limit.floor() as usize;
        s.limit = limit.clamp(1.0, self.max as f64);
        let after = s.limit.floor() as usize;
        if after != before {
            // A long run may swing for hours: keep the first value and the recent ones.
            if s.history.len() >= 1000 {
                s.history.remove(1);
            }
            s.history.push(after);
            tracing::info!(endpoint = %self.label, from = before, to = after, "concurrency {before} → {after}: {why}");
        }
    }
}

impl Permit {
    /// When this request's timeout clocks started (restarted while it waited in a queue).
    pub fn clock(&self) -> Instant {
        self.flow.lock().pending.get(&self.seq).map_or(self.acquired, |p| p.clock)
    }

    /// A chunk of this request's reply arrived.
    pub fn progress(&self) {
        let now = Instant::now();
        let mut s = self.flow.lock();
        if let Some(p) = s.pending.get_mut(&self.seq) {
            p.started = true;
        }
        Flow::progress_by(&mut s, self.seq, self.acquired, now);
    }

    /// The reply arrived whole: additive increase (about +1 per window of successes).
    pub fn succeeded(self) {
        let flow = self.flow.clone();
        let mut s = flow.lock();
        Flow::progress_by(&mut s, self.seq, self.acquired, Instant::now());
        if s.limit < flow.max as f64 {
            let step = 1.0 / s.limit.floor().max(1.0);
            let limit = s.limit + step;
            flow.set_limit(&mut s, limit, "requests succeed again");
        }
    }

    /// A timeout or 429: multiplicative decrease, once per window (requests that began before
    /// the last decrease were sent under the old limit and do not count again).
    pub fn congested(self, why: Congestion) {
        let flow = self.flow.clone();
        let mut s = flow.lock();
        if s.last_decrease.is_some_and(|at| self.acquired <= at) {
            return;
        }
        s.last_decrease = Some(Instant::now());
        let limit = (s.limit.floor() / 2.0).floor();
        flow.set_limit(&mut s, limit, why.as_str());
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        {
            let mut s = self.flow.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
            s.pending.remove(&self.seq);
        }
        self.flow.wake.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn limit_halves_once_per_window_and_climbs_back() {
        let flow = Flow::new("t", 8);
        let permits: Vec<Permit> =
            futures_util::future::join_all((0..8).map(|_| flow.acquire())).await;
        assert_eq!(flow.in_flight(), 8);
        let mut it = permits.into_iter();
        // Three timeouts of one window: one decrease.
        for p in it.by_ref().take(3) {
            p.congested(Congestion::Timeout);
        }
        assert_eq!(flow.limit(), 4);
        drop(it);
        assert_eq!(flow.in_flight(), 0);
        // A request sent after the decrease counts again.
        tokio::time::advance(Duration::from_millis(1)).await;
        flow.acquire().await.congested(Congestion::RateLimited);
        assert_eq!(flow.limit(), 2);
        // 2 successes at limit 2 → 3; 3 more → 4 (+1 per window of `limit` successes).
        for _ in 0..2 {
            flow.acquire().await.succeeded();
        }
        assert_eq!(flow.limit(), 3);
        for _ in 0..3 {
            flow.acquire().await.succeeded();
        }
        assert_eq!(flow.limit(), 4);
        assert_eq!(flow.history(), [8, 4, 2, 3, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn never_below_one_nor_above_the_maximum() {
        let flow = Flow::new("t", 2);
        for _ in 0..5 {
            tokio::time::advance(Duration::from_millis(1)).await;
            flow.acquire().await.congested(Congestion::Timeout);
        }
        assert_eq!(flow.limit(), 1);
        for _ in 0..20 {
            flow.acquire().await.succeeded();
        }
        assert_eq!(flow.limit(), 2);
        assert_eq!(flow.history(), [2, 1, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_for_a_free_slot() {
        let flow = Flow::new("t", 1);
        let first = flow.acquire().await;
        let f2 = flow.clone();
        let waiter = tokio::spawn(async move { f2.acquire().await.seq });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        drop(first);
        assert_eq!(waiter.await.unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn queue_clock_restarts_while_earlier_requests_progress() {
        let flow = Flow::new("t", 8);
        let a = flow.acquire().await;
        let b = flow.acquire().await;
        let b_sent = b.clock();
        tokio::time::advance(Duration::from_secs(5)).await;
        // A streams: B, queued behind it, has not started waiting yet.
        a.progress();
        assert_eq!(b.clock(), b_sent + Duration::from_secs(5));
        // B's own stream begins: later progress of A no longer moves B's clock.
        b.progress();
        tokio::time::advance(Duration::from_secs(5)).await;
        a.progress();
        assert_eq!(b.clock(), b_sent + Duration::from_secs(5));
        // Progress of a request sent well after an earlier one never moves its clock...
        tokio::time::advance(Duration::from_secs(1)).await;
        let c = flow.acquire().await;
        let a_clock = a.clock();
        tokio::time::advance(Duration::from_secs(1)).await;
        c.progress();
        assert_eq!(a.clock(), a_clock);
        // ... but one sent together with it may have reached the server first.
        let e = flow.acquire().await;
        let f = flow.acquire().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        f.progress();
        assert_eq!(e.clock(), Instant::now());
        // A whole reply restarts the clocks of the requests sent after it.
        let d = flow.acquire().await;
        tokio::time::advance(Duration::from_secs(2)).await;
        let now = Instant::now();
        a.succeeded();
        assert_eq!(d.clock(), now);
    }
}
