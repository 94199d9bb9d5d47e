//! The bootstrap's inner loop, fast: every per-item float the rates need is computed once, in
//! flat arrays, and a resample only sums them in the order of its draws. The sums are the same
//! operations in the same order as [`summarize_rounds`](super::summarize_rounds) followed by
//! [`scalar_rates`](super::scalar_rates) (the reference, kept as the test oracle), so the
//! intervals are the same to the last bit.

use super::aggregate::ItemAgg;
use super::ratio;

/// One item's contribution to every resampled rate.
#[derive(Debug, Clone, Copy, Default)]
struct Item {
    /// Whether the item has a scored episode (it enters the item-weighted means).
    scored: bool,
    /// Pooled t1→t2 counts (cc, cw, wc, ww).
    counts: [u64; 4],
    /// The item's shares as the reference computes them: cc/k, cw/k, wc/k, ww/k.
    cc: f64,
    cw: f64,
    wc: f64,
    ww: f64,
    /// Critique counts tp, fp, tn, fn.
    crit: [u64; 4],
}

/// The items of a bootstrap, packed.
pub(super) struct Packed {
    items: Vec<Item>,
    rounds: usize,
    /// Per item and attempt index (row-major, `rounds` per item): graded episodes, and the
    /// item's accuracy at that attempt when it has any.
    graded: Vec<u64>,
    share: Vec<f64>,
    keys: Vec<String>,
}

impl Packed {
    pub(super) fn new(items: &[ItemAgg], rounds: usize) -> Packed {
        let mut graded = Vec::with_capacity(items.len() * rounds);
        let mut share = Vec::with_capacity(items.len() * rounds);
        let packed = items
            .iter()
            .map(|i| {
                for j in 0..rounds {
                    let r = i.round(j);
                    graded.push(r.graded);
                    share.push(if r.graded > 0 { r.right as f64 / r.graded as f64 } else { 0.0 });
                }
                let t = &i.trans;
                let k = t.total().max(1) as f64;
                Item {
                    scored: t.total() > 0,
                    counts: [t.cc, t.cw, t.wc, t.ww],
                    cc: t.cc as f64 / k,
                    cw: t.cw as f64 / k,
                    wc: t.wc as f64 / k,
                    ww: t.ww as f64 / k,
                    crit: [i.crit.tp, i.crit.fp, i.crit.tn, i.crit.fn_],
                }
            })
            .collect();
        let mut keys: Vec<String> = super::rate_keys().iter().map(|k| k.to_string()).collect();
        for k in ["accuracy", "precision", "recall", "f1"] {
            keys.push(format!("critique.{k}"));
        }
        for j in 0..rounds {
            keys.push(format!("rounds.{j}.acc"));
        }
        Packed { items: packed, rounds, graded, share, keys }
    }

    /// The scalar rates of the items drawn in `pick` (indices into the packed items), in
    /// `scalar_rates` order with its keys.
    pub(super) fn rates(&self, pick: &[usize]) -> Vec<(String, Option<f64>)> {
        let mut pooled = [0u64; 4];
        let mut crit = [0u64; 4];
        // Item-weighted means fold from 0.0 (`mean`); plain sums from -0.0 (`Iterator::sum`).
        let (mut acc1, mut acc2, mut delta, mut i2c, mut c2i) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let (mut s_cc, mut s_cc_cw, mut s_wc, mut s_wc_ww) = (-0.0, -0.0, -0.0, -0.0);
        let mut scored = 0u64;
        for &p in pick {
            let Some(it) = self.items.get(p) else { continue };
            for (a, b) in pooled.iter_mut().zip(it.counts) {
                *a += b;
            }
            for (a, b) in crit.iter_mut().zip(it.crit) {
                *a += b;
            }
            if it.scored {
                scored += 1;
                acc1 += it.cc + it.cw;
                acc2 += it.cc + it.wc;
                delta += it.wc - it.cw;
                i2c += it.wc;
                c2i += it.cw;
                s_cc += it.cc;
                s_cc_cw += it.cc + it.cw;
                s_wc += it.wc;
                s_wc_ww += it.wc + it.ww;
            }
        }
        let n = scored as f64;
        let acc_t1 = ratio(acc1, n);
        let acc_t2 = ratio(acc2, n);
        let [cc, cw, wc, ww] = pooled;
        let rss = match acc_t1 {
            Some(p1) if cc + cw > 0 && wc + ww > 0 => {
                acc_t2.map(|p2| (p2 - p1 * p1) / (2.0 * p1 * (1.0 - p1)))
            }
            _ => None,
        };
        let [tp, fp, tn, fn_] = crit;
        let crit_n = tp + fp + tn + fn_;
        let mut values = vec![
            acc_t1,
            acc_t2,
            ratio(delta, n),
            ratio(i2c, n),
            ratio(c2i, n),
            ratio(s_cc, s_cc_cw),
            ratio(s_wc, s_wc_ww),
            rss,
            ratio((tp + tn) as f64, crit_n as f64),
            ratio(tp as f64, (tp + fp) as f64),
            ratio(tp as f64, (tp + fn_) as f64),
            ratio(2.0 * tp as f64, (2 * tp + fp + fn_) as f64),
        ];
        for j in 0..self.rounds {
            let (mut sum, mut count) = (0.0, 0u64);
            for &p in pick {
                let at = p * self.rounds + j;
                if self.graded.get(at).is_some_and(|g| *g > 0) {
                    sum += self.share[at];
                    count += 1;
                }
            }
            values.push(ratio(sum, count as f64));
        }
        self.keys.iter().cloned().zip(values).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::aggregate::{CritCounts, RoundAgg};
    use crate::metrics::{Transitions, scalar_rates, summarize_rounds};
    use rand::{Rng, SeedableRng};

    /// Random items: any mix of scored and unscored, several rounds of unequal length,
    /// critique counts, and items with nothing at all.
    fn items(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> Vec<ItemAgg> {
        (0..n)
            .map(|i| {
                let mut c =
                    |max: u64| if rng.random_bool(0.2) { 0 } else { rng.random_range(0..=max) };
                let trans = Transitions { cc: c(3), cw: c(2), wc: c(2), ww: c(3) };
                let crit = CritCounts {
                    tp: c(2),
                    fp: c(2),
                    tn: c(2),
                    fn_: c(2),
                    unparsed: c(1),
                    verdict_correct: 0,
                    verdict_incorrect: 0,
                };
                let len = rng.random_range(0..4);
                let rounds = (0..len)
                    .map(|_| {
                        let graded = rng.random_range(0..4);
                        RoundAgg {
                            right: rng.random_range(0..=graded),
                            graded,
                            trans: Transitions::default(),
                        }
                    })
                    .collect();
                ItemAgg {
                    item_id: format!("i{i}"),
                    trans,
                    crit,
                    rounds,
                    tail: Transitions::default(),
                }
            })
            .collect()
    }

    /// The oracle: for random item sets and random draws (repeats and all), the packed rates
    /// are exactly the reference's, bit for bit.
    #[test]
    fn packed_rates_equal_the_reference_bit_for_bit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..300 {
            let n = rng.random_range(1..60);
            let all = items(&mut rng, n);
            let refs: Vec<&ItemAgg> = all.iter().collect();
            let rounds = crate::metrics::rounds_of(&refs);
            let packed = Packed::new(&all, rounds);
            for _ in 0..5 {
                let pick: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
                let sample: Vec<&ItemAgg> = pick.iter().map(|&i| &all[i]).collect();
                let want = scalar_rates(&summarize_rounds(0, 0, &sample, rounds));
                let got = packed.rates(&pick);
                let bits = |v: &[(String, Option<f64>)]| -> Vec<(String, Option<u64>)> {
                    v.iter().map(|(k, x)| (k.clone(), x.map(f64::to_bits))).collect()
                };
                assert_eq!(bits(&got), bits(&want), "case {case}, pick {pick:?}");
            }
        }
    }
}
