//! Per-item sufficient statistics. Every metric of a [`Summary`](super::Summary) is a function of
//! these, so the bootstrap resamples items by resampling their aggregates.

use super::{EpisodeObs, Transitions};
use crate::domain::Verdict;

/// Critique verdicts against the truth of their targets, positive class = "answer is wrong".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CritCounts {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
    pub unparsed: u64,
    pub verdict_correct: u64,
    pub verdict_incorrect: u64,
}

impl CritCounts {
    fn add(&mut self, o: &CritCounts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.tn += o.tn;
        self.fn_ += o.fn_;
        self.unparsed += o.unparsed;
        self.verdict_correct += o.verdict_correct;
        self.verdict_incorrect += o.verdict_incorrect;
    }
}

/// Attempt `j` of an item: right and graded counts over its episodes, and the j-1 → j pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoundAgg {
    pub right: u64,
    pub graded: u64,
    pub trans: Transitions,
}

/// What one item contributes to every metric.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemAgg {
    pub item_id: String,
    /// t1 → t2 over the item's scored episodes.
    pub trans: Transitions,
    pub crit: CritCounts,
    /// Attempt indices 0..L where L is the longest graded episode of the item; later attempts
    /// repeat the last one (carried forward), see [`ItemAgg::round`].
    pub rounds: Vec<RoundAgg>,
    /// j-1 → j pairs for j ≥ L: every episode sits on its final answer, so they are diagonal.
    pub tail: Transitions,
}

impl ItemAgg {
    /// Counts at attempt `j`, carrying each episode's final answer forward.
    pub fn round(&self, j: usize) -> RoundAgg {
        match self.rounds.get(j) {
            Some(r) => *r,
            None => match self.rounds.last() {
                Some(last) => RoundAgg { trans: self.tail, ..*last },
                None => RoundAgg::default(),
            },
        }
    }
}

/// Episode counts plus one aggregate per item (in item-id order, which fixes float sums).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Aggregate {
    pub episodes: u64,
    pub failed: u64,
    pub items: Vec<ItemAgg>,
}

/// (t1, t2) of a scored episode: at least two attempts, first and last graded.
pub fn scored_pair(ep: &EpisodeObs) -> Option<(bool, bool)> {
    if ep.attempts.len() < 2 {
        return None;
    }
    let first = ep.attempts.first().copied().flatten()?;
    let last = ep.attempts.last().copied().flatten()?;
    Some((first, last))
}

/// Correctness of attempt `j`; an episode that stopped early keeps its final answer.
fn at(ep: &EpisodeObs, j: usize) -> Option<bool> {
    ep.attempts.get(j).or(ep.attempts.last()).copied().flatten()
}

fn critique_counts(ep: &EpisodeObs, c: &mut CritCounts) {
    for k in ep.critiques.iter().filter(|k| !k.synthetic) {
        match k.verdict {
            Verdict::Correct => c.verdict_correct += 1,
            Verdict::Incorrect => c.verdict_incorrect += 1,
            Verdict::Unparsed => {}
        }
        let Some(target_right) = k.target_correct else { continue };
        // As in CriticBench an unparsed verdict is always a wrong prediction.
        match (k.verdict, target_right) {
            (Verdict::Incorrect, false) => c.tp += 1,
            (Verdict::Incorrect, true) => c.fp += 1,
            (Verdict::Correct, true) => c.tn += 1,
            (Verdict::Correct, false) => c.fn_ += 1,
            (Verdict::Unparsed, right) => {
                c.unparsed += 1;
                if right { c.fp += 1 } else { c.fn_ += 1 }
            }
        }
    }
}

/// Groups the observations by item.
pub fn aggregate(obs: &[EpisodeObs]) -> Aggregate {
    aggregate_indexed(obs).0
}

/// [`aggregate`], and the item of each live observation (its index in `items`), in order.
pub(super) fn aggregate_indexed(obs: &[EpisodeObs]) -> (Aggregate, Vec<u32>) {
    let mut live: Vec<usize> = (0..obs.len()).filter(|&i| !obs[i].failed).collect();
    let failed = super::count(obs.len() - live.len());
    let id = |i: usize| obs.get(i).map_or("", |e| e.item_id.as_str());
    // Stored runs come in item order, and ids usually sort the same way: then grouping is one
    // pass. Otherwise a stable sort, which keeps each item's episodes in their order.
    if !live.windows(2).all(|w| id(w[0]) <= id(w[1])) {
        live.sort_by(|&a, &b| id(a).cmp(id(b)));
    }
    let mut item_of = vec![0u32; obs.len()];
    let mut items = Vec::new();
    for group in live.chunk_by(|&a, &b| id(a) == id(b)) {
        let k = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let eps: Vec<&EpisodeObs> = group.iter().filter_map(|&i| obs.get(i)).collect();
        for &i in group {
            if let Some(slot) = item_of.get_mut(i) {
                *slot = k;
            }
        }
        items.push(item_agg(id(group[0]), &eps));
    }
    let live_items = obs.iter().zip(item_of).filter(|(e, _)| !e.failed).map(|(_, k)| k).collect();
    (Aggregate { episodes: super::count(obs.len()), failed, items }, live_items)
}

fn item_agg(id: &str, eps: &[&EpisodeObs]) -> ItemAgg {
    let mut agg = ItemAgg { item_id: id.to_string(), ..ItemAgg::default() };
    let len = eps
        .iter()
        .filter(|ep| ep.attempts.iter().any(Option::is_some))
        .map(|ep| ep.attempts.len())
        .max()
        .unwrap_or(0);
    agg.rounds = vec![RoundAgg::default(); len];
    for ep in eps {
        if let Some((t1, t2)) = scored_pair(ep) {
            agg.trans.record(t1, t2);
        }
        critique_counts(ep, &mut agg.crit);
        for (j, r) in agg.rounds.iter_mut().enumerate() {
            let now = at(ep, j);
            if let Some(right) = now {
                r.graded += 1;
                r.right += u64::from(right);
            }
            if j > 0
                && let (Some(before), Some(now)) = (at(ep, j - 1), now)
            {
                r.trans.record(before, now);
            }
        }
        if let Some(last) = at(ep, len) {
            agg.tail.record(last, last);
        }
    }
    agg
}

/// Pooled critique counts of a set of items.
pub(super) fn pooled_critique(items: &[&ItemAgg]) -> CritCounts {
    let mut c = CritCounts::default();
    for i in items {
        c.add(&i.crit);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(id: &str, t1: bool, t2: bool, failed: bool) -> EpisodeObs {
        EpisodeObs {
            item_id: id.into(),
            failed,
            attempts: vec![Some(t1), Some(t2)],
            ..Default::default()
        }
    }

    /// Unsorted ids take the sorting path, sorted ones the one-pass path; both group like a
    /// map from item id to its episodes in their order, and index each live observation.
    #[test]
    fn items_come_in_id_order_with_each_observation_indexed() {
        let unsorted = vec![
            obs("b", true, false, false),
            obs("a", false, true, false),
            obs("b", true, true, true),
            obs("c", true, true, false),
            obs("a", false, false, false),
            obs("b", false, false, false),
        ];
        let (agg, item_of) = aggregate_indexed(&unsorted);
        let ids: Vec<&str> = agg.items.iter().map(|i| i.item_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(item_of, [1, 0, 2, 0, 1]);
        assert_eq!((agg.episodes, agg.failed), (6, 1));
        let a = &agg.items[0].trans;
        assert_eq!((a.cc, a.cw, a.wc, a.ww), (0, 0, 1, 1));
        let b = &agg.items[1].trans;
        assert_eq!((b.cc, b.cw, b.wc, b.ww), (0, 1, 0, 1));
        let mut sorted = unsorted.clone();
        sorted.sort_by(|x, y| x.item_id.cmp(&y.item_id));
        assert_eq!(aggregate(&sorted), agg);
    }
}
