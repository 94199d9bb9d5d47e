//! Paired comparison of two runs on the same items: differences of every rate with paired
//! bootstrap intervals, McNemar's exact test, and the flip table.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::aggregate::scored_pair;
use super::bootstrap::{BootstrapOptions, differences, paired_intervals, scalar_rates};
use super::stats::mcnemar_exact;
use super::{EpisodeObs, ItemAgg, aggregate, summarize};

/// One rate in both runs, restricted to the shared items.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RateDiff {
    pub key: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// b − a.
    pub diff: Option<f64>,
    /// Paired percentile bootstrap interval of the difference.
    pub ci: Option<[f64; 2]>,
}

/// What McNemar's test pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pairing {
    /// Episode (item, sample) with episode (item, sample): right when sample j of A and of B
    /// belong together (a control arm shares its source's first attempts; or k = 1).
    Episode,
    /// One pair per item, each side the majority outcome of the item's samples (ties left
    /// out): independent runs with several samples per item have no sample-level pairing.
    ItemMajority,
}

/// McNemar's exact test on paired outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct McNemar {
    pub pairing: Pairing,
    /// Pairs where both sides are scored.
    pub pairs: u64,
    pub both_right: u64,
    /// Right in A, wrong in B.
    pub a_only: u64,
    /// Wrong in A, right in B.
    pub b_only: u64,
    pub both_wrong: u64,
    /// Two-sided exact p-value on the discordant pairs; `null` without pairs.
    pub p_value: Option<f64>,
    /// `item#sample` (or `item` under item-majority pairing) of the discordant pairs.
    pub a_only_episodes: Vec<String>,
    pub b_only_episodes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// Items present (with at least one live episode) in both runs; every number below is
    /// computed on these only.
    pub shared_items: u64,
    pub only_a: u64,
    pub only_b: u64,
    pub rates: Vec<RateDiff>,
    /// McNemar on the first (`acc_t1`) and the final (`acc_t2`) attempt.
    pub mcnemar: BTreeMap<String, McNemar>,
    pub bootstrap: BootstrapOptions,
}

/// Per pair key: right at t1 and at t2; `None` where an item's samples tie (that test only
/// leaves the item out).
type Outcomes<'a> = BTreeMap<(&'a str, Option<u32>), Pair>;

/// Right at t1 and at t2 (`None`: undecided).
type Pair = (Option<bool>, Option<bool>);

fn pairs_of(obs: &[EpisodeObs], pairing: Pairing) -> Outcomes<'_> {
    let scored = obs.iter().filter(|e| !e.failed).filter_map(|e| Some((e, scored_pair(e)?)));
    match pairing {
        Pairing::Episode => scored
            .map(|(e, (t1, t2))| ((e.item_id.as_str(), Some(e.sample)), (Some(t1), Some(t2))))
            .collect(),
        Pairing::ItemMajority => {
            // item → (right at t1, right at t2, scored samples)
            let mut votes: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
            for (e, (t1, t2)) in scored {
                let v = votes.entry(e.item_id.as_str()).or_default();
                v.0 += u32::from(t1);
                v.1 += u32::from(t2);
                v.2 += 1;
            }
            votes
                .into_iter()
                .map(|(item, (r1, r2, k))| {
                    let major = |r: u32| (2 * r != k).then_some(2 * r > k);
                    ((item, None), (major(r1), major(r2)))
                })
                .collect()
        }
    }
}

/// The pairing for two stored runs: by episode when they share their first attempts (one is a
/// control arm of the other, or both are arms of one run), else [`default_pairing`].
pub fn pairing_for(
    a: &crate::domain::RunRecord,
    a_obs: &[EpisodeObs],
    b: &crate::domain::RunRecord,
    b_obs: &[EpisodeObs],
) -> Pairing {
    let (sa, sb) = (a.arm_of(), b.arm_of());
    let shared = sa.as_deref() == Some(b.name.as_str())
        || sb.as_deref() == Some(a.name.as_str())
        || (sa.is_some() && sa == sb);
    if shared { Pairing::Episode } else { default_pairing(a_obs, b_obs) }
}

/// Episode pairing when every item has at most one scored sample in each run.
pub fn default_pairing(a: &[EpisodeObs], b: &[EpisodeObs]) -> Pairing {
    let single = |obs: &[EpisodeObs]| obs.iter().all(|e| e.sample == 0);
    if single(a) && single(b) { Pairing::Episode } else { Pairing::ItemMajority }
}

fn mcnemar(
    a: &Outcomes<'_>,
    b: &Outcomes<'_>,
    pairing: Pairing,
    pick: fn(Pair) -> Option<bool>,
) -> McNemar {
    let mut m = McNemar {
        pairing,
        pairs: 0,
        both_right: 0,
        a_only: 0,
        b_only: 0,
        both_wrong: 0,
        p_value: None,
        a_only_episodes: Vec::new(),
        b_only_episodes: Vec::new(),
    };
    for (k, &x) in a {
        let Some(&y) = b.get(k) else { continue };
        let (Some(x), Some(y)) = (pick(x), pick(y)) else { continue };
        m.pairs += 1;
        let name = match k.1 {
            Some(sample) => format!("{}#{sample}", k.0),
            None => k.0.to_string(),
        };
        match (x, y) {
            (true, true) => m.both_right += 1,
            (false, false) => m.both_wrong += 1,
            (true, false) => {
                m.a_only += 1;
                m.a_only_episodes.push(name);
            }
            (false, true) => {
                m.b_only += 1;
                m.b_only_episodes.push(name);
            }
        }
    }
    m.p_value = (m.pairs > 0).then(|| mcnemar_exact(m.a_only, m.b_only));
    m
}

/// Compares run B against run A (differences are b − a), McNemar pairing chosen by
/// [`default_pairing`].
pub fn compare(
    a_name: &str,
    a: &[EpisodeObs],
    b_name: &str,
    b: &[EpisodeObs],
    opts: &BootstrapOptions,
) -> Comparison {
    compare_with(a_name, a, b_name, b, opts, default_pairing(a, b))
}

/// [`compare`] with an explicit McNemar pairing.
pub fn compare_with(
    a_name: &str,
    a: &[EpisodeObs],
    b_name: &str,
    b: &[EpisodeObs],
    opts: &BootstrapOptions,
    pairing: Pairing,
) -> Comparison {
    let (ga, gb) = (aggregate(a), aggregate(b));
    let by_b: HashMap<&str, &ItemAgg> = gb.items.iter().map(|i| (i.item_id.as_str(), i)).collect();
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    for i in &ga.items {
        if let Some(j) = by_b.get(i.item_id.as_str()) {
            sa.push(i.clone());
            sb.push((*j).clone());
        }
    }
    let shared = sa.len();
    let (ra, rb): (Vec<&ItemAgg>, Vec<&ItemAgg>) = (sa.iter().collect(), sb.iter().collect());
    let (sum_a, sum_b) = (summarize(0, 0, &ra), summarize(0, 0, &rb));
    let cis = paired_intervals(&sa, &sb, opts);
    let values_a: BTreeMap<String, Option<f64>> = scalar_rates(&sum_a).into_iter().collect();
    let values_b: BTreeMap<String, Option<f64>> = scalar_rates(&sum_b).into_iter().collect();
    let rates = differences(&sum_a, &sum_b)
        .into_iter()
        .map(|(key, diff)| RateDiff {
            a: values_a.get(&key).copied().flatten(),
            b: values_b.get(&key).copied().flatten(),
            diff,
            ci: cis.get(&key).copied(),
            key,
        })
        .collect();
    let (pa, pb) = (pairs_of(a, pairing), pairs_of(b, pairing));
    let mut tests = BTreeMap::new();
    tests.insert("acc_t1".to_string(), mcnemar(&pa, &pb, pairing, |p| p.0));
    tests.insert("acc_t2".to_string(), mcnemar(&pa, &pb, pairing, |p| p.1));
    Comparison {
        a: a_name.to_string(),
        b: b_name.to_string(),
        shared_items: shared as u64,
        only_a: (ga.items.len() - shared) as u64,
        only_b: (gb.items.len() - shared) as u64,
        rates,
        mcnemar: tests,
        bootstrap: *opts,
    }
}
