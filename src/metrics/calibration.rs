//! Calibration of each confidence source against correctness, and the "what if" curve of a
//! revision attempted only below a confidence threshold.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::bootstrap::{BootstrapOptions, draw};
use super::stats::{Calibration, calibration, percentile_interval, weighted_scores};
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

/// Every source's predictions: (score, outcome, item id).
type Predictions<'a> = Vec<(&'static str, Vec<(f64, bool, &'a str)>)>;

/// The predictions of each source: the critic's verbalised confidence and logprob P(True) (raw
/// and renormalised) against the truth of the critiqued answer, and agreement among an item's
/// samples against the first attempt's correctness.
fn predictions<'a>(live: &[&'a EpisodeObs]) -> Predictions<'a> {
    let mut out = Vec::new();
    for (name, score) in CRITIQUE_SOURCES {
        let mut v = Vec::new();
        for e in live {
            for c in e.critiques.iter().filter(|c| !c.synthetic) {
                if let (Some(p), Some(truth)) = (score(c), c.target_correct)
                    && p.is_finite()
                {
                    v.push((p, truth, e.item_id.as_str()));
                }
            }
        }
        out.push((*name, v));
    }
    out.push(("agreement", agreement(live)));
    out
}

/// Calibration per source with at least one scored prediction.
pub fn compute(live: &[&EpisodeObs], bins: usize) -> BTreeMap<String, Calibration> {
    let mut out = BTreeMap::new();
    for (name, preds) in predictions(live) {
        let s: Vec<f64> = preds.iter().map(|p| p.0).collect();
        let o: Vec<bool> = preds.iter().map(|p| p.1).collect();
        if let Some(cal) = calibration(&s, &o, bins) {
            out.insert(name.to_string(), cal);
        }
    }
    out
}

/// A source's (score, outcome) pairs sorted by score, with each pair's item index.
type SortedSource = (&'static str, Vec<(f64, bool)>, Vec<usize>);

/// Percentile bootstrap intervals of each source's ECE, Brier and AUROC
/// (`calibration.SOURCE.ece` …), resampling items like the rates' intervals; `items` are the
/// ids of the run's items in aggregate order.
pub fn intervals(
    live: &[&EpisodeObs],
    items: &[&str],
    bins: usize,
    opts: &BootstrapOptions,
) -> BTreeMap<String, [f64; 2]> {
    let mut out = BTreeMap::new();
    if items.is_empty() || opts.resamples == 0 || bins == 0 {
        return out;
    }
    let index: HashMap<&str, usize> = items.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let sources: Vec<SortedSource> = predictions(live)
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(name, mut p)| {
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            let idx: Vec<usize> = p.iter().filter_map(|x| index.get(x.2).copied()).collect();
            (name, p.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>(), idx)
        })
        .filter(|(_, p, idx)| p.len() == idx.len())
        .collect();
    if sources.is_empty() {
        return out;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    // Another stream than the rates' draws: the same seed, independent resamples.
    rng.set_stream(1);
    let mut values: Vec<[Vec<f64>; 3]> = sources.iter().map(|_| Default::default()).collect();
    let mut counts = vec![0u64; items.len()];
    let mut pick = Vec::with_capacity(items.len());
    for _ in 0..opts.resamples {
        // The same draw as the rates' bootstrap, kept as how often each item was drawn.
        draw(&mut rng, items.len(), &mut pick);
        counts.iter_mut().for_each(|c| *c = 0);
        for &i in &pick {
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        for ((_, pairs, idx), slot) in sources.iter().zip(values.iter_mut()) {
            let w: Vec<u64> = idx.iter().map(|&i| counts.get(i).copied().unwrap_or(0)).collect();
            if let Some((ece, brier, auroc)) = weighted_scores(pairs, &w, bins) {
                slot[0].push(ece);
                slot[1].push(brier);
                slot[2].extend(auroc);
            }
        }
    }
    for ((name, _, _), mut v) in sources.iter().zip(values) {
        for (key, vals) in ["ece", "brier", "auroc"].iter().zip(v.iter_mut()) {
            if let Some(ci) = percentile_interval(vals, opts.level) {
                out.insert(format!("calibration.{name}.{key}"), ci);
            }
        }
    }
    out
}

/// Self-consistency: the share of an item's samples whose first answer equals this one's, for
/// items with at least two answered samples.
fn agreement<'a>(live: &[&'a EpisodeObs]) -> Vec<(f64, bool, &'a str)> {
    let mut by_item: BTreeMap<&str, Vec<&EpisodeObs>> = BTreeMap::new();
    for e in live {
        if e.first_answer.is_some() {
            by_item.entry(e.item_id.as_str()).or_default().push(e);
        }
    }
    let mut out = Vec::new();
    for (item, eps) in by_item.iter().filter(|(_, eps)| eps.len() >= 2) {
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for e in eps {
            *votes.entry(e.first_answer.as_deref().unwrap_or_default().trim()).or_default() += 1;
        }
        for e in eps {
            let Some(Some(right)) = e.attempts.first() else { continue };
            let mine = e.first_answer.as_deref().unwrap_or_default().trim();
            let n = votes.get(mine).copied().unwrap_or(0);
            out.push((n as f64 / eps.len() as f64, *right, *item));
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
pub fn what_if(live: &[&EpisodeObs]) -> Option<WhatIf> {
    for (name, score) in CRITIQUE_SOURCES.iter().take(2) {
        let eps: Vec<(&str, f64, bool, bool, Option<u64>)> = live
            .iter()
            .filter_map(|e| {
                let (t1, t2) = scored_pair(e)?;
                let c = e.critiques.iter().find(|c| !c.synthetic)?;
                Some((e.item_id.as_str(), score(c)?, t1, t2, e.revise_tokens))
            })
            .collect();
        if eps.is_empty() {
            continue;
        }
        let n = eps.len() as f64;
        // Each episode's item as its rank in item-id order, found once (not per threshold).
        let mut rank: BTreeMap<&str, usize> = eps.iter().map(|e| (e.0, 0)).collect();
        for (r, v) in rank.values_mut().enumerate() {
            *v = r;
        }
        let slots: Vec<usize> = eps.iter().map(|e| rank.get(e.0).copied().unwrap_or(0)).collect();
        let points = (0..=11)
            .map(|i| {
                let tau = if i == 11 { 1.01 } else { f64::from(i) / 10.0 };
                // item → (right, episodes): accuracy weighs items equally, like acc_t1/acc_t2;
                // summed in item-id order.
                let mut items: Vec<(u64, u64)> = vec![(0, 0); rank.len()];
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
