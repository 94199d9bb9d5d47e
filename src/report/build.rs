//! Collecting a report: every run read once, its metrics and its control arms' effects, then
//! every file rendered from them.

use crate::domain::RunRecord;
use crate::metrics::{
    AnalysisOptions, Comparison, MetricsReport, Pairing, RunData, compare_with, report_of,
};
use crate::store::Store;

use super::{Manifest, ReportError, ReportFile, figures, latex, markdown};

/// Builds every file of the report of `runs` (in the given order).
pub fn build(
    store: &Store,
    runs: &[RunRecord],
    opts: &AnalysisOptions,
) -> Result<(Manifest, Vec<ReportFile>), ReportError> {
    if runs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    // Each run is read once: its metrics and, for control arms, the paired comparison.
    let data: Vec<RunData> =
        runs.iter().map(|r| crate::analysis::run_data(store, r)).collect::<Result<_, _>>()?;
    let reports: Vec<(RunRecord, MetricsReport)> =
        runs.iter().zip(&data).map(|(r, d)| (r.clone(), report_of(r, d, opts))).collect();
    let effects = arm_effects(runs, &data, opts);
    let mut files = vec![
        ReportFile {
            name: "report.md".into(),
            content: markdown::markdown(&reports, &effects, opts),
        },
        ReportFile { name: "table.tex".into(), content: latex::latex(&reports, opts) },
        ReportFile {
            name: "metrics.json".into(),
            content: serde_json::to_string_pretty(
                &reports.iter().map(|(_, m)| m).collect::<Vec<_>>(),
            )
            .map_err(|e| ReportError::Plot(e.to_string()))?
                + "\n",
        },
    ];
    files.extend(figures::figures(&reports)?);
    let manifest = Manifest {
        critloop: env!("CARGO_PKG_VERSION").to_string(),
        runs: runs.iter().map(|r| r.name.clone()).collect(),
        resamples: opts.bootstrap.resamples,
        seed: opts.bootstrap.seed,
        level: opts.bootstrap.level,
        bins: opts.bins,
        files: files.iter().map(|f| f.name.clone()).collect(),
    };
    Ok((manifest, files))
}

/// A control arm in the report next to its source run: the critique's effect is source − arm.
pub(super) struct ArmEffect {
    pub arm: String,
    pub kind: String,
    pub source: String,
    pub cmp: Comparison,
}

fn arm_effects(runs: &[RunRecord], data: &[RunData], opts: &AnalysisOptions) -> Vec<ArmEffect> {
    let mut out = Vec::new();
    for (arm, a) in runs.iter().zip(data) {
        let crate::domain::Origin::Arm { of: source_name, arm: kind } = arm.origin() else {
            continue;
        };
        let Some((source, b)) = runs.iter().zip(data).find(|(r, _)| r.name == source_name) else {
            continue;
        };
        out.push(ArmEffect {
            arm: arm.name.clone(),
            kind,
            source: source.name.clone(),
            cmp: compare_with(
                &arm.name,
                &a.obs,
                &source.name,
                &b.obs,
                &opts.bootstrap,
                Pairing::Episode,
            ),
        });
    }
    out
}
