use std::collections::HashMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::domain::{AnswerKind, EpisodeId, EpisodeStatus, Label, Meta, RunRecord, Turn};
use crate::store::{Store, StoreError};

/// One episode, one line. Item fields ride along so a transcript is self-contained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub run: String,
    pub item_id: String,
    #[serde(default)]
    pub sample: u32,
    pub question: String,
    pub reference: String,
    #[serde(default)]
    pub answer_kind: AnswerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critic_model: Option<String>,
    /// `done` or `failed`; absent means done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub turns: Vec<Turn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    // Provenance and item details; optional so hand-written transcripts stay short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Provider that produced the turns (`sim`, `openai`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The dataset's own correctness label of the given solution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_label: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_meta: Option<Meta>,
    /// Unknown fields, kept.
    #[serde(flatten, default)]
    pub meta: Meta,
}

/// The transcript of a stored run, one line per episode in (item, sample) order.
pub fn transcript_lines(store: &Store, run: &RunRecord) -> Result<Vec<TranscriptLine>, StoreError> {
    let mut turns: HashMap<EpisodeId, Vec<Turn>> =
        store.turns_of_run(run.id)?.into_iter().collect();
    let mut labels = store.labels_by_episode(run.id)?;
    let mut out = Vec::new();
    each_line::<StoreError>(
        store,
        run,
        |ep| Ok((turns.remove(&ep).unwrap_or_default(), labels.remove(&ep).unwrap_or_default())),
        |line| {
            out.push(line);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Builds each episode's line in (item, sample) order and hands it to `put`; `parts` gives
/// an episode's turns and labels.
fn each_line<E: From<StoreError>>(
    store: &Store,
    run: &RunRecord,
    mut parts: impl FnMut(EpisodeId) -> Result<(Vec<Turn>, Vec<Label>), E>,
    mut put: impl FnMut(TranscriptLine) -> Result<(), E>,
) -> Result<(), E> {
    let items = store.items(run.id)?;
    let prompts_hash = crate::metrics::run_prompts_hash(run);
    let provider = crate::metrics::provenance(run, &Default::default()).provider;
    for ep in store.episodes(run.id)? {
        let Some(item) = items.get(ep.id.item as usize) else { continue };
        let (turns, labels) = parts(ep.id)?;
        put(TranscriptLine {
            run: run.name.clone(),
            item_id: item.id.0.clone(),
            sample: ep.id.sample,
            question: item.question.clone(),
            reference: item.reference.clone(),
            answer_kind: item.answer_kind,
            choices: item.choices.clone(),
            model: Some(run.model.clone()),
            critic_model: Some(run.critic_model.clone()),
            status: Some(match ep.status {
                EpisodeStatus::Done => "done".into(),
                EpisodeStatus::Failed => "failed".into(),
                EpisodeStatus::Pending => "pending".into(),
            }),
            error: ep.error.clone(),
            turns,
            labels,
            protocol: Some(run.protocol.name.clone()),
            rounds: Some(run.protocol.rounds),
            seed: Some(run.sampling.seed),
            provider: Some(provider.clone()),
            prompts_hash: Some(prompts_hash.clone()),
            dataset: Some(run.dataset.clone()),
            source: Some(item.source.clone()),
            given_label: item.given.as_ref().and_then(|g| g.correct),
            item_meta: (!item.meta.is_empty()).then(|| item.meta.clone()),
            meta: ep.meta.clone(),
        })?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("csv: {0}")]
    Csv(csv::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<csv::Error> for ExportError {
    // Keep I/O failures (a closed pipe) recognisable as such.
    fn from(e: csv::Error) -> Self {
        if !e.is_io_error() {
            return ExportError::Csv(e);
        }
        match e.into_kind() {
            csv::ErrorKind::Io(io) => ExportError::Io(io),
            other => {
                ExportError::Csv(csv::Error::from(std::io::Error::other(format!("{other:?}"))))
            }
        }
    }
}

/// One episode's turns and labels, read from the store as its line is built.
fn stored_parts<E: From<StoreError>>(
    store: &Store,
    id: EpisodeId,
) -> Result<(Vec<Turn>, Vec<Label>), E> {
    let labels = store.labels(id)?.into_iter().map(|(_, l)| l).collect();
    Ok((store.turns(id)?, labels))
}

/// Writes the run's transcript as JSONL.
pub fn export_jsonl(
    store: &Store,
    run: &RunRecord,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    // Streamed: each episode's turns and labels are read as its line is written, so memory
    // stays flat on a large run.
    let mut n = 0u64;
    each_line(
        store,
        run,
        |id| stored_parts::<ExportError>(store, id),
        |line| {
            write_line(&line, out)?;
            n += 1;
            Ok(())
        },
    )?;
    out.flush()?;
    Ok(n)
}

fn write_line<T: Serialize>(row: &T, out: &mut dyn Write) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, row)
        .map_err(|e| if e.is_io() { ExportError::Io(e.into()) } else { ExportError::Json(e) })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// One row of the long format: one episode × turn, flat columns for pandas/polars.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LongRow {
    pub run: String,
    pub item_id: String,
    pub sample: u32,
    pub status: String,
    pub turn: u32,
    pub role: String,
    /// 1-based attempt number (t1, t2, …) for turns that carry an answer.
    pub attempt: Option<u32>,
    pub answer: Option<String>,
    pub correct: Option<bool>,
    /// The grade the metrics use: a human `grade_override` when there is one, else `correct`.
    pub correct_used: Option<bool>,
    pub tier: Option<String>,
    pub verdict: Option<String>,
    /// Which rule read the verdict: labelled, bracket, json, stated, prose.
    pub verdict_method: Option<String>,
    pub confidence: Option<f64>,
    pub p_true: Option<f64>,
    pub p_true_raw: Option<f64>,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub latency_ms: Option<u64>,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
    pub simulated: bool,
    /// A control arm's critique made without a model (`empty` or `oracle`), else empty.
    pub synthetic: Option<String>,
    /// Effective labels on this turn, and episode labels on every row, as
    /// `name=value (annotator)`.
    pub labels: String,
    pub error: Option<String>,
    pub content: String,
}

/// The long-format rows of a run, in (item, sample, turn) order.
pub fn long_rows(store: &Store, run: &RunRecord) -> Result<Vec<LongRow>, StoreError> {
    Ok(long_rows_with_labels(store, run)?.into_iter().map(|l| l.row).collect())
}

/// The long-format rows with each row's labels in force as (name, annotator, value).
pub fn long_rows_with_labels(
    store: &Store,
    run: &RunRecord,
) -> Result<Vec<super::parquet::Labelled>, StoreError> {
    let mut rows = Vec::new();
    each_long_row::<StoreError>(store, run, |row| {
        rows.push(row);
        Ok(())
    })?;
    Ok(rows)
}

/// Hands each long-format row to `put` in (item, sample, turn) order, reading one episode at
/// a time so memory stays flat on a large run.
pub fn each_long_row<E: From<StoreError>>(
    store: &Store,
    run: &RunRecord,
    mut put: impl FnMut(super::parquet::Labelled) -> Result<(), E>,
) -> Result<(), E> {
    each_line(
        store,
        run,
        |id| stored_parts(store, id),
        |line| {
            let attempts = crate::protocol::attempt_indices(run.protocol.kind, &line.turns);
            let overrides = crate::metrics::overrides(&line.labels);
            let effective = crate::domain::label::effective(&line.labels);
            for (i, t) in line.turns.iter().enumerate() {
                // Effective labels only; the transcript keeps the history.
                let here: Vec<(String, String, String)> = effective
                    .iter()
                    .filter(|l| l.turn.is_none_or(|x| x as usize == i))
                    .map(|l| (l.name.clone(), l.annotator.clone(), l.value.clone()))
                    .collect();
                let labels: Vec<String> =
                    here.iter().map(|(n, a, v)| format!("{n}={v} ({a})")).collect();
                let attempt = attempts.iter().position(|&a| a == i).map(|p| p as u32 + 1);
                let row = LongRow {
                    run: line.run.clone(),
                    item_id: line.item_id.clone(),
                    sample: line.sample,
                    status: line.status.clone().unwrap_or_else(|| "done".into()),
                    turn: u32::try_from(i).unwrap_or(u32::MAX),
                    role: t.role.as_str().to_string(),
                    attempt,
                    answer: t.answer.clone(),
                    correct: t.correct,
                    correct_used: attempt.and(
                        u32::try_from(i)
                            .ok()
                            .and_then(|i| overrides.get(&i).copied())
                            .or(t.correct),
                    ),
                    tier: t
                        .tier
                        .and_then(|x| serde_json::to_value(x).ok())
                        .and_then(|v| v.as_str().map(String::from)),
                    verdict: t.verdict.map(|v| v.as_str().to_string()),
                    verdict_method: t.verdict_method.map(|m| m.as_str().to_string()),
                    confidence: t.confidence,
                    p_true: t.p_true,
                    p_true_raw: t.p_true_raw,
                    prompt_tokens: t.prompt_tokens,
                    completion_tokens: t.completion_tokens,
                    latency_ms: t.latency_ms,
                    model: t.model.clone(),
                    finish_reason: t.finish_reason.clone(),
                    simulated: t.simulated,
                    synthetic: t
                        .meta
                        .get(crate::protocol::SYNTHETIC)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)),
                    labels: labels.join("; "),
                    error: t.error.clone().or_else(|| line.error.clone()),
                    content: t.content.clone(),
                };
                put(super::parquet::Labelled { row, labels: here })?;
            }
            Ok(())
        },
    )
}

/// Long format as CSV: a header, then one row per episode × turn.
pub fn export_csv(store: &Store, run: &RunRecord, out: &mut dyn Write) -> Result<u64, ExportError> {
    let mut w = csv::Writer::from_writer(out);
    let mut n = 0u64;
    each_long_row::<ExportError>(store, run, |r| {
        w.serialize(&r.row)?;
        n += 1;
        Ok(())
    })?;
    w.flush()?;
    Ok(n)
}

/// Long format as JSONL: one object per episode × turn, the same columns as the CSV.
pub fn export_long_jsonl(
    store: &Store,
    run: &RunRecord,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let mut n = 0u64;
    each_long_row::<ExportError>(store, run, |r| {
        write_line(&r.row, out)?;
        n += 1;
        Ok(())
    })?;
    out.flush()?;
    Ok(n)
}
