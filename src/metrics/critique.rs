//! Critique verdict quality (CriticBench): positive class = "the critiqued answer is wrong".

use serde::Serialize;

use super::aggregate::CritCounts;
use super::ratio;

/// Confusion counts and scores of critique verdicts against the truth of their targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct CritiqueStats {
    /// Critiques whose target is graded; tp + fp + tn + fn = n.
    pub n: u64,
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// Unparsed verdicts among the n (each also counted as fp or fn).
    pub unparsed: u64,
    pub accuracy: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    /// Parsed `Correct` verdicts over all critiques of non-failed episodes, graded target or not.
    pub verdict_correct: u64,
    /// Parsed `Incorrect` verdicts over all critiques of non-failed episodes, graded target or not.
    pub verdict_incorrect: u64,
}

/// Scores of pooled counts.
pub(super) fn compute(c: CritCounts) -> CritiqueStats {
    let CritCounts { tp, fp, tn, fn_, unparsed, verdict_correct, verdict_incorrect } = c;
    let n = tp + fp + tn + fn_;
    let precision = ratio(tp as f64, (tp + fp) as f64);
    let recall = ratio(tp as f64, (tp + fn_) as f64);
    // 2tp/(2tp+fp+fn): equals 2PR/(P+R) where both are defined, and is 0 (not undefined) for
    // a critic that flags only the wrong items; undefined only when there is nothing to find
    // and nothing was flagged.
    let f1 = ratio(2.0 * tp as f64, (2 * tp + fp + fn_) as f64);
    CritiqueStats {
        n,
        tp,
        fp,
        tn,
        fn_,
        unparsed,
        accuracy: ratio((tp + tn) as f64, n as f64),
        precision,
        recall,
        f1,
        verdict_correct,
        verdict_incorrect,
    }
}
