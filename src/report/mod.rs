//! Paper-ready reports (Markdown in the layouts of the RealCritic, CriticBench and "Confidence
//! v.s. Critique" papers, a LaTeX table, SVG figures) and their verification: every file is a
//! pure function of the database and the options in the manifest, so `verify` rebuilds them and
//! points at the first number that differs.

mod build;
mod figures;
mod latex;
mod markdown;
pub mod plots;
mod verify;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::metrics::{AnalysisOptions, BootstrapOptions};
use crate::store::StoreError;

pub use build::build;
pub use verify::{Verification, verify};

/// The recipe of a report, written beside it.
pub const MANIFEST: &str = "report.json";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a critloop report manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("plotting failed: {0}")]
    Plot(String),
    #[error("no runs given")]
    NoRuns,
}

/// What a report was built from; `verify` rebuilds from this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// critloop version that wrote the report.
    pub critloop: String,
    pub runs: Vec<String>,
    pub resamples: u32,
    pub seed: u64,
    pub level: f64,
    pub bins: usize,
    /// Every generated file, relative to the report directory.
    pub files: Vec<String>,
}

impl Manifest {
    pub fn options(&self) -> AnalysisOptions {
        AnalysisOptions {
            bootstrap: BootstrapOptions {
                resamples: self.resamples,
                seed: self.seed,
                level: self.level,
            },
            bins: self.bins,
        }
    }
}

/// One generated file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFile {
    pub name: String,
    pub content: String,
}

/// Writes the report into `dir` (created if needed); returns the paths written.
pub fn write(
    dir: &Path,
    manifest: &Manifest,
    files: &[ReportFile],
) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for f in files {
        let p = dir.join(&f.name);
        std::fs::write(&p, &f.content).map_err(io(&p))?;
        written.push(p);
    }
    let p = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|e| ReportError::Manifest { path: p.clone(), message: e.to_string() })?;
    std::fs::write(&p, text + "\n").map_err(io(&p))?;
    written.push(p);
    Ok(written)
}

#[cfg(test)]
mod tests;
