//! Self-correction and critique metrics over finished episodes (DESIGN: metrics contract).
//!
//! Pure functions, no I/O. Every rate is item-weighted (Yang et al., arXiv 2412.19513):
//! each item counts once whatever its number of samples, which reduces to the usual
//! pooled formulas when every item has the same number of samples. Undefined rates are
//! `None` (serialised as `null`), never 0 and never NaN.

mod critique;
mod observe;
mod report;
mod rounds;
mod transitions;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::domain::Verdict;

pub use critique::CritiqueStats;
pub use observe::{GRADE_OVERRIDE, observe, overrides};
pub use report::{
    GraderAgreement, MetricsReport, Provenance, UsageSummary, provenance, run_metrics,
    run_prompts_hash,
};
pub use rounds::RoundStats;
pub use transitions::Transitions;

/// What metrics need to know about one episode.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeObs {
    pub item_id: String,
    pub sample: u32,
    /// Failed episodes are counted in `failed` and excluded from everything else.
    pub failed: bool,
    /// Correctness of each attempt in order: t1 = `attempts[0]`, t2 = last; `None` = ungraded.
    pub attempts: Vec<Option<bool>>,
    /// Every critique turn in order.
    pub critiques: Vec<CritiqueObs>,
}

/// One critique turn: the critic's verdict and the truth of the answer it judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CritiqueObs {
    pub verdict: Verdict,
    pub target_correct: Option<bool>,
}

/// All metrics of a set of episodes; field order is the JSON key order.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    let live: Vec<&EpisodeObs> = obs.iter().filter(|e| !e.failed).collect();
    let t = transitions::compute(&live);
    Summary {
        episodes: count(obs.len()),
        scored: t.pooled.total(),
        failed: count(obs.len() - live.len()),
        transitions: t.pooled,
        acc_t1: t.acc_t1,
        acc_t2: t.acc_t2,
        delta: t.delta,
        delta_i2c: t.delta_i2c,
        delta_c2i: t.delta_c2i,
        cl: t.cl,
        cs: t.cs,
        rss: t.rss,
        rounds: rounds::compute(&live),
        critique: critique::compute(&live),
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
