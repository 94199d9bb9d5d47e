//! An annotation queue: every episode of a run assigned to annotators, an overlap set to all of
//! them (for agreement), the rest split evenly; each annotator works in the queue's order.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::episode::EpisodeId;
use super::run::RunId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub run: RunId,
    pub annotators: Vec<String>,
    /// Share of episodes every annotator labels.
    pub overlap: f64,
    pub seed: u64,
    /// Annotators work with references, grades and each other's labels hidden.
    pub blind: bool,
    /// Seconds since the epoch.
    pub created: u64,
    /// In working order: each episode with the indices (into `annotators`) it is assigned to.
    pub order: Vec<(EpisodeId, Vec<u16>)>,
}

impl Queue {
    /// Assigns `episodes`: a seeded shuffle, the first round(overlap·N) to everyone, the rest
    /// dealt in turn so the shares differ by at most one.
    pub fn make(
        run: RunId,
        episodes: &[EpisodeId],
        annotators: &[String],
        overlap: f64,
        seed: u64,
        blind: bool,
        created: u64,
    ) -> Result<Queue, String> {
        if annotators.is_empty() {
            return Err("name at least one annotator".into());
        }
        if annotators.len() > usize::from(u16::MAX) {
            return Err("too many annotators".into());
        }
        for (i, a) in annotators.iter().enumerate() {
            if a.trim().is_empty() {
                return Err("an annotator name is empty".into());
            }
            if annotators[..i].contains(a) {
                return Err(format!("annotator `{a}` is named twice"));
            }
        }
        if !(0.0..=1.0).contains(&overlap) {
            return Err(format!("--overlap {overlap} is not a share between 0 and 1"));
        }
        let mut order: Vec<EpisodeId> = episodes.to_vec();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let shared = (overlap * order.len() as f64).round() as usize;
        let everyone: Vec<u16> = (0..annotators.len() as u16).collect();
        let order = order
            .into_iter()
            .enumerate()
            .map(|(i, id)| {
                let who = if i < shared {
                    everyone.clone()
                } else {
                    vec![((i - shared) % annotators.len()) as u16]
                };
                (id, who)
            })
            .collect();
        Ok(Queue { run, annotators: annotators.to_vec(), overlap, seed, blind, created, order })
    }

    /// `annotator`'s episodes in working order (empty when not in the queue).
    pub fn of(&self, annotator: &str) -> Vec<EpisodeId> {
        let Some(idx) = self.annotators.iter().position(|a| a == annotator) else {
            return Vec::new();
        };
        let idx = idx as u16;
        self.order.iter().filter(|(_, who)| who.contains(&idx)).map(|(id, _)| *id).collect()
    }

    /// Episodes assigned to every annotator.
    pub fn overlap_set(&self) -> Vec<EpisodeId> {
        let n = self.annotators.len();
        self.order.iter().filter(|(_, who)| who.len() == n && n > 1).map(|(id, _)| *id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps(n: u32) -> Vec<EpisodeId> {
        (0..n).map(|i| EpisodeId { run: RunId(1), item: i, sample: 0 }).collect()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hundred_episodes_two_annotators_twenty_percent_overlap() {
        let all = eps(100);
        let q = Queue::make(RunId(1), &all, &names(&["ana", "ben"]), 0.2, 7, false, 0).unwrap();
        assert_eq!(q.order.len(), 100);
        let mut seen: Vec<EpisodeId> = q.order.iter().map(|(id, _)| *id).collect();
        seen.sort();
        assert_eq!(seen, all, "every episode assigned exactly once in the order");
        assert_eq!(q.overlap_set().len(), 20);
        let (ana, ben) = (q.of("ana"), q.of("ben"));
        assert_eq!((ana.len(), ben.len()), (60, 60));
        let both = ana.iter().filter(|id| ben.contains(id)).count();
        assert_eq!(both, 20);
        // Same seed, same queue; another seed, another order.
        let again = Queue::make(RunId(1), &all, &names(&["ana", "ben"]), 0.2, 7, false, 0).unwrap();
        assert_eq!(again, q);
        let other = Queue::make(RunId(1), &all, &names(&["ana", "ben"]), 0.2, 8, false, 0).unwrap();
        assert_ne!(other.order, q.order);
        assert!(q.of("cai").is_empty());
    }

    #[test]
    fn uneven_split_and_bad_input() {
        let q = Queue::make(RunId(1), &eps(10), &names(&["a", "b", "c"]), 0.0, 1, true, 0).unwrap();
        let sizes: Vec<usize> = ["a", "b", "c"].iter().map(|a| q.of(a).len()).collect();
        assert_eq!(sizes, [4, 3, 3]);
        assert!(q.overlap_set().is_empty());
        assert!(Queue::make(RunId(1), &eps(3), &[], 0.2, 1, false, 0).is_err());
        assert!(Queue::make(RunId(1), &eps(3), &names(&["a", "a"]), 0.2, 1, false, 0).is_err());
        assert!(Queue::make(RunId(1), &eps(3), &names(&["a"]), 1.5, 1, false, 0).is_err());
    }
}
