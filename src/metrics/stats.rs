//! Pure-Rust statistics for evaluating self-correction runs: percentiles, calibration
//! (ECE, Brier, reliability bins), AUROC, Cohen's κ and the exact McNemar test.
//!
//! Every function returns `None` (never NaN, never a panic) when the result is undefined
//! or an input is invalid (e.g. a NaN score).

use std::collections::BTreeMap;

/// Percentile of already-sorted data by linear interpolation between closest ranks
/// (numpy's default, Hyndman–Fan type 7: `h = (n-1)q`). `None` if empty, `q ∉ [0,1]` or NaN.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) || sorted.iter().any(|x| x.is_nan()) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor();
    let frac = h - lo;
    let x_lo = *sorted.get(lo as usize)?;
    // Skip interpolation at exact ranks so infinite values never produce `inf - inf`.
    let v = match sorted.get(lo as usize + 1) {
        Some(&x_hi) if frac > 0.0 => x_lo + frac * (x_hi - x_lo),
        _ => x_lo,
    };
    (!v.is_nan()).then_some(v)
}

/// Central percentile interval `[q, 1-q]` with `q = (1-level)/2`, e.g. for bootstrap CIs.
/// Sorts `values` in place (total order). `None` if empty, NaN present or `level ∉ [0,1]`.
pub fn percentile_interval(values: &mut [f64], level: f64) -> Option<[f64; 2]> {
    if !(0.0..=1.0).contains(&level) {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let q = (1.0 - level) / 2.0;
    Some([percentile(values, q)?, percentile(values, 1.0 - q)?])
}

/// One equal-count reliability bin: score range, size, mean score and observed hit rate.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct ReliabilityBin {
    /// Smallest score in the bin.
    pub lo: f64,
    /// Largest score in the bin.
    pub hi: f64,
    /// Number of items in the bin.
    pub n: u64,
    /// Mean predicted probability in the bin.
    pub confidence: f64,
    /// Share of items whose outcome is `true`.
    pub accuracy: f64,
}

/// Calibration summary of probability scores against binary outcomes.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Number of scored items.
    pub n: u64,
    /// Binning scheme; always `"equal-count"`.
    pub scheme: String,
    /// Bins asked for; the actual count is `min(bins_requested, n)`.
    pub bins_requested: u64,
    /// Expected calibration error `Σ (n_b/n)·|accuracy_b − confidence_b|`.
    pub ece: f64,
    /// Mean squared error `mean (score − outcome)²`.
    pub brier: f64,
    /// Discrimination; `None` when all outcomes are in one class.
    pub auroc: Option<f64>,
    /// Reliability bins in ascending score order.
    pub bins: Vec<ReliabilityBin>,
}

/// Calibration of `scores` (predicted P(outcome = true), in `[0,1]`) with equal-count bins:
/// items sorted by score (ties by index) are split into `min(bins, n)` contiguous groups whose
/// sizes differ by at most one (the first `n % B` get the extra item). Equal-count bins avoid
/// the empty/near-empty bins that fixed-width bins produce on skewed LLM confidences.
/// `None` when empty, lengths differ, `bins == 0` or any score is NaN or outside `[0,1]`.
pub fn calibration(scores: &[f64], outcomes: &[bool], bins: usize) -> Option<Calibration> {
    let n = scores.len();
    if n == 0 || n != outcomes.len() || bins == 0 {
        return None;
    }
    if scores.iter().any(|s| !(0.0..=1.0).contains(s)) {
        return None;
    }
    let y = |o: bool| if o { 1.0 } else { 0.0 };
    let brier =
        scores.iter().zip(outcomes).map(|(&s, &o)| (s - y(o)).powi(2)).sum::<f64>() / n as f64;
    let mut items: Vec<(f64, bool)> =
        scores.iter().copied().zip(outcomes.iter().copied()).collect();
    items.sort_by(|a, b| a.0.total_cmp(&b.0)); // stable: ties keep index order
    let groups = bins.min(n);
    let (base, extra) = (n / groups, n % groups);
    let mut out = Vec::with_capacity(groups);
    let mut ece = 0.0;
    let (mut start, mut target) = (0usize, 0usize);
    for g in 0..groups {
        target += base + usize::from(g < extra);
        if start >= n {
            break;
        }
        // A tie group never straddles two bins: otherwise the bins, hence ECE, would depend
        // on the order the tied episodes happen to be stored in.
        let mut end = target.max(start + 1).min(n);
        while end < n && items.get(end).map(|p| p.0) == items.get(end - 1).map(|p| p.0) {
            end += 1;
        }
        let chunk = items.get(start..end)?;
        start = end;
        let m = chunk.len() as f64;
        let confidence = chunk.iter().map(|p| p.0).sum::<f64>() / m;
        let accuracy = chunk.iter().filter(|p| p.1).count() as f64 / m;
        ece += m / n as f64 * (accuracy - confidence).abs();
        let (lo, hi) = (chunk.first()?.0, chunk.last()?.0);
        out.push(ReliabilityBin { lo, hi, n: chunk.len() as u64, confidence, accuracy });
    }
    Some(Calibration {
        n: n as u64,
        scheme: "equal-count".to_string(),
        bins_requested: bins as u64,
        ece,
        brier,
        auroc: auroc(scores, outcomes),
        bins: out,
    })
}

/// AUROC as Mann–Whitney `U / (n_pos·n_neg)`, ties counted ½ via midranks, O(n log n).
/// Uses exact integer arithmetic on doubled ranks. `None` when a class is empty, lengths
/// differ or a score is NaN.
pub fn auroc(scores: &[f64], outcomes: &[bool]) -> Option<f64> {
    if scores.len() != outcomes.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let n_pos = outcomes.iter().filter(|&&o| o).count() as u128;
    let n_neg = outcomes.len() as u128 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut items: Vec<(f64, bool)> =
        scores.iter().copied().zip(outcomes.iter().copied()).collect();
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Twice the positives' rank sum: a tie group at 0-based start s of length l has
    // midrank s + (l+1)/2, doubled 2s + l + 1.
    let (mut rank_sum2, mut start) = (0u128, 0u128);
    let mut rest = items.as_slice();
    while let Some(&(s0, _)) = rest.first() {
        let len = rest.iter().take_while(|p| p.0 == s0).count();
        let (group, tail) = rest.split_at_checked(len)?;
        let pos = group.iter().filter(|p| p.1).count() as u128;
        rank_sum2 += pos * (2 * start + len as u128 + 1);
        start += len as u128;
        rest = tail;
    }
    let u2 = rank_sum2.checked_sub(n_pos * (n_pos + 1))?; // never fails: R ≥ n_pos(n_pos+1)/2
    Some(u2 as f64 / (2 * n_pos * n_neg) as f64)
}

/// Inter-rater agreement counts and Cohen's κ.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Kappa {
    /// Number of rated items.
    pub n: u64,
    /// Observed agreement `p_o`.
    pub observed: f64,
    /// Chance agreement `p_e = Σ_k p_A(k)·p_B(k)`.
    pub expected: f64,
    /// `(p_o − p_e)/(1 − p_e)`; `None` when `p_e == 1` (both raters used one same label).
    pub kappa: Option<f64>,
}

/// Cohen's κ for two raters over arbitrary labels, given `(rater_a, rater_b)` per item.
/// `None` when `pairs` is empty. `p_e == 1` is detected exactly with integer counts.
pub fn kappa(pairs: &[(&str, &str)]) -> Option<Kappa> {
    if pairs.is_empty() {
        return None;
    }
    let mut margins: BTreeMap<&str, (u128, u128)> = BTreeMap::new();
    for &(a, b) in pairs {
        margins.entry(a).or_default().0 += 1;
        margins.entry(b).or_default().1 += 1;
    }
    let n = pairs.len() as u128;
    let agree = pairs.iter().filter(|(a, b)| a == b).count() as f64;
    let pe_num: u128 = margins.values().map(|&(a, b)| a * b).sum();
    let observed = agree / n as f64;
    let expected = pe_num as f64 / (n * n) as f64;
    let kappa = (pe_num != n * n).then(|| (observed - expected) / (1.0 - expected));
    Some(Kappa { n: n as u64, observed, expected, kappa })
}

/// Cohen's κ only; `None` when empty or undefined (see [`kappa`]).
pub fn cohen_kappa(pairs: &[(&str, &str)]) -> Option<f64> {
    kappa(pairs)?.kappa
}

/// Two-sided exact McNemar p-value `min(1, 2·P(X ≤ min(b,c)))`, `X ~ Bin(b+c, ½)`, for
/// paired before/after correctness (b, c = discordant counts). 1.0 when `b + c == 0`.
/// Computed in log space (log-gamma + ratio-summed tail) so it stays accurate for large counts.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    if b == c {
        return 1.0; // P(X ≤ n/2) ≥ ½, also covers b + c == 0
    }
    let n = b as f64 + c as f64;
    let k = b.min(c) as f64;
    let ln_top = ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0) - n * LN_2;
    // Sum term_i / term_k for i = k, k-1, ...; each ratio ≤ 1, so no overflow (log-sum-exp
    // anchored at the largest term). Stop once terms no longer change the sum.
    // Terms fall off like a Gaussian, so this runs O(√(b+c)) iterations at most.
    let (mut sum, mut r) = (1.0_f64, 1.0_f64);
    for i in (1..=b.min(c)).rev() {
        r *= i as f64 / (n - i as f64 + 1.0);
        sum += r;
        if r < sum * 1e-17 {
            break;
        }
    }
    (2.0 * (ln_top + sum.ln()).exp()).clamp(0.0, 1.0)
}

const LN_2: f64 = std::f64::consts::LN_2;

/// ln Γ(x) for x ≥ 0.5 by the Lanczos approximation (g = 7, 9 terms; ~1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C0: f64 = 0.999_999_999_999_809_9;
    const C: [f64; 8] = [
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let a = C.iter().enumerate().fold(C0, |acc, (i, &c)| acc + c / (x + i as f64 + 1.0));
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ECE, Brier and AUROC of score-sorted `(score, outcome)` pairs where pair `i` counts
/// `weights[i]` times: equal to [`calibration`] on the list with each pair repeated (up to
/// rounding), in O(n) (the bootstrap reweights items instead of copying and re-sorting their
/// pairs). The bootstrap calls [`grouped_scores`] directly; this form is what the property
/// test checks it through.
#[cfg(test)]
pub fn weighted_scores(
    sorted: &[(f64, bool)],
    weights: &[u64],
    bins: usize,
) -> Option<(f64, f64, Option<f64>)> {
    if sorted.len() != weights.len() {
        return None;
    }
    let groups = TieGroups::of(sorted.iter().map(|p| p.0));
    let (mut pos, mut neg) = (vec![0; groups.scores.len()], vec![0; groups.scores.len()]);
    for ((&(_, o), &w), &g) in sorted.iter().zip(weights).zip(&groups.of) {
        let slot = if o { &mut pos } else { &mut neg };
        if let Some(x) = slot.get_mut(g as usize) {
            *x += w;
        }
    }
    grouped_scores(&groups.scores, &pos, &neg, bins)
}

/// Score-sorted pairs gathered into groups of equal score.
#[derive(Debug, Clone, Default)]
pub struct TieGroups {
    /// Each group's score, ascending.
    pub scores: Vec<f64>,
    /// The group of each pair.
    pub of: Vec<u32>,
}

impl TieGroups {
    /// The groups of an ascending sequence of scores.
    pub fn of(sorted: impl Iterator<Item = f64>) -> TieGroups {
        let mut t = TieGroups::default();
        for s in sorted {
            if t.scores.last() != Some(&s) {
                t.scores.push(s);
            }
            t.of.push(u32::try_from(t.scores.len() - 1).unwrap_or(u32::MAX));
        }
        t
    }
}

/// ECE (equal-count bins), Brier and AUROC of tie groups in ascending score order, where group
/// `g` holds `pos[g]` correct and `neg[g]` wrong answers: what [`calibration`] gives on the
/// list those counts spell out. A bin ends with the group in which it reaches its share of the
/// pairs (a tie group never straddles two bins).
pub fn grouped_scores(
    scores: &[f64],
    pos: &[u64],
    neg: &[u64],
    bins: usize,
) -> Option<(f64, f64, Option<f64>)> {
    let n: u64 = pos.iter().sum::<u64>() + neg.iter().sum::<u64>();
    if bins == 0 || n == 0 || scores.len() != pos.len() || scores.len() != neg.len() {
        return None;
    }
    let nf = n as f64;
    let bins = (bins as u64).min(n);
    let (base, extra) = (n / bins, n % bins);
    let (mut brier, mut ece) = (0.0, 0.0);
    let (mut bin, mut target, mut taken) = (0u64, base + u64::from(extra > 0), 0u64);
    let (mut m, mut conf, mut right) = (0u64, 0.0, 0u64);
    // Mann–Whitney over tie groups: a positive beats every lower negative, ties count ½.
    let (mut u2, mut neg_below) = (0u128, 0u128);
    for ((&s, &p), &q) in scores.iter().zip(pos).zip(neg) {
        let w = p + q;
        if w == 0 {
            continue;
        }
        brier += p as f64 * (s - 1.0).powi(2) + q as f64 * s * s;
        u2 += u128::from(p) * (2 * neg_below + u128::from(q));
        neg_below += u128::from(q);
        m += w;
        taken += w;
        conf += w as f64 * s;
        right += p;
        if taken >= target {
            let mf = m as f64;
            ece += mf / nf * (right as f64 / mf - conf / mf).abs();
            (m, conf, right) = (0, 0.0, 0);
            bin += 1;
            // A group larger than a bin's share closes it alone; the next bins keep their
            // targets (the following bin may then close on its first group).
            target += base + u64::from(bin < extra);
        }
    }
    // The last bin's target is n, so it closes on the last group; this is only a safeguard.
    if m > 0 {
        let mf = m as f64;
        ece += mf / nf * (right as f64 / mf - conf / mf).abs();
    }
    let (npos, nneg) = (pos.iter().sum::<u64>(), neg.iter().sum::<u64>());
    let auroc = (npos > 0 && nneg > 0)
        .then(|| u2 as f64 / (2 * u128::from(npos) * u128::from(nneg)) as f64);
    Some((ece, brier / nf, auroc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    /// Tiny LCG so property checks are deterministic without dependencies.
    fn lcg(state: &mut u64) -> f64 {
        *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn percentiles() {
        // h = (4-1)·0.25 = 0.75 → 1 + 0.75·(2-1) = 1.75
        assert!(close(percentile(&[1.0, 2.0, 3.0, 4.0], 0.25).unwrap(), 1.75));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 1.0), Some(4.0));
        // q = 0.025: h = 99·0.025 = 2.475 → x[2]=3 + 0.475 = 3.475
        // q = 0.975: h = 99·0.975 = 96.525 → x[96]=97 + 0.525 = 97.525
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let [lo, hi] = percentile_interval(&mut v, 0.95).unwrap();
        assert!(close(lo, 3.475) && close(hi, 97.525), "{lo} {hi}");
        assert_eq!(percentile_interval(&mut [7.0], 0.9), Some([7.0, 7.0]));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile_interval(&mut [], 0.9), None);
        assert_eq!(percentile(&[1.0, f64::NAN], 0.5), None);
        assert_eq!(percentile(&[1.0], 1.5), None);
    }

    #[test]
    fn calibration_by_hand() {
        // Bins {0.1,0.4} (F,T): conf 0.25, acc 0.5; {0.6,0.9} (F,T): conf 0.75, acc 0.5.
        // ECE = ½·0.25 + ½·0.25 = 0.25. Brier = (0.01+0.36+0.36+0.01)/4 = 0.185.
        // AUROC: pos {0.4,0.9} vs neg {0.1,0.6}: 1+0+1+1 = 3 of 4 pairs = 0.75.
        let c = calibration(&[0.9, 0.1, 0.6, 0.4], &[true, false, false, true], 2).unwrap();
        assert!(close(c.ece, 0.25) && close(c.brier, 0.185), "{c:?}");
        assert_eq!(c.auroc, Some(0.75));
        assert_eq!((c.n, c.bins_requested, c.scheme.as_str()), (4, 2, "equal-count"));
        let b = &c.bins[1];
        assert_eq!((b.lo, b.hi, b.n), (0.6, 0.9, 2));
        assert!(close(b.confidence, 0.75) && close(b.accuracy, 0.5));
        // Perfectly calibrated: 4×0.25 with 1 true, 4×0.75 with 3 true → ECE 0.
        let s = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        let o = [true, false, false, false, true, true, false, true];
        assert!(close(calibration(&s, &o, 2).unwrap().ece, 0.0));
    }

    #[test]
    fn calibration_edges() {
        // bins > n degrades to n singleton bins.
        let c = calibration(&[0.2, 0.5, 0.8], &[false, true, true], 10).unwrap();
        assert_eq!((c.bins.len(), c.bins_requested), (3, 10));
        // Tied scores share one bin: conf 0.5, acc 2/3 → ECE = 1/6, whatever the order.
        let c = calibration(&[0.5, 0.5, 0.5], &[true, false, true], 2).unwrap();
        assert_eq!(c.bins.iter().map(|b| b.n).collect::<Vec<_>>(), [3]);
        assert!(close(c.ece, 1.0 / 6.0));
        assert_eq!(c.auroc, Some(0.5));
        // 10 × 0.8 right then 10 × 0.8 wrong, 2 bins: one bin, |0.5 − 0.8| = 0.3; interleaving
        // the outcomes gives the same.
        let (s20, o20): (Vec<f64>, Vec<bool>) = (vec![0.8; 20], (0..20).map(|i| i < 10).collect());
        assert!(close(calibration(&s20, &o20, 2).unwrap().ece, 0.3));
        let o20b: Vec<bool> = (0..20).map(|i| i % 2 == 0).collect();
        assert!(close(calibration(&s20, &o20b, 2).unwrap().ece, 0.3));
        // Targets 2,2 over [0.1, 0.5, 0.5, 0.9]: the tie at 0.5 pulls idx 2 into bin 0 → 3 + 1.
        let c = calibration(&[0.1, 0.5, 0.5, 0.9], &[false, true, false, true], 2).unwrap();
        assert_eq!(c.bins.iter().map(|b| b.n).collect::<Vec<_>>(), [3, 1]);
        // 5 items, 2 bins → sizes 3, 2; one class only → auroc None.
        let c = calibration(&[0.1, 0.2, 0.3, 0.4, 0.5], &[true; 5], 2).unwrap();
        assert_eq!(c.bins.iter().map(|b| b.n).collect::<Vec<_>>(), [3, 2]);
        assert_eq!(c.auroc, None);
        assert!(calibration(&[], &[], 2).is_none());
        assert!(calibration(&[0.5], &[true, false], 2).is_none());
        assert!(calibration(&[0.5], &[true], 0).is_none());
        assert!(calibration(&[f64::NAN], &[true], 1).is_none());
        assert!(calibration(&[1.5], &[true], 1).is_none());
    }

    #[test]
    fn auroc_cases() {
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &[true, true, false, false]), Some(1.0));
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &[true, true, false, false]), Some(0.0));
        assert_eq!(auroc(&[0.5; 4], &[true, false, true, false]), Some(0.5));
        // pos [0.8,0.6,0.6], neg [0.6,0.4]. Ranks: 0.4→1, 0.6×3→midrank 3, 0.8→5.
        // R_pos = 5+3+3 = 11, U = 11 − 3·4/2 = 5, AUROC = 5/(3·2) = 5/6.
        // (Pairwise: 0.8 beats both = 2; each 0.6: ½ + 1 → 2·1.5 = 3; total 5.)
        let a = auroc(&[0.8, 0.6, 0.6, 0.6, 0.4], &[true, true, true, false, false]).unwrap();
        assert!(close(a, 5.0 / 6.0));
        assert_eq!(auroc(&[0.1, 0.2], &[false, false]), None);
        assert_eq!(auroc(&[0.1, f64::NAN], &[true, false]), None);
    }

    #[test]
    fn kappa_cases() {
        // yes/yes 20, yes/no 5, no/yes 10, no/no 15 (n = 50). p_o = 35/50 = 0.7.
        // A: yes 25, no 25; B: yes 30, no 20. p_e = 0.5·0.6 + 0.5·0.4 = 0.5. κ = 0.2/0.5 = 0.4.
        let mut p = vec![("yes", "yes"); 20];
        p.extend([("yes", "no"); 5].iter().chain(&[("no", "yes"); 10]).chain(&[("no", "no"); 15]));
        let k = kappa(&p).unwrap();
        assert!(close(k.observed, 0.7) && close(k.expected, 0.5) && close(k.kappa.unwrap(), 0.4));
        assert_eq!(k.n, 50);
        assert_eq!(cohen_kappa(&[("a", "a"), ("b", "b"), ("a", "a")]), Some(1.0));
        // aa×3 bb×2 cc×1 ab×1 bc×2 ca×1 (n=10): p_o = 6/10. A: a4 b4 c2; B: a4 b3 c3.
        // p_e = (16+12+6)/100 = 0.34. κ = 0.26/0.66 = 13/33.
        let mut p = vec![("a", "a"); 3];
        p.extend([("b", "b"), ("b", "b"), ("c", "c"), ("a", "b"), ("b", "c"), ("b", "c")]);
        p.push(("c", "a"));
        assert!(close(cohen_kappa(&p).unwrap(), 13.0 / 33.0));
        // Total disagreement: p_o 0, p_e 0.5 → κ = −1.
        assert_eq!(cohen_kappa(&[("a", "b"), ("b", "a")]), Some(-1.0));
        // One shared label: p_e = 1 → κ undefined, counts still reported.
        let k = kappa(&[("x", "x"), ("x", "x")]).unwrap();
        assert_eq!((k.observed, k.expected, k.kappa), (1.0, 1.0, None));
        assert_eq!(kappa(&[]), None);
    }

    /// Reference tail by a plain running sum of ln C(n, i), to cross-check the fast path.
    fn naive_mcnemar(b: u64, c: u64) -> f64 {
        let (n, k) = ((b + c) as f64, b.min(c));
        let mut ln_c = 0.0; // ln C(n, 0)
        let mut terms = vec![0.0];
        for i in 0..k {
            ln_c += (n - i as f64).ln() - (i as f64 + 1.0).ln();
            terms.push(ln_c);
        }
        let m = terms.iter().copied().fold(f64::MIN, f64::max);
        let lse = m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln();
        (2.0 * (lse - n * LN_2).exp()).min(1.0)
    }

    #[test]
    fn mcnemar_cases() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(1, 0), 1.0); // 2·P(X≤0 | n=1) = 2·½ = 1
        assert!(close(mcnemar_exact(0, 5), 0.0625)); // 2·(1/32)
        // 2·P(X≤2 | n=10) = 2·(1+10+45)/1024 = 0.109375
        assert!(close(mcnemar_exact(2, 8), 0.109375));
        // n = 10300, |b−c| = 300: z ≈ 299/√10300 ≈ 2.95 → normal-approx p ≈ 0.003.
        let p = mcnemar_exact(5000, 5300);
        assert!(p > 0.001 && p < 0.01, "{p}");
        assert!((p - naive_mcnemar(5000, 5300)).abs() < 1e-9 * p);
        assert_eq!(p, mcnemar_exact(5300, 5000));
        // n = 100000, z ≈ 1000/316 ≈ 3.16 → p ≈ 0.0016; cross-checked against the naive sum.
        let p = mcnemar_exact(49_500, 50_500);
        assert!(p > 0.001 && p < 0.003 && (p - naive_mcnemar(49_500, 50_500)).abs() < 1e-8 * p);
        assert!(close(mcnemar_exact(30, 45), naive_mcnemar(30, 45)));
        assert_eq!(mcnemar_exact(0, 100_000), 0.0); // 2^-99999 underflows to exactly 0
        assert!((0.0..=1.0).contains(&mcnemar_exact(u64::MAX, 3)));
    }

    #[test]
    fn properties() {
        let mut st = 42;
        for trial in 0..200 {
            let n = 1 + trial % 37;
            // Quantised scores force ties.
            let s: Vec<f64> = (0..n).map(|_| (lcg(&mut st) * 10.0).floor() / 10.0).collect();
            let o: Vec<bool> = s.iter().map(|&x| lcg(&mut st) < x).collect();
            let c = calibration(&s, &o, 1 + trial % 7).unwrap();
            assert!((0.0..=1.0).contains(&c.ece) && (0.0..=1.0).contains(&c.brier));
            assert_eq!(c.bins.iter().map(|b| b.n).sum::<u64>(), n as u64);
            let neg: Vec<f64> = s.iter().map(|x| -x).collect();
            if let (Some(a), Some(b)) = (auroc(&s, &o), auroc(&neg, &o)) {
                assert!(close(a + b, 1.0)); // ties are ½ both ways, so exact even with ties
            }
            let labels = ["a", "b", "c"];
            let pick = |st: &mut u64| labels[(lcg(st) * 3.0) as usize];
            let pairs: Vec<(&str, &str)> = (0..n).map(|_| (pick(&mut st), pick(&mut st))).collect();
            if let Some(k) = cohen_kappa(&pairs) {
                assert!(k <= 1.0 + 1e-12);
            }
        }
    }

    #[test]
    fn weighted_scores_equal_calibration_of_the_repeated_list() {
        let mut st = 7;
        for trial in 0..300 {
            let n = 1 + trial % 23;
            let mut pairs: Vec<(f64, bool)> = (0..n)
                .map(|_| {
                    let s = (lcg(&mut st) * 8.0).floor() / 8.0;
                    (s, lcg(&mut st) < s)
                })
                .collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let weights: Vec<u64> = (0..n).map(|_| (lcg(&mut st) * 3.0) as u64).collect();
            let bins = 1 + trial % 6;
            let mut scores = Vec::new();
            let mut outcomes = Vec::new();
            for (&(s, o), &w) in pairs.iter().zip(&weights) {
                for _ in 0..w {
                    scores.push(s);
                    outcomes.push(o);
                }
            }
            let got = weighted_scores(&pairs, &weights, bins);
            match calibration(&scores, &outcomes, bins) {
                None => assert_eq!(got, None),
                Some(c) => {
                    let (ece, brier, auroc) = got.unwrap();
                    assert!(close(ece, c.ece), "trial {trial}: ece {ece} vs {}", c.ece);
                    assert!(close(brier, c.brier));
                    match (auroc, c.auroc) {
                        (Some(a), Some(b)) => assert!(close(a, b)),
                        (a, b) => assert_eq!(a, b),
                    }
                }
            }
        }
    }
}
