//! The bootstrap's inner loop, fast: every per-item float the rates need is computed once, in
//! flat arrays, and a resample only sums them in the order of its draws. The sums are the same
//! operations in the same order as [`summarize_rounds`](super::summarize_rounds) followed by
//! [`scalar_rates`](super::scalar_rates) (the reference, kept as the test oracle), so the
//! intervals are the same to the last bit.

use rand::distr::{Distribution, Uniform};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

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

/// The items of a bootstrap, packed: items that contribute the same to every rate share one
/// entry (a run of 100k items has a few dozen kinds), so a resample streams a small index per
/// item instead of each item's floats.
pub(super) struct Packed {
    kinds: Vec<Item>,
    /// The kind of each item.
    kind_of: Vec<u32>,
    rounds: usize,
    /// Per kind and attempt index (row-major, `rounds` per kind): graded episodes, and the
    /// item's accuracy at that attempt when it has any.
    graded: Vec<u64>,
    share: Vec<f64>,
    keys: Vec<String>,
    /// Set when every value is dyadic: sums over kinds instead of items.
    exact: Option<Exact>,
}

/// What makes two items contribute the same: their counts (the floats follow from them).
type KindKey = ([u64; 4], [u64; 4], Vec<(u64, u64)>);

impl Packed {
    pub(super) fn new(items: &[ItemAgg], rounds: usize) -> Packed {
        let mut graded = Vec::new();
        let mut share = Vec::new();
        let mut kinds = Vec::new();
        let mut seen: std::collections::HashMap<KindKey, u32> = Default::default();
        let kind_of = items
            .iter()
            .map(|i| {
                let t = &i.trans;
                let per_round: Vec<(u64, u64)> = (0..rounds)
                    .map(|j| {
                        let r = i.round(j);
                        (r.graded, r.right)
                    })
                    .collect();
                let counts = [t.cc, t.cw, t.wc, t.ww];
                let crit = [i.crit.tp, i.crit.fp, i.crit.tn, i.crit.fn_];
                let next = u32::try_from(kinds.len()).unwrap_or(u32::MAX);
                *seen.entry((counts, crit, per_round.clone())).or_insert_with(|| {
                    for (g, right) in per_round {
                        graded.push(g);
                        share.push(if g > 0 { right as f64 / g as f64 } else { 0.0 });
                    }
                    let k = t.total().max(1) as f64;
                    kinds.push(Item {
                        scored: t.total() > 0,
                        counts,
                        cc: t.cc as f64 / k,
                        cw: t.cw as f64 / k,
                        wc: t.wc as f64 / k,
                        ww: t.ww as f64 / k,
                        crit,
                    });
                    next
                })
            })
            .collect();
        let mut keys: Vec<String> = super::rate_keys().iter().map(|k| k.to_string()).collect();
        for k in ["accuracy", "precision", "recall", "f1"] {
            keys.push(format!("critique.{k}"));
        }
        for j in 0..rounds {
            keys.push(format!("rounds.{j}.acc"));
        }
        let exact = Exact::of(&kinds, &share);
        Packed { kinds, kind_of, rounds, graded, share, keys, exact }
    }

    /// The keys of [`rates`](Self::rates)' values, in order.
    pub(super) fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The scalar rates of a resample where item `i` is drawn `counts[i]` times, in
    /// `scalar_rates` order (see [`keys`](Self::keys)): the reference on the sorted draws, bit
    /// for bit.
    pub(super) fn rates(&self, counts: &[u32]) -> Vec<Option<f64>> {
        let sums = match &self.exact {
            Some(exact) => self.sums_exact(exact, counts),
            None => self.sums_in_order(counts),
        };
        self.finish(sums)
    }

    /// The drawn items summed in item order, each as often as drawn (the reference's order).
    fn sums_in_order(&self, counts: &[u32]) -> Sums {
        let mut t = Sums::new(self.rounds);
        for (&kind, &c) in self.kind_of.iter().zip(counts) {
            if c == 0 {
                continue;
            }
            let Some(it) = self.kinds.get(kind as usize) else { continue };
            let w = u64::from(c);
            for (a, b) in t.pooled.iter_mut().zip(it.counts) {
                *a += w * b;
            }
            for (a, b) in t.crit.iter_mut().zip(it.crit) {
                *a += w * b;
            }
            if it.scored {
                t.scored += w;
                // Repeated adds, not a product: the same rounding as the reference.
                for _ in 0..c {
                    for (f, v) in t.floats.iter_mut().zip(it.floats()) {
                        *f += v;
                    }
                }
            }
        }
        for j in 0..self.rounds {
            let (mut sum, mut count) = (0.0, 0u64);
            for (&kind, &c) in self.kind_of.iter().zip(counts) {
                let at = kind as usize * self.rounds + j;
                if c > 0 && self.graded.get(at).is_some_and(|g| *g > 0) {
                    for _ in 0..c {
                        sum += self.share[at];
                    }
                    count += u64::from(c);
                }
            }
            t.round_sums.push((sum, count));
        }
        t
    }

    /// The same sums when every value is a multiple of 2^-m: then no partial sum rounds, in
    /// any order, so they are integer sums over kinds, equal to the reference's to the bit.
    fn sums_exact(&self, exact: &Exact, counts: &[u32]) -> Sums {
        let mut drawn = vec![0u64; self.kinds.len()];
        for (&kind, &c) in self.kind_of.iter().zip(counts) {
            if let Some(d) = drawn.get_mut(kind as usize) {
                *d += u64::from(c);
            }
        }
        let mut t = Sums::new(self.rounds);
        let mut nums = [0i128; 9];
        let mut round_nums = vec![0i128; self.rounds];
        for (k, (&w, it)) in drawn.iter().zip(&self.kinds).enumerate() {
            if w == 0 {
                continue;
            }
            for (a, b) in t.pooled.iter_mut().zip(it.counts) {
                *a += w * b;
            }
            for (a, b) in t.crit.iter_mut().zip(it.crit) {
                *a += w * b;
            }
            if it.scored {
                t.scored += w;
                for (n, v) in nums.iter_mut().zip(exact.nums.get(k).copied().unwrap_or_default()) {
                    *n += i128::from(w) * i128::from(v);
                }
            }
            for (j, n) in round_nums.iter_mut().enumerate() {
                let at = k * self.rounds + j;
                if self.graded.get(at).is_some_and(|g| *g > 0) {
                    *n += i128::from(w) * i128::from(exact.share.get(at).copied().unwrap_or(0));
                    if let Some(r) = t.round_counts.get_mut(j) {
                        *r += w;
                    }
                }
            }
        }
        // Folds over no terms start at 0.0 or -0.0; either way their ratio is undefined.
        for (f, n) in t.floats.iter_mut().zip(nums) {
            *f = n as f64 / exact.scale;
        }
        for (j, n) in round_nums.into_iter().enumerate() {
            let count = t.round_counts.get(j).copied().unwrap_or(0);
            t.round_sums.push((n as f64 / exact.scale, count));
        }
        t
    }

    fn finish(&self, t: Sums) -> Vec<Option<f64>> {
        let [acc1, acc2, delta, i2c, c2i, s_cc, s_cc_cw, s_wc, s_wc_ww] = t.floats;
        let n = t.scored as f64;
        let acc_t1 = ratio(acc1, n);
        let acc_t2 = ratio(acc2, n);
        let [cc, cw, wc, ww] = t.pooled;
        let rss = match acc_t1 {
            Some(p1) if cc + cw > 0 && wc + ww > 0 => {
                acc_t2.map(|p2| (p2 - p1 * p1) / (2.0 * p1 * (1.0 - p1)))
            }
            _ => None,
        };
        let [tp, fp, tn, fn_] = t.crit;
        let crit_n = tp + fp + tn + fn_;
        let mut values = Vec::with_capacity(self.keys.len());
        values.extend([
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
        ]);
        values.extend(t.round_sums.into_iter().map(|(sum, count)| ratio(sum, count as f64)));
        values
    }
}

/// A resample's sums, before the rates are formed.
struct Sums {
    pooled: [u64; 4],
    crit: [u64; 4],
    scored: u64,
    /// acc1, acc2, delta, i2c, c2i, cc, cc+cw, wc, wc+ww: item-weighted means fold from 0.0
    /// (`mean`), plain sums from -0.0 (`Iterator::sum`), as the reference does.
    floats: [f64; 9],
    round_sums: Vec<(f64, u64)>,
    round_counts: Vec<u64>,
}

impl Sums {
    fn new(rounds: usize) -> Sums {
        Sums {
            pooled: [0; 4],
            crit: [0; 4],
            scored: 0,
            floats: [0.0, 0.0, 0.0, 0.0, 0.0, -0.0, -0.0, -0.0, -0.0],
            round_sums: Vec::with_capacity(rounds),
            round_counts: vec![0; rounds],
        }
    }
}

impl Item {
    /// The terms each scored item adds to [`Sums::floats`], in that order.
    fn floats(&self) -> [f64; 9] {
        let (cc, cw, wc, ww) = (self.cc, self.cw, self.wc, self.ww);
        [cc + cw, cc + wc, wc - cw, wc, cw, cc, cc + cw, wc, wc + ww]
    }
}

/// Every kind's float terms as integers over a common power of two.
struct Exact {
    scale: f64,
    nums: Vec<[i64; 9]>,
    share: Vec<i64>,
}

/// The largest power of two any value is scaled by: partial sums of up to 2^32 terms in
/// [-1, 1] stay exact in an f64 (52 bits) up to 2^-20.
const MAX_EXP: i32 = 20;

impl Exact {
    fn of(kinds: &[Item], share: &[f64]) -> Option<Exact> {
        let values = || kinds.iter().flat_map(Item::floats).chain(share.iter().copied());
        let exp = values().map(dyadic_exponent).try_fold(0, |m, e| e.map(|e| m.max(e)))?;
        let scale = f64::from(2u32.pow(exp as u32));
        // In range by construction: |v| ≤ 2 and v·2^m an integer, m ≤ 20.
        let int = |v: f64| (v * scale) as i64;
        Some(Exact {
            scale,
            nums: kinds.iter().map(|k| k.floats().map(int)).collect(),
            share: share.iter().map(|&v| int(v)).collect(),
        })
    }
}

/// The least m ≤ 20 with v·2^m an integer (|v| ≤ 2), if any.
fn dyadic_exponent(v: f64) -> Option<i32> {
    if !v.is_finite() || v.abs() > 2.0 {
        return None;
    }
    (0..=MAX_EXP).find(|&m| (v * f64::from(2u32.pow(m as u32))).fract() == 0.0)
}

/// How often each of `n` items is drawn in resample `r`: `n` draws with replacement from the
/// resample's own ChaCha8 stream of `seed`. Any resample can be drawn alone, so the work splits
/// across threads and every statistic of a report sees the same resamples.
#[cfg(test)]
pub(super) fn draw_counts(seed: u64, r: u32, n: usize, counts: &mut Vec<u32>) {
    draw_counts_with(seed, r, n, counts, &mut Vec::new());
}

/// [`draw_counts`] with the generator's words in `words` (scratch, kept between resamples).
fn draw_counts_with(seed: u64, r: u32, n: usize, counts: &mut Vec<u32>, words: &mut Vec<u32>) {
    counts.clear();
    counts.resize(n, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(r));
    let Ok(n32) = u32::try_from(n) else {
        // Beyond 2^32 items: rand's general sampler.
        if let Ok(dist) = Uniform::new(0, n) {
            for _ in 0..n {
                if let Some(c) = counts.get_mut(dist.sample(&mut rng)) {
                    *c += 1;
                }
            }
        }
        return;
    };
    if n32 == 0 {
        return;
    }
    // Lemire's multiply-and-reject on a block of words the generator fills at once: exactly
    // uniform, and about 3× faster here than drawing each index through `Uniform` (this loop
    // is most of a bootstrap's time).
    let reject_below = n32.wrapping_neg() % n32;
    words.clear();
    words.resize(n, 0);
    rng.fill(&mut words[..]);
    for &w in words.iter() {
        let mut m = u64::from(w) * u64::from(n32);
        while (m as u32) < reject_below {
            m = u64::from(rng.next_u32()) * u64::from(n32);
        }
        if let Some(c) = counts.get_mut((m >> 32) as usize) {
            *c += 1;
        }
    }
}

/// `stat` of each of `resamples` resamples of `n` items (given its draw counts and a scratch
/// value of the thread), in resample order, computed on up to as many threads as the machine
/// has cores. The result does not depend on the number of threads.
pub(super) fn each_resample<T: Send, S: Default>(
    seed: u64,
    resamples: u32,
    n: usize,
    stat: impl Fn(&[u32], &mut S) -> T + Sync,
) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, 8)
        .min(resamples.max(1) as usize);
    let run = |from: u32, to: u32| -> Vec<T> {
        let (mut counts, mut words) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut scratch = S::default();
        (from..to)
            .map(|r| {
                draw_counts_with(seed, r, n, &mut counts, &mut words);
                stat(&counts, &mut scratch)
            })
            .collect()
    };
    if threads <= 1 {
        return run(0, resamples);
    }
    let chunk = resamples.div_ceil(threads as u32);
    let bounds: Vec<(u32, u32)> = (0..threads as u32)
        .map(|t| (t * chunk, ((t + 1) * chunk).min(resamples)))
        .filter(|(a, b)| a < b)
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = bounds.iter().map(|&(a, b)| s.spawn(move || run(a, b))).collect();
        // A worker cannot panic short of a bug; its resamples are then simply missing.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
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
        check_against_reference(false);
    }

    /// The same with k ∈ {1, 2, 4} samples per item and dyadic per-attempt shares: the sums
    /// over kinds, not items.
    #[test]
    fn exact_sums_over_kinds_equal_the_reference_bit_for_bit() {
        check_against_reference(true);
    }

    fn check_against_reference(dyadic: bool) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut exact_cases = 0;
        for case in 0..300u64 {
            let n = rng.random_range(1..60);
            let all = if dyadic { dyadic_items(&mut rng, n) } else { items(&mut rng, n) };
            let refs: Vec<&ItemAgg> = all.iter().collect();
            let rounds = crate::metrics::rounds_of(&refs);
            let packed = Packed::new(&all, rounds);
            if dyadic {
                assert!(packed.exact.is_some(), "case {case}: dyadic values");
            } else {
                exact_cases += usize::from(packed.exact.is_some());
            }
            let mut counts = Vec::new();
            for r in 0..5 {
                draw_counts(case, r, n, &mut counts);
                assert_eq!(counts.iter().map(|&c| c as usize).sum::<usize>(), n);
                // The same draws, sorted: item i as often as it was drawn.
                let sample: Vec<&ItemAgg> = counts
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &c)| std::iter::repeat_n(&all[i], c as usize))
                    .collect();
                let want = scalar_rates(&summarize_rounds(0, 0, &sample, rounds));
                let got: Vec<(String, Option<f64>)> =
                    packed.keys().iter().cloned().zip(packed.rates(&counts)).collect();
                let bits = |v: &[(String, Option<f64>)]| -> Vec<(String, Option<u64>)> {
                    v.iter().map(|(k, x)| (k.clone(), x.map(f64::to_bits))).collect()
                };
                assert_eq!(bits(&got), bits(&want), "case {case}, counts {counts:?}");
            }
        }
        // Most random sets have thirds or fifths: the in-order path is what ran there.
        assert!(dyadic || exact_cases < 150, "{exact_cases} of 300 were dyadic");
    }

    fn dyadic_items(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> Vec<ItemAgg> {
        let mut out = items(rng, n);
        for it in &mut out {
            let k = [0, 1, 2, 4][rng.random_range(0..4)];
            let mut t = Transitions::default();
            for _ in 0..k {
                match rng.random_range(0..4) {
                    0 => t.cc += 1,
                    1 => t.cw += 1,
                    2 => t.wc += 1,
                    _ => t.ww += 1,
                }
            }
            it.trans = t;
            for r in &mut it.rounds {
                r.graded = [0, 1, 2, 4][rng.random_range(0..4)];
                r.right = rng.random_range(0..=r.graded);
            }
        }
        out
    }

    /// Resamples are drawn per index, so the threads' split changes nothing: the same values as
    /// drawing each resample alone, in resample order.
    #[test]
    fn each_resample_is_the_resamples_drawn_one_by_one() {
        let n = 37;
        let got = each_resample(9, 25, n, |counts, _: &mut ()| counts.to_vec());
        let mut counts = Vec::new();
        let want: Vec<Vec<u32>> = (0..25)
            .map(|r| {
                draw_counts(9, r, n, &mut counts);
                counts.clone()
            })
            .collect();
        assert_eq!(got, want);
        // Different resamples differ, and a different seed gives other draws.
        assert_ne!(want[0], want[1]);
        draw_counts(10, 0, n, &mut counts);
        assert_ne!(counts, want[0]);
    }

    /// Every item is drawn about once per resample on average, none favoured.
    #[test]
    fn draws_are_uniform_over_the_items() {
        let (n, resamples) = (7, 20_000);
        let mut totals = [0u64; 7];
        let mut counts = Vec::new();
        for r in 0..resamples {
            draw_counts(1, r, n, &mut counts);
            for (t, &c) in totals.iter_mut().zip(&counts) {
                *t += u64::from(c);
            }
        }
        for t in totals {
            let mean = t as f64 / f64::from(resamples);
            assert!((mean - 1.0).abs() < 0.03, "{totals:?}");
        }
    }
}
