//! Calibration sources, what-if curve, human-label statistics and paired comparison on small
//! vectors worked out by hand (the arithmetic is in the comments).

use std::collections::HashMap;

use super::human::{LabelledEpisode, compute as human};
use super::*;
use crate::domain::Label;
use crate::domain::Verdict::{Correct, Incorrect, Unparsed};

const EPS: f64 = 1e-9;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < EPS, "got {a}, expected {b}");
}

fn with_conf(verdict: Verdict, conf: f64, target: bool) -> CritiqueObs {
    CritiqueObs { confidence: Some(conf), ..CritiqueObs::new(verdict, Some(target)) }
}

fn ep(item: &str, t1: bool, t2: bool, critiques: Vec<CritiqueObs>) -> EpisodeObs {
    EpisodeObs {
        item_id: item.into(),
        attempts: vec![Some(t1), Some(t2)],
        critiques,
        ..Default::default()
    }
}

#[test]
fn verbalized_confidence_becomes_p_answer_correct() {
    let obs = [
        ep("a", true, true, vec![with_conf(Correct, 0.9, true)]), // score .9, outcome 1
        ep("b", false, true, vec![with_conf(Incorrect, 0.8, false)]), // 1 − .8 = .2, outcome 0
        ep("c", true, false, vec![with_conf(Incorrect, 0.6, true)]), // 1 − .6 = .4, outcome 1
        ep("d", true, true, vec![with_conf(Unparsed, 0.7, true)]), // no verdict: left out
        ep(
            "e",
            false,
            true,
            vec![CritiqueObs { synthetic: true, ..with_conf(Correct, 1.0, false) }],
        ),
    ];
    let live: Vec<&EpisodeObs> = obs.iter().collect();
    let cal = calibration::compute(&live, 1);
    let v = &cal["verbalized"];
    assert_eq!(v.n, 3);
    // One bin: accuracy 2/3, mean confidence (.9 + .2 + .4)/3 = .5 → ECE 1/6.
    close(v.ece, 1.0 / 6.0);
    // Brier: (.1² + .2² + .6²)/3 = .41/3.
    close(v.brier, 0.41 / 3.0);
    // Both positives (.9, .4) outrank the negative (.2).
    close(v.auroc.unwrap(), 1.0);
    assert!(!cal.contains_key("p_true"), "no logprobs, no p_true source");

    // What if: τ = 0 never revises: t1 = 1,0,1 → 2/3 (d has a score-less critique: excluded).
    let w = calibration::what_if(&live).unwrap();
    assert_eq!((w.source.as_str(), w.n), ("verbalized", 3));
    let at = |tau: f64| w.points.iter().find(|p| (p.tau - tau).abs() < 1e-9).unwrap();
    close(at(0.0).acc, 2.0 / 3.0);
    close(at(0.0).revised, 0.0);
    // τ = .3 revises b only (.2 < .3): 1, 1, 1.
    close(at(0.3).acc, 1.0);
    close(at(0.3).revised, 1.0 / 3.0);
    // τ = .5 revises b and c: 1, 1, 0.
    close(at(0.5).acc, 2.0 / 3.0);
    // Always: the t2 accuracy 2/3.
    close(at(1.01).acc, 2.0 / 3.0);
    close(at(1.01).revised, 1.0);
}

#[test]
fn agreement_among_samples_scores_each_first_answer() {
    let mk = |item: &str, sample: u32, answer: &str, right: bool| EpisodeObs {
        sample,
        first_answer: Some(answer.into()),
        ..ep(item, right, right, Vec::new())
    };
    let obs = [
        mk("x", 0, "5", true),
        mk("x", 1, "5", true),
        mk("x", 2, "7", false),
        mk("y", 0, "1", true), // a single sample gives no agreement score
    ];
    let live: Vec<&EpisodeObs> = obs.iter().collect();
    let a = &calibration::compute(&live, 10)["agreement"];
    // Scores 2/3, 2/3, 1/3 against outcomes 1, 1, 0.
    assert_eq!(a.n, 3);
    // Brier: ((1/3)² + (1/3)² + (1/3)²)/3 = 1/9.
    close(a.brier, 1.0 / 9.0);
    close(a.auroc.unwrap(), 1.0);
    assert_eq!(a.scheme, "equal-count");
}

fn label(who: &str, turn: Option<u32>, name: &str, value: &str, time: u64) -> Label {
    Label {
        annotator: who.into(),
        turn,
        name: name.into(),
        value: value.into(),
        time,
        millis: 0,
        retracted: false,
    }
}

#[test]
fn human_label_statistics() {
    let l1 = [
        label("ana", Some(1), "error_found", "yes", 1),
        label("bob", Some(1), "error_found", "yes", 2),
        label("ana", Some(0), GRADE_OVERRIDE, "wrong", 3),
    ];
    let l2 = [
        label("ana", Some(1), "error_found", "no", 1),
        label("bob", Some(1), "error_found", "yes", 2),
        label("ana", Some(0), GRADE_OVERRIDE, "wrong", 3),
    ];
    let l3 = [
        label("ana", Some(1), "error_found", "partial", 1),
        label("ana", Some(1), "error_found", "no", 5), // relabelled: the latest counts
        label("bob", Some(1), "error_found", "no", 2),
        label("ana", None, "note", "free text", 3),
        label("ana", None, "tags", "a", 3),
        label("ana", None, "tags", "a, b", 4), // the latest list of tags counts
    ];
    let mk = |name: &str, labels: &[Label], cell, auto0: bool, verdict| LabelledEpisode {
        name: name.into(),
        labels: labels.to_vec(),
        overrides: overrides(labels),
        cell: Some(cell),
        auto: HashMap::from([(0, auto0)]),
        critiques: vec![(verdict, 0)],
    };
    let eps = [
        mk("q1#0", &l1[..], (false, true), false, Incorrect),
        mk("q2#0", &l2[..], (true, true), true, Correct),
        mk("q3#0", &l3[..], (true, false), true, Correct),
    ];
    let opts = crate::metrics::AgreementOptions { resamples: 200, seed: 3, level: 0.95 };
    let h = human(&eps, &opts);
    assert_eq!(h.labels, 12);
    // Effective: l1 3, l2 3, l3 error_found ×2 + tags (the note is left out of counts).
    assert_eq!(h.effective, 9);
    assert_eq!(h.annotators, ["ana", "bob"]);
    // error_found, latest per annotator: ana yes/no/no, bob yes/yes/no.
    assert_eq!(h.counts["error_found"]["yes"], 3);
    assert_eq!(h.counts["error_found"]["no"], 3);
    assert!(!h.counts["error_found"].contains_key("partial"));
    assert!(!h.counts.contains_key("note"));
    assert_eq!((h.counts["tags"]["a"], h.counts["tags"]["b"]), (1, 1));
    // yes: q1 (w→c) twice, q2 (c→c) once; no: q2 once, q3 (c→w) twice.
    let yes = h.by_transition["error_found"]["yes"];
    assert_eq!((yes.cc, yes.cw, yes.wc, yes.ww), (1, 0, 2, 0));
    let no = h.by_transition["error_found"]["no"];
    assert_eq!((no.cc, no.cw, no.wc, no.ww), (1, 2, 0, 0));
    // Overrides: q1 wrong = auto wrong (agree), q2 wrong ≠ auto right.
    assert_eq!((h.overrides.agree, h.overrides.disagree), (1, 1));
    assert_eq!(h.overrides.disagreements, ["q2#0@0"]);
    // ana vs bob on error_found: (yes,yes) (no,yes) (no,no): p_o = 2/3,
    // p_e = 1/3·2/3 + 2/3·1/3 = 4/9, κ = (2/9)/(5/9) = 0.4.
    let ag = &h.agreement["error_found"];
    let k = &ag.pairs[0];
    assert_eq!((k.a.as_str(), k.b.as_str(), k.n), ("ana", "bob", 3));
    close(k.kappa.unwrap(), 0.4);
    close(k.percent, 2.0 / 3.0);
    // Rows ana, columns bob, values [no, yes]: (no,no) 1, (no,yes) 1, (yes,yes) 1.
    assert_eq!(k.values, ["no", "yes"]);
    assert_eq!(k.confusion, vec![vec![1, 1], vec![0, 1]]);
    // α nominal: coincidences o_yy = 2, o_nn = 2, o_yn = o_ny = 1; n_y = n_n = 3, n = 6:
    // α = 1 − (n−1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k = 1 − 5·2/18 = 4/9.
    let alpha = ag.alpha.as_ref().unwrap();
    close(alpha.alpha.unwrap(), 4.0 / 9.0);
    let [lo, hi] = alpha.ci.unwrap();
    assert!(lo <= 4.0 / 9.0 && 4.0 / 9.0 <= hi);
    // Human vs critic on the overridden attempts: (incorrect, incorrect), (incorrect, correct):
    // p_o = 1/2, p_e = 1·1/2 = 1/2 → κ = 0.
    let hc = h.human_critic.unwrap();
    assert_eq!(hc.n, 2);
    close(hc.percent, 0.5);
    close(hc.kappa.unwrap(), 0.0);
}

#[test]
fn paired_comparison_on_shared_items() {
    let a = [
        ep("q1", true, true, vec![]),
        ep("q2", false, false, vec![]),
        ep("q3", false, true, vec![]),
        ep("q4", true, true, vec![]),
    ];
    let b = [
        ep("q1", true, true, vec![]),
        ep("q2", false, true, vec![]),
        ep("q3", false, true, vec![]),
        ep("q4", true, false, vec![]),
        ep("q5", true, true, vec![]), // only in B: left out of every number
    ];
    let c = compare("A", &a, "B", &b, &BootstrapOptions { resamples: 200, ..Default::default() });
    assert_eq!((c.shared_items, c.only_a, c.only_b), (4, 0, 1));
    let rate = |k: &str| c.rates.iter().find(|r| r.key == k).unwrap();
    // acc_t2: A 3/4, B 3/4 (q5 excluded) → 0; Δ^{i→c}: A 1/4, B 2/4 → +1/4.
    close(rate("acc_t2").diff.unwrap(), 0.0);
    close(rate("delta_i2c").a.unwrap(), 0.25);
    close(rate("delta_i2c").diff.unwrap(), 0.25);
    // Identical first attempts: every resample's difference is 0, so is the interval.
    assert_eq!(rate("acc_t1").ci, Some([0.0, 0.0]));
    let t2 = &c.mcnemar["acc_t2"];
    assert_eq!((t2.pairs, t2.both_right, t2.a_only, t2.b_only, t2.both_wrong), (4, 2, 1, 1, 0));
    assert_eq!(
        (t2.a_only_episodes.as_slice(), t2.b_only_episodes.as_slice()),
        (&["q4#0".to_string()][..], &["q2#0".to_string()][..])
    );
    close(t2.p_value.unwrap(), 1.0);
    assert_eq!(t2.pairing, Pairing::Episode);
    let t1 = &c.mcnemar["acc_t1"];
    assert_eq!((t1.a_only, t1.b_only), (0, 0));
}

#[test]
fn multi_round_intervals_keep_resamples_without_the_long_episodes() {
    // 99 items right after one revision, one item that went on and broke at t3: point estimate
    // of attempt-3 accuracy 0.99; a resample missing that item has 1.0 there, not "undefined".
    let mut obs: Vec<EpisodeObs> =
        (0..99).map(|i| ep(&format!("q{i}"), false, true, vec![])).collect();
    obs.push(EpisodeObs {
        item_id: "long".into(),
        attempts: vec![Some(false), Some(true), Some(false)],
        ..Default::default()
    });
    let agg = aggregate(&obs);
    let ci = intervals(&agg.items, &BootstrapOptions::default());
    let [lo, hi] = ci["rounds.2.acc"];
    assert!(lo < 0.99 && hi == 1.0, "[{lo}, {hi}]");
}

#[test]
fn independent_runs_with_several_samples_pair_items_by_majority() {
    let mk =
        |item: &str, sample: u32, t2: bool| EpisodeObs { sample, ..ep(item, false, t2, vec![]) };
    // A: q1 right 2 of 3 (majority right), q2 1 of 2 (tie: left out), q3 0 of 1.
    let a = [
        mk("q1", 0, true),
        mk("q1", 1, true),
        mk("q1", 2, false),
        mk("q2", 0, true),
        mk("q2", 1, false),
        mk("q3", 0, false),
    ];
    // B: q1 0 of 1, q2 2 of 2, q3 1 of 1.
    let b = [mk("q1", 0, false), mk("q2", 0, true), mk("q2", 1, true), mk("q3", 0, true)];
    assert_eq!(default_pairing(&a, &b), Pairing::ItemMajority);
    let c = compare("A", &a, "B", &b, &BootstrapOptions { resamples: 0, ..Default::default() });
    let t2 = &c.mcnemar["acc_t2"];
    // Pairs: q1 (right, wrong) → A only; q3 (wrong, right) → B only; q2 tied in A.
    assert_eq!((t2.pairing, t2.pairs, t2.a_only, t2.b_only), (Pairing::ItemMajority, 2, 1, 1));
    assert_eq!(t2.a_only_episodes, ["q1"]);
    // A tie at t2 leaves q2 out of that test only: at t1 every item is decided (3 pairs).
    let t1 = &c.mcnemar["acc_t1"];
    assert_eq!((t1.pairs, t1.both_wrong), (3, 3));
    // No shared scored pair at all: the p-value is undefined, not 1.
    let none = compare("A", &a[..1], "B", &b[1..2], &BootstrapOptions::default());
    assert_eq!(none.mcnemar["acc_t2"].p_value, None);
}

/// The what-if curve as first written (a map per threshold), kept as the oracle of the
/// indexed one: the same accuracies to the last bit on random episodes, items in any order.
#[test]
fn what_if_equals_its_reference_bit_for_bit() {
    use rand::{Rng, SeedableRng};
    fn reference(eps: &[(&str, f64, bool, bool, Option<u64>)]) -> Vec<(u64, u64, Option<u64>)> {
        (0..=11)
            .map(|i| {
                let tau = if i == 11 { 1.01 } else { f64::from(i) / 10.0 };
                let mut items: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
                let (mut revised, mut tokens) = (0u64, Some(0u64));
                for &(item, p, t1, t2, tok) in eps {
                    let revise = p < tau;
                    let slot = items.entry(item).or_default();
                    slot.0 += u64::from(if revise { t2 } else { t1 });
                    slot.1 += 1;
                    if revise {
                        revised += 1;
                        tokens = tokens.and_then(|t| tok.map(|k| t + k));
                    }
                }
                let acc = items.values().map(|&(r, k)| r as f64 / k as f64).sum::<f64>()
                    / items.len() as f64;
                (acc.to_bits(), revised, tokens)
            })
            .collect()
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for case in 0..200 {
        let n = rng.random_range(1..80);
        let names: Vec<String> = (0..rng.random_range(1..20)).map(|i| format!("q{i}")).collect();
        let obs: Vec<EpisodeObs> = (0..n)
            .map(|_| {
                let item = &names[rng.random_range(0..names.len())];
                let conf = f64::from(rng.random_range(0..=10u8)) / 10.0;
                let mut e = ep(
                    item,
                    rng.random_bool(0.6),
                    rng.random_bool(0.7),
                    vec![with_conf(Correct, conf, true)],
                );
                e.revise_tokens = rng.random_bool(0.9).then(|| rng.random_range(1..500));
                e
            })
            .collect();
        let live: Vec<&EpisodeObs> = obs.iter().collect();
        let w = calibration::what_if(&live).unwrap();
        let eps: Vec<(&str, f64, bool, bool, Option<u64>)> = obs
            .iter()
            .map(|e| {
                let (t1, t2) = scored_pair(e).unwrap();
                let c = &e.critiques[0];
                (e.item_id.as_str(), c.confidence.unwrap(), t1, t2, e.revise_tokens)
            })
            .collect();
        let got: Vec<(u64, u64, Option<u64>)> = w
            .points
            .iter()
            .map(|p| (p.acc.to_bits(), (p.revised * n as f64).round() as u64, p.revise_tokens))
            .collect();
        assert_eq!(got, reference(&eps), "case {case}");
    }
}
