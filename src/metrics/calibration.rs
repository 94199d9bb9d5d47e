//! Calibration of each confidence source against correctness, and the "what if" curve of a
//! revision attempted only below a confidence threshold.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::stats::{Calibration, TieGroups, calibration, grouped_scores};
use super::{CritiqueObs, EpisodeObs, aggregate::scored_pair};
use crate::domain::Verdict;

/// P(the critiqued answer is correct) as the critic's stated confidence implies it.
fn verbalized(c: &CritiqueObs) -> Option<f64> {
    let conf = c.confidence?.clamp(0.0, 1.0);
    match c.verdict {
        Verdict::Correct => Some(conf),
        Verdict::Incorrect => Some(1.0 - conf),
        Verdict::Unparsed => None,
    }
}

/// The confidence sources, each a score = predicted P(answer correct) of a critique.
type Score = fn(&CritiqueObs) -> Option<f64>;

const CRITIQUE_SOURCES: &[(&str, Score)] =
    &[("verbalized", verbalized), ("p_true", |c| c.p_true), ("p_true_raw", |c| c.p_true_raw)];

/// Every source's predictions: (score, outcome, item), where item is the index of the
/// prediction's item in item-id order.
pub struct Predictions(Vec<(&'static str, Vec<Prediction>)>);

/// (score, outcome, item).
type Prediction = (f64, bool, u32);

impl Predictions {
    /// The predictions of each source: the critic's verbalised confidence and logprob P(True)
    /// (raw and renormalised) against the truth of the critiqued answer, and agreement among
    /// an item's samples against the first attempt's correctness. `item_of[i]` is the item of
    /// `live[i]` (its index in item-id order).
    pub fn new(live: &[&EpisodeObs], item_of: &[u32]) -> Predictions {
        let mut out = Vec::new();
        for (name, score) in CRITIQUE_SOURCES {
            let mut v = Vec::new();
            for (e, &item) in live.iter().zip(item_of) {
                for c in e.critiques.iter().filter(|c| !c.synthetic) {
                    if let (Some(p), Some(truth)) = (score(c), c.target_correct)
                        && p.is_finite()
                    {
                        v.push((p, truth, item));
                    }
                }
            }
            out.push((*name, v));
        }
        out.push(("agreement", agreement(live, item_of)));
        Predictions(out)
    }
}

/// Each observation's item as its rank in item-id order (what the aggregate's order gives).
#[cfg(test)]
fn item_ranks(live: &[&EpisodeObs]) -> Vec<u32> {
    let mut rank: BTreeMap<&str, u32> = live.iter().map(|e| (e.item_id.as_str(), 0)).collect();
    for (r, v) in rank.values_mut().enumerate() {
        *v = u32::try_from(r).unwrap_or(u32::MAX);
    }
    live.iter().map(|e| rank.get(e.item_id.as_str()).copied().unwrap_or(0)).collect()
}

/// Calibration per source with at least one scored prediction.
#[cfg(test)]
pub fn compute(live: &[&EpisodeObs], bins: usize) -> BTreeMap<String, Calibration> {
    compute_from(&Predictions::new(live, &item_ranks(live)), bins)
}

/// [`compute`] of predictions already gathered.
pub(super) fn compute_from(preds: &Predictions, bins: usize) -> BTreeMap<String, Calibration> {
    let mut out = BTreeMap::new();
    for (name, preds) in &preds.0 {
        let s: Vec<f64> = preds.iter().map(|p| p.0).collect();
        let o: Vec<bool> = preds.iter().map(|p| p.1).collect();
        if let Some(cal) = calibration(&s, &o, bins) {
            out.insert(name.to_string(), cal);
        }
    }
    out
}

/// A source's predictions: the tie groups of their scores (ascending), and each prediction's
/// group, outcome and item, in the predictions' order.
struct SortedSource {
    groups: TieGroups,
    outcomes: Vec<bool>,
    items: Vec<u32>,
}

/// Each source's ECE, Brier and AUROC under resampling of items
/// (`calibration.SOURCE.ece` …): the predictions sorted by score once, each resample only
/// reweighting them by how often their item was drawn.
pub struct Resampler {
    sources: Vec<SortedSource>,
    bins: usize,
    keys: Vec<String>,
}

impl Resampler {
    /// From the run's predictions; their items index the draws.
    pub fn new(preds: &Predictions, bins: usize) -> Resampler {
        let mut sources = Vec::new();
        let mut keys = Vec::new();
        for (name, p) in &preds.0 {
            if bins == 0 || p.is_empty() {
                continue;
            }
            // Tie groups in score order; each prediction keeps its place (item order), so a
            // resample reads the draw counts in order.
            let mut order: Vec<usize> = (0..p.len()).collect();
            order.sort_by(|&a, &b| p[a].0.total_cmp(&p[b].0));
            let sorted = TieGroups::of(order.iter().map(|&i| p[i].0));
            let mut group = vec![0u32; p.len()];
            for (&i, &g) in order.iter().zip(&sorted.of) {
                group[i] = g;
            }
            sources.push(SortedSource {
                groups: TieGroups { scores: sorted.scores, of: group },
                outcomes: p.iter().map(|x| x.1).collect(),
                items: p.iter().map(|x| x.2).collect(),
            });
            keys.extend(["ece", "brier", "auroc"].map(|k| format!("calibration.{name}.{k}")));
        }
        Resampler { sources, bins, keys }
    }

    /// The keys of [`values`](Self::values), in order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The scores of one resample (item `i` drawn `counts[i]` times); `tally` is scratch space.
    pub fn values(&self, counts: &[u32], tally: &mut (Vec<u64>, Vec<u64>)) -> Vec<Option<f64>> {
        let mut out = Vec::with_capacity(self.keys.len());
        for src in &self.sources {
            let (pos, neg) = tally;
            let g = src.groups.scores.len();
            pos.clear();
            pos.resize(g, 0);
            neg.clear();
            neg.resize(g, 0);
            for ((&item, &group), &o) in src.items.iter().zip(&src.groups.of).zip(&src.outcomes) {
                let w = counts.get(item as usize).map_or(0, |&c| u64::from(c));
                let slot = if o { &mut *pos } else { &mut *neg };
                if let Some(x) = slot.get_mut(group as usize) {
                    *x += w;
                }
            }
            match grouped_scores(&src.groups.scores, pos, neg, self.bins) {
                Some((ece, brier, auroc)) => out.extend([Some(ece), Some(brier), auroc]),
                None => out.extend([None, None, None]),
            }
        }
        out
    }
}

/// Self-consistency: the share of an item's samples whose first answer equals this one's, for
/// items with at least two answered samples; in item order, each item's in observation order.
fn agreement(live: &[&EpisodeObs], item_of: &[u32]) -> Vec<(f64, bool, u32)> {
    let mut order: Vec<(u32, &EpisodeObs)> = live
        .iter()
        .zip(item_of)
        .filter(|(e, _)| e.first_answer.is_some())
        .map(|(e, &i)| (i, *e))
        .collect();
    // Stable: an item's samples keep their order.
    order.sort_by_key(|(i, _)| *i);
    let mut out = Vec::new();
    for eps in order.chunk_by(|a, b| a.0 == b.0).filter(|eps| eps.len() >= 2) {
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for (_, e) in eps {
            *votes.entry(e.first_answer.as_deref().unwrap_or_default().trim()).or_default() += 1;
        }
        for &(item, e) in eps {
            let Some(Some(right)) = e.attempts.first() else { continue };
            let mine = e.first_answer.as_deref().unwrap_or_default().trim();
            let n = votes.get(mine).copied().unwrap_or(0);
            out.push((n as f64 / eps.len() as f64, *right, item));
        }
    }
    out
}

/// One point of the what-if curve.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct WhatIfPoint {
    /// Revise only when the confidence that t1 is correct is below `tau`.
    pub tau: f64,
    /// Accuracy of the final answers under that policy (item-weighted, as acc_t1/acc_t2).
    pub acc: f64,
    /// Share of episodes that would be revised (the cost in revise calls).
    pub revised: f64,
    /// Tokens of the revise turns that would be spent; `null` when not all were reported.
    pub revise_tokens: Option<u64>,
}

/// Accuracy and cost if a revision were attempted only below confidence τ (τ = 0: never
/// revise, τ > 1: always).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct WhatIf {
    /// The confidence source used: the first of `verbalized`, `p_true` present on the first
    /// critique of every counted episode.
    pub source: String,
    /// Scored episodes with that confidence.
    pub n: u64,
    pub points: Vec<WhatIfPoint>,
}

/// The what-if curve over τ = 0, 0.1, …, 1.0 and "always" (1.01), or `None` when no scored
/// episode has a critique with a confidence.
#[cfg(test)]
pub fn what_if(live: &[&EpisodeObs]) -> Option<WhatIf> {
    what_if_from(live, &item_ranks(live))
}

/// [`what_if`] with each observation's item (its index in item-id order) known.
pub(super) fn what_if_from(live: &[&EpisodeObs], item_of: &[u32]) -> Option<WhatIf> {
    for (name, score) in CRITIQUE_SOURCES.iter().take(2) {
        let eps: Vec<(u32, f64, bool, bool, Option<u64>)> = live
            .iter()
            .zip(item_of)
            .filter_map(|(e, &item)| {
                let (t1, t2) = scored_pair(e)?;
                let c = e.critiques.iter().find(|c| !c.synthetic)?;
                Some((item, score(c)?, t1, t2, e.revise_tokens))
            })
            .collect();
        if eps.is_empty() {
            continue;
        }
        let n = eps.len() as f64;
        // Each episode's item as its rank among the items present, in item-id order.
        let size = eps.iter().map(|e| e.0 as usize + 1).max().unwrap_or(0);
        let mut seen = vec![false; size];
        for e in &eps {
            if let Some(s) = seen.get_mut(e.0 as usize) {
                *s = true;
            }
        }
        let mut present = 0u32;
        let rank: Vec<u32> = seen
            .iter()
            .map(|&s| {
                present += u32::from(s);
                present.saturating_sub(1)
            })
            .collect();
        let slots: Vec<usize> =
            eps.iter().map(|e| rank.get(e.0 as usize).map_or(0, |&r| r as usize)).collect();
        let points = (0..=11)
            .map(|i| {
                let tau = if i == 11 { 1.01 } else { f64::from(i) / 10.0 };
                // item → (right, episodes): accuracy weighs items equally, like acc_t1/acc_t2;
                // summed in item-id order.
                let mut items: Vec<(u64, u64)> = vec![(0, 0); present as usize];
                let mut revised = 0u64;
                let mut tokens = Some(0u64);
                for (&(_, p, t1, t2, tok), &at) in eps.iter().zip(&slots) {
                    let revise = p < tau;
                    let Some(slot) = items.get_mut(at) else { continue };
                    slot.0 += u64::from(if revise { t2 } else { t1 });
                    slot.1 += 1;
                    if revise {
                        revised += 1;
                        tokens = tokens.and_then(|t| tok.map(|k| t + k));
                    }
                }
                let acc = items.iter().map(|&(r, k)| r as f64 / k as f64).sum::<f64>()
                    / items.len() as f64;
                WhatIfPoint { tau, acc, revised: revised as f64 / n, revise_tokens: tokens }
            })
            .collect();
        return Some(WhatIf { source: (*name).to_string(), n: eps.len() as u64, points });
    }
    None
}
