//! sled storage (DESIGN §7). Every record is a serde JSON value behind `encode`/`decode`;
//! keys come from `keys`. `Store` is cheap to clone.

mod facts;
#[cfg(debug_assertions)]
mod fault;
mod keys;
mod outcome;

pub use outcome::{Outcome, TurnOutcome};

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::label::next_stamp;
use crate::domain::{Episode, EpisodeId, Item, Label, Queue, RunId, RunRecord, Turn};

/// Version of the on-disk layout; a database with a higher one is refused. 2 added the
/// `outcomes` tree (a version-1 database gets it built run by run, on first use).
pub const SCHEMA_VERSION: u32 = 2;

/// A copy of the schema version in a plain file in the database directory, read before sled
/// opens the database: sled writes to a database it opens (a snapshot of its log), so a newer
/// database is refused without being touched. `meta` stays the authority.
const SCHEMA_FILE: &str = "critloop.schema";

/// `meta` key: the runs whose outcome records are still to be built (JSON list of run ids).
const OUTCOMES_MISSING: &str = "outcomes_missing";
/// `meta` key: the format of the outcome records.
const OUTCOMES_FORMAT: &str = "outcomes_format";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "database {path} is in use by another critloop process; close it first or pass --db PATH"
    )]
    Locked { path: String },
    #[error(
        "database {path} has schema version {found}, newer than this critloop reads ({supported}); upgrade critloop"
    )]
    NewerSchema { path: String, found: u32, supported: u32 },
    #[error("cannot open database {path}: {message}")]
    Open { path: String, message: String },
    /// sled cannot open a database it may not write, even to read it.
    #[error(
        "cannot open database {path}: {message}; critloop must be able to write the database \
         directory even to read it (sled): make it writable, or copy it (cp -r {path} COPY) and \
         pass --db COPY"
    )]
    ReadOnly { path: String, message: String },
    #[error("database error: {}", sled_message(.0))]
    Sled(#[from] sled::Error),
    #[error("corrupt record in `{tree}`: {message}")]
    Corrupt { tree: &'static str, message: String },
    #[error("no run named `{0}` (see `critloop runs list`)")]
    NoSuchRun(String),
    #[error("a run named `{0}` already exists; choose another --name or delete it")]
    RunExists(String),
    /// A name no run may have (empty, control characters, too long).
    #[error("{0}")]
    BadName(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Handle on the database and its trees.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    runs: sled::Tree,
    items: sled::Tree,
    episodes: sled::Tree,
    turns: sled::Tree,
    labels: sled::Tree,
    queues: sled::Tree,
    cache: sled::Tree,
    /// One [`Outcome`] per episode, written with the episode and each of its turns.
    outcomes: sled::Tree,
    path: PathBuf,
    /// Episode counts per run, dropped whenever one of the run's episodes is written.
    counts: std::sync::Arc<std::sync::Mutex<CountCache>>,
    /// Values derived from a run (its metrics), dropped whenever anything of the run is written.
    memo: std::sync::Arc<std::sync::Mutex<Memo>>,
    /// Bytes written in bulk since the last flush.
    unflushed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// A test's injected storage fault (debug builds only; see `fault`).
    #[cfg(debug_assertions)]
    fault: Option<std::sync::Arc<fault::Fault>>,
}

/// Bulk writers flush after this many bytes: sled holds unflushed writes in memory.
const FLUSH_EVERY: u64 = 64 << 20;

/// Items per sled batch when a run is created.
const ITEM_BATCH: usize = 4096;

/// Derived values per run and key, each with the run's version it was computed at.
#[derive(Default)]
struct Memo {
    /// Bumped by every write to a run: its record, episodes, turns or labels.
    version: std::collections::HashMap<RunId, u64>,
    values: std::collections::HashMap<(RunId, String), (u64, MemoValue)>,
}

type MemoValue = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// At most this many values are kept (a metrics report is a few KB).
const MEMO_ENTRIES: usize = 64;

/// How many episodes of a run are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusCounts {
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub pending: u64,
}

/// A write bumps the run's generation; a count computed under an older one is not kept.
#[derive(Default)]
struct CountCache {
    generation: std::collections::HashMap<RunId, u64>,
    counts: std::collections::HashMap<RunId, (u64, StatusCounts)>,
}

/// sled's page cache per database.
const CACHE_BYTES: u64 = 128 << 20;

fn encode<T: Serialize>(tree: &'static str, v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt { tree, message: e.to_string() })
}

fn decode<T: DeserializeOwned>(tree: &'static str, b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt { tree, message: e.to_string() })
}

fn decode_borrowed<'a, T: serde::Deserialize<'a>>(tree: &'static str, b: &'a [u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt { tree, message: e.to_string() })
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let shown = path.display().to_string();
        #[cfg(debug_assertions)]
        let fault = fault::Fault::from_env().map(std::sync::Arc::new);
        #[cfg(debug_assertions)]
        if let Some(fault::Fault::ReadOnly) = fault.as_deref() {
            return Err(classify(&shown, sled::Error::Io(fault::read_only())));
        }
        if let Some(found) = stamped_version(path)
            && found > SCHEMA_VERSION
        {
            return Err(StoreError::NewerSchema { path: shown, found, supported: SCHEMA_VERSION });
        }
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Open { path: shown.clone(), message: e.to_string() })?;
        }
        // sled caches up to 1 GiB of pages by default: a server holding a large database would
        // keep that resident; the OS page cache serves re-reads nearly as fast.
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .use_compression(compressed(path))
            // zstd's fastest level: a third of the size of plain JSON pages either way.
            .compression_factor(1)
            .open()
            .map_err(|e| classify(&shown, e))?;
        #[cfg_attr(not(debug_assertions), allow(unused_mut))]
        let mut store = Self::init(db, path.to_path_buf())?;
        stamp_version(path);
        #[cfg(debug_assertions)]
        {
            store.fault = fault;
        }
        Ok(store)
    }

    /// A throw-away database for tests and benchmarks.
    pub fn temporary() -> Result<Store> {
        let db = sled::Config::new()
            .temporary(true)
            .use_compression(true)
            .compression_factor(1)
            .open()?;
        Self::init(db, PathBuf::from("<temporary>"))
    }

    fn init(db: sled::Db, path: PathBuf) -> Result<Store> {
        let meta = db.open_tree("meta")?;
        let shown = path.display().to_string();
        let found = match meta.get("schema_version")? {
            Some(v) => Some(decode::<u32>("meta", &v)?),
            None => None,
        };
        if let Some(found) = found
            && found > SCHEMA_VERSION
        {
            return Err(StoreError::NewerSchema { path: shown, found, supported: SCHEMA_VERSION });
        }
        let store = Store {
            runs: db.open_tree("runs")?,
            items: db.open_tree("items")?,
            episodes: db.open_tree("episodes")?,
            turns: db.open_tree("turns")?,
            labels: db.open_tree("labels")?,
            queues: db.open_tree("queues")?,
            cache: db.open_tree("cache")?,
            outcomes: db.open_tree("outcomes")?,
            meta,
            db,
            path,
            counts: Default::default(),
            memo: Default::default(),
            unflushed: Default::default(),
            #[cfg(debug_assertions)]
            fault: None,
        };
        let format = match store.meta.get(OUTCOMES_FORMAT)? {
            Some(v) => Some(decode::<u32>("meta", &v)?),
            None => None,
        };
        if found.is_some() && format != Some(outcome::FORMAT) {
            // An older database, or outcome records of another format: every run's are
            // (re)built on first use rather than all now (opening stays instant).
            let runs: Vec<u64> = store.runs()?.iter().map(|r| r.id.0).collect();
            store.outcomes.clear()?;
            store.meta.insert(OUTCOMES_MISSING, encode("meta", &runs)?)?;
        }
        store.meta.insert(OUTCOMES_FORMAT, encode("meta", &outcome::FORMAT)?)?;
        store.meta.insert("schema_version", encode("meta", &SCHEMA_VERSION)?)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where every write starts: a test's injected fault fails it here (debug builds only).
    #[inline]
    fn write_check(&self) -> Result<()> {
        #[cfg(debug_assertions)]
        if let Some(f) = &self.fault {
            f.write().map_err(|e| StoreError::Sled(sled::Error::Io(e)))?;
        }
        Ok(())
    }

    #[inline]
    fn flush_check(&self) -> Result<()> {
        #[cfg(debug_assertions)]
        if let Some(f) = &self.fault {
            f.flush().map_err(|e| StoreError::Sled(sled::Error::Io(e)))?;
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<()> {
        self.flush_check()?;
        self.db.flush()?;
        Ok(())
    }

    /// `flush` on a blocking thread; sled's own `flush_async` can stall inside tokio.
    pub async fn flush_async(&self) -> Result<()> {
        self.flush_check()?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush()).await.map_err(|e| StoreError::Open {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })??;
        Ok(())
    }

    // ---- runs ----

    /// A fresh, never reused run id.
    pub fn next_run_id(&self) -> Result<RunId> {
        Ok(RunId(self.db.generate_id()?))
    }

    /// Stores a new run with its item snapshot; refuses a duplicate name.
    pub fn create_run(&self, run: &RunRecord, items: &[Item]) -> Result<()> {
        self.write_check()?;
        if let Some(problem) = crate::domain::text::run_name_problem(&run.name) {
            return Err(StoreError::BadName(problem));
        }
        if self.run_by_name(&run.name)?.is_some() {
            return Err(StoreError::RunExists(crate::domain::text::inert_line(&run.name)));
        }
        // In batches: sled holds a whole batch in memory, gigabytes for a million items. The
        // run's record comes last, so a crash leaves no run that lacks items.
        for (c, chunk) in items.chunks(ITEM_BATCH).enumerate() {
            let mut batch = sled::Batch::default();
            for (j, item) in chunk.iter().enumerate() {
                let idx = u32::try_from(c * ITEM_BATCH + j).map_err(|_| StoreError::Corrupt {
                    tree: "items",
                    message: "more than 2^32 items".into(),
                })?;
                batch.insert(&keys::item_key(run.id, idx)[..], encode("items", item)?);
            }
            self.items.apply_batch(batch)?;
        }
        self.put_run(run)
    }

    pub fn put_run(&self, run: &RunRecord) -> Result<()> {
        self.write_check()?;
        self.runs.insert(keys::run_key(run.id), encode("runs", run)?)?;
        self.run_changed(run.id);
        Ok(())
    }

    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        self.runs.iter().values().map(|v| decode("runs", &v?)).collect()
    }

    pub fn run_by_name(&self, name: &str) -> Result<Option<RunRecord>> {
        Ok(self.runs()?.into_iter().find(|r| r.name == name))
    }

    /// Like `run_by_name` but a missing run is an error.
    pub fn require_run(&self, name: &str) -> Result<RunRecord> {
        self.run_by_name(name)?
            .ok_or_else(|| StoreError::NoSuchRun(crate::domain::text::inert_line(name)))
    }

    /// Removes a run and everything under it.
    pub fn delete_run(&self, run: RunId) -> Result<()> {
        self.write_check()?;
        let prefix = keys::run_key(run);
        for tree in [&self.items, &self.episodes, &self.turns, &self.labels, &self.outcomes] {
            for k in tree.scan_prefix(prefix).keys() {
                tree.remove(k?)?;
            }
        }
        self.queues.remove(prefix)?;
        self.runs.remove(prefix)?;
        self.episodes_changed(run);
        Ok(())
    }

    pub fn items(&self, run: RunId) -> Result<Vec<Item>> {
        self.items.scan_prefix(keys::run_key(run)).values().map(|v| decode("items", &v?)).collect()
    }

    /// Item `idx` of a run's snapshot.
    pub fn item(&self, run: RunId, idx: u32) -> Result<Option<Item>> {
        self.items.get(keys::item_key(run, idx))?.map(|v| decode("items", &v)).transpose()
    }

    /// The first line of every item's question, in item order, the rest of each record
    /// skipped (the episodes table shows them for every episode of a large run).
    pub fn item_first_lines(&self, run: RunId) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Question<'a> {
            #[serde(borrow)]
            question: std::borrow::Cow<'a, str>,
        }
        self.items
            .scan_prefix(keys::run_key(run))
            .values()
            .map(|v| {
                let v = v?;
                let q: Question<'_> = decode_borrowed("items", &v)?;
                Ok(q.question.lines().next().unwrap_or_default().to_string())
            })
            .collect()
    }

    /// Adds an item at the end of a run's snapshot (a question typed in step mode).
    pub fn append_item(&self, run: RunId, item: &Item) -> Result<u32> {
        self.write_check()?;
        let idx =
            u32::try_from(self.items.scan_prefix(keys::run_key(run)).count()).map_err(|_| {
                StoreError::Corrupt { tree: "items", message: "more than 2^32 items".into() }
            })?;
        self.items.insert(keys::item_key(run, idx), encode("items", item)?)?;
        Ok(idx)
    }

    // ---- episodes and turns ----

    /// Stores an episode record, and its outcome with it.
    pub fn put_episode(&self, ep: &Episode) -> Result<()> {
        self.write_check()?;
        let outcome = self.outcome_of(ep, &self.episode_turn_facts(ep.id)?)?;
        let key = keys::episode_key(ep.id);
        let record = encode("episodes", ep)?;
        self.both(&self.episodes, &key, record, &key, outcome)?;
        self.episodes_changed(ep.id.run);
        Ok(())
    }

    /// Stores new episodes whole (record and turns, indexed from 0) with their outcomes, in one
    /// batch per tree: how a new run's or an import's thousands of episodes are written. Not
    /// atomic across trees, and turns of an episode beyond the given ones are not removed: for
    /// episodes no one has seen yet.
    pub fn put_episodes(&self, eps: &[(Episode, Vec<Turn>)]) -> Result<()> {
        self.write_check()?;
        let (mut turns, mut records, mut outcomes) =
            (sled::Batch::default(), sled::Batch::default(), sled::Batch::default());
        let mut runs = std::collections::BTreeSet::new();
        let mut bytes = 0u64;
        for (ep, ts) in eps {
            for (i, t) in ts.iter().enumerate() {
                let idx = u32::try_from(i).unwrap_or(u32::MAX);
                let v = encode("turns", t)?;
                bytes += v.len() as u64;
                turns.insert(&keys::turn_key(ep.id, idx)[..], v);
            }
            let key = keys::episode_key(ep.id);
            outcomes.insert(&key[..], self.outcome_of(ep, ts)?);
            records.insert(&key[..], encode("episodes", ep)?);
            runs.insert(ep.id.run);
        }
        self.turns.apply_batch(turns)?;
        self.outcomes.apply_batch(outcomes)?;
        self.episodes.apply_batch(records)?;
        // A million-episode import would otherwise hold gigabytes of unflushed pages.
        use std::sync::atomic::Ordering;
        if self.unflushed.fetch_add(bytes, Ordering::Relaxed) + bytes >= FLUSH_EVERY {
            self.unflushed.store(0, Ordering::Relaxed);
            self.db.flush()?;
        }
        for run in runs {
            self.episodes_changed(run);
        }
        Ok(())
    }

    /// Writes `a[ka] = va` and `outcomes[ko] = vo` atomically (a crash between the two would
    /// leave an outcome that disagrees with its records).
    fn both(&self, a: &sled::Tree, ka: &[u8], va: Vec<u8>, ko: &[u8], vo: Vec<u8>) -> Result<()> {
        use sled::Transactional;
        use sled::transaction::TransactionError;
        let r: std::result::Result<(), TransactionError<()>> =
            (a, &self.outcomes).transaction(|(a, o)| {
                a.insert(ka, va.clone())?;
                o.insert(ko, vo.clone())?;
                Ok(())
            });
        match r {
            Ok(()) => Ok(()),
            Err(TransactionError::Storage(e)) => Err(e.into()),
            Err(TransactionError::Abort(())) => {
                Err(StoreError::Corrupt { tree: "outcomes", message: "transaction aborted".into() })
            }
        }
    }

    /// The dataset's label of an episode's item's given solution, reading only that field.
    fn given_label(&self, id: EpisodeId) -> Result<Option<bool>> {
        #[derive(serde::Deserialize)]
        struct Given {
            #[serde(default)]
            correct: Option<bool>,
        }
        #[derive(serde::Deserialize)]
        struct ItemGiven {
            #[serde(default)]
            given: Option<Given>,
        }
        Ok(match self.items.get(keys::item_key(id.run, id.item))? {
            Some(v) => decode::<ItemGiven>("items", &v)?.given.and_then(|g| g.correct),
            None => None,
        })
    }

    /// The turns of one episode without their text, with their indices.
    fn turn_facts(&self, id: EpisodeId) -> Result<Vec<(u32, Turn)>> {
        self.turns
            .scan_prefix(keys::episode_key(id))
            .map(|kv| {
                let (k, v) = kv?;
                let idx = keys::parse_turn_index(&k)
                    .ok_or(StoreError::Corrupt { tree: "turns", message: "short key".into() })?;
                Ok((idx, decode::<facts::TurnFacts>("turns", &v)?.into_turn()))
            })
            .collect()
    }

    /// [`turn_facts`](Self::turn_facts) without the indices.
    fn episode_turn_facts(&self, id: EpisodeId) -> Result<Vec<Turn>> {
        Ok(self.turn_facts(id)?.into_iter().map(|(_, t)| t).collect())
    }

    /// The encoded outcome of an episode with these turns (its item's label read here).
    fn outcome_of(&self, ep: &Episode, turns: &[Turn]) -> Result<Vec<u8>> {
        outcome::encode(&Outcome::new(ep, turns, self.given_label(ep.id)?))
    }

    /// The outcome of an episode, as its records stand (`None` without an episode record).
    fn outcome_now(&self, id: EpisodeId, turns: &[Turn]) -> Result<Option<Vec<u8>>> {
        let Some(ep) = self.episode(id)? else { return Ok(None) };
        Ok(Some(self.outcome_of(&ep, turns)?))
    }

    fn episodes_changed(&self, run: RunId) {
        if let Ok(mut c) = self.counts.lock() {
            *c.generation.entry(run).or_default() += 1;
            c.counts.remove(&run);
        }
        self.run_changed(run);
    }

    /// Anything of the run was written: its derived values are stale.
    fn run_changed(&self, run: RunId) {
        if let Ok(mut m) = self.memo.lock() {
            *m.version.entry(run).or_default() += 1;
            m.values.retain(|(r, _), _| *r != run);
        }
    }

    /// The value derived from run `run` under `key`, computed by `compute` unless one computed
    /// since the run's last write is kept. For values that depend only on the run's stored
    /// records (its metrics under given options).
    pub fn memo<T, E>(
        &self,
        run: RunId,
        key: &str,
        compute: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        let version = match self.memo.lock() {
            Ok(m) => {
                let v = m.version.get(&run).copied().unwrap_or(0);
                if let Some((at, value)) = m.values.get(&(run, key.to_string()))
                    && *at == v
                    && let Some(t) = value.downcast_ref::<T>()
                {
                    return Ok(t.clone());
                }
                v
            }
            Err(_) => return compute(),
        };
        let value = compute()?;
        if let Ok(mut m) = self.memo.lock()
            && m.version.get(&run).copied().unwrap_or(0) == version
        {
            if m.values.len() >= MEMO_ENTRIES {
                m.values.clear();
            }
            m.values.insert((run, key.to_string()), (version, std::sync::Arc::new(value.clone())));
        }
        Ok(value)
    }

    /// How many episodes of a run are in each state; kept until one of them is written again
    /// (the runs table asks for every run, often).
    pub fn status_counts(&self, run: RunId) -> Result<StatusCounts> {
        let generation = match self.counts.lock() {
            Ok(c) => {
                let g = c.generation.get(&run).copied().unwrap_or(0);
                if let Some((at, counts)) = c.counts.get(&run)
                    && *at == g
                {
                    return Ok(*counts);
                }
                g
            }
            Err(_) => u64::MAX,
        };
        let mut t = StatusCounts::default();
        for status in self.episode_statuses(run)? {
            t.total += 1;
            match status {
                crate::domain::EpisodeStatus::Done => t.done += 1,
                crate::domain::EpisodeStatus::Failed => t.failed += 1,
                crate::domain::EpisodeStatus::Pending => t.pending += 1,
            }
        }
        if let Ok(mut c) = self.counts.lock()
            && c.generation.get(&run).copied().unwrap_or(0) == generation
        {
            c.counts.insert(run, (generation, t));
        }
        Ok(t)
    }

    pub fn episode(&self, id: EpisodeId) -> Result<Option<Episode>> {
        self.episodes.get(keys::episode_key(id))?.map(|v| decode("episodes", &v)).transpose()
    }

    /// All episodes of a run in (item, sample) order.
    pub fn episodes(&self, run: RunId) -> Result<Vec<Episode>> {
        self.episodes
            .scan_prefix(keys::run_key(run))
            .values()
            .map(|v| decode("episodes", &v?))
            .collect()
    }

    /// The status of every episode of a run, the rest of each record skipped (counting runs is
    /// hot: every runs table).
    pub fn episode_statuses(&self, run: RunId) -> Result<Vec<crate::domain::EpisodeStatus>> {
        #[derive(serde::Deserialize)]
        struct Status {
            status: crate::domain::EpisodeStatus,
        }
        self.episodes
            .scan_prefix(keys::run_key(run))
            .values()
            .map(|v| decode::<Status>("episodes", &v?).map(|s| s.status))
            .collect()
    }

    /// Stores a turn, and the episode's outcome with it once the episode has a record.
    pub fn put_turn(&self, id: EpisodeId, idx: u32, turn: &Turn) -> Result<()> {
        self.write_check()?;
        let record = encode("turns", turn)?;
        let mut turns = self.turn_facts(id)?;
        match turns.binary_search_by_key(&idx, |(i, _)| *i) {
            Ok(at) => turns[at] = (idx, turn.clone()),
            Err(at) => turns.insert(at, (idx, turn.clone())),
        }
        let turns: Vec<Turn> = turns.into_iter().map(|(_, t)| t).collect();
        match self.outcome_now(id, &turns)? {
            Some(o) => {
                let (tk, ek) = (keys::turn_key(id, idx), keys::episode_key(id));
                self.both(&self.turns, &tk, record, &ek, o)?;
            }
            None => {
                self.turns.insert(keys::turn_key(id, idx), record)?;
            }
        }
        self.run_changed(id.run);
        Ok(())
    }
    pub fn turns(&self, id: EpisodeId) -> Result<Vec<Turn>> {
        self.turns
            .scan_prefix(keys::episode_key(id))
            .values()
            .map(|v| decode("turns", &v?))
            .collect()
    }

    /// Every turn of a run grouped by episode, in one scan.
    /// Every turn of a run without its text, grouped by episode: what metrics read. The text
    /// and unknown fields are skipped, not decoded (the catch-all map of a full `Turn` costs a
    /// buffered decode of every field); `meta` keeps only `cached` and `synthetic`.
    pub fn turn_facts_of_run(&self, run: RunId) -> Result<Vec<(EpisodeId, Vec<Turn>)>> {
        let mut out: Vec<(EpisodeId, Vec<Turn>)> = Vec::new();
        for kv in self.turns.scan_prefix(keys::run_key(run)) {
            let (k, v) = kv?;
            let id = keys::parse_episode_key(&k)
                .ok_or(StoreError::Corrupt { tree: "turns", message: "short key".into() })?;
            let turn = decode::<facts::TurnFacts>("turns", &v)?.into_turn();
            match out.last_mut() {
                Some((last, turns)) if *last == id => turns.push(turn),
                _ => out.push((id, vec![turn])),
            }
        }
        Ok(out)
    }

    pub fn turns_of_run(&self, run: RunId) -> Result<Vec<(EpisodeId, Vec<Turn>)>> {
        let mut out: Vec<(EpisodeId, Vec<Turn>)> = Vec::new();
        for kv in self.turns.scan_prefix(keys::run_key(run)) {
            let (k, v) = kv?;
            let id = keys::parse_episode_key(&k)
                .ok_or(StoreError::Corrupt { tree: "turns", message: "short key".into() })?;
            let turn: Turn = decode("turns", &v)?;
            match out.last_mut() {
                Some((last, turns)) if *last == id => turns.push(turn),
                _ => out.push((id, vec![turn])),
            }
        }
        Ok(out)
    }

    /// Removes the turns of an episode from index `from` on (retrying a failed episode).
    pub fn truncate_turns(&self, id: EpisodeId, from: u32) -> Result<()> {
        self.write_check()?;
        for k in self.turns.range(keys::turn_key(id, from)..=keys::turn_key(id, u32::MAX)).keys() {
            self.turns.remove(k?)?;
        }
        // Not atomic with the removal: the episode is being retried, and its next write
        // rewrites the outcome anyway.
        if let Some(o) = self.outcome_now(id, &self.episode_turn_facts(id)?)? {
            self.outcomes.insert(keys::episode_key(id), o)?;
        }
        self.run_changed(id.run);
        Ok(())
    }

    // ---- outcomes ----

    fn outcomes_missing(&self) -> Result<Vec<u64>> {
        match self.meta.get(OUTCOMES_MISSING)? {
            Some(v) => decode("meta", &v),
            None => Ok(Vec::new()),
        }
    }

    /// Whether a run's outcome records still have to be built (a database written by an
    /// older critloop).
    pub fn outcomes_pending(&self, run: RunId) -> Result<bool> {
        Ok(self.outcomes_missing()?.contains(&run.0))
    }

    /// Builds a run's outcome records from its episodes, turns and items; `progress(done,
    /// total)` is called as episodes are done.
    pub fn build_outcomes(&self, run: RunId, progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
        self.write_check()?;
        let total = self.status_counts(run)?.total;
        progress(0, total);
        // Episode by episode (not one scan of every turn first), so progress moves from the
        // start.
        let mut batch = sled::Batch::default();
        let mut done = 0u64;
        for v in self.episodes.scan_prefix(keys::run_key(run)).values() {
            let ep: Episode = decode("episodes", &v?)?;
            let o = self.outcome_of(&ep, &self.episode_turn_facts(ep.id)?)?;
            batch.insert(&keys::episode_key(ep.id)[..], o);
            done += 1;
            if done.is_multiple_of(4096) {
                self.outcomes.apply_batch(std::mem::take(&mut batch))?;
                progress(done, total);
            }
        }
        self.outcomes.apply_batch(batch)?;
        progress(done, total.max(done));
        let rest: Vec<u64> = self.outcomes_missing()?.into_iter().filter(|r| *r != run.0).collect();
        self.meta.insert(OUTCOMES_MISSING, encode("meta", &rest)?)?;
        self.outcomes.flush()?;
        Ok(())
    }

    /// Every episode's outcome in (item, sample) order: all a run's metrics read. Built first
    /// when the run has none yet.
    pub fn outcomes_of_run(&self, run: RunId) -> Result<Vec<(EpisodeId, Outcome)>> {
        if self.outcomes_pending(run)? {
            self.build_outcomes(run, &mut |_, _| {})?;
        }
        self.outcomes
            .scan_prefix(keys::run_key(run))
            .map(|kv| {
                let (k, v) = kv?;
                let id = keys::parse_episode_key(&k)
                    .ok_or(StoreError::Corrupt { tree: "outcomes", message: "short key".into() })?;
                Ok((id, outcome::decode(&v)?))
            })
            .collect()
    }

    // ---- labels ----

    /// Appends a label and makes it durable before returning. Its time moves just past the slot's
    /// latest entry when the clock has not (two keys in one millisecond keep their order).
    /// Returns the sequence number and the label as stored.
    pub fn add_label(&self, id: EpisodeId, label: &Label) -> Result<(u64, Label)> {
        self.write_check()?;
        let existing: Vec<Label> = self.labels(id)?.into_iter().map(|(_, l)| l).collect();
        let stamp = next_stamp(&existing, label.slot(), label.stamp());
        let label = label.clone().at(stamp);
        let seq = self.db.generate_id()?;
        self.labels.insert(keys::label_key(id, seq), encode("labels", &label)?)?;
        self.labels.flush()?;
        self.run_changed(id.run);
        Ok((seq, label))
    }

    /// Appends a label without flushing (bulk import flushes once at the end).
    pub fn insert_label(&self, id: EpisodeId, label: &Label) -> Result<u64> {
        self.write_check()?;
        let seq = self.db.generate_id()?;
        self.labels.insert(keys::label_key(id, seq), encode("labels", label)?)?;
        self.run_changed(id.run);
        Ok(seq)
    }

    /// Adds the entries of `incoming` this episode does not hold yet (merging databases);
    /// returns how many were new. Not flushed: the caller flushes once.
    pub fn merge_labels(&self, id: EpisodeId, incoming: &[Label]) -> Result<usize> {
        let mut have: Vec<Label> = self.labels(id)?.into_iter().map(|(_, l)| l).collect();
        let mut added = 0;
        for l in incoming {
            if have.contains(l) {
                continue;
            }
            self.insert_label(id, l)?;
            have.push(l.clone());
            added += 1;
        }
        Ok(added)
    }

    pub fn labels(&self, id: EpisodeId) -> Result<Vec<(u64, Label)>> {
        self.labels
            .scan_prefix(keys::episode_key(id))
            .map(|kv| {
                let (k, v) = kv?;
                let seq = keys::parse_label_seq(&k)
                    .ok_or(StoreError::Corrupt { tree: "labels", message: "short key".into() })?;
                Ok((seq, decode("labels", &v)?))
            })
            .collect()
    }

    /// Every label of a run, grouped by episode.
    pub fn labels_of_run(&self, run: RunId) -> Result<Vec<(EpisodeId, Label)>> {
        self.labels
            .scan_prefix(keys::run_key(run))
            .map(|kv| {
                let (k, v) = kv?;
                let id = keys::parse_episode_key(&k)
                    .ok_or(StoreError::Corrupt { tree: "labels", message: "short key".into() })?;
                Ok((id, decode("labels", &v)?))
            })
            .collect()
    }

    /// Every label of a run keyed by episode (the shape metrics, browsing and export use).
    pub fn labels_by_episode(
        &self,
        run: RunId,
    ) -> Result<std::collections::HashMap<EpisodeId, Vec<Label>>> {
        let mut out: std::collections::HashMap<EpisodeId, Vec<Label>> = Default::default();
        for (id, l) in self.labels_of_run(run)? {
            out.entry(id).or_default().push(l);
        }
        Ok(out)
    }

    // ---- annotation queues ----

    /// Stores a run's queue (one per run), durable before returning.
    pub fn put_queue(&self, q: &Queue) -> Result<()> {
        self.write_check()?;
        self.queues.insert(keys::run_key(q.run), encode("queues", q)?)?;
        self.queues.flush()?;
        Ok(())
    }

    pub fn queue(&self, run: RunId) -> Result<Option<Queue>> {
        self.queues.get(keys::run_key(run))?.map(|v| decode("queues", &v)).transpose()
    }

    // ---- response cache ----

    pub fn cache_get(&self, key: &str) -> Result<Option<Turn>> {
        self.cache.get(key)?.map(|v| decode("cache", &v)).transpose()
    }

    pub fn cache_put(&self, key: &str, turn: &Turn) -> Result<()> {
        self.write_check()?;
        self.cache.insert(key, encode("cache", turn)?)?;
        Ok(())
    }

    /// The raw schema version stored in `meta`.
    pub fn schema_version(&self) -> Result<u32> {
        match self.meta.get("schema_version")? {
            Some(v) => decode("meta", &v),
            None => Ok(SCHEMA_VERSION),
        }
    }
}

/// The schema version in the database's plain file, if it has a readable one.
fn stamped_version(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path.join(SCHEMA_FILE)).ok()?.trim().parse().ok()
}

/// Writes the plain copy of the schema version, when it differs. Best effort: `meta` is the
/// authority, the file only spares a newer database sled's writes.
fn stamp_version(path: &Path) {
    if stamped_version(path) == Some(SCHEMA_VERSION) {
        return;
    }
    let tmp = path.join(format!("{SCHEMA_FILE}.tmp"));
    if std::fs::write(&tmp, format!("{SCHEMA_VERSION}\n")).is_ok() {
        let _ = std::fs::rename(&tmp, path.join(SCHEMA_FILE));
    }
}

/// Whether the database at `path` stores its pages zstd-compressed: new ones do (turn text
/// shrinks several times); one created before keeps its setting, which sled requires.
fn compressed(path: &Path) -> bool {
    // The file is text lines followed by a binary checksum.
    match std::fs::read(path.join("conf")) {
        Ok(conf) => conf.split(|&b| b == b'\n').any(|l| l == b"use_compression: true"),
        Err(_) => true,
    }
}

/// sled reports a held lock as a generic I/O error; recognise it to say what happened.
fn classify(path: &str, e: sled::Error) -> StoreError {
    let text = e.to_string();
    let path = path.to_string();
    if text.contains("could not acquire lock") || text.contains("WouldBlock") {
        return StoreError::Locked { path };
    }
    match &e {
        sled::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            StoreError::ReadOnly { path, message: io.to_string() }
        }
        _ => StoreError::Open { path, message: sled_message(&e) },
    }
}

/// sled shows an I/O error in its Debug form; the plain text instead, and what to do about a
/// full disk (everything stored before it is kept).
fn sled_message(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => format!(
            "{}; what was stored before is kept: free some space, then carry on (a run: \
             `critloop run --resume NAME`)",
            io_text(io)
        ),
        sled::Error::Io(io) => io_text(io),
        other => other.to_string(),
    }
}

/// An I/O error's text. sled re-creates an error it hands on from its Debug form
/// (`Os { code: 28, kind: StorageFull, message: "No space left on device" }`): that is turned
/// back into the usual `No space left on device (os error 28)`.
fn io_text(io: &std::io::Error) -> String {
    let text = io.get_ref().map(|inner| inner.to_string()).unwrap_or_else(|| io.to_string());
    let field = |name: &str| {
        let start = text.find(name)? + name.len();
        let rest = &text[start..];
        Some(rest[..rest.find([',', '}'])?].trim().trim_matches('"').to_string())
    };
    match (text.starts_with("Os {"), field("code: "), field("message: ")) {
        (true, Some(code), Some(message)) => format!("{message} (os error {code})"),
        _ => text,
    }
}

#[cfg(test)]
mod tests;
