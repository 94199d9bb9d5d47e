//! Self-correction and critique metrics over finished episodes (DESIGN: metrics contract).
//!
//! Pure functions, no I/O. Every rate is item-weighted (Yang et al., arXiv 2412.19513):
//! each item counts once whatever its number of samples, which reduces to the usual
//! pooled formulas when every item has the same number of samples. Undefined rates are
//! `None` (serialised as `null`), never 0 and never NaN.

mod aggregate;
pub mod agreement;
mod bootstrap;
mod calibration;
mod compare;
mod critique;
mod human;
mod observe;
mod report;
mod resample;
mod rounds;
pub mod stats;
mod transitions;

#[cfg(test)]
mod analysis_tests;
#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::domain::Verdict;

pub use aggregate::{Aggregate, CritCounts, ItemAgg, RoundAgg, aggregate, scored_pair};
pub use agreement::{AgreementOptions, Alpha, LabelAgreement, PairAgreement};
pub use bootstrap::{BootstrapOptions, differences, intervals, paired_intervals, scalar_rates};
pub use calibration::{WhatIf, WhatIfPoint};
pub use compare::{
    Comparison, McNemar, Pairing, RateDiff, compare, compare_with, default_pairing, pairing_for,
};
pub use critique::CritiqueStats;
pub use human::{
    HumanCritic, HumanStats, LabelledEpisode, OverrideAgreement, agreement_lines,
    compute as human_compute, confusion_lines, human_critic_line, label_agreement_lines,
};
pub use observe::{GRADE_OVERRIDE, episode_cell, observe, override_value, overrides};
pub use report::{
    AnalysisOptions, GraderAgreement, MetricsReport, Provenance, RunData, UsageSummary,
    agreement_options, provenance, report_of, run_prompts_hash,
};
pub use rounds::RoundStats;
pub use transitions::Transitions;

/// What metrics need to know about one episode.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpisodeObs {
    pub item_id: String,
    pub sample: u32,
    /// Failed episodes are counted in `failed` and excluded from everything else.
    pub failed: bool,
    /// Correctness of each attempt in order: t1 = `attempts[0]`, t2 = last; `None` = ungraded.
    pub attempts: Vec<Option<bool>>,
    /// Every critique turn in order.
    pub critiques: Vec<CritiqueObs>,
    /// The extracted answer of the first attempt (agreement among samples).
    pub first_answer: Option<String>,
    /// Tokens spent on revise turns, when the endpoint reported them (what-if costs).
    pub revise_tokens: Option<u64>,
}

/// One critique turn: the critic's verdict and the truth of the answer it judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CritiqueObs {
    pub verdict: Verdict,
    pub target_correct: Option<bool>,
    /// Made without a model call (a control arm's empty or oracle critique): not scored as a
    /// critic.
    pub synthetic: bool,
    /// Verbalised confidence in the verdict, in [0,1].
    pub confidence: Option<f64>,
    /// Logprob P(verdict "correct"), renormalised over the two verdicts, and raw.
    pub p_true: Option<f64>,
    pub p_true_raw: Option<f64>,
}

impl CritiqueObs {
    /// A model critique with no confidence information.
    pub fn new(verdict: Verdict, target_correct: Option<bool>) -> Self {
        CritiqueObs {
            verdict,
            target_correct,
            synthetic: false,
            confidence: None,
            p_true: None,
            p_true_raw: None,
        }
    }
}

/// All metrics of a set of episodes; field order is the JSON key order.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Summary {
    /// All observations, failed ones included.
    pub episodes: u64,
    /// Episodes with a graded first and last attempt (and at least two attempts).
    pub scored: u64,
    pub failed: u64,
    /// Raw pooled t1→t2 counts over scored episodes.
    pub transitions: Transitions,
    pub acc_t1: Option<f64>,
    pub acc_t2: Option<f64>,
    pub delta: Option<f64>,
    pub delta_i2c: Option<f64>,
    pub delta_c2i: Option<f64>,
    pub cl: Option<f64>,
    pub cs: Option<f64>,
    pub rss: Option<f64>,
    pub rounds: Vec<RoundStats>,
    pub critique: CritiqueStats,
}

const RATE_KEYS: &[&str] =
    &["acc_t1", "acc_t2", "delta", "delta_i2c", "delta_c2i", "cl", "cs", "rss"];

/// The scalar rates of a [`Summary`], in display order (keys accepted by [`Summary::rate`]).
pub fn rate_keys() -> &'static [&'static str] {
    RATE_KEYS
}

impl Summary {
    /// The rate named `key` (one of [`rate_keys`]); `None` when undefined or unknown.
    pub fn rate(&self, key: &str) -> Option<f64> {
        match key {
            "acc_t1" => self.acc_t1,
            "acc_t2" => self.acc_t2,
            "delta" => self.delta,
            "delta_i2c" => self.delta_i2c,
            "delta_c2i" => self.delta_c2i,
            "cl" => self.cl,
            "cs" => self.cs,
            "rss" => self.rss,
            _ => None,
        }
    }
}

/// Computes every metric of `obs`.
pub fn compute(obs: &[EpisodeObs]) -> Summary {
    let agg = aggregate(obs);
    let items: Vec<&ItemAgg> = agg.items.iter().collect();
    summarize(agg.episodes, agg.failed, &items)
}

/// Every metric of a set of item aggregates (an item may appear more than once: the bootstrap
/// draws with replacement).
pub fn summarize(episodes: u64, failed: u64, items: &[&ItemAgg]) -> Summary {
    summarize_rounds(episodes, failed, items, rounds_of(items))
}

/// The number of attempt indices `summarize` reports for these items.
pub fn rounds_of(items: &[&ItemAgg]) -> usize {
    items.iter().map(|i| i.rounds.len()).max().unwrap_or(0)
}

/// [`summarize`] with a fixed number of attempt indices: a bootstrap resample that happens to
/// miss the longest episodes still reports every attempt (carried forward), so that no resample
/// is dropped from a `rounds.J.acc` interval.
pub fn summarize_rounds(episodes: u64, failed: u64, items: &[&ItemAgg], rounds: usize) -> Summary {
    let t = transitions::compute(items);
    Summary {
        episodes,
        scored: t.pooled.total(),
        failed,
        transitions: t.pooled,
        acc_t1: t.acc_t1,
        acc_t2: t.acc_t2,
        delta: t.delta,
        delta_i2c: t.delta_i2c,
        delta_c2i: t.delta_c2i,
        cl: t.cl,
        cs: t.cs,
        rss: t.rss,
        rounds: rounds::compute(items, rounds),
        critique: critique::compute(aggregate::pooled_critique(items)),
    }
}

/// `num / den`, undefined on a zero denominator.
fn ratio(num: f64, den: f64) -> Option<f64> {
    // Denominators here are sums of non-negative terms, so `> 0` is the exact "defined" test.
    (den > 0.0).then(|| num / den)
}

/// usize → u64 without a lossy cast (saturates on the impossible overflow).
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Plain mean; callers pass one value per item that has samples, which is what item-weights.
fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u64), |(s, n), v| (s + v, n + 1));
    ratio(sum, n as f64)
}
