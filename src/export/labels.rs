//! Label files (DESIGN §6): every label entry of a run, one JSON object a line, so annotators
//! working in separate databases can merge their work. Merging adds the entries a database does
//! not hold yet; nothing is overwritten, and the effective value of every slot stays its latest
//! entry (see [`crate::domain::label::slots`]), so both sides of a merge agree.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::label::slots;
use crate::domain::text::{inert_line, one_line};
use crate::domain::{EpisodeId, Label, RunRecord};
use crate::store::{Store, StoreError};

/// One label entry as a line of a label file:
/// `{"run":"r1","item_id":"17","sample":0,"annotator":"ana","turn":1,"name":"error_found",
/// "value":"yes","time":1700000000,"millis":12}` (`"retracted":true` on a retraction; no `turn`
/// on an episode label).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelLine {
    pub run: String,
    pub item_id: String,
    pub sample: u32,
    #[serde(flatten)]
    pub label: Label,
}

#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("{}:{line}: {}", inert_line(file), one_line(message))]
    Line { file: String, line: usize, message: String },
    #[error("{}: {}", inert_line(file), one_line(message))]
    File { file: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Non-empty lines read.
    pub lines: u64,
    /// Entries the database did not hold and now does.
    pub added: u64,
    /// Entries it held already (an import of the same file again adds nothing).
    pub present: u64,
    /// Added entries whose slot had a different effective value before the import: they joined
    /// its history, and the latest entry by time is in force.
    pub conflicts: u64,
    /// The runs the file's lines belong to, in order of first appearance.
    pub runs: Vec<String>,
}

/// Every label entry of a run (history and retractions included) in (item, sample, time) order;
/// returns how many were written.
pub fn export_labels(
    store: &Store,
    run: &RunRecord,
    out: &mut dyn Write,
) -> Result<u64, LabelsError> {
    let lines = label_lines(store, run)?;
    for l in &lines {
        serde_json::to_writer(&mut *out, l)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(lines.len() as u64)
}

/// The lines [`export_labels`] writes.
pub fn label_lines(store: &Store, run: &RunRecord) -> Result<Vec<LabelLine>, StoreError> {
    let items = store.items(run.id)?;
    let episodes: HashMap<EpisodeId, String> =
        store.episodes(run.id)?.into_iter().map(|e| (e.id, e.item_id.0)).collect();
    let mut entries = store.labels_of_run(run.id)?;
    // A total order that does not depend on the order entries were stored in, so two merged
    // databases write the same file.
    entries.sort_by(|(a, x), (b, y)| {
        (a.item, a.sample, x.stamp(), x.turn, &x.name, &x.annotator, x.retracted, &x.value).cmp(&(
            b.item,
            b.sample,
            y.stamp(),
            y.turn,
            &y.name,
            &y.annotator,
            y.retracted,
            &y.value,
        ))
    });
    Ok(entries
        .into_iter()
        .map(|(id, label)| LabelLine {
            run: run.name.clone(),
            item_id: items
                .get(id.item as usize)
                .map(|i| i.id.0.clone())
                .or_else(|| episodes.get(&id).cloned())
                .unwrap_or_else(|| id.item.to_string()),
            sample: id.sample,
            label,
        })
        .collect())
}

/// One line of an input file, parsed: where its entries go, and the entries.
struct Entry {
    line: usize,
    run: String,
    item_id: String,
    sample: u32,
    labels: Vec<Label>,
}

/// A run as the import resolves lines against it.
struct Target {
    /// Item id → index (the first item with that id).
    items: HashMap<String, u32>,
    episodes: HashSet<EpisodeId>,
    record: RunRecord,
}

/// Merges the label entries of `text` (a label file, or a critloop transcript export whose
/// lines carry a `labels` array) into `store`. Every line is parsed and resolved before anything
/// is written: a bad line names `FILE:LINE` and the field, and leaves the database as it was.
/// Importing the same file twice adds nothing the second time.
pub fn import_labels(
    store: &Store,
    text: &str,
    file_name: &str,
) -> Result<ImportSummary, LabelsError> {
    let mut summary = ImportSummary::default();
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        entries.push(parse_line(file_name, i + 1, raw)?);
    }

    // Resolve every line before writing anything.
    let mut targets: HashMap<String, Target> = HashMap::new();
    let mut incoming: BTreeMap<EpisodeId, Vec<Label>> = BTreeMap::new();
    for e in entries {
        let err = |message: String| LabelsError::Line {
            file: file_name.to_string(),
            line: e.line,
            message,
        };
        if !targets.contains_key(&e.run) {
            let Some(record) = store.run_by_name(&e.run)? else {
                return Err(err(format!("run `{}` is not in this database", e.run)));
            };
            let mut items = HashMap::new();
            for (idx, item) in store.items(record.id)?.into_iter().enumerate() {
                items.entry(item.id.0).or_insert(idx as u32);
            }
            let episodes = store.episodes(record.id)?.into_iter().map(|ep| ep.id).collect();
            targets.insert(e.run.clone(), Target { items, episodes, record });
            summary.runs.push(e.run.clone());
        }
        let t = &targets[&e.run];
        let id = t
            .items
            .get(&e.item_id)
            .map(|&item| EpisodeId { run: t.record.id, item, sample: e.sample })
            .filter(|id| t.episodes.contains(id))
            .ok_or_else(|| {
                err(format!("item `{}` sample {} is not in run `{}`", e.item_id, e.sample, e.run))
            })?;
        incoming.entry(id).or_default().extend(e.labels);
    }

    for (id, labels) in incoming {
        let before: Vec<Label> = store.labels(id)?.into_iter().map(|(_, l)| l).collect();
        let in_force: HashMap<(Option<u32>, String, String), Option<String>> = slots(&before)
            .into_iter()
            .map(|s| {
                let key = (s.slot.turn, s.slot.name.to_string(), s.slot.annotator.to_string());
                (key, s.value().map(str::to_string))
            })
            .collect();
        let mut held: HashSet<&Label> = before.iter().collect();
        let mut fresh: Vec<Label> = Vec::new();
        for l in &labels {
            if !held.insert(l) {
                summary.present += 1;
                continue;
            }
            let key = (l.turn, l.name.clone(), l.annotator.clone());
            let value = (!l.retracted).then(|| l.value.clone());
            if in_force.get(&key).is_some_and(|now| *now != value) {
                summary.conflicts += 1;
            }
            fresh.push(l.clone());
        }
        let added = store.merge_labels(id, &fresh)? as u64;
        summary.added += added;
        // Entries `merge_labels` found already held (it compares exactly, as above).
        summary.present += fresh.len() as u64 - added;
    }
    store.flush()?;
    Ok(summary)
}

fn parse_line(file: &str, line: usize, text: &str) -> Result<Entry, LabelsError> {
    let err = |message: String| LabelsError::Line { file: file.to_string(), line, message };
    let value: Value = serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(err("expected a JSON object".into()));
    };
    let run = match obj.get("run") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(err("field `run`: empty".into())),
        Some(_) => return Err(err("field `run`: expected a string".into())),
        None => return Err(err("field `run`: missing".into())),
    };
    let item_id = match obj.get("item_id") {
        Some(Value::String(s)) => s.clone(),
        // Numbers are common as ids; accept them as text (as transcripts do).
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(err("field `item_id`: expected a string".into())),
        None => return Err(err("field `item_id`: missing".into())),
    };
    let sample = match obj.get("sample") {
        None => 0,
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| err(format!("field `sample`: {n} is out of range")))?,
        Some(_) => return Err(err("field `sample`: expected an integer".into())),
    };
    let transcript =
        !obj.contains_key("name") && (obj.contains_key("labels") || obj.contains_key("turns"));
    let labels = if transcript {
        #[derive(Deserialize)]
        struct Labels {
            #[serde(default)]
            labels: Vec<Label>,
        }
        if let Some(Value::Array(list)) = obj.get("labels") {
            for (i, l) in list.iter().enumerate() {
                if let Value::Object(o) = l {
                    required(o, &format!("labels[{i}]."), &err)?;
                }
            }
        }
        let parsed: Labels = serde_path_to_error::deserialize(Value::Object(obj))
            .map_err(|e| err(format!("field `{}`: {}", e.path(), e.inner())))?;
        parsed.labels
    } else {
        required(&obj, "", &err)?;
        let label: Label = serde_path_to_error::deserialize(Value::Object(obj))
            .map_err(|e| err(format!("field `{}`: {}", e.path(), e.inner())))?;
        vec![label]
    };
    for (i, l) in labels.iter().enumerate() {
        let at = if transcript { format!("labels[{i}].") } else { String::new() };
        if l.annotator.trim().is_empty() {
            return Err(err(format!("field `{at}annotator`: empty")));
        }
        if l.name.trim().is_empty() {
            return Err(err(format!("field `{at}name`: empty")));
        }
        if l.value.is_empty() && !l.retracted {
            return Err(err(format!(
                "field `{at}value`: empty (a retraction says \"retracted\": true)"
            )));
        }
    }
    Ok(Entry { line, run, item_id, sample, labels })
}

/// The fields a label entry cannot do without, named when missing.
fn required(
    obj: &Map<String, Value>,
    at: &str,
    err: &dyn Fn(String) -> LabelsError,
) -> Result<(), LabelsError> {
    for field in ["annotator", "name"] {
        if !obj.contains_key(field) {
            return Err(err(format!("field `{at}{field}`: missing")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back_as_written() {
        let line = LabelLine {
            run: "r1".into(),
            item_id: "17".into(),
            sample: 0,
            label: Label {
                annotator: "ana".into(),
                turn: Some(1),
                name: "error_found".into(),
                value: "yes".into(),
                time: 1_700_000_000,
                millis: 12,
                retracted: false,
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"run":"r1","item_id":"17","sample":0,"annotator":"ana","turn":1,"name":"error_found","value":"yes","time":1700000000,"millis":12}"#
        );
        let e = parse_line("f", 1, &text).ok().unwrap();
        assert_eq!((e.run.as_str(), e.item_id.as_str(), e.sample), ("r1", "17", 0));
        assert_eq!(e.labels, vec![line.label]);
    }

    #[test]
    fn bad_lines_name_the_field() {
        let msg = |t: &str| parse_line("labels.jsonl", 3, t).err().unwrap().to_string();
        assert_eq!(
            msg(
                r#"{"run":"r1","item_id":"1","sample":"x","annotator":"a","name":"n","value":"v"}"#
            ),
            "labels.jsonl:3: field `sample`: expected an integer"
        );
        assert!(msg(r#"{"item_id":"1"}"#).contains("field `run`: missing"));
        assert!(msg(r#"{"run":"r1","item_id":"1","name":"n"}"#).contains("`annotator`: missing"));
        assert!(
            msg(r#"{"run":"r1","item_id":"1","annotator":"a","name":"n","value":"v","time":"x"}"#)
                .contains("field `time`")
        );
        assert!(
            msg(r#"{"run":"r1","item_id":"1","turns":[],"labels":[{"annotator":"a"}]}"#)
                .contains("field `labels[0].name`: missing")
        );
        assert!(msg("[1]").contains("expected a JSON object"));
        assert!(msg(r#"{"run":"r1","item_id":"1","annotator":"a","name":"n"}"#).contains("empty"));
    }

    #[test]
    fn a_transcript_line_brings_its_labels() {
        let e = parse_line(
            "t.jsonl",
            1,
            r#"{"run":"r1","item_id":7,"sample":1,"question":"q","reference":"1","turns":[],
               "labels":[{"annotator":"ana","turn":1,"name":"tone","value":"hedging","time":5}]}"#
                .replace('\n', "")
                .as_str(),
        )
        .ok()
        .unwrap();
        assert_eq!((e.item_id.as_str(), e.sample, e.labels.len()), ("7", 1, 1));
    }
}
