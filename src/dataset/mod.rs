//! Dataset loading: GSM8K, MATH, RealCritic, CriticBench, the native critloop format and a
//! generic JSONL/CSV mapping, with auto-detection, line-precise errors and bundled datasets.

mod bundled;
mod detect;
mod error;
mod formats;
pub mod synth;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::Item;
use formats::{Ctx, Record};

pub use bundled::{Bundled, DEFAULT_DATASET, bundled};
pub use detect::{detect_object, detect_text};
pub use error::DatasetError;
pub use formats::{FieldMap, infer_kind, is_plain_number};

/// A dataset file format (the CLI's `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Decide from the first record (see [`detect_object`]).
    #[default]
    Auto,
    Gsm8k,
    Math,
    RealCritic,
    CriticBench,
    Critloop,
    Generic,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Auto,
        Format::Gsm8k,
        Format::Math,
        Format::RealCritic,
        Format::CriticBench,
        Format::Critloop,
        Format::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Gsm8k => "gsm8k",
            Format::Math => "math",
            Format::RealCritic => "realcritic",
            Format::CriticBench => "criticbench",
            Format::Critloop => "critloop",
            Format::Generic => "generic",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.as_str() == wanted).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown format `{s}` (expected one of: {})", names.join(", "))
        })
    }
}

/// How to load. `Default` = auto-detect, stop at the first bad line, default field map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    pub format: Format,
    /// Collect bad lines in [`Loaded::skipped`] instead of failing on the first one.
    pub skip_bad: bool,
    /// Column mapping for the generic format; given with `Format::Auto` it selects generic.
    pub map: Option<FieldMap>,
}

/// A loaded dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub items: Vec<Item>,
    /// The format actually used (never `Auto`).
    pub format: Format,
    /// Bad lines passed over with `skip_bad` (always `DatasetError::Line`).
    pub skipped: Vec<DatasetError>,
    /// What the loader chose for the user (columns by their usual names, ids from line
    /// numbers), to be said once.
    pub notes: Vec<String>,
}

/// Load a JSONL file, or a CSV file when the extension is `.csv`.
pub fn load_path(path: &Path, opts: &LoadOptions) -> Result<Loaded, DatasetError> {
    let label = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| DatasetError::Io { file: label.clone(), message: e.to_string() })?;
    // Say where the text stops being UTF-8, as for any other bad line.
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, column) = crate::domain::text::utf8_problem(e.as_bytes()).unwrap_or((1, 1));
        error::FieldError::record(format!("not UTF-8 text (invalid byte at column {column})"))
            .at(&label, line)
    })?;
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    load_str(&label, &text, is_csv, opts)
}

/// Load from text; `file_label` names the file in errors and its stem becomes `Item::source`.
pub fn load_str(
    file_label: &str,
    text: &str,
    is_csv: bool,
    opts: &LoadOptions,
) -> Result<Loaded, DatasetError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows = if is_csv { csv_rows(file_label, text)? } else { jsonl_rows(text) };
    if rows.is_empty() {
        return Err(DatasetError::Empty { file: file_label.to_string() });
    }
    let format = match opts.format {
        Format::Auto if opts.map.is_some() => Format::Generic,
        // CSV cells are text: only the formats that read text alone are recognised.
        Format::Auto if is_csv => match &rows[0].1 {
            Ok(obj) => detect::detect_csv(obj),
            Err(_) => Format::Generic,
        },
        Format::Auto => match &rows[0].1 {
            Ok(obj) => detect_object(obj),
            Err(_) => Format::Generic,
        },
        f => f,
    };
    let notes = match (&rows[0].1, format) {
        (Ok(obj), Format::Generic) => generic_notes(obj, opts.map.as_ref()),
        _ => Vec::new(),
    };
    let source = Path::new(file_label)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file_label.to_string());
    let default_map = FieldMap::default();
    let map = opts.map.as_ref().unwrap_or(&default_map);

    let mut items = Vec::new();
    let mut skipped = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (line, row) in rows {
        let ctx = Ctx { line, source: &source };
        let parsed = row.and_then(|obj| parse_record(format, Record::new(obj), &ctx, map));
        let checked = parsed.and_then(|item| match first_line.get(&item.id.0) {
            Some(first) => Err(error::FieldError::field(
                "id",
                format!("duplicate id `{}` (first used on line {first})", item.id),
            )),
            None => Ok(item),
        });
        match checked {
            Ok(item) => {
                first_line.insert(item.id.0.clone(), line);
                items.push(item);
            }
            Err(e) if opts.skip_bad => skipped.push(e.at(file_label, line)),
            Err(e) => return Err(e.at(file_label, line)),
        }
    }
    if items.is_empty() {
        // Every line was bad: an empty dataset is useless, so report the first problem.
        let first = skipped.into_iter().next();
        return Err(first.unwrap_or(DatasetError::Empty { file: file_label.to_string() }));
    }
    Ok(Loaded { items, format, skipped, notes })
}

/// What the generic loader will take from a file whose first record is `obj`, when that is
/// not what `--map` said or the standard names.
fn generic_notes(obj: &Map<String, Value>, map: Option<&FieldMap>) -> Vec<String> {
    let usual = formats::Usual::of(obj);
    let mut notes = Vec::new();
    let mut took = Vec::new();
    let mapped = |f: fn(&FieldMap) -> &Option<String>| map.is_some_and(|m| f(m).is_some());
    if !mapped(|m| &m.question)
        && let Some(q) = usual.question.filter(|q| *q != "question")
    {
        took.push(format!("question ← `{q}`"));
    }
    if !mapped(|m| &m.reference)
        && let Some(r) = usual.reference.filter(|r| *r != "answer")
    {
        took.push(format!("reference ← `{r}`"));
    }
    if !mapped(|m| &m.id)
        && let Some(i) = usual.id.filter(|i| *i != "id")
    {
        took.push(format!("id ← `{i}`"));
    }
    if !took.is_empty() {
        notes.push(format!("columns by their usual names: {} (--map to choose)", took.join(", ")));
    }
    if !mapped(|m| &m.id) && usual.id.is_none() {
        notes.push(format!(
            "no id column ({}): items are numbered by their line",
            formats::USUAL_IDS.join(", ")
        ));
    }
    notes
}

fn parse_record(
    format: Format,
    rec: Record,
    ctx: &Ctx<'_>,
    map: &FieldMap,
) -> Result<Item, error::FieldError> {
    match format {
        Format::Gsm8k => formats::gsm8k(rec, ctx),
        Format::Math => formats::math(rec, ctx),
        Format::RealCritic => formats::realcritic(rec, ctx),
        Format::CriticBench => formats::criticbench(rec, ctx),
        Format::Critloop => formats::critloop(rec, ctx),
        Format::Generic | Format::Auto => formats::generic(rec, ctx, map),
    }
}

type Row = (usize, Result<Map<String, Value>, error::FieldError>);

/// Non-blank JSONL lines with their 1-based line numbers.
fn jsonl_rows(text: &str) -> Vec<Row> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let parsed = match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(obj)) => Ok(obj),
                Ok(other) => Err(formats::not_an_object(&other)),
                Err(e) => Err(error::FieldError::record(json_error(&e))),
            };
            (i + 1, parsed)
        })
        .collect()
}

/// serde_json's message without its "at line 1" (each line is parsed alone).
fn json_error(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(msg) => format!("invalid JSON: {msg} at column {}", e.column()),
        None => format!("invalid JSON: {full}"),
    }
}

/// CSV records as objects of strings; the header is line 1.
fn csv_rows(file: &str, text: &str) -> Result<Vec<Row>, DatasetError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| error::FieldError::record(format!("invalid CSV header: {e}")).at(file, 1))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect::<Vec<_>>();
    let mut rows = Vec::new();
    let mut last_line = 1;
    for record in reader.records() {
        let row = match record {
            Ok(rec) => {
                let line = rec
                    .position()
                    .map_or(last_line + 1, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                last_line = line;
                if rec.len() != headers.len() {
                    let msg = format!(
                        "expected {} fields (as in the header), found {}",
                        headers.len(),
                        rec.len()
                    );
                    (line, Err(error::FieldError::record(msg)))
                } else {
                    let obj = headers
                        .iter()
                        .zip(rec.iter())
                        .map(|(h, v)| (h.clone(), Value::String(v.to_string())));
                    (line, Ok(obj.collect()))
                }
            }
            Err(e) => {
                let line = e
                    .position()
                    .map_or(last_line + 1, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                last_line = line;
                (line, Err(error::FieldError::record(format!("invalid CSV: {e}"))))
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

/// A bundled dataset name ("arith", "choice") or a path to a JSONL/CSV file.
pub fn resolve(name_or_path: &str, opts: &LoadOptions) -> Result<Loaded, DatasetError> {
    if let Some(b) = bundled().iter().find(|b| b.name == name_or_path) {
        return load_str(b.file, b.text, false, opts);
    }
    let path = Path::new(name_or_path);
    // A bare word that is no file was most likely meant as a bundled name.
    let looks_like_name = !name_or_path.contains(['/', '\\', '.']);
    if looks_like_name && !path.exists() {
        let known: Vec<&str> = bundled().iter().map(|b| b.name).collect();
        return Err(DatasetError::UnknownDataset {
            name: name_or_path.to_string(),
            known: known.join(", "),
        });
    }
    load_path(path, opts)
}

/// Stable content hash of an item list: sha256 of its JSON with object keys sorted,
/// as 16 hex characters. Independent of `meta` key order.
pub fn items_hash(items: &[Item]) -> String {
    // Serialising plain data cannot fail; Null keeps the function total anyway.
    let value = serde_json::to_value(items).unwrap_or(Value::Null);
    let canonical = canonicalize(value).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn canonicalize(v: Value) -> Value {
    match v {
        Value::Object(obj) => {
            let mut entries: Vec<(String, Value)> = obj.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, canonicalize(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonicalize).collect()),
        other => other,
    }
}
