//! Checking a written report: rebuilt from the database with the options of its manifest and
//! compared file by file, naming the first number that differs.

use std::path::Path;

use crate::store::Store;

use super::{MANIFEST, Manifest, ReportError, build};

/// The outcome of `verify`: one entry per file that does not match.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub manifest: Manifest,
    pub checked: usize,
    pub mismatches: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Rebuilds the report in `dir` from the database and compares it file by file.
pub fn verify(store: &Store, dir: &Path) -> Result<Verification, ReportError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .map_err(|source| ReportError::Io { path: path.clone(), source })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| ReportError::Manifest { path: path.clone(), message: e.to_string() })?;
    let runs =
        manifest.runs.iter().map(|name| store.require_run(name)).collect::<Result<Vec<_>, _>>()?;
    let (_, rebuilt) = build(store, &runs, &manifest.options())?;
    let mut mismatches = Vec::new();
    for name in &manifest.files {
        let Some(expected) = rebuilt.iter().find(|f| &f.name == name) else {
            mismatches.push(format!("{name}: this version of critloop does not produce it"));
            continue;
        };
        match std::fs::read_to_string(dir.join(name)) {
            Ok(actual) => {
                // The version line names the critloop that wrote the report, not data.
                let mut expected = expected.content.clone();
                for end in [".", ";"] {
                    expected = expected.replace(
                        &format!("critloop {}{end}", env!("CARGO_PKG_VERSION")),
                        &format!("critloop {}{end}", manifest.critloop),
                    );
                }
                if let Some(m) = first_difference(name, &actual, &expected) {
                    mismatches.push(m);
                }
            }
            Err(e) => mismatches.push(format!("{name}: cannot read it: {e}")),
        }
    }
    if manifest.critloop != env!("CARGO_PKG_VERSION") && !mismatches.is_empty() {
        mismatches.push(format!(
            "note: the report was written by critloop {}, this is {}",
            manifest.critloop,
            env!("CARGO_PKG_VERSION")
        ));
    }
    Ok(Verification { checked: manifest.files.len(), manifest, mismatches })
}

/// Numbers in a line, in order (digits with an optional sign and decimal part).
pub(super) fn numbers(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start =
                if i > 0 && (bytes[i - 1] == b'-' || bytes[i - 1] == b'+') { i - 1 } else { i };
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            out.push(line.get(start..i).unwrap_or_default().trim_end_matches('.'));
        } else {
            i += 1;
        }
    }
    out
}

/// Where `actual` (on disk) departs from `expected` (rebuilt), naming the number if one differs.
pub(super) fn first_difference(file: &str, actual: &str, expected: &str) -> Option<String> {
    if actual == expected {
        return None;
    }
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    for (i, (la, le)) in a.iter().zip(&e).enumerate() {
        if la == le {
            continue;
        }
        let (na, ne) = (numbers(la), numbers(le));
        if let Some((x, y)) = na.iter().zip(&ne).find(|(x, y)| x != y) {
            return Some(format!("{file}:{}: the report says {x}, the database gives {y}", i + 1));
        }
        return Some(format!("{file}:{}: the line differs from the rebuilt one: {le}", i + 1));
    }
    Some(format!("{file}: {} lines in the report, {} rebuilt from the database", a.len(), e.len()))
}
