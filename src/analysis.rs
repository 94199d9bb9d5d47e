//! The service layer between the store and the pure metrics: reads a stored run's records,
//! turns them into observations, and hands them to `metrics` (which does no I/O).

use std::collections::HashMap;

use crate::domain::{EpisodeId, Role, RunRecord, Verdict};
use crate::metrics::{
    self, AnalysisOptions, BootstrapOptions, EpisodeObs, GraderAgreement, LabelledEpisode,
    MetricsReport, RunData, UsageSummary, report_of,
};
use crate::protocol::attempt_indices;
use crate::store::{Store, StoreError};

/// Reads a run's records and turns them into observations.
pub fn run_data(store: &Store, run: &RunRecord) -> Result<RunData, StoreError> {
    let items = store.items(run.id)?;
    let episodes = store.episodes(run.id)?;
    // Metrics never read turn text: the turns come without it.
    let mut turns: HashMap<EpisodeId, Vec<_>> =
        store.turn_facts_of_run(run.id)?.into_iter().collect();
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
        let shared = usize::from(run.arm_of().is_some());
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
        let ov = metrics::overrides(ep_labels);
        let o = metrics::observe(run.protocol.kind, ep, &ep_turns, &ov, &mut used);
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
        cell: metrics::scored_pair(o),
        auto,
        critiques,
    }
}

/// Run B against run A (differences are b − a), read from the store, with the McNemar pairing
/// of [`pairing_for`](metrics::pairing_for).
pub fn compare_runs(
    store: &Store,
    a: &RunRecord,
    b: &RunRecord,
    opts: &BootstrapOptions,
) -> Result<metrics::Comparison, StoreError> {
    let (da, db) = (run_data(store, a)?, run_data(store, b)?);
    let pairing = metrics::pairing_for(a, &da.obs, b, &db.obs);
    Ok(metrics::compare_with(&a.name, &da.obs, &b.name, &db.obs, opts, pairing))
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
