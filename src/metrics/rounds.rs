//! Accuracy and transitions per attempt index, for multi-round protocols.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{EpisodeObs, Transitions, count, mean};

/// Metrics at one attempt index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundStats {
    /// Attempt index j, from 0.
    pub attempt: u32,
    /// Episodes whose attempt j (carried forward) is graded.
    pub n: u64,
    /// Item-weighted accuracy at attempt j; `None` when n = 0.
    pub acc: Option<f64>,
    /// Attempt j-1 → j counts over episodes with both graded; `None` for j = 0.
    pub transitions: Option<Transitions>,
}

/// Correctness of attempt `j`; an episode that stopped early keeps its final answer.
fn at(ep: &EpisodeObs, j: usize) -> Option<bool> {
    ep.attempts.get(j).or(ep.attempts.last()).copied().flatten()
}

/// `live` holds non-failed episodes only.
pub(super) fn compute(live: &[&EpisodeObs]) -> Vec<RoundStats> {
    let rounds = live
        .iter()
        .filter(|ep| ep.attempts.iter().any(Option::is_some))
        .map(|ep| ep.attempts.len())
        .max()
        .unwrap_or(0);
    (0..rounds).map(|j| round(live, j)).collect()
}

fn round(live: &[&EpisodeObs], j: usize) -> RoundStats {
    // item → (right, graded) at attempt j.
    let mut items: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut trans = Transitions::default();
    let mut n = 0usize;
    for ep in live {
        let now = at(ep, j);
        if let Some(right) = now {
            n += 1;
            let e = items.entry(ep.item_id.as_str()).or_default();
            e.0 += u64::from(right);
            e.1 += 1;
        }
        if j > 0
            && let (Some(before), Some(now)) = (at(ep, j - 1), now)
        {
            trans.record(before, now);
        }
    }
    RoundStats {
        attempt: u32::try_from(j).unwrap_or(u32::MAX),
        n: count(n),
        acc: mean(items.values().map(|&(r, k)| r as f64 / k as f64)),
        transitions: (j > 0).then_some(trans),
    }
}
