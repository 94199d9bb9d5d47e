//! Percentile bootstrap over items (all samples of an item travel together), plain and paired.

use std::collections::BTreeMap;

use serde::Serialize;

use super::calibration::Resampler;
use super::resample::{Packed, each_resample};
use super::stats::percentile_interval;
use super::{ItemAgg, Summary, rounds_of, summarize};

/// How intervals are drawn; recorded in the metrics' provenance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct BootstrapOptions {
    /// 0 disables the bootstrap.
    pub resamples: u32,
    pub seed: u64,
    /// Coverage of the percentile interval.
    pub level: f64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions { resamples: 1000, seed: 0, level: 0.95 }
    }
}

/// Every scalar rate of a summary under its `ci` key: the top-level rates, the critique scores
/// as `critique.KEY` and per-attempt accuracy as `rounds.J.acc`.
pub fn scalar_rates(s: &Summary) -> Vec<(String, Option<f64>)> {
    let mut out: Vec<(String, Option<f64>)> =
        super::rate_keys().iter().map(|k| (k.to_string(), s.rate(k))).collect();
    let c = &s.critique;
    for (k, v) in
        [("accuracy", c.accuracy), ("precision", c.precision), ("recall", c.recall), ("f1", c.f1)]
    {
        out.push((format!("critique.{k}"), v));
    }
    for r in &s.rounds {
        out.push((format!("rounds.{}.acc", r.attempt), r.acc));
    }
    out
}

/// Gathers, per key defined in the point estimate, the resampled values (aligned with `names`)
/// of every resample.
fn collect(
    keys: &[String],
    names: &[String],
    resamples: Vec<Vec<Option<f64>>>,
) -> BTreeMap<String, Vec<f64>> {
    let mut values: BTreeMap<String, Vec<f64>> =
        keys.iter().map(|k| (k.clone(), Vec::with_capacity(resamples.len()))).collect();
    let slots: Vec<Option<String>> =
        names.iter().map(|k| values.contains_key(k).then(|| k.clone())).collect();
    for sample in resamples {
        for (slot, v) in slots.iter().zip(sample) {
            // A resample where the rate is undefined (say no item wrong at t1, for CS) adds
            // nothing: the interval is conditional on the rate being defined.
            if let (Some(k), Some(v)) = (slot, v)
                && let Some(vals) = values.get_mut(k)
            {
                vals.push(v);
            }
        }
    }
    values
}

/// The percentile intervals of the keys in `keys` from resampled values aligned with `names`.
pub(super) fn percentiles(
    keys: &[String],
    names: &[String],
    samples: Vec<Vec<Option<f64>>>,
    level: f64,
) -> BTreeMap<String, [f64; 2]> {
    intervals_of(collect(keys, names, samples), level)
}

fn intervals_of(values: BTreeMap<String, Vec<f64>>, level: f64) -> BTreeMap<String, [f64; 2]> {
    values
        .into_iter()
        .filter_map(|(k, mut v)| percentile_interval(&mut v, level).map(|ci| (k, ci)))
        .collect()
}

/// Percentile intervals of every rate defined on `items`, resampling items.
pub fn intervals(items: &[ItemAgg], opts: &BootstrapOptions) -> BTreeMap<String, [f64; 2]> {
    intervals_with(items, None, opts)
}

/// [`intervals`], and those of `calibration` from the same resamples (each drawn once).
pub(super) fn intervals_with(
    items: &[ItemAgg],
    calibration: Option<&Resampler>,
    opts: &BootstrapOptions,
) -> BTreeMap<String, [f64; 2]> {
    let n = items.len();
    if n == 0 || opts.resamples == 0 {
        return BTreeMap::new();
    }
    let all: Vec<&ItemAgg> = items.iter().collect();
    let keys = defined_keys(&summarize(0, 0, &all));
    let rounds = rounds_of(&all);
    // The same rates as `scalar_rates(&summarize_rounds(..))` of the drawn items, bit for bit.
    let packed = Packed::new(items, rounds);
    let samples =
        each_resample(opts.seed, opts.resamples, n, |counts, tally: &mut (Vec<u64>, Vec<u64>)| {
            let rates = packed.rates(counts);
            let cal = calibration.map(|c| c.values(counts, tally)).unwrap_or_default();
            (rates, cal)
        });
    let (rates, cal): (Vec<_>, Vec<_>) = samples.into_iter().unzip();
    let mut out = percentiles(&keys, packed.keys(), rates, opts.level);
    if let Some(c) = calibration {
        out.extend(percentiles(c.keys(), c.keys(), cal, opts.level));
    }
    out
}

fn defined_keys(s: &Summary) -> Vec<String> {
    scalar_rates(s).into_iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k).collect()
}

/// `b − a` for every rate defined on both.
pub fn differences(a: &Summary, b: &Summary) -> Vec<(String, Option<f64>)> {
    rate_differences(scalar_rates(a), scalar_rates(b))
}

/// `b − a` of two sets of scalar rates, by key, in `b`'s order.
fn rate_differences(
    a: Vec<(String, Option<f64>)>,
    b: Vec<(String, Option<f64>)>,
) -> Vec<(String, Option<f64>)> {
    let a: BTreeMap<String, Option<f64>> = a.into_iter().collect();
    b.into_iter()
        .map(|(k, vb)| {
            let va = a.get(&k).copied().flatten();
            let d = match (va, vb) {
                (Some(x), Some(y)) => Some(y - x),
                _ => None,
            };
            (k, d)
        })
        .collect()
}

/// Paired percentile intervals of `b − a`: `a[i]` and `b[i]` are the same item in two runs and
/// are always drawn together.
pub fn paired_intervals(
    a: &[ItemAgg],
    b: &[ItemAgg],
    opts: &BootstrapOptions,
) -> BTreeMap<String, [f64; 2]> {
    let n = a.len().min(b.len());
    if n == 0 || opts.resamples == 0 {
        return BTreeMap::new();
    }
    let (ra, rb): (Vec<&ItemAgg>, Vec<&ItemAgg>) = (a.iter().collect(), b.iter().collect());
    let point = differences(&summarize(0, 0, &ra), &summarize(0, 0, &rb));
    let (na, nb) = (rounds_of(&ra), rounds_of(&rb));
    let keys: Vec<String> =
        point.into_iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k).collect();
    let (pa, pb) = (Packed::new(&a[..n], na), Packed::new(&b[..n], nb));
    let names: Vec<String> = pb.keys().to_vec();
    let samples = each_resample(opts.seed, opts.resamples, n, |counts, _: &mut ()| {
        let named = |p: &Packed| -> Vec<(String, Option<f64>)> {
            p.keys().iter().cloned().zip(p.rates(counts)).collect()
        };
        rate_differences(named(&pa), named(&pb)).into_iter().map(|(_, v)| v).collect()
    });
    percentiles(&keys, &names, samples, opts.level)
}
