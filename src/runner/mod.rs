//! Runs episodes through their protocol outside any UI (DESIGN §9): bounded concurrency,
//! durable turns, progress events, resume from stored records.

mod arms;
mod event;
mod registry;

pub use arms::{ARM, ARM_OF, Arm, ArmRun, CrossCritic, create_arm};
pub use event::{Live, RunEvent, duration};
pub use registry::{Notice, Registry};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::domain::{
    Episode, EpisodeId, EpisodeStatus, Item, ProtocolSpec, ProviderSpec, Role, RunId, RunRecord,
    RunStatus, Sampling, Turn,
};
use crate::grade::{self, GradeOptions};
use crate::llm::{Provider, Request};
use crate::protocol::{self, Next};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Protocol(#[from] protocol::ProtocolError),
    #[error("the dataset has no items")]
    NoItems,
    #[error("background task failed: {0}")]
    Join(String),
    /// A control arm cannot be made of this run.
    #[error("cannot make control arms of run {run}: {message}")]
    Arm { run: String, message: String },
}

/// What is needed to create a run.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub name: String,
    pub dataset: String,
    pub items: Vec<Item>,
    pub protocol: ProtocolSpec,
    pub provider: ProviderSpec,
    pub model: String,
    pub critic_model: String,
    pub sampling: Sampling,
}

/// How a run executes.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub concurrency: usize,
    pub grade: GradeOptions,
    /// Minimum time between two `Progress` events.
    pub progress_every: Duration,
    /// Read replies from the response cache (they are always written to it).
    pub use_cache: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 16,
            grade: GradeOptions::default(),
            progress_every: Duration::from_millis(100),
            use_cache: true,
        }
    }
}

/// Final counts of an execution, recomputed from the stored records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub pending: u64,
}

/// How a stored run executes: its own concurrency and grading options unless overridden (the
/// one rule for the CLI's `--resume` and the workbench's resume).
pub fn stored_options(
    record: &RunRecord,
    concurrency: Option<usize>,
    use_cache: bool,
) -> RunOptions {
    let default_concurrency = match &record.provider {
        ProviderSpec::OpenAi(o) => o.concurrency,
        _ => 16,
    };
    RunOptions {
        concurrency: concurrency.unwrap_or(default_concurrency),
        grade: GradeOptions { qwen_compat: record.grading().qwen_compat },
        use_cache,
        ..RunOptions::default()
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Stores the run record, its item snapshot and one pending episode per (item, sample), with
/// the graded initial turns (given solutions) already in place.
pub fn create_run(
    store: &Store,
    new: NewRun,
    grade_opts: GradeOptions,
) -> Result<RunRecord, RunError> {
    if new.items.is_empty() {
        return Err(RunError::NoItems);
    }
    let id = store.next_run_id()?;
    let record = RunRecord {
        id,
        name: new.name,
        dataset: new.dataset,
        dataset_hash: crate::dataset::items_hash(&new.items),
        protocol: new.protocol,
        provider: new.provider,
        model: new.model,
        critic_model: new.critic_model,
        sampling: new.sampling,
        status: RunStatus::Created,
        version: env!("CARGO_PKG_VERSION").to_string(),
        created: now_secs(),
        grading: crate::domain::Grading { qwen_compat: grade_opts.qwen_compat },
        origin: Default::default(),
        notes: Default::default(),
        meta: Default::default(),
    };
    // Check every item before writing anything, so a bad dataset leaves no half run behind.
    let mut initial = Vec::with_capacity(new.items.len());
    for item in &new.items {
        let mut turns = protocol::initial_turns(&record.protocol, item)?;
        for t in &mut turns {
            grade_turn(t, item, grade_opts, false);
        }
        initial.push(turns);
    }
    store.create_run(&record, &new.items)?;
    let mut chunk = Vec::with_capacity(1024);
    for (idx, (item, turns)) in new.items.iter().zip(&initial).enumerate() {
        let item_idx = u32::try_from(idx).unwrap_or(u32::MAX);
        for sample in 0..record.sampling.samples.max(1) {
            let ep = Episode {
                id: EpisodeId { run: id, item: item_idx, sample },
                item_id: item.id.clone(),
                status: EpisodeStatus::Pending,
                error: None,
                meta: Default::default(),
            };
            chunk.push((ep, turns.clone()));
            if chunk.len() == 1024 {
                store.put_episodes(&chunk)?;
                chunk.clear();
            }
        }
    }
    store.put_episodes(&chunk)?;
    store.flush()?;
    Ok(record)
}

/// Fills in whatever is missing of answer, grade, verdict and confidence from the turn's text;
/// values already present (an imported transcript's) are kept.
pub fn grade_turn(t: &mut Turn, item: &Item, opts: GradeOptions, wants_answer: bool) {
    if t.role == Role::Critique {
        if t.verdict.is_none() {
            let parsed = grade::parse_verdict_full(&t.content);
            t.verdict = Some(parsed.verdict);
            t.verdict_method = parsed.method;
        }
        if t.confidence.is_none() {
            t.confidence = grade::parse_confidence(&t.content);
        }
    }
    let carries_answer = t.is_attempt() || wants_answer;
    if carries_answer && t.correct.is_none() {
        let explicit = t.answer.clone();
        let g = grade::grade_with_question(
            &t.content,
            explicit.as_deref(),
            &item.reference,
            item.answer_kind,
            opts,
            Some(&item.question),
        );
        t.answer = g.answer;
        t.correct = Some(g.correct);
        t.tier = Some(g.tier);
    }
}

/// A provider's reply as a stored turn: graded, and for a critique with logprobs, P(True) read
/// at the word that states the verdict (wherever it is; else after "Verdict:").
pub fn reply_turn(
    step: &protocol::Step,
    mut reply: crate::llm::Reply,
    started: Instant,
    item: &Item,
    opts: GradeOptions,
) -> Turn {
    let tokens = std::mem::take(&mut reply.tokens);
    let mut turn = turn_from_reply(step.role, reply, started);
    // The verdict is parsed once here: its span also locates P(True); grade_turn keeps it.
    if turn.role == Role::Critique {
        let parsed = grade::parse_verdict_full(&turn.content);
        let at_word =
            parsed.span.clone().filter(|_| !tokens.is_empty()).and_then(|span| {
                crate::llm::p_true_at(&tokens, &turn.content, span, parsed.verdict)
            });
        if let Some((raw, norm)) = at_word {
            turn.p_true_raw = Some(raw);
            turn.p_true = Some(norm);
        }
        turn.verdict = Some(parsed.verdict);
        turn.verdict_method = parsed.method;
    }
    grade_turn(&mut turn, item, opts, step.wants_answer);
    turn
}

/// Episode meta: the kind of the failure that failed the episode.
pub const FAILURE_CAUSE: &str = "failure_cause";
/// Episode meta: failed attempts, by cause, of the request that failed the episode.
pub const RETRIES: &str = "retries";

/// A turn from a provider's reply (not yet graded).
pub fn turn_from_reply(role: Role, reply: crate::llm::Reply, started: Instant) -> Turn {
    let mut turn = Turn::new(role, reply.content);
    turn.model = Some(reply.model);
    turn.prompt_tokens = reply.prompt_tokens;
    turn.completion_tokens = reply.completion_tokens;
    turn.finish_reason = reply.finish_reason;
    turn.simulated = reply.simulated;
    turn.p_true_raw = reply.p_true.map(|p| p.0);
    turn.p_true = reply.p_true.map(|p| p.1);
    let measured = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    turn.latency_ms = Some(reply.latency_ms.unwrap_or(measured));
    turn.retries = reply.retried;
    turn
}

/// Failed attempts and failed episodes of a run, by cause (`timeout`, `rate_limited`,
/// `server`, `malformed`, `refused`; `other` for a failure with no recorded cause).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Causes {
    pub retries: std::collections::BTreeMap<String, u64>,
    pub failures: std::collections::BTreeMap<String, u64>,
}

/// Counts the retries recorded on a run's turns and failed episodes, and the causes of its
/// failed episodes.
pub fn causes(store: &Store, run: RunId) -> Result<Causes, StoreError> {
    let mut c = Causes::default();
    let add = |map: &mut std::collections::BTreeMap<String, u64>, k: &str, n: u64| {
        *map.entry(k.to_string()).or_insert(0) += n;
    };
    for (_, turns) in store.turn_facts_of_run(run)? {
        for (k, n) in turns.iter().flat_map(|t| &t.retries) {
            add(&mut c.retries, k, u64::from(*n));
        }
    }
    for ep in store.episodes(run)?.iter().filter(|e| e.status == EpisodeStatus::Failed) {
        let cause = ep.meta.get(FAILURE_CAUSE).and_then(|v| v.as_str()).unwrap_or("other");
        add(&mut c.failures, cause, 1);
        if let Some(serde_json::Value::Object(m)) = ep.meta.get(RETRIES) {
            for (k, v) in m {
                add(&mut c.retries, k, v.as_u64().unwrap_or(0));
            }
        }
    }
    Ok(c)
}

/// Counts of the stored episodes of a run.
pub fn totals(store: &Store, run: RunId) -> Result<Totals, StoreError> {
    let c = store.status_counts(run)?;
    Ok(Totals { total: c.total, done: c.done, failed: c.failed, pending: c.pending })
}

/// Marks failed episodes pending again so the next `execute` retries them; returns how many.
pub fn reset_failed(store: &Store, run: RunId) -> Result<u64, StoreError> {
    let mut n = 0;
    for mut ep in store.episodes(run)? {
        if ep.status == EpisodeStatus::Failed {
            ep.status = EpisodeStatus::Pending;
            ep.error = None;
            store.put_episode(&ep)?;
            n += 1;
        }
    }
    store.flush()?;
    Ok(n)
}

struct Shared {
    store: Store,
    run: RunRecord,
    items: Vec<Item>,
    provider: Provider,
    opts: RunOptions,
    cancel: Arc<AtomicBool>,
    done: AtomicU64,
    failed: AtomicU64,
    in_flight: AtomicU64,
    total: u64,
    events: mpsc::UnboundedSender<RunEvent>,
    meter: std::sync::Mutex<Meter>,
}

/// Rates since this execution began.
struct Meter {
    last_progress: Instant,
    started: Instant,
    done_at_start: u64,
    /// (when, tokens so far), one sample a second or so, the last half minute.
    tokens: std::collections::VecDeque<(Instant, u64)>,
}

/// The window over which tokens per second are measured.
const TOKEN_WINDOW: Duration = Duration::from_secs(30);

impl Shared {
    fn progress(&self, force: bool) {
        let Ok(mut m) = self.meter.lock() else { return };
        if !force && m.last_progress.elapsed() < self.opts.progress_every {
            return;
        }
        let now = Instant::now();
        m.last_progress = now;
        let done = self.done.load(Ordering::Relaxed);
        let ep_live = self.provider.live();
        let mut tokens_per_s = None;
        if let Some(l) = ep_live {
            if m.tokens
                .back()
                .is_none_or(|(at, _)| now.duration_since(*at) >= Duration::from_secs(1))
            {
                m.tokens.push_back((now, l.tokens));
            }
            while m.tokens.len() > 2
                && m.tokens.front().is_some_and(|(at, _)| now.duration_since(*at) > TOKEN_WINDOW)
            {
                m.tokens.pop_front();
            }
            if let Some(&(at, n)) = m.tokens.front() {
                let secs = now.duration_since(at).as_secs_f64();
                if secs >= 1.0 {
                    tokens_per_s = Some(l.tokens.saturating_sub(n) as f64 / secs);
                }
            }
        }
        let elapsed = m.started.elapsed();
        let finished_here = done.saturating_sub(m.done_at_start);
        let eta_secs = (finished_here > 0).then(|| {
            let per = elapsed.as_secs_f64() / finished_here as f64;
            (per * self.total.saturating_sub(done) as f64).round() as u64
        });
        let live = Live {
            episodes_in_flight: self.in_flight.load(Ordering::Relaxed),
            requests_in_flight: ep_live.map(|l| l.in_flight),
            concurrency: ep_live.map(|l| (l.concurrency, l.max_concurrency)),
            retries: ep_live.map_or(0, |l| l.retries),
            tokens_per_s,
            elapsed_secs: elapsed.as_secs(),
            eta_secs,
        };
        let _ = self.events.send(RunEvent::Progress {
            run: self.run.id,
            done,
            failed: self.failed.load(Ordering::Relaxed),
            total: self.total,
            live,
        });
    }
}

/// Runs every pending episode of `run` to completion (or until `cancel` is set). Resumable:
/// stored turns are never requested again.
pub async fn execute(
    store: Store,
    run: RunId,
    provider: Provider,
    opts: RunOptions,
    events: mpsc::UnboundedSender<RunEvent>,
    cancel: Arc<AtomicBool>,
) -> Result<Totals, RunError> {
    let result = execute_inner(store.clone(), run, provider, opts, events.clone(), cancel).await;
    if let Err(e) = &result {
        // Never leave a run marked running when its execution ended.
        if let Ok(Some(mut record)) = store.runs().map(|rs| rs.into_iter().find(|r| r.id == run))
            && record.status == RunStatus::Running
        {
            record.status = RunStatus::Cancelled;
            let _ = store.put_run(&record);
            let _ = store.flush();
        }
        let _ = events.send(RunEvent::Failed { run, error: e.to_string() });
    }
    result
}

/// Resolves once `flag` is set (polled: cancellation is a plain flag shared with callers).
async fn cancelled(flag: &AtomicBool) {
    while !flag.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn execute_inner(
    store: Store,
    run: RunId,
    provider: Provider,
    opts: RunOptions,
    events: mpsc::UnboundedSender<RunEvent>,
    cancel: Arc<AtomicBool>,
) -> Result<Totals, RunError> {
    let mut record = store
        .runs()?
        .into_iter()
        .find(|r| r.id == run)
        .ok_or_else(|| StoreError::NoSuchRun(format!("#{}", run.0)))?;
    let items = store.items(run)?;
    let episodes = store.episodes(run)?;
    let before = totals(&store, run)?;
    record.status = RunStatus::Running;
    store.put_run(&record)?;
    let _ = events.send(RunEvent::Started {
        run,
        total: before.total,
        done: before.done + before.failed,
    });
    let shared = Arc::new(Shared {
        store: store.clone(),
        run: record.clone(),
        items,
        provider,
        opts,
        cancel,
        done: AtomicU64::new(before.done + before.failed),
        failed: AtomicU64::new(before.failed),
        total: before.total,
        in_flight: AtomicU64::new(0),
        events: events.clone(),
        meter: std::sync::Mutex::new(Meter {
            last_progress: Instant::now(),
            started: Instant::now(),
            done_at_start: before.done + before.failed,
            tokens: Default::default(),
        }),
    });
    // Signs of life at least once a second, even while every request is still waiting.
    let ticker = {
        let shared = shared.clone();
        AbortOnDrop(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                shared.progress(true);
            }
        }))
    };
    let permits = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for ep in episodes.into_iter().filter(|e| e.status == EpisodeStatus::Pending) {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = cancelled(&shared.cancel) => break,
        };
        if shared.cancel.load(Ordering::Relaxed) {
            break;
        }
        let shared = shared.clone();
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            let result = run_episode(&shared, ep).await;
            shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            result
        });
        // Reap finished tasks as we go so errors surface early and memory stays flat.
        while let Some(res) = tasks.try_join_next() {
            res.map_err(|e| RunError::Join(e.to_string()))??;
        }
    }
    let joined = async {
        loop {
            tokio::select! {
                next = tasks.join_next() => match next {
                    Some(res) => res.map_err(|e| RunError::Join(e.to_string()))??,
                    None => break,
                },
                // Cancel aborts the requests in flight: every turn already replied is stored,
                // an aborted episode stays pending and a resume asks only for what is missing.
                _ = cancelled(&shared.cancel) => {
                    tasks.abort_all();
                    while let Some(res) = tasks.join_next().await {
                        match res {
                            Ok(r) => r?,
                            Err(e) if e.is_cancelled() => {}
                            Err(e) => return Err(RunError::Join(e.to_string())),
                        }
                    }
                    break;
                }
            }
        }
        Ok::<(), RunError>(())
    }
    .await;
    drop(ticker);
    joined?;
    store.flush_async().await?;
    let after = totals(&store, run)?;
    let cancelled = shared.cancel.load(Ordering::Relaxed) && after.pending > 0;
    record.status = if cancelled { RunStatus::Cancelled } else { RunStatus::Finished };
    store.put_run(&record)?;
    store.flush_async().await?;
    let _ = events.send(RunEvent::Finished {
        run,
        done: after.done + after.failed,
        failed: after.failed,
        total: after.total,
        cancelled,
    });
    Ok(after)
}

/// Aborts a background task when its owner returns, by any path.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Drives one episode until its protocol is done, a call fails for good, or cancellation.
async fn run_episode(sh: &Shared, mut ep: Episode) -> Result<(), RunError> {
    let Some(item) = sh.items.get(ep.id.item as usize) else {
        return fail(sh, ep, "item missing from the run's snapshot".into());
    };
    let mut turns = sh.store.turns(ep.id)?;
    loop {
        if sh.cancel.load(Ordering::Relaxed) {
            return Ok(());
        }
        let step = match protocol::next_step(&sh.run.protocol, item, &turns) {
            Ok(Next::Request(step)) => step,
            Ok(Next::Local { index, turn }) => {
                // Made without a model: complete as it is, nothing to grade or cache; durable
                // before the next request like any turn.
                sh.store.put_turn(ep.id, index, &turn)?;
                sh.store.flush_async().await?;
                turns.push(*turn);
                continue;
            }
            Ok(Next::Done) => break,
            Err(e) => return fail(sh, ep, e.to_string()),
        };
        let at = TurnAt {
            store: &sh.store,
            run: &sh.run,
            provider: &sh.provider,
            item,
            id: ep.id,
            step: &step,
            prior: &turns,
        };
        match model_turn(at, sh.opts.grade, sh.opts.use_cache, None).await? {
            Ok(turn) => turns.push(turn),
            Err(failure) => return fail_because(sh, ep, failure),
        }
    }
    ep.status = EpisodeStatus::Done;
    sh.store.put_episode(&ep)?;
    sh.done.fetch_add(1, Ordering::Relaxed);
    sh.progress(false);
    Ok(())
}

/// Where a model turn goes: its run, episode, step and the turns before it.
pub struct TurnAt<'a> {
    pub store: &'a Store,
    pub run: &'a RunRecord,
    pub provider: &'a Provider,
    pub item: &'a Item,
    pub id: EpisodeId,
    pub step: &'a protocol::Step,
    pub prior: &'a [Turn],
}

/// Why a model turn failed: the endpoint's message, the kind of its last failure and the
/// failed attempts before it (what `runs show` counts by cause).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnFailure {
    pub message: String,
    pub cause: Option<String>,
    pub retried: std::collections::BTreeMap<String, u32>,
}

impl std::fmt::Display for TurnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::llm::LlmError> for TurnFailure {
    fn from(e: crate::llm::LlmError) -> Self {
        let message = e.to_string();
        match e {
            crate::llm::LlmError::Endpoint { cause, retried, .. } => {
                TurnFailure { message, cause: Some(cause), retried }
            }
            _ => TurnFailure { message, ..TurnFailure::default() },
        }
    }
}

/// One model turn, the same for a background run and a hand-stepped one: from the response
/// cache when it holds this very request, else from the provider (streaming into `deltas`);
/// graded, keyed, stored, cached, and durable before it returns. The inner error is the
/// endpoint's message (the episode fails with it); the outer one is the store's.
pub async fn model_turn(
    at: TurnAt<'_>,
    grade: GradeOptions,
    use_cache: bool,
    deltas: Option<&mpsc::UnboundedSender<String>>,
) -> Result<Result<Turn, TurnFailure>, RunError> {
    let TurnAt { store, run, provider, item, id, step, prior } = at;
    let model = if step.role == Role::Critique { &run.critic_model } else { &run.model };
    let logprobs = matches!(&run.provider, ProviderSpec::OpenAi(o) if o.logprobs);
    let key = crate::llm::request_key(
        provider.endpoint_label(step.role),
        logprobs,
        model,
        &step.messages,
        &run.sampling,
        id.sample,
    );
    let cacheable = provider.cacheable();
    let cached = if cacheable && use_cache { store.cache_get(&key)? } else { None };
    let mut turn = match cached {
        Some(mut t) => {
            t.meta.insert("cached".into(), serde_json::Value::Bool(true));
            // The retries were the first request's, not this run's.
            t.retries.clear();
            // Graded when first made; this fills in only what an older version left out.
            grade_turn(&mut t, item, grade, step.wants_answer);
            t
        }
        None => {
            let req = Request {
                item,
                sample: id.sample,
                step,
                prior,
                protocol: run.protocol.kind,
                model,
                sampling: &run.sampling,
                deltas,
            };
            let started = Instant::now();
            match provider.complete(req).await {
                Ok(reply) => reply_turn(step, reply, started, item, grade),
                Err(e) => return Ok(Err(e.into())),
            }
        }
    };
    turn.request_key = Some(key.clone());
    store.put_turn(id, step.index, &turn)?;
    if cacheable && !turn.meta.contains_key("cached") {
        store.cache_put(&key, &turn)?;
    }
    // The turn must be durable before the next request of this episode is sent.
    store.flush_async().await?;
    Ok(Ok(turn))
}

fn fail(sh: &Shared, ep: Episode, error: String) -> Result<(), RunError> {
    fail_because(sh, ep, TurnFailure { message: error, ..TurnFailure::default() })
}

/// Marks the episode failed with the endpoint's message; its cause and the retries before it
/// go into the episode's meta (`failure_cause`, `retries`).
fn fail_because(sh: &Shared, mut ep: Episode, failure: TurnFailure) -> Result<(), RunError> {
    let TurnFailure { message: error, cause, retried } = failure;
    tracing::warn!(episode = %ep.id, %error, "episode failed");
    ep.status = EpisodeStatus::Failed;
    ep.error = Some(error);
    if let Some(cause) = cause {
        ep.meta.insert(FAILURE_CAUSE.into(), serde_json::Value::String(cause));
    }
    if !retried.is_empty() {
        ep.meta.insert(RETRIES.into(), serde_json::json!(retried));
    }
    sh.store.put_episode(&ep)?;
    sh.done.fetch_add(1, Ordering::Relaxed);
    sh.failed.fetch_add(1, Ordering::Relaxed);
    sh.progress(false);
    Ok(())
}
