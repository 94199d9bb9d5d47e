//! Transcript JSONL → replay runs. Missing grades are filled in by the grader.

use std::collections::HashMap;
use std::path::Path;

use super::TranscriptLine;
use crate::domain::text::{inert_line, one_line};
use crate::domain::{
    Episode, EpisodeId, EpisodeStatus, GivenSolution, Item, ItemId, ProtocolKind, ProviderSpec,
    Role, RunRecord, RunStatus, Sampling,
};
use crate::grade::GradeOptions;
use crate::protocol::load_protocol;
use crate::runner::{grade_turn, now_secs};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}:{line}: {}", inert_line(file), one_line(message))]
    Line { file: String, line: usize, message: String },
    #[error("{}: {}", inert_line(file), one_line(message))]
    File { file: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Name for the imported run (only when the file holds one run).
    pub name: Option<String>,
    pub grade: GradeOptions,
}

/// One transcript line as the importer reads it (for the fuzz tests).
#[doc(hidden)]
pub fn parse_transcript_line(
    file: &str,
    line: usize,
    text: &str,
) -> Result<TranscriptLine, ImportError> {
    parse_line(file, line, text)
}

fn parse_line(file: &str, line: usize, text: &str) -> Result<TranscriptLine, ImportError> {
    let err = |message: String| ImportError::Line { file: file.to_string(), line, message };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(err("expected a JSON object".into()));
    };
    // The long format (one row per turn) has the turn's columns and no question: say what
    // the file is rather than which field it lacks.
    if !obj.contains_key("turns")
        && ["turn", "role", "content", "item_id"].iter().all(|k| obj.contains_key(*k))
    {
        return Err(err("this is a long-format export (one row per episode × turn, \
             `export --format long-jsonl`), which keeps no question or reference; import reads \
             transcripts: `critloop export RUN --format jsonl`"
            .into()));
    }
    for field in ["item_id", "question", "reference", "turns"] {
        if !obj.contains_key(field) {
            return Err(err(format!("field `{field}`: missing")));
        }
    }
    let mut value = value;
    // Numbers are common as ids and references; accept them as text.
    for field in ["item_id", "reference", "run"] {
        if let Some(v) = value.get_mut(field)
            && v.is_number()
        {
            *v = serde_json::Value::String(v.to_string());
        }
    }
    if value.get("run").is_none()
        && let Some(o) = value.as_object_mut()
    {
        o.insert("run".into(), serde_json::Value::String(String::new()));
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| err(format!("field `{}`: {}", e.path(), e.inner())))
}

/// Calls `each(line number, parsed line)` for every non-blank line of the file, read as a
/// stream (a transcript may be larger than memory).
fn each_line(
    path: &Path,
    file: &str,
    mut each: impl FnMut(usize, TranscriptLine) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    use std::io::BufRead;
    let f = std::fs::File::open(path)
        .map_err(|e| ImportError::File { file: file.to_string(), message: e.to_string() })?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| ImportError::File { file: file.to_string(), message: e.to_string() })?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| ImportError::Line {
            file: file.to_string(),
            line,
            message: format!("not UTF-8 text: {e}"),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        each(line, parse_line(file, line, text)?)?;
    }
}

/// Reads a transcript file and stores one replay run per distinct `run` value. Two passes
/// over the file: the first checks every line and gathers each run's items and facts, the
/// second stores the episodes in batches; memory holds the items, not the turns.
pub fn import_transcripts(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
) -> Result<Vec<RunRecord>, ImportError> {
    let file = path.display().to_string();
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("import").to_string();
    let key_of = |t: &TranscriptLine| if t.run.is_empty() { stem.clone() } else { t.run.clone() };
    let mut scans: HashMap<String, RunScan> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    each_line(path, &file, |line, t| {
        let key = key_of(&t);
        if !scans.contains_key(&key) {
            order.push(key.clone());
        }
        scans.entry(key).or_insert_with(|| RunScan::new(&t)).add(&file, line, &t)
    })?;
    if scans.is_empty() {
        return Err(ImportError::File { file, message: "no transcript lines".into() });
    }
    if opts.name.is_some() && scans.len() > 1 {
        return Err(ImportError::File {
            file,
            message: format!(
                "holds {} runs ({}); --name needs exactly one",
                scans.len(),
                order.join(", ")
            ),
        });
    }
    let mut names = Vec::new();
    for key in &order {
        let name = opts.name.clone().unwrap_or_else(|| key.clone());
        if let Some(problem) = crate::domain::text::run_name_problem(&name) {
            return Err(StoreError::BadName(format!(
                "{problem}; import it under another name with --name NAME"
            ))
            .into());
        }
        if store.run_by_name(&name)?.is_some() {
            return Err(StoreError::RunExists(name).into());
        }
        names.push(name);
    }
    let mut runs: HashMap<String, Target> = HashMap::new();
    let mut records = Vec::new();
    for (key, name) in order.iter().zip(names) {
        let Some(scan) = scans.remove(key) else { continue };
        let target = scan.finish(store, &file, &name)?;
        store.create_run(&target.record, &target.items)?;
        records.push(target.record.clone());
        runs.insert(key.clone(), target);
    }
    let stored = each_line(path, &file, |_, t| {
        let Some(target) = runs.get_mut(&key_of(&t)) else { return Ok(()) };
        target.add(store, t, opts.grade)
    })
    .and_then(|()| {
        for target in runs.values_mut() {
            store.put_episodes(&target.chunk)?;
            target.chunk.clear();
        }
        Ok(store.flush()?)
    });
    if let Err(e) = stored {
        // The file changed under us, or the disk failed: leave no half run behind.
        for r in &records {
            let _ = store.delete_run(r.id);
        }
        return Err(e);
    }
    Ok(records)
}

/// What the first pass gathers about one run of the file.
struct RunScan {
    first: TranscriptLine,
    has_given: bool,
    has_critique: bool,
    has_revise: bool,
    critique_with_answer: bool,
    max_rounds: usize,
    items: Vec<Item>,
    item_index: HashMap<String, u32>,
    seen: HashMap<(u32, u32), usize>,
    max_sample: u32,
}

impl RunScan {
    fn new(first: &TranscriptLine) -> RunScan {
        RunScan {
            first: first.clone(),
            has_given: false,
            has_critique: false,
            has_revise: false,
            critique_with_answer: false,
            max_rounds: 0,
            items: Vec::new(),
            item_index: HashMap::new(),
            seen: HashMap::new(),
            max_sample: 0,
        }
    }

    fn add(&mut self, file: &str, line: usize, t: &TranscriptLine) -> Result<(), ImportError> {
        for turn in &t.turns {
            match turn.role {
                Role::Given => self.has_given = true,
                Role::Critique => {
                    self.has_critique = true;
                    self.critique_with_answer |= turn.answer.is_some();
                }
                Role::Revise => self.has_revise = true,
                Role::Generate => {}
            }
        }
        let rounds =
            t.turns.iter().filter(|t| t.role == Role::Critique || t.role == Role::Revise).count();
        self.max_rounds = self.max_rounds.max(rounds);
        // Items in order of first appearance; samples index episodes.
        let idx = match self.item_index.get(&t.item_id) {
            Some(i) => *i,
            None => {
                let i = u32::try_from(self.items.len()).unwrap_or(u32::MAX);
                let given =
                    t.turns.first().filter(|x| x.role == Role::Given).map(|g| GivenSolution {
                        text: g.content.clone(),
                        answer: g.answer.clone(),
                        correct: t.given_label,
                    });
                self.items.push(Item {
                    id: ItemId(t.item_id.clone()),
                    question: t.question.clone(),
                    reference: t.reference.clone(),
                    answer_kind: t.answer_kind,
                    choices: t.choices.clone(),
                    given,
                    // Filled in with the run's name when the line names none.
                    source: t.source.clone().unwrap_or_default(),
                    meta: t.item_meta.clone().unwrap_or_default(),
                });
                self.item_index.insert(t.item_id.clone(), i);
                i
            }
        };
        // The run records `max_sample + 1` samples: the last u32 has no successor.
        if t.sample == u32::MAX {
            return Err(ImportError::Line {
                file: file.to_string(),
                line,
                message: format!("field `sample`: {} is out of range", t.sample),
            });
        }
        if let Some(prev) = self.seen.insert((idx, t.sample), line) {
            return Err(ImportError::Line {
                file: file.to_string(),
                line,
                message: format!(
                    "item `{}` sample {} already appears on line {prev}",
                    t.item_id, t.sample
                ),
            });
        }
        self.max_sample = self.max_sample.max(t.sample);
        Ok(())
    }

    /// Protocol kind from the turn roles when the transcript does not name one.
    fn kind(&self) -> ProtocolKind {
        match (self.has_given, self.has_critique, self.has_revise) {
            (true, true, _) if self.critique_with_answer => ProtocolKind::CriticCorrect,
            (true, _, _) => ProtocolKind::CritiqueOnly,
            (false, false, true) => ProtocolKind::SelfCorrect,
            _ => ProtocolKind::CritiqueRevise,
        }
    }

    /// The run's record and items, ready for the second pass.
    fn finish(mut self, store: &Store, file: &str, name: &str) -> Result<Target, ImportError> {
        let first = &self.first;
        let kind = self.kind();
        let mut protocol =
            first.protocol.as_deref().and_then(|p| load_protocol(p).ok()).unwrap_or_else(|| {
                load_protocol(kind.as_str()).unwrap_or_else(|_| crate::domain::ProtocolSpec {
                    name: kind.as_str().into(),
                    kind,
                    rounds: 1,
                    stop_when_correct: false,
                    critique_source: Default::default(),
                    prompts: Default::default(),
                })
            });
        if let Some(name) = &first.protocol {
            protocol.name = name.clone();
        }
        let max_rounds = self.max_rounds.max(1);
        protocol.rounds = first.rounds.unwrap_or_else(|| {
            let per = if protocol.kind == ProtocolKind::CritiqueRevise {
                max_rounds.div_ceil(2)
            } else {
                max_rounds
            };
            u32::try_from(per.max(1)).unwrap_or(1)
        });
        for item in &mut self.items {
            if item.source.is_empty() {
                item.source = name.to_string();
            }
        }
        let id = store.next_run_id()?;
        let mut meta = crate::domain::Meta::new();
        if let Some(h) = &first.prompts_hash {
            meta.insert("prompts_hash".into(), serde_json::Value::String(h.clone()));
        }
        if let Some(p) = &first.provider {
            meta.insert("provider".into(), serde_json::Value::String(p.clone()));
        }
        let record = RunRecord {
            id,
            name: name.to_string(),
            dataset: first.dataset.clone().unwrap_or_else(|| file.to_string()),
            dataset_hash: crate::dataset::items_hash(&self.items),
            protocol,
            provider: ProviderSpec::Replay,
            model: first.model.clone().unwrap_or_else(|| "unknown".into()),
            critic_model: first
                .critic_model
                .clone()
                .or_else(|| first.model.clone())
                .unwrap_or_else(|| "unknown".into()),
            sampling: Sampling {
                seed: first.seed.unwrap_or(0),
                samples: self.max_sample + 1,
                ..Sampling::default()
            },
            status: RunStatus::Finished,
            version: env!("CARGO_PKG_VERSION").to_string(),
            created: now_secs(),
            grading: Default::default(),
            origin: crate::domain::Origin::Imported { from: file.to_string() },
            notes: Default::default(),
            meta,
        };
        Ok(Target { record, items: self.items, item_index: self.item_index, chunk: Vec::new() })
    }
}

/// Where the second pass stores one run's episodes.
struct Target {
    record: RunRecord,
    items: Vec<Item>,
    item_index: HashMap<String, u32>,
    chunk: Vec<(Episode, Vec<crate::domain::Turn>)>,
}

impl Target {
    fn add(
        &mut self,
        store: &Store,
        t: TranscriptLine,
        grade_opts: GradeOptions,
    ) -> Result<(), ImportError> {
        let item_idx = self.item_index.get(&t.item_id).copied().unwrap_or(0);
        let Some(item) = self.items.get(item_idx as usize) else { return Ok(()) };
        let ep_id = EpisodeId { run: self.record.id, item: item_idx, sample: t.sample };
        let mut turns = t.turns;
        for turn in &mut turns {
            let wants_answer = self.record.protocol.kind == ProtocolKind::CriticCorrect
                && turn.role == Role::Critique;
            grade_turn(turn, item, grade_opts, wants_answer);
        }
        for label in &t.labels {
            store.insert_label(ep_id, label)?;
        }
        let status = match t.status.as_deref() {
            Some("failed") => EpisodeStatus::Failed,
            _ => EpisodeStatus::Done,
        };
        let ep =
            Episode { id: ep_id, item_id: ItemId(t.item_id), status, error: t.error, meta: t.meta };
        self.chunk.push((ep, turns));
        if self.chunk.len() == 1024 {
            store.put_episodes(&self.chunk)?;
            self.chunk.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_sample_number_is_refused_not_overflowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let line = r#"{"item_id":"1","question":"q","reference":"1","turns":[],"sample":SAMPLE}"#;
        std::fs::write(&path, line.replace("SAMPLE", "4294967295")).unwrap();
        let store = Store::temporary().unwrap();
        let err = import_transcripts(&store, &path, &ImportOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}:1: field `sample`: 4294967295 is out of range", path.display())
        );
        std::fs::write(&path, line.replace("SAMPLE", "4294967294")).unwrap();
        let runs = import_transcripts(&store, &path, &ImportOptions::default()).unwrap();
        assert_eq!(runs[0].sampling.samples, u32::MAX);
    }

    #[test]
    fn errors_quoting_a_huge_or_multiline_value_stay_one_short_line() {
        let role = format!("x\\n{}", "y".repeat(100_000));
        let text = format!(
            r#"{{"item_id":"1","question":"q","reference":"1","turns":[{{"role":"{role}","content":""}}]}}"#
        );
        let msg = parse_line("t.jsonl", 3, &text).unwrap_err().to_string();
        assert!(
            msg.starts_with("t.jsonl:3: field `turns[0].role`: unknown variant `x\\ny"),
            "{msg}"
        );
        assert!(!msg.contains('\n') && msg.chars().count() < 400, "{msg}");
    }
}
