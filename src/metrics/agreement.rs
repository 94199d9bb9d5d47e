//! Inter-annotator agreement on one label name: pairwise Cohen's κ with confusion matrices and
//! Krippendorff's α (nominal, missing data allowed), with percentile bootstrap intervals.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::stats::{kappa, percentile_interval};

/// One annotator's value for one unit (a unit is one labelled target, e.g. "3#0@1" = item 3,
/// sample 0, turn 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating<'a> {
    pub unit: &'a str,
    pub annotator: &'a str,
    pub value: &'a str,
}

/// Agreement of two annotators on the units both rated.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PairAgreement {
    /// Annotator names, `a < b`.
    pub a: String,
    pub b: String,
    /// Units both rated.
    pub n: u64,
    /// Observed agreement share in [0,1].
    pub percent: f64,
    /// Cohen's κ; `None` when chance agreement is 1.
    pub kappa: Option<f64>,
    /// Percentile bootstrap over the shared units.
    pub kappa_ci: Option<[f64; 2]>,
    /// Sorted union of both annotators' values on the shared units.
    pub values: Vec<String>,
    /// `confusion[i][j]` = units where `a` said `values[i]` and `b` said `values[j]`.
    pub confusion: Vec<Vec<u64>>,
}

/// Krippendorff's α (nominal) with its ingredients.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Alpha {
    /// Pairable units (with ≥ 2 values).
    pub units: u64,
    /// `n..`, the number of pairable values.
    pub values: u64,
    /// `D_o = Σ_{c≠k} o_ck / n`.
    pub observed_disagreement: f64,
    /// `D_e = Σ_{c≠k} n_c·n_k / (n(n−1))`.
    pub expected_disagreement: f64,
    /// `1 − D_o/D_e`; `None` when `D_e == 0` (a single value overall).
    pub alpha: Option<f64>,
    pub ci: Option<[f64; 2]>,
}

/// Agreement among all annotators of one label name.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LabelAgreement {
    /// Sorted.
    pub annotators: Vec<String>,
    /// Units with at least one rating.
    pub units: u64,
    /// Every annotator pair with ≥ 1 shared unit, sorted by `(a, b)`.
    pub pairs: Vec<PairAgreement>,
    /// `None` when no unit has two ratings.
    pub alpha: Option<Alpha>,
}

/// Bootstrap settings for agreement intervals.
#[derive(Debug, Clone, Copy)]
pub struct AgreementOptions {
    /// 0 = no intervals.
    pub resamples: u32,
    pub seed: u64,
    /// Coverage of the percentile interval.
    pub level: f64,
}

/// Agreement on one label name. A unit rated twice by the same annotator keeps the LAST rating
/// in slice order (callers pass effective values, so this should not happen; be defined anyway).
///
/// α's interval uses `opts.seed`; each pair's κ interval uses `opts.seed` XOR a hash of the two
/// names, so a pair's interval does not move when annotators are added or removed.
pub fn agreement(ratings: &[Rating<'_>], opts: &AgreementOptions) -> LabelAgreement {
    // BTreeMaps keep every result independent of the slice order (bar the last-wins rule).
    let mut by_unit: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for r in ratings {
        by_unit.entry(r.unit).or_default().insert(r.annotator, r.value);
    }
    let annotators: BTreeSet<&str> = ratings.iter().map(|r| r.annotator).collect();
    let mut pairs = Vec::new();
    for (i, &a) in annotators.iter().enumerate() {
        for &b in annotators.iter().skip(i + 1) {
            let shared: Vec<(&str, &str)> =
                by_unit.values().filter_map(|m| Some((*m.get(a)?, *m.get(b)?))).collect();
            pairs.extend(pair_agreement(a, b, &shared, opts));
        }
    }
    let units: Vec<Vec<&str>> = by_unit.values().map(|m| m.values().copied().collect()).collect();
    let alpha =
        krippendorff_alpha_nominal(&units).map(|a| Alpha { ci: alpha_interval(&units, opts), ..a });
    LabelAgreement {
        annotators: annotators.iter().map(|s| s.to_string()).collect(),
        units: by_unit.len() as u64,
        pairs,
        alpha,
    }
}

fn pair_agreement(
    a: &str,
    b: &str,
    shared: &[(&str, &str)],
    opts: &AgreementOptions,
) -> Option<PairAgreement> {
    let k = kappa(shared)?;
    let values: Vec<&str> =
        shared.iter().flat_map(|&(x, y)| [x, y]).collect::<BTreeSet<_>>().into_iter().collect();
    let index = |v: &str| values.binary_search(&v).ok();
    let mut confusion = vec![vec![0u64; values.len()]; values.len()];
    for &(x, y) in shared {
        let cell = index(x).zip(index(y)).and_then(|(i, j)| confusion.get_mut(i)?.get_mut(j));
        if let Some(cell) = cell {
            *cell += 1;
        }
    }
    let pair_opts = AgreementOptions { seed: opts.seed ^ pair_hash(a, b), ..*opts };
    Some(PairAgreement {
        a: a.to_string(),
        b: b.to_string(),
        n: k.n,
        percent: k.observed,
        kappa: k.kappa,
        kappa_ci: kappa_interval(shared, &pair_opts),
        values: values.iter().map(|v| v.to_string()).collect(),
        confusion,
    })
}

/// FNV-1a of `a`, 0xFF (never in UTF-8, so the split is unambiguous), `b`: a stable per-pair
/// seed offset (std's hashers are not guaranteed stable across releases).
fn pair_hash(a: &str, b: &str) -> u64 {
    let bytes = a.bytes().chain([0xFF]).chain(b.bytes());
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, x| (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3))
}

/// A pairable unit reduced to what α needs.
struct UnitTally {
    /// Values in the unit, `m_u ≥ 2`.
    m: u64,
    /// `Σ_{c≠k}` of the unit's coincidences: `(m² − Σ_c count_c²)/(m − 1)`.
    disagree: f64,
    /// (value index, count) — the unit's contribution to each `n_c`.
    counts: Vec<(usize, u64)>,
}

/// The number of distinct pairable values and a tally of each pairable unit.
fn tally(units: &[Vec<&str>]) -> (usize, Vec<UnitTally>) {
    let pairable: Vec<&Vec<&str>> = units.iter().filter(|u| u.len() >= 2).collect();
    let distinct: BTreeSet<&str> = pairable.iter().flat_map(|u| u.iter().copied()).collect();
    let index: BTreeMap<&str, usize> =
        distinct.into_iter().enumerate().map(|(i, v)| (v, i)).collect();
    let tallies = pairable
        .iter()
        .map(|u| {
            let mut counts: BTreeMap<usize, u64> = BTreeMap::new();
            for v in u.iter() {
                if let Some(&i) = index.get(v) {
                    *counts.entry(i).or_default() += 1;
                }
            }
            let m = u.len() as u64;
            let same: u64 = counts.values().map(|c| c * c).sum();
            // m² − Σ count² ordered pairs of different values, each weighted 1/(m − 1).
            let disagree = (m * m - same) as f64 / (m - 1) as f64;
            UnitTally { m, disagree, counts: counts.into_iter().collect() }
        })
        .collect();
    (index.len(), tallies)
}

/// α over a multiset of tallied units (`k` distinct values); `n_c` is scratch space.
fn alpha_of<'t>(
    k: usize,
    units: impl Iterator<Item = &'t UnitTally>,
    n_c: &mut Vec<u64>,
) -> Option<Alpha> {
    n_c.clear();
    n_c.resize(k, 0);
    let (mut pairable, mut n, mut disagree) = (0u64, 0u64, 0.0);
    for u in units {
        pairable += 1;
        n += u.m;
        disagree += u.disagree;
        for &(i, c) in &u.counts {
            if let Some(slot) = n_c.get_mut(i) {
                *slot += c;
            }
        }
    }
    if pairable == 0 {
        return None;
    }
    // Σ_{c≠k} n_c·n_k = n² − Σ n_c², in integers so that D_e == 0 is detected exactly.
    let expected = u128::from(n) * u128::from(n)
        - n_c.iter().map(|&c| u128::from(c) * u128::from(c)).sum::<u128>();
    let nf = n as f64;
    let alpha = (expected > 0).then(|| 1.0 - (nf - 1.0) * disagree / expected as f64);
    Some(Alpha {
        units: pairable,
        values: n,
        observed_disagreement: disagree / nf,
        expected_disagreement: expected as f64 / (nf * (nf - 1.0)),
        alpha,
        ci: None,
    })
}

/// Krippendorff's alpha, nominal metric, any number of annotators, missing data allowed.
/// `units`: per unit, the values it received (one per annotator who rated it). Units with fewer
/// than 2 values are not pairable and ignored; `None` when no unit is pairable.
pub fn krippendorff_alpha_nominal(units: &[Vec<&str>]) -> Option<Alpha> {
    let (k, tallies) = tally(units);
    alpha_of(k, tallies.iter(), &mut Vec::with_capacity(k))
}

/// Percentile bootstrap interval for alpha, resampling units with replacement (pairable units
/// only); resamples where alpha is undefined are skipped.
pub fn alpha_interval(units: &[Vec<&str>], opts: &AgreementOptions) -> Option<[f64; 2]> {
    let (k, tallies) = tally(units);
    let mut n_c = Vec::with_capacity(k);
    bootstrap(tallies.len(), opts, |pick| {
        alpha_of(k, pick.iter().filter_map(|&i| tallies.get(i)), &mut n_c)?.alpha
    })
}

/// Percentile bootstrap interval for Cohen's kappa, resampling the (a,b) pairs with
/// replacement; resamples where kappa is undefined are skipped.
pub fn kappa_interval(pairs: &[(&str, &str)], opts: &AgreementOptions) -> Option<[f64; 2]> {
    let mut sample = Vec::with_capacity(pairs.len());
    bootstrap(pairs.len(), opts, |pick| {
        sample.clear();
        sample.extend(pick.iter().filter_map(|&i| pairs.get(i).copied()));
        kappa(&sample)?.kappa
    })
}

/// Percentile interval of `stat` over draws of `n` indices with replacement. A draw where
/// `stat` is undefined adds nothing: the interval is conditional on it being defined.
fn bootstrap(
    n: usize,
    opts: &AgreementOptions,
    mut stat: impl FnMut(&[usize]) -> Option<f64>,
) -> Option<[f64; 2]> {
    if n == 0 || opts.resamples == 0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut pick = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(opts.resamples as usize);
    for _ in 0..opts.resamples {
        pick.clear();
        pick.extend((0..n).map(|_| rng.random_range(0..n)));
        values.extend(stat(&pick));
    }
    percentile_interval(&mut values, opts.level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;

    fn opts(resamples: u32, seed: u64) -> AgreementOptions {
        AgreementOptions { resamples, seed, level: 0.95 }
    }

    fn close(x: Option<f64>, want: f64, tol: f64) {
        let x = x.expect("defined");
        assert!((x - want).abs() <= tol, "{x} != {want}");
    }

    /// Columns of a reliability matrix (rows = observers, "." = missing).
    fn columns(rows: &[&'static str]) -> Vec<Vec<&'static str>> {
        let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.split(' ').collect()).collect();
        (0..rows[0].len())
            .map(|u| rows.iter().map(|r| r[u]).filter(|v| *v != ".").collect())
            .collect()
    }

    /// 2 coders, 20 units, 3 values: 16 agreements and a ring of 4 disagreements.
    fn base_pairs() -> Vec<(&'static str, &'static str)> {
        let mut p = vec![("a", "a"); 6];
        p.extend([("b", "b"); 6]);
        p.extend([("c", "c"); 4]);
        p.extend([("a", "b"), ("b", "c"), ("c", "a"), ("a", "c")]);
        p
    }

    fn as_units(pairs: &[(&'static str, &'static str)]) -> Vec<Vec<&'static str>> {
        pairs.iter().map(|&(x, y)| vec![x, y]).collect()
    }

    #[test]
    fn krippendorff_2011_worked_example() {
        let units = columns(&[
            "1 2 3 3 2 1 4 1 2 . . .",
            "1 2 3 3 2 2 4 1 2 5 . 3",
            ". 3 3 3 2 3 4 2 2 5 1 .",
            "1 2 3 3 2 4 4 1 2 5 1 .",
        ]);
        // Coincidences by hand: o11=7, o22=10, o33=8, o44=4, o55=3, o12=o21=4/3, o23=o32=4/3,
        // o13=o14=o24=o34=1/3 (and transposes) → n_c = 9, 13, 10, 5, 3; n = 40;
        // Σ_{c≠k} o_ck = 40 − 32 = 8; Σ_{c≠k} n_c n_k = 1600 − 384 = 1216;
        // α = 1 − 39·8/1216 = 113/152 ≈ 0.7434 (paper: 0.743).
        let a = krippendorff_alpha_nominal(&units).expect("pairable");
        assert_eq!((a.units, a.values), (11, 40));
        close(a.alpha, 0.743, 1e-3);
        close(a.alpha, 113.0 / 152.0, 1e-12);
        close(Some(a.observed_disagreement), 8.0 / 40.0, 1e-12);
        close(Some(a.expected_disagreement), 1216.0 / 1560.0, 1e-12);
        assert_eq!(a.ci, None);
    }

    #[test]
    fn two_coders_small_case_and_scotts_pi() {
        let units = as_units(&[("a", "a"), ("a", "b"), ("b", "b"), ("b", "b")]);
        // o_aa = 2, o_ab = o_ba = 1, o_bb = 4 → n_a = 3, n_b = 5, n = 8;
        // α = 1 − 7·2/(2·3·5) = 8/15.
        let a = krippendorff_alpha_nominal(&units).expect("pairable");
        close(a.alpha, 8.0 / 15.0, 1e-12);
        // Scott's π: p_o = 3/4, p_e = (3/8)² + (5/8)² = 17/32 → π = 7/15; with N = 4 units,
        // α = 1 − (1 − π)·(2N − 1)/(2N) = 1 − (8/15)(7/8) = 8/15.
        let (pi, n) = (7.0 / 15.0, 4.0);
        close(a.alpha, 1.0 - (1.0 - pi) * (2.0 * n - 1.0) / (2.0 * n), 1e-12);
        // Same relation on the 20-unit pattern: p_o = 16/20, pooled a,b,c = 15,14,11 of 40
        // → p_e = 542/1600, π = (1280 − 542)/(1600 − 542) = 369/529; directly,
        // α = 1 − 39·8/(1600 − 542) = 373/529.
        let a = krippendorff_alpha_nominal(&as_units(&base_pairs())).expect("pairable");
        let (pi, n) = (369.0 / 529.0, 20.0);
        close(a.alpha, 1.0 - (1.0 - pi) * (2.0 * n - 1.0) / (2.0 * n), 1e-12);
        close(a.alpha, 373.0 / 529.0, 1e-12);
    }

    #[test]
    fn degenerate_alphas() {
        let perfect = krippendorff_alpha_nominal(&[vec!["a", "a"], vec!["b", "b", "b"], vec!["c"]]);
        assert_eq!(perfect.and_then(|a| a.alpha), Some(1.0));
        let one_value =
            krippendorff_alpha_nominal(&[vec!["a", "a"], vec!["a", "a", "a"]]).expect("pairable");
        assert_eq!((one_value.alpha, one_value.expected_disagreement), (None, 0.0));
        assert_eq!(alpha_interval(&[vec!["a", "a"], vec!["a", "a"]], &opts(100, 0)), None);
        assert_eq!(krippendorff_alpha_nominal(&[vec!["a"], vec!["b"], vec![]]), None);
        let lone = [Rating { unit: "u", annotator: "x", value: "v" }];
        let la = agreement(&lone, &opts(100, 0));
        assert_eq!((la.units, la.pairs.len(), la.alpha), (1, 0, None));
    }

    /// 3 annotators: a and b rate u0..u49 as in the textbook 2×2 example; c rates a few of
    /// them, `x` (with b) and `y` (alone).
    fn three_annotators(names: &[String]) -> Vec<Rating<'_>> {
        let mut r = Vec::new();
        for (i, unit) in names.iter().enumerate() {
            let (va, vb) = match i {
                0..20 => ("yes", "yes"),
                20..25 => ("yes", "no"),
                25..35 => ("no", "yes"),
                _ => ("no", "no"),
            };
            r.push(Rating { unit, annotator: "a", value: va });
            r.push(Rating { unit, annotator: "b", value: vb });
        }
        for (unit, value) in [(0, "yes"), (20, "no"), (25, "yes"), (35, "maybe")] {
            r.push(Rating { unit: &names[unit], annotator: "c", value });
        }
        r.push(Rating { unit: "x", annotator: "b", value: "no" });
        r.push(Rating { unit: "x", annotator: "c", value: "no" });
        r.push(Rating { unit: "y", annotator: "c", value: "yes" });
        r
    }

    #[test]
    fn agreement_three_annotators_with_missing_ratings() {
        let names: Vec<String> = (0..50).map(|i| format!("{i}#0@1")).collect();
        let la = agreement(&three_annotators(&names), &opts(0, 0));
        assert_eq!(la.annotators, ["a", "b", "c"]);
        assert_eq!(la.units, 52);
        let got: Vec<(&str, &str, u64)> =
            la.pairs.iter().map(|p| (p.a.as_str(), p.b.as_str(), p.n)).collect();
        assert_eq!(got, [("a", "b", 50), ("a", "c", 4), ("b", "c", 5)]);
        let (ab, ac, bc) = (&la.pairs[0], &la.pairs[1], &la.pairs[2]);
        // Textbook 2×2: p_o = 35/50 = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, κ = 0.2/0.5 = 0.4.
        assert_eq!(ab.values, ["no", "yes"]);
        assert_eq!(ab.confusion, [[15, 10], [5, 20]]);
        close(Some(ab.percent), 0.7, 1e-12);
        close(ab.kappa, 0.4, 1e-12);
        assert_eq!(ab.kappa_ci, None);
        // a,c on u0,u20,u25,u35: (yes,yes) (yes,no) (no,yes) (no,maybe): p_o = 1/4,
        // p_e = (2·2 + 2·1)/16 = 3/8, κ = (1/4 − 3/8)/(5/8) = −1/5.
        assert_eq!(ac.values, ["maybe", "no", "yes"]);
        assert_eq!(ac.confusion, [[0, 0, 0], [1, 0, 1], [0, 1, 1]]);
        close(Some(ac.percent), 0.25, 1e-12);
        close(ac.kappa, -0.2, 1e-12);
        // b,c on u0,u20,u25,u35,x: 4 of 5 agree, p_e = (2·2 + 3·2)/25 = 2/5, κ = 0.4/0.6.
        assert_eq!(bc.confusion, [[0, 0, 0], [1, 2, 0], [0, 0, 2]]);
        close(Some(bc.percent), 0.8, 1e-12);
        close(bc.kappa, 2.0 / 3.0, 1e-12);
        // α: y is not pairable → 51 units, 106 values with n_yes = 57, n_no = 48, n_maybe = 1;
        // disagreement: 13 split pairs × 2 + u20, u25, u35 × (9 − 5)/2 = 32;
        // α = 1 − 105·32/(106² − 5554).
        let alpha = la.alpha.expect("pairable");
        assert_eq!((alpha.units, alpha.values, alpha.ci), (51, 106, None));
        close(alpha.alpha, 1.0 - 105.0 * 32.0 / (11236.0 - 5554.0), 1e-12);
    }

    #[test]
    fn same_pair_rated_twice_keeps_last_and_undefined_kappa() {
        let r = |unit, annotator, value| Rating { unit, annotator, value };
        let twice = [r("u", "a", "x"), r("u", "b", "x"), r("u", "a", "y"), r("v", "a", "x")];
        let la = agreement(&[&twice[..], &[r("v", "b", "x")]].concat(), &opts(50, 0));
        let p = &la.pairs[0];
        assert_eq!(p.values, ["x", "y"]);
        assert_eq!((p.n, &p.confusion), (2, &vec![vec![1, 0], vec![1, 0]]));
        let same = agreement(&twice[..2], &opts(50, 0));
        assert_eq!((same.pairs[0].kappa, same.pairs[0].kappa_ci), (None, None));
    }

    #[test]
    fn intervals() {
        let pairs = base_pairs();
        let units = as_units(&pairs);
        let k = kappa(&pairs).and_then(|k| k.kappa);
        let a = krippendorff_alpha_nominal(&units).and_then(|a| a.alpha);
        let o = opts(1000, 7);
        for (x, ci) in [(k, kappa_interval(&pairs, &o)), (a, alpha_interval(&units, &o))] {
            let ([lo, hi], x) = (ci.expect("interval"), x.expect("defined"));
            assert!(lo <= x && x <= hi && lo < hi, "{lo} {x} {hi}");
        }
        assert_eq!(alpha_interval(&units, &opts(500, 3)), alpha_interval(&units, &opts(500, 3)));
        assert_eq!(kappa_interval(&pairs, &opts(500, 3)), kappa_interval(&pairs, &opts(500, 3)));
        let big: Vec<_> = pairs.iter().copied().cycle().take(4 * pairs.len()).collect();
        let big_units = as_units(&big);
        let (o1, o2) = (opts(1000, 1), opts(1000, 2));
        assert_ne!(alpha_interval(&big_units, &o1), alpha_interval(&big_units, &o2));
        assert_ne!(kappa_interval(&big, &o1), kappa_interval(&big, &o2));
        assert_eq!(alpha_interval(&units, &opts(0, 1)), None);
        assert_eq!(kappa_interval(&pairs, &opts(0, 1)), None);
        // 4× the units → about half the width (√4), averaged over 4 seeds.
        let width = |ci: Option<[f64; 2]>| ci.map(|[lo, hi]| hi - lo).expect("interval");
        let (mut ka, mut al) = (0.0, 0.0);
        for s in 0..4 {
            let o = opts(2000, s);
            ka += width(kappa_interval(&pairs, &o)) / width(kappa_interval(&big, &o)) / 4.0;
            al += width(alpha_interval(&units, &o)) / width(alpha_interval(&big_units, &o)) / 4.0;
        }
        assert!((1.5..=2.6).contains(&ka), "kappa width ratio {ka}");
        assert!((1.5..=2.6).contains(&al), "alpha width ratio {al}");
    }

    #[test]
    fn order_independent_and_seeded() {
        let names: Vec<String> = (0..50).map(|i| format!("{i}#0@1")).collect();
        let ratings = three_annotators(&names);
        let want = agreement(&ratings, &opts(200, 11));
        assert!(want.alpha.as_ref().and_then(|a| a.ci).is_some());
        assert!(want.pairs.iter().all(|p| p.kappa_ci.is_some()));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..5 {
            let mut shuffled = ratings.clone();
            shuffled.shuffle(&mut rng);
            assert_eq!(agreement(&shuffled, &opts(200, 11)), want);
        }
        assert_ne!(agreement(&ratings, &opts(200, 12)), want);
        // Per-pair seeds: dropping annotator c leaves the (a, b) interval where it was.
        let ab_only: Vec<Rating<'_>> =
            ratings.iter().copied().filter(|r| r.annotator != "c").collect();
        assert_eq!(agreement(&ab_only, &opts(200, 11)).pairs, want.pairs[..1]);
    }
}
