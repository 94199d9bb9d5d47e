//! sled storage (DESIGN §7). Every record is a serde JSON value behind `encode`/`decode`;
//! keys come from `keys`. `Store` is cheap to clone.

mod facts;
mod keys;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::label::next_stamp;
use crate::domain::{Episode, EpisodeId, Item, Label, Queue, RunId, RunRecord, Turn};

/// Version of the on-disk layout; a database with a higher one is refused.
pub const SCHEMA_VERSION: u32 = 1;

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
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record in `{tree}`: {message}")]
    Corrupt { tree: &'static str, message: String },
    #[error("no run named `{0}` (see `critloop runs list`)")]
    NoSuchRun(String),
    #[error("a run named `{0}` already exists; choose another --name or delete it")]
    RunExists(String),
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
    path: PathBuf,
    /// Episode counts per run, dropped whenever one of the run's episodes is written.
    counts: std::sync::Arc<std::sync::Mutex<CountCache>>,
}

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

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let shown = path.display().to_string();
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
            .open()
            .map_err(|e| classify(&shown, e))?;
        Self::init(db, path.to_path_buf())
    }

    /// A throw-away database for tests and benchmarks.
    pub fn temporary() -> Result<Store> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::init(db, PathBuf::from("<temporary>"))
    }

    fn init(db: sled::Db, path: PathBuf) -> Result<Store> {
        let meta = db.open_tree("meta")?;
        let shown = path.display().to_string();
        match meta.get("schema_version")? {
            Some(v) => {
                let found: u32 = decode("meta", &v)?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path: shown,
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                meta.insert("schema_version", encode("meta", &SCHEMA_VERSION)?)?;
            }
        }
        Ok(Store {
            runs: db.open_tree("runs")?,
            items: db.open_tree("items")?,
            episodes: db.open_tree("episodes")?,
            turns: db.open_tree("turns")?,
            labels: db.open_tree("labels")?,
            queues: db.open_tree("queues")?,
            cache: db.open_tree("cache")?,
            meta,
            db,
            path,
            counts: Default::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// `flush` on a blocking thread; sled's own `flush_async` can stall inside tokio.
    pub async fn flush_async(&self) -> Result<()> {
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
        if self.run_by_name(&run.name)?.is_some() {
            return Err(StoreError::RunExists(run.name.clone()));
        }
        let mut batch = sled::Batch::default();
        for (i, item) in items.iter().enumerate() {
            let idx = u32::try_from(i).map_err(|_| StoreError::Corrupt {
                tree: "items",
                message: "more than 2^32 items".into(),
            })?;
            batch.insert(&keys::item_key(run.id, idx)[..], encode("items", item)?);
        }
        self.items.apply_batch(batch)?;
        self.put_run(run)
    }

    pub fn put_run(&self, run: &RunRecord) -> Result<()> {
        self.runs.insert(keys::run_key(run.id), encode("runs", run)?)?;
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
        self.run_by_name(name)?.ok_or_else(|| StoreError::NoSuchRun(name.to_string()))
    }

    /// Removes a run and everything under it.
    pub fn delete_run(&self, run: RunId) -> Result<()> {
        let prefix = keys::run_key(run);
        for tree in [&self.items, &self.episodes, &self.turns, &self.labels] {
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

    /// Adds an item at the end of a run's snapshot (a question typed in step mode).
    pub fn append_item(&self, run: RunId, item: &Item) -> Result<u32> {
        let idx =
            u32::try_from(self.items.scan_prefix(keys::run_key(run)).count()).map_err(|_| {
                StoreError::Corrupt { tree: "items", message: "more than 2^32 items".into() }
            })?;
        self.items.insert(keys::item_key(run, idx), encode("items", item)?)?;
        Ok(idx)
    }

    // ---- episodes and turns ----

    pub fn put_episode(&self, ep: &Episode) -> Result<()> {
        self.episodes.insert(keys::episode_key(ep.id), encode("episodes", ep)?)?;
        self.episodes_changed(ep.id.run);
        Ok(())
    }

    fn episodes_changed(&self, run: RunId) {
        if let Ok(mut c) = self.counts.lock() {
            *c.generation.entry(run).or_default() += 1;
            c.counts.remove(&run);
        }
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

    pub fn put_turn(&self, id: EpisodeId, idx: u32, turn: &Turn) -> Result<()> {
        self.turns.insert(keys::turn_key(id, idx), encode("turns", turn)?)?;
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
        for k in self.turns.range(keys::turn_key(id, from)..=keys::turn_key(id, u32::MAX)).keys() {
            self.turns.remove(k?)?;
        }
        Ok(())
    }

    // ---- labels ----

    /// Appends a label and makes it durable before returning. Its time moves just past the slot's
    /// latest entry when the clock has not (two keys in one millisecond keep their order).
    /// Returns the sequence number and the label as stored.
    pub fn add_label(&self, id: EpisodeId, label: &Label) -> Result<(u64, Label)> {
        let existing: Vec<Label> = self.labels(id)?.into_iter().map(|(_, l)| l).collect();
        let stamp = next_stamp(&existing, label.slot(), label.stamp());
        let label = label.clone().at(stamp);
        let seq = self.db.generate_id()?;
        self.labels.insert(keys::label_key(id, seq), encode("labels", &label)?)?;
        self.labels.flush()?;
        Ok((seq, label))
    }

    /// Appends a label without flushing (bulk import flushes once at the end).
    pub fn insert_label(&self, id: EpisodeId, label: &Label) -> Result<u64> {
        let seq = self.db.generate_id()?;
        self.labels.insert(keys::label_key(id, seq), encode("labels", label)?)?;
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

/// sled reports a held lock as a generic I/O error; recognise it to say what happened.
fn classify(path: &str, e: sled::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("could not acquire lock") || text.contains("WouldBlock") {
        StoreError::Locked { path: path.to_string() }
    } else {
        StoreError::Open { path: path.to_string(), message: text }
    }
}

#[cfg(test)]
mod tests;
