//! Accuracy and transitions per attempt index, for multi-round protocols.

use serde::Serialize;

use super::aggregate::ItemAgg;
use super::{Transitions, mean};

/// Metrics at one attempt index.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
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

/// Per-attempt metrics for attempt indices `0..rounds`.
pub(super) fn compute(items: &[&ItemAgg], rounds: usize) -> Vec<RoundStats> {
    (0..rounds).map(|j| round(items, j)).collect()
}

fn round(items: &[&ItemAgg], j: usize) -> RoundStats {
    let mut trans = Transitions::default();
    let mut n = 0u64;
    let mut shares = Vec::with_capacity(items.len());
    for i in items {
        let r = i.round(j);
        n += r.graded;
        trans.add(&r.trans);
        if r.graded > 0 {
            shares.push(r.right as f64 / r.graded as f64);
        }
    }
    RoundStats {
        attempt: u32::try_from(j).unwrap_or(u32::MAX),
        n,
        acc: mean(shares.into_iter()),
        transitions: (j > 0).then_some(trans),
    }
}
