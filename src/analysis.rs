//! The service layer between the store and the pure metrics: reads a stored run's records,
//! turns them into observations, and hands them to `metrics` (which does no I/O).

use std::collections::HashMap;

use crate::domain::{Episode, EpisodeId, Label, Role, RunRecord, Turn, Verdict};
use crate::metrics::{
    self, AnalysisOptions, BootstrapOptions, EpisodeObs, GraderAgreement, LabelledEpisode,
    MetricsReport, RunData, UsageSummary, report_of,
};
use crate::protocol::attempt_indices;
use crate::store::{Store, StoreError};

/// Reads a run's outcome records (never its text) and turns them into observations.
pub fn run_data(store: &Store, run: &RunRecord) -> Result<RunData, StoreError> {
    let outcomes = store.outcomes_of_run(run.id)?;
    let labels = store.labels_by_episode(run.id)?;
    let mut data = Collect::new(run, outcomes.len());
    for (id, o) in &outcomes {
        let ep = o.episode(*id);
        data.add(&ep, &o.to_turns(), o.given_label, labels.get(id).map(Vec::as_slice));
    }
    Ok(data.finish())
}

/// [`run_data`] from the full records: episodes, turns less their text, and items. The
/// reference the outcome records are tested against.
pub fn run_data_reference(store: &Store, run: &RunRecord) -> Result<RunData, StoreError> {
    let items = store.items(run.id)?;
    let episodes = store.episodes(run.id)?;
    let mut turns: HashMap<EpisodeId, Vec<_>> =
        store.turn_facts_of_run(run.id)?.into_iter().collect();
    let labels = store.labels_by_episode(run.id)?;
    let mut data = Collect::new(run, episodes.len());
    for ep in &episodes {
        let ep_turns = turns.remove(&ep.id).unwrap_or_default();
        let given =
            items.get(ep.id.item as usize).and_then(|i| i.given.as_ref()).and_then(|g| g.correct);
        data.add(ep, &ep_turns, given, labels.get(&ep.id).map(Vec::as_slice));
    }
    Ok(data.finish())
}

/// A run's observations, gathered episode by episode.
struct Collect<'a> {
    run: &'a RunRecord,
    used: u64,
    obs: Vec<EpisodeObs>,
    grader: GraderAgreement,
    any_label: bool,
    usage: UsageSummary,
    latencies: Vec<u64>,
    labelled: Vec<LabelledEpisode>,
}

impl<'a> Collect<'a> {
    fn new(run: &'a RunRecord, episodes: usize) -> Self {
        Collect {
            run,
            used: 0,
            obs: Vec::with_capacity(episodes),
            grader: GraderAgreement { agree: 0, disagree: 0, disagreements: Vec::new() },
            any_label: false,
            usage: UsageSummary::default(),
            latencies: Vec::new(),
            labelled: Vec::new(),
        }
    }

    /// One episode: its turns (text not needed), its item's given-solution label and its labels.
    fn add(
        &mut self,
        ep: &Episode,
        ep_turns: &[Turn],
        given: Option<bool>,
        labels: Option<&[Label]>,
    ) {
        let run = self.run;
        let usage = &mut self.usage;
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
            self.latencies.extend(t.latency_ms);
        }
        let ep_labels = labels.unwrap_or_default();
        let ov = metrics::overrides(ep_labels);
        let o = metrics::observe(run.protocol.kind, ep, ep_turns, &ov, &mut self.used);
        // A live labelled episode hands its overrides on to the label statistics.
        if !ep_labels.is_empty() && !o.failed {
            self.labelled.push(labelled_episode(run, ep, ep_turns, ep_labels, ov, &o));
        }
        self.obs.push(o);
        // Each item's given solution is judged once, on its first sample.
        if ep.id.sample != 0 {
            return;
        }
        let graded = ep_turns.first().filter(|t| t.role == Role::Given).and_then(|t| t.correct);
        if let (Some(label), Some(graded)) = (given, graded) {
            self.any_label = true;
            if label == graded {
                self.grader.agree += 1;
            } else {
                self.grader.disagree += 1;
                self.grader.disagreements.push(ep.item_id.0.clone());
            }
        }
    }

    fn finish(self) -> RunData {
        let (run, mut usage, mut latencies) = (self.run, self.usage, self.latencies);
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
                (prompt as f64 * p.prompt_per_mtok + completion as f64 * p.completion_per_mtok)
                    / 1e6,
            );
        }
        RunData {
            obs: self.obs,
            overrides_used: self.used,
            grader: self.any_label.then_some(self.grader),
            usage,
            labelled: self.labelled,
        }
    }
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

/// The metrics report of a stored run; kept until the run is written to again (the runs table,
/// the metrics screens and repeated commands of a served database ask for the same reports).
pub fn run_metrics_with(
    store: &Store,
    run: &RunRecord,
    opts: &AnalysisOptions,
) -> Result<MetricsReport, StoreError> {
    // The record travels with the key: a caller's copy may differ from the stored one.
    let key = format!("metrics {opts:?} {}", serde_json::to_string(run).unwrap_or_default());
    store.memo(run.id, &key, || Ok(report_of(run, &run_data(store, run)?, opts)))
}
