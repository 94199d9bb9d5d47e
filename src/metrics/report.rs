//! The metrics JSON of a stored run (DESIGN §5): the formulas' summary plus run identity,
//! grader agreement and provenance.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::agreement::AgreementOptions;
use super::bootstrap::{BootstrapOptions, intervals};
use super::calibration::{WhatIf, what_if};
use super::human::{HumanStats, LabelledEpisode};
use super::stats::Calibration;
use super::{EpisodeObs, ItemAgg, Summary, aggregate, observe, summarize};
use crate::domain::{EpisodeId, Role, RunRecord, Verdict};
use crate::protocol::attempt_indices;
use crate::store::{Store, StoreError};

/// Agreement of critloop's grade of given solutions with the dataset's own labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraderAgreement {
    pub agree: u64,
    pub disagree: u64,
    /// Item ids where the two disagree.
    pub disagreements: Vec<String>,
}

/// Tokens, latency and cost summed over the run's turns.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Reads a run's records and turns them into observations.
pub fn run_data(store: &Store, run: &RunRecord) -> Result<RunData, StoreError> {
    let items = store.items(run.id)?;
    let episodes = store.episodes(run.id)?;
    let mut turns: HashMap<EpisodeId, Vec<_>> = store.turns_of_run(run.id)?.into_iter().collect();
    let labels = store.labels_by_episode(run.id)?;
    let mut used = 0;
    let mut obs = Vec::with_capacity(episodes.len());
    let mut grader = GraderAgreement { agree: 0, disagree: 0, disagreements: Vec::new() };
    let mut any_label = false;
    let mut usage = UsageSummary::default();
    let mut latencies = Vec::new();
    let mut labelled = Vec::new();
    for ep in &episodes {
        let ep_turns = turns.remove(&ep.id).unwrap_or_default();
        // A control arm's first attempt is a copy of its source's: it cost nothing here.
        let shared = usize::from(run.meta.contains_key(crate::runner::ARM_OF));
        for t in ep_turns.iter().skip(shared).filter(|t| t.role != Role::Given) {
            usage.turns += 1;
            usage.cached += u64::from(t.meta.contains_key("cached"));
            usage.truncated += u64::from(t.finish_reason.as_deref() == Some("length"));
            if let Some(n) = t.prompt_tokens {
                *usage.prompt_tokens.get_or_insert(0) += u64::from(n);
            }
            if let Some(n) = t.completion_tokens {
                *usage.completion_tokens.get_or_insert(0) += u64::from(n);
            }
            latencies.extend(t.latency_ms);
        }
        let ep_labels = labels.get(&ep.id).map(Vec::as_slice).unwrap_or_default();
        let ov = observe::overrides(ep_labels);
        let o = observe::observe(run.protocol.kind, ep, &ep_turns, &ov, &mut used);
        // A live labelled episode hands its overrides on to the label statistics.
        if !ep_labels.is_empty() && !o.failed {
            labelled.push(labelled_episode(run, ep, &ep_turns, ep_labels, ov, &o));
        }
        obs.push(o);
        // Each item's given solution is judged once, on its first sample.
        if ep.id.sample != 0 {
            continue;
        }
        let label =
            items.get(ep.id.item as usize).and_then(|i| i.given.as_ref()).and_then(|g| g.correct);
        let graded = ep_turns.first().filter(|t| t.role == Role::Given).and_then(|t| t.correct);
        if let (Some(label), Some(graded)) = (label, graded) {
            any_label = true;
            if label == graded {
                grader.agree += 1;
            } else {
                grader.disagree += 1;
                grader.disagreements.push(ep.item_id.0.clone());
            }
        }
    }
    if !latencies.is_empty() {
        latencies.sort_unstable();
        let n = latencies.len();
        let mid = if n % 2 == 1 {
            latencies[n / 2] as f64
        } else {
            (latencies[n / 2 - 1] + latencies[n / 2]) as f64 / 2.0
        };
        usage.latency_ms_median = Some(mid);
        usage.latency_ms_mean = Some(latencies.iter().sum::<u64>() as f64 / n as f64);
    }
    if let crate::domain::ProviderSpec::OpenAi(o) = &run.provider
        && let Some(p) = o.prices
        && let (Some(prompt), Some(completion)) = (usage.prompt_tokens, usage.completion_tokens)
    {
        usage.cost = Some(
            (prompt as f64 * p.prompt_per_mtok + completion as f64 * p.completion_per_mtok) / 1e6,
        );
    }
    Ok(RunData { obs, overrides_used: used, grader: any_label.then_some(grader), usage, labelled })
}

fn labelled_episode(
    run: &RunRecord,
    ep: &crate::domain::Episode,
    turns: &[crate::domain::Turn],
    labels: &[crate::domain::Label],
    overrides: HashMap<u32, bool>,
    o: &EpisodeObs,
) -> LabelledEpisode {
    let attempts = attempt_indices(run.protocol.kind, turns);
    let idx = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    let auto = attempts
        .iter()
        .filter_map(|&i| turns.get(i).and_then(|t| t.correct).map(|c| (idx(i), c)))
        .collect();
    let mut critiques = Vec::new();
    for (i, t) in turns.iter().enumerate() {
        if t.role != Role::Critique || t.meta.contains_key(crate::protocol::SYNTHETIC) {
            continue;
        }
        if let Some(&target) = attempts.iter().rev().find(|&&a| a < i) {
            critiques.push((t.verdict.unwrap_or(Verdict::Unparsed), idx(target)));
        }
    }
    LabelledEpisode {
        name: format!("{}#{}", ep.item_id.0, ep.id.sample),
        labels: labels.to_vec(),
        overrides,
        cell: super::aggregate::scored_pair(o),
        auto,
        critiques,
    }
}

/// Run B against run A (differences are b − a), read from the store, with the McNemar pairing
/// of [`pairing_for`](super::pairing_for).
pub fn compare_runs(
    store: &Store,
    a: &RunRecord,
    b: &RunRecord,
    opts: &BootstrapOptions,
) -> Result<super::Comparison, StoreError> {
    let (da, db) = (run_data(store, a)?, run_data(store, b)?);
    let pairing = super::pairing_for(a, &da.obs, b, &db.obs);
    Ok(super::compare_with(&a.name, &da.obs, &b.name, &db.obs, opts, pairing))
}

/// The metrics report of a run with the default analysis (1000 resamples, 10 bins).
pub fn run_metrics(store: &Store, run: &RunRecord) -> Result<MetricsReport, StoreError> {
    run_metrics_with(store, run, &AnalysisOptions::default())
}

/// The metrics report of a stored run.
pub fn run_metrics_with(
    store: &Store,
    run: &RunRecord,
    opts: &AnalysisOptions,
) -> Result<MetricsReport, StoreError> {
    Ok(report_of(run, &run_data(store, run)?, opts))
}

/// Builds the report from a run's data.
/// The agreement statistics draw their intervals like every other rate.
pub fn agreement_options(b: &BootstrapOptions) -> AgreementOptions {
    AgreementOptions { resamples: b.resamples, seed: b.seed, level: b.level }
}

pub fn report_of(run: &RunRecord, data: &RunData, opts: &AnalysisOptions) -> MetricsReport {
    let agg = aggregate(&data.obs);
    let items: Vec<&ItemAgg> = agg.items.iter().collect();
    let summary = summarize(agg.episodes, agg.failed, &items);
    let mut ci = intervals(&agg.items, &opts.bootstrap);
    let critic_correct = run.protocol.kind == crate::domain::ProtocolKind::CriticCorrect;
    if critic_correct && let Some(v) = ci.get("acc_t2").copied() {
        ci.insert("correction_acc".into(), v);
    }
    let live: Vec<&EpisodeObs> = data.obs.iter().filter(|e| !e.failed).collect();
    let ids: Vec<&str> = agg.items.iter().map(|i| i.item_id.as_str()).collect();
    ci.extend(super::calibration::intervals(&live, &ids, opts.bins, &opts.bootstrap));
    MetricsReport {
        run: run.name.clone(),
        correction_acc: critic_correct.then_some(summary.acc_t2),
        summary,
        ci,
        calibration: super::calibration::compute(&live, opts.bins),
        what_if: what_if(&live),
        human: super::human::compute(&data.labelled, &agreement_options(&opts.bootstrap)),
        grader: data.grader.clone(),
        overrides_used: data.overrides_used,
        usage: data.usage.clone(),
        provenance: provenance(run, opts),
    }
}
