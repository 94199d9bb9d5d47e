//! The metrics JSON of a run (DESIGN §5): the formulas' summary plus run identity, grader
//! agreement and provenance, from a run's data (the analysis layer reads it from the store).

use std::collections::BTreeMap;

use serde::Serialize;

use super::agreement::AgreementOptions;
use super::bootstrap::BootstrapOptions;
use super::calibration::WhatIf;
use super::human::{HumanStats, LabelledEpisode};
use super::stats::Calibration;
use super::{EpisodeObs, ItemAgg, Summary, summarize};
use crate::domain::RunRecord;

/// Agreement of critloop's grade of given solutions with the dataset's own labels.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GraderAgreement {
    pub agree: u64,
    pub disagree: u64,
    /// Item ids where the two disagree.
    pub disagreements: Vec<String>,
}

/// Tokens, latency and cost summed over the run's turns.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default)]
pub struct UsageSummary {
    /// Model turns (imported solutions excluded).
    pub turns: u64,
    /// Turns answered from the response cache.
    pub cached: u64,
    /// Replies cut off at `max_tokens` (`finish_reason = length`): their answer may be missing.
    pub truncated: u64,
    /// Summed over the turns that report usage; `null` when none does (e.g. streams).
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// Median latency of the turns that report one, in milliseconds.
    pub latency_ms_median: Option<f64>,
    pub latency_ms_mean: Option<f64>,
    /// From the profile's prices; `null` when none are configured.
    pub cost: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Provenance {
    pub version: String,
    pub dataset: String,
    pub dataset_hash: String,
    pub protocol: String,
    pub provider: String,
    pub simulated: bool,
    pub models: BTreeMap<String, String>,
    pub prompts_hash: String,
    pub seed: u64,
    /// How the intervals were drawn (resampling unit: item).
    pub bootstrap: BootstrapOptions,
    /// Equal-count bins of the calibration tables.
    pub calibration_bins: usize,
}

/// Choices of the statistical analysis; recorded in the provenance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisOptions {
    pub bootstrap: BootstrapOptions,
    pub bins: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions { bootstrap: BootstrapOptions::default(), bins: 10 }
    }
}

impl AnalysisOptions {
    /// Point estimates only: what live screens use to stay fast.
    pub fn quick() -> Self {
        AnalysisOptions {
            bootstrap: BootstrapOptions { resamples: 0, ..Default::default() },
            bins: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MetricsReport {
    pub run: String,
    #[serde(flatten)]
    pub summary: Summary,
    /// RealCritic closed-loop correction accuracy (= acc_t2), for critic-correct runs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_acc: Option<Option<f64>>,
    /// Percentile bootstrap intervals per rate (see `provenance.bootstrap`).
    pub ci: BTreeMap<String, [f64; 2]>,
    /// Per confidence source: ECE, Brier, AUROC and reliability bins.
    pub calibration: BTreeMap<String, Calibration>,
    /// Accuracy and cost if revisions were attempted only below a confidence threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<WhatIf>,
    pub human: HumanStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grader: Option<GraderAgreement>,
    /// How many attempt grades came from human `grade_override` labels.
    pub overrides_used: u64,
    pub usage: UsageSummary,
    pub provenance: Provenance,
}

/// The prompts hash of a run: recorded at import when the prompts themselves are unknown.
pub fn run_prompts_hash(run: &RunRecord) -> String {
    match run.meta.get("prompts_hash").and_then(|v| v.as_str()) {
        Some(h) => h.to_string(),
        None => crate::protocol::prompts_hash(&run.protocol.prompts),
    }
}

pub fn provenance(run: &RunRecord, opts: &AnalysisOptions) -> Provenance {
    // An imported run keeps the provider that made its turns.
    let origin = run.meta.get("provider").and_then(|v| v.as_str()).unwrap_or(run.provider.name());
    let mut models = BTreeMap::new();
    models.insert("generator".to_string(), run.model.clone());
    models.insert("critic".to_string(), run.critic_model.clone());
    Provenance {
        version: run.version.clone(),
        dataset: run.dataset.clone(),
        dataset_hash: run.dataset_hash.clone(),
        protocol: run.protocol.name.clone(),
        provider: origin.to_string(),
        simulated: origin == "sim",
        models,
        prompts_hash: run_prompts_hash(run),
        seed: run.sampling.seed,
        bootstrap: opts.bootstrap,
        calibration_bins: opts.bins,
    }
}

/// Everything the metrics of a run are computed from.
pub struct RunData {
    pub obs: Vec<EpisodeObs>,
    /// Overrides that replaced an automatic grade.
    pub overrides_used: u64,
    pub grader: Option<GraderAgreement>,
    pub usage: UsageSummary,
    /// Episodes with labels, for the human statistics.
    pub labelled: Vec<LabelledEpisode>,
}

/// The agreement statistics draw their intervals like every other rate.
pub fn agreement_options(b: &BootstrapOptions) -> AgreementOptions {
    AgreementOptions { resamples: b.resamples, seed: b.seed, level: b.level }
}

/// Builds the report from a run's data.
pub fn report_of(run: &RunRecord, data: &RunData, opts: &AnalysisOptions) -> MetricsReport {
    let (agg, item_of) = super::aggregate::aggregate_indexed(&data.obs);
    let items: Vec<&ItemAgg> = agg.items.iter().collect();
    let summary = summarize(agg.episodes, agg.failed, &items);
    let live: Vec<&EpisodeObs> = data.obs.iter().filter(|e| !e.failed).collect();
    // Gathered once for the calibration, its intervals and the what-if curve.
    let preds = super::calibration::Predictions::new(&live, &item_of);
    let calibration = (opts.bootstrap.resamples > 0)
        .then(|| super::calibration::Resampler::new(&preds, opts.bins));
    let mut ci =
        super::bootstrap::intervals_with(&agg.items, calibration.as_ref(), &opts.bootstrap);
    let critic_correct = run.protocol.kind == crate::domain::ProtocolKind::CriticCorrect;
    if critic_correct && let Some(v) = ci.get("acc_t2").copied() {
        ci.insert("correction_acc".into(), v);
    }
    MetricsReport {
        run: run.name.clone(),
        correction_acc: critic_correct.then_some(summary.acc_t2),
        summary,
        ci,
        calibration: super::calibration::compute_from(&preds, opts.bins),
        what_if: super::calibration::what_if_from(&live, &item_of),
        human: super::human::compute(&data.labelled, &agreement_options(&opts.bootstrap)),
        grader: data.grader.clone(),
        overrides_used: data.overrides_used,
        usage: data.usage.clone(),
        provenance: provenance(run, opts),
    }
}
