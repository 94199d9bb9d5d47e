//! Transcript JSONL → replay runs. Missing grades are filled in by the grader.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::TranscriptLine;
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
    #[error("{file}:{line}: {message}")]
    Line { file: String, line: usize, message: String },
    #[error("{file}: {message}")]
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

/// One parsed line with its line number.
struct Parsed {
    line: usize,
    t: TranscriptLine,
}

fn parse_line(file: &str, line: usize, text: &str) -> Result<TranscriptLine, ImportError> {
    let err = |message: String| ImportError::Line { file: file.to_string(), line, message };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(err("expected a JSON object".into()));
    };
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

/// Reads a transcript file and stores one replay run per distinct `run` value.
pub fn import_transcripts(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
) -> Result<Vec<RunRecord>, ImportError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ImportError::File { file: file.clone(), message: e.to_string() })?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("import").to_string();
    let mut groups: BTreeMap<String, Vec<Parsed>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let t = parse_line(&file, i + 1, raw)?;
        let key = if t.run.is_empty() { stem.clone() } else { t.run.clone() };
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(Parsed { line: i + 1, t });
    }
    if groups.is_empty() {
        return Err(ImportError::File { file, message: "no transcript lines".into() });
    }
    if opts.name.is_some() && groups.len() > 1 {
        return Err(ImportError::File {
            file,
            message: format!(
                "holds {} runs ({}); --name needs exactly one",
                groups.len(),
                order.join(", ")
            ),
        });
    }
    let mut records = Vec::new();
    for key in order {
        let lines = groups.remove(&key).unwrap_or_default();
        let name = opts.name.clone().unwrap_or(key);
        if store.run_by_name(&name)?.is_some() {
            return Err(StoreError::RunExists(name).into());
        }
        records.push(import_run(store, &file, &name, lines, opts.grade)?);
    }
    Ok(records)
}

/// Protocol kind from the turn roles when the transcript does not name one.
fn infer_kind(lines: &[Parsed]) -> ProtocolKind {
    let has = |r: Role| lines.iter().any(|p| p.t.turns.iter().any(|t| t.role == r));
    match (has(Role::Given), has(Role::Critique), has(Role::Revise)) {
        (true, true, _)
            if lines.iter().any(|p| {
                p.t.turns.iter().any(|t| t.role == Role::Critique && t.answer.is_some())
            }) =>
        {
            ProtocolKind::CriticCorrect
        }
        (true, _, _) => ProtocolKind::CritiqueOnly,
        (false, false, true) => ProtocolKind::SelfCorrect,
        _ => ProtocolKind::CritiqueRevise,
    }
}

fn import_run(
    store: &Store,
    file: &str,
    name: &str,
    lines: Vec<Parsed>,
    grade_opts: GradeOptions,
) -> Result<RunRecord, ImportError> {
    let line_err =
        |line: usize, message: String| ImportError::Line { file: file.to_string(), line, message };
    let Some(first) = lines.first().map(|p| p.t.clone()) else {
        return Err(ImportError::File {
            file: file.to_string(),
            message: "no transcript lines".into(),
        });
    };
    let kind = infer_kind(&lines);
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
    let max_rounds = lines
        .iter()
        .map(|p| {
            p.t.turns.iter().filter(|t| t.role == Role::Critique || t.role == Role::Revise).count()
        })
        .max()
        .unwrap_or(1);
    protocol.rounds = first.rounds.unwrap_or_else(|| {
        let per = if protocol.kind == ProtocolKind::CritiqueRevise {
            max_rounds.div_ceil(2)
        } else {
            max_rounds
        };
        u32::try_from(per.max(1)).unwrap_or(1)
    });

    // Items in order of first appearance; samples index episodes.
    let mut items: Vec<Item> = Vec::new();
    let mut item_index: HashMap<String, u32> = HashMap::new();
    let mut seen: HashMap<(u32, u32), usize> = HashMap::new();
    let mut max_sample = 0;
    for p in &lines {
        let t = &p.t;
        let idx = match item_index.get(&t.item_id) {
            Some(i) => *i,
            None => {
                let i = u32::try_from(items.len()).unwrap_or(u32::MAX);
                let given =
                    t.turns.first().filter(|x| x.role == Role::Given).map(|g| GivenSolution {
                        text: g.content.clone(),
                        answer: g.answer.clone(),
                        correct: t.given_label,
                    });
                items.push(Item {
                    id: ItemId(t.item_id.clone()),
                    question: t.question.clone(),
                    reference: t.reference.clone(),
                    answer_kind: t.answer_kind,
                    choices: t.choices.clone(),
                    given,
                    source: t.source.clone().unwrap_or_else(|| name.to_string()),
                    meta: t.item_meta.clone().unwrap_or_default(),
                });
                item_index.insert(t.item_id.clone(), i);
                i
            }
        };
        if let Some(prev) = seen.insert((idx, t.sample), p.line) {
            return Err(line_err(
                p.line,
                format!("item `{}` sample {} already appears on line {prev}", t.item_id, t.sample),
            ));
        }
        max_sample = max_sample.max(t.sample);
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
        dataset_hash: crate::dataset::items_hash(&items),
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
            samples: max_sample + 1,
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
    store.create_run(&record, &items)?;
    let mut chunk = Vec::with_capacity(1024);
    for p in lines {
        let t = p.t;
        let item_idx = item_index.get(&t.item_id).copied().unwrap_or(0);
        let Some(item) = items.get(item_idx as usize) else { continue };
        let ep_id = EpisodeId { run: id, item: item_idx, sample: t.sample };
        let mut turns = t.turns;
        for turn in &mut turns {
            let wants_answer =
                record.protocol.kind == ProtocolKind::CriticCorrect && turn.role == Role::Critique;
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
        chunk.push((ep, turns));
        if chunk.len() == 1024 {
            store.put_episodes(&chunk)?;
            chunk.clear();
        }
    }
    store.put_episodes(&chunk)?;
    store.flush()?;
    Ok(record)
}
