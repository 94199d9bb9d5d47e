//! Paired comparison of two runs on the same items: differences of every rate with paired
//! bootstrap intervals, McNemar's exact test, and the flip table.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::aggregate::scored_pair;
use super::bootstrap::{BootstrapOptions, differences, paired_intervals, scalar_rates};
use super::stats::mcnemar_exact;
use super::{EpisodeObs, ItemAgg, aggregate, summarize};

/// One rate in both runs, restricted to the shared items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateDiff {
    pub key: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// b − a.
    pub diff: Option<f64>,
    /// Paired percentile bootstrap interval of the difference.
    pub ci: Option<[f64; 2]>,
}

/// McNemar's exact test on episodes paired by (item, sample).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McNemar {
    /// Pairs where both episodes are scored.
    pub pairs: u64,
    pub both_right: u64,
    /// Right in A, wrong in B.
    pub a_only: u64,
    /// Wrong in A, right in B.
    pub b_only: u64,
    pub both_wrong: u64,
    /// Two-sided exact p-value on the discordant pairs.
    pub p_value: f64,
    /// `item#sample` of the discordant pairs.
    pub a_only_episodes: Vec<String>,
    pub b_only_episodes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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

fn pairs_of(obs: &[EpisodeObs]) -> HashMap<(&str, u32), (bool, bool)> {
    obs.iter()
        .filter(|e| !e.failed)
        .filter_map(|e| scored_pair(e).map(|p| ((e.item_id.as_str(), e.sample), p)))
        .collect()
}

fn mcnemar(
    a: &HashMap<(&str, u32), (bool, bool)>,
    b: &HashMap<(&str, u32), (bool, bool)>,
    pick: fn((bool, bool)) -> bool,
) -> McNemar {
    let mut keys: Vec<&(&str, u32)> = a.keys().filter(|k| b.contains_key(*k)).collect();
    keys.sort();
    let mut m = McNemar {
        pairs: 0,
        both_right: 0,
        a_only: 0,
        b_only: 0,
        both_wrong: 0,
        p_value: 1.0,
        a_only_episodes: Vec::new(),
        b_only_episodes: Vec::new(),
    };
    for k in keys {
        let (Some(&x), Some(&y)) = (a.get(k), b.get(k)) else { continue };
        m.pairs += 1;
        match (pick(x), pick(y)) {
            (true, true) => m.both_right += 1,
            (false, false) => m.both_wrong += 1,
            (true, false) => {
                m.a_only += 1;
                m.a_only_episodes.push(format!("{}#{}", k.0, k.1));
            }
            (false, true) => {
                m.b_only += 1;
                m.b_only_episodes.push(format!("{}#{}", k.0, k.1));
            }
        }
    }
    m.p_value = mcnemar_exact(m.a_only, m.b_only);
    m
}

/// Compares run B against run A (differences are b − a).
pub fn compare(
    a_name: &str,
    a: &[EpisodeObs],
    b_name: &str,
    b: &[EpisodeObs],
    opts: &BootstrapOptions,
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
    let (pa, pb) = (pairs_of(a), pairs_of(b));
    let mut tests = BTreeMap::new();
    tests.insert("acc_t1".to_string(), mcnemar(&pa, &pb, |p| p.0));
    tests.insert("acc_t2".to_string(), mcnemar(&pa, &pb, |p| p.1));
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
