//! Hand-computed vectors: every expected number below was worked out on paper from the
//! definitions in the module contract, not read back from the code.

use super::*;
use crate::domain::Verdict::{Correct, Incorrect, Unparsed};

const EPS: f64 = 1e-9;

fn ep(item: &str, sample: u32, attempts: &[Option<bool>]) -> EpisodeObs {
    EpisodeObs {
        item_id: item.to_string(),
        sample,
        failed: false,
        attempts: attempts.to_vec(),
        critiques: Vec::new(),
        ..Default::default()
    }
}

/// A two-attempt episode graded at both ends.
fn pair(item: &str, sample: u32, t1: bool, t2: bool) -> EpisodeObs {
    ep(item, sample, &[Some(t1), Some(t2)])
}

fn crit(verdict: Verdict, target_correct: Option<bool>) -> CritiqueObs {
    CritiqueObs::new(verdict, target_correct)
}

#[track_caller]
fn close(actual: Option<f64>, expected: f64) {
    // None becomes NaN, which fails the comparison.
    let a = actual.unwrap_or(f64::NAN);
    assert!((a - expected).abs() < EPS, "got {actual:?}, expected {expected}");
}

fn tr(cc: u64, cw: u64, wc: u64, ww: u64) -> Transitions {
    Transitions { cc, cw, wc, ww }
}

/// k = 1 per item: a = 3, b = 1, c = 2, d = 4, N = 10.
#[test]
fn simple_two_by_two_k1() {
    let mut obs = Vec::new();
    let mut n = 0;
    for (t1, t2, times) in [(true, true, 3), (true, false, 1), (false, true, 2), (false, false, 4)]
    {
        for _ in 0..times {
            obs.push(pair(&format!("q{n}"), 0, t1, t2));
            n += 1;
        }
    }
    let s = compute(&obs);
    assert_eq!(s.episodes, 10);
    assert_eq!(s.scored, 10);
    assert_eq!(s.failed, 0);
    assert_eq!(s.transitions, tr(3, 1, 2, 4));
    close(s.acc_t1, 0.4);
    close(s.acc_t2, 0.5);
    close(s.delta, 0.1);
    close(s.delta_i2c, 0.2);
    close(s.delta_c2i, 0.1);
    close(s.cl, 3.0 / 4.0);
    close(s.cs, 2.0 / 6.0);
    // (0.5 − 0.16) / (2·0.4·0.6) = 0.34 / 0.48
    close(s.rss, 17.0 / 24.0);
    assert_eq!(s.rounds.len(), 2);
    assert_eq!(s.rounds[0].n, 10);
    close(s.rounds[0].acc, 0.4);
    assert_eq!(s.rounds[0].transitions, None);
    close(s.rounds[1].acc, 0.5);
    assert_eq!(s.rounds[1].transitions, Some(tr(3, 1, 2, 4)));
    assert_eq!(s.critique.n, 0);
    assert_eq!(s.critique.accuracy, None);
    // rate() agrees with the fields, and unknown keys are None.
    for key in rate_keys() {
        assert!(s.rate(key).is_some(), "{key}");
    }
    assert_eq!(s.rate("cl"), s.cl);
    assert_eq!(s.rate("rss"), s.rss);
    assert_eq!(s.rate("nope"), None);
}

/// X (k=1): cc. Y (k=3): cw, wc, ww. Pooled would give acc_t1 = 2/4 and cl = 1/2.
#[test]
fn unequal_k_item_weighting_differs_from_pooling() {
    let obs = vec![
        pair("X", 0, true, true),
        pair("Y", 0, true, false),
        pair("Y", 1, false, true),
        pair("Y", 2, false, false),
    ];
    let s = compute(&obs);
    assert_eq!(s.transitions, tr(1, 1, 1, 1));
    // P(a_X) = 1, P(a_Y) = 1/3.
    close(s.acc_t1, 2.0 / 3.0);
    assert!((s.acc_t1.unwrap_or(0.0) - 0.5).abs() > 0.1, "must differ from pooled 1/2");
    close(s.acc_t2, 2.0 / 3.0);
    close(s.delta, 0.0);
    close(s.delta_i2c, 1.0 / 6.0);
    close(s.delta_c2i, 1.0 / 6.0);
    // (1 + 0) / (1 + 1/3); pooled a/(a+b) would be 1/2.
    close(s.cl, 3.0 / 4.0);
    // (0 + 1/3) / (0 + 2/3)
    close(s.cs, 1.0 / 2.0);
    // (2/3 − 4/9) / (2·2/3·1/3) = (2/9)/(4/9)
    close(s.rss, 1.0 / 2.0);
}

/// X (k=2): cc, wc. Y (k=1): ww. Z (k=4): cc, cc, cw, ww. Pooled acc_t1 would be 4/7.
#[test]
fn unequal_k_three_items() {
    let obs = vec![
        pair("X", 0, true, true),
        pair("X", 1, false, true),
        pair("Y", 0, false, false),
        pair("Z", 0, true, true),
        pair("Z", 1, true, true),
        pair("Z", 2, true, false),
        pair("Z", 3, false, false),
    ];
    let s = compute(&obs);
    assert_eq!(s.scored, 7);
    assert_eq!(s.transitions, tr(3, 1, 1, 2));
    close(s.acc_t1, 5.0 / 12.0); // (1/2 + 0 + 3/4) / 3
    close(s.acc_t2, 1.0 / 2.0); // (1 + 0 + 1/2) / 3
    close(s.delta_i2c, 1.0 / 6.0); // (1/2 + 0 + 0) / 3
    close(s.delta_c2i, 1.0 / 12.0); // (0 + 0 + 1/4) / 3
    close(s.delta, 1.0 / 12.0);
    close(s.cl, 4.0 / 5.0); // (1/2 + 0 + 1/2) / (5/4)
    close(s.cs, 2.0 / 7.0); // (1/2) / (1/2 + 1 + 1/4)
    close(s.rss, 47.0 / 70.0); // (1/2 − 25/144) / (2·5/12·7/12)
}

#[test]
fn all_right_at_t1() {
    let s = compute(&[pair("a", 0, true, true), pair("b", 0, true, false)]);
    close(s.acc_t1, 1.0);
    close(s.acc_t2, 0.5);
    close(s.delta, -0.5);
    close(s.delta_i2c, 0.0);
    close(s.delta_c2i, 0.5);
    close(s.cl, 0.5);
    assert_eq!(s.cs, None);
    assert_eq!(s.rss, None);
}

#[test]
fn all_wrong_at_t1() {
    let s = compute(&[
        pair("a", 0, false, true),
        pair("b", 0, false, false),
        pair("c", 0, false, false),
    ]);
    close(s.acc_t1, 0.0);
    close(s.acc_t2, 1.0 / 3.0);
    close(s.delta, 1.0 / 3.0);
    assert_eq!(s.cl, None);
    close(s.cs, 1.0 / 3.0);
    assert_eq!(s.rss, None);
}

fn assert_rates_null(s: &Summary) {
    for key in rate_keys() {
        assert_eq!(s.rate(key), None, "{key}");
    }
}

#[test]
fn nothing_scored_everything_null() {
    // Single attempts and ungraded ends only: N = 0.
    let s = compute(&[
        ep("a", 0, &[Some(true)]),
        ep("b", 0, &[None, Some(true)]),
        ep("c", 0, &[Some(false), None]),
        ep("d", 0, &[]),
    ]);
    assert_eq!(s.episodes, 4);
    assert_eq!(s.scored, 0);
    assert_eq!(s.transitions, Transitions::default());
    assert_rates_null(&s);
}

#[test]
fn empty_input() {
    let s = compute(&[]);
    assert_eq!((s.episodes, s.scored, s.failed), (0, 0, 0));
    assert_rates_null(&s);
    assert!(s.rounds.is_empty());
    assert_eq!(s.critique.n, 0);
    assert_eq!(
        (s.critique.accuracy, s.critique.precision, s.critique.recall, s.critique.f1),
        (None, None, None, None)
    );
}

#[test]
fn failed_episodes_excluded() {
    let mut bad = pair("a", 1, false, false);
    bad.failed = true;
    bad.attempts = vec![Some(false); 5];
    bad.critiques = vec![crit(Incorrect, Some(false)), crit(Correct, Some(true))];
    let s = compute(&[pair("a", 0, true, true), bad]);
    assert_eq!((s.episodes, s.scored, s.failed), (2, 1, 1));
    assert_eq!(s.transitions, tr(1, 0, 0, 0));
    close(s.acc_t1, 1.0);
    close(s.acc_t2, 1.0);
    // The failed episode's 5 attempts do not lengthen the rounds.
    assert_eq!(s.rounds.len(), 2);
    assert_eq!(s.rounds[0].n, 1);
    assert_eq!(s.critique.n, 0);
    assert_eq!(s.critique.verdict_incorrect, 0);

    let only_failed = compute(&[EpisodeObs { failed: true, ..pair("a", 0, true, true) }]);
    assert_eq!((only_failed.episodes, only_failed.failed), (1, 1));
    assert_rates_null(&only_failed);
    assert!(only_failed.rounds.is_empty());
}

#[test]
fn single_attempt_not_scored() {
    let s = compute(&[ep("a", 0, &[Some(true)]), pair("b", 0, false, true)]);
    assert_eq!(s.scored, 1);
    assert_eq!(s.transitions, tr(0, 0, 1, 0));
    close(s.acc_t1, 0.0);
    // In the rounds it carries its only answer forward.
    assert_eq!(s.rounds.len(), 2);
    assert_eq!(s.rounds[1].n, 2);
    close(s.rounds[1].acc, 1.0); // a: 1, b: 1
    assert_eq!(s.rounds[1].transitions, Some(tr(1, 0, 1, 0)));
}

#[test]
fn ungraded_attempts() {
    let s = compute(&[
        // Middle ungraded: still scored (t1 = c, t2 = w).
        ep("a", 0, &[Some(true), None, Some(false)]),
        ep("b", 0, &[None, Some(true)]),
        ep("c", 0, &[Some(true), None]),
    ]);
    assert_eq!(s.scored, 1);
    assert_eq!(s.transitions, tr(0, 1, 0, 0));
    close(s.acc_t1, 1.0);
    close(s.acc_t2, 0.0);
    assert_eq!(s.cs, None);
    assert_eq!(s.rss, None);
    assert_eq!(s.rounds.len(), 3);
    // j=0: a c, c c (b ungraded).
    assert_eq!(s.rounds[0].n, 2);
    close(s.rounds[0].acc, 1.0);
    // j=1: only b graded (c); no episode graded at both 0 and 1.
    assert_eq!(s.rounds[1].n, 1);
    close(s.rounds[1].acc, 1.0);
    assert_eq!(s.rounds[1].transitions, Some(Transitions::default()));
    // j=2: a w, b c (carried), c ungraded (carried None).
    assert_eq!(s.rounds[2].n, 2);
    close(s.rounds[2].acc, 0.5);
    // 1→2: only b is graded at both (c→c carried); a is ungraded at j=1.
    assert_eq!(s.rounds[2].transitions, Some(tr(1, 0, 0, 0)));
}

#[test]
fn rounds_with_early_stop_carry_forward() {
    let t = Some(true);
    let f = Some(false);
    let mut dead = ep("E", 0, &[f, f, f, f, f, f, f]);
    dead.failed = true;
    let obs = vec![
        ep("A", 0, &[f, t, t]),
        ep("B", 0, &[t, f]),
        ep("C", 0, &[f]),
        ep("A", 1, &[t, t, f]),
        ep("D", 0, &[None, t]),
        // Never graded: does not set the number of rounds.
        ep("F", 0, &[None; 6]),
        dead,
    ];
    let s = compute(&obs);
    assert_eq!(s.rounds.len(), 3);
    let r: Vec<u32> = s.rounds.iter().map(|r| r.attempt).collect();
    assert_eq!(r, vec![0, 1, 2]);

    // j=0: A {w, c} = 1/2, B c, C w; D ungraded.
    assert_eq!(s.rounds[0].n, 4);
    close(s.rounds[0].acc, 1.0 / 2.0); // (1/2 + 1 + 0) / 3
    assert_eq!(s.rounds[0].transitions, None);

    // j=1: A {c, c}, B w, C w (carried), D c.
    assert_eq!(s.rounds[1].n, 5);
    close(s.rounds[1].acc, 1.0 / 2.0); // (1 + 0 + 0 + 1) / 4
    // A0 wc, B cw, C ww, A1 cc; D not graded at j=0.
    assert_eq!(s.rounds[1].transitions, Some(tr(1, 1, 1, 1)));

    // j=2: A {c, w}, B w (carried), C w, D c (carried).
    assert_eq!(s.rounds[2].n, 5);
    close(s.rounds[2].acc, 3.0 / 8.0); // (1/2 + 0 + 0 + 1) / 4
    // A0 cc, B ww, C ww, A1 cw, D cc.
    assert_eq!(s.rounds[2].transitions, Some(tr(2, 1, 0, 2)));

    // t1→t2 scoring: A0 wc, B cw, A1 cw; C single, D ungraded t1, F ungraded.
    assert_eq!(s.scored, 3);
    assert_eq!(s.transitions, tr(0, 2, 1, 0));
    assert_eq!(s.failed, 1);
}

#[test]
fn critique_confusion_with_unparsed() {
    let mut a = ep("a", 0, &[Some(false), Some(true)]);
    a.critiques = vec![
        crit(Incorrect, Some(false)), // tp
        crit(Incorrect, Some(false)), // tp
        crit(Correct, Some(false)),   // fn
        crit(Unparsed, Some(false)),  // fn + unparsed
    ];
    let mut b = ep("b", 0, &[Some(true), Some(true)]);
    b.critiques = vec![
        crit(Correct, Some(true)),  // tn
        crit(Correct, Some(true)),  // tn
        crit(Correct, Some(true)),  // tn
        crit(Unparsed, Some(true)), // fp + unparsed
        crit(Incorrect, None),      // outside n, still a parsed verdict
        crit(Unparsed, None),       // outside everything
    ];
    let mut dead = ep("c", 0, &[Some(true)]);
    dead.failed = true;
    dead.critiques = vec![crit(Incorrect, Some(false)), crit(Correct, Some(true))];
    let c = compute(&[a, b, dead]).critique;
    assert_eq!((c.n, c.tp, c.fp, c.tn, c.fn_, c.unparsed), (8, 2, 1, 3, 2, 2));
    close(c.accuracy, 5.0 / 8.0);
    close(c.precision, 2.0 / 3.0);
    close(c.recall, 1.0 / 2.0);
    close(c.f1, 4.0 / 7.0); // 2·(2/3)(1/2) / (2/3 + 1/2)
    assert_eq!((c.verdict_correct, c.verdict_incorrect), (4, 3));
}

#[test]
fn f1_defined_by_counts() {
    let with = |crits: Vec<CritiqueObs>| {
        let mut e = ep("a", 0, &[Some(true)]);
        e.critiques = crits;
        compute(&[e]).critique
    };
    // No positive predicted and none true: P, R and F1 = 2tp/(2tp+fp+fn) = 0/0 undefined.
    let c = with(vec![crit(Correct, Some(true)), crit(Correct, Some(true))]);
    assert_eq!((c.n, c.tn), (2, 2));
    close(c.accuracy, 1.0);
    assert_eq!((c.precision, c.recall, c.f1), (None, None, None));
    // P = R = 0: tp=0, fp=1, fn=1 → F1 = 0/(0+1+1) = 0, a defined (bad) score.
    let c = with(vec![crit(Incorrect, Some(true)), crit(Correct, Some(false))]);
    close(c.precision, 0.0);
    close(c.recall, 0.0);
    close(c.f1, 0.0);
    close(c.accuracy, 0.0);
    // Positives predicted, none true: P = 0, R undefined, F1 = 0/(0+1+0) = 0.
    let c = with(vec![crit(Incorrect, Some(true))]);
    close(c.precision, 0.0);
    assert_eq!(c.recall, None);
    close(c.f1, 0.0);
}

#[test]
fn json_keys_and_nulls() {
    let top = [
        "episodes",
        "scored",
        "failed",
        "transitions",
        "acc_t1",
        "acc_t2",
        "delta",
        "delta_i2c",
        "delta_c2i",
        "cl",
        "cs",
        "rss",
        "rounds",
        "critique",
    ];
    let crit_keys = [
        "n",
        "tp",
        "fp",
        "tn",
        "fn",
        "unparsed",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "verdict_correct",
        "verdict_incorrect",
    ];
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    };

    let empty = serde_json::to_value(compute(&[])).unwrap_or_default();
    assert_eq!(keys(&empty), top);
    for k in rate_keys() {
        assert!(empty[k].is_null(), "{k}");
    }
    assert_eq!(empty["rounds"], serde_json::json!([]));
    assert_eq!(empty["transitions"], serde_json::json!({"cc": 0, "cw": 0, "wc": 0, "ww": 0}));
    assert_eq!(keys(&empty["critique"]), crit_keys);
    for k in ["accuracy", "precision", "recall", "f1"] {
        assert!(empty["critique"][k].is_null(), "{k}");
    }

    // All right at t1: cs and rss null, the rest numbers; rounds carry null transitions at 0.
    let v = serde_json::to_value(compute(&[pair("a", 0, true, true), pair("b", 0, true, false)]))
        .unwrap_or_default();
    assert_eq!(keys(&v), top);
    assert!(v["cs"].is_null() && v["rss"].is_null());
    assert_eq!(v["cl"], serde_json::json!(0.5));
    assert_eq!(v["acc_t1"], serde_json::json!(1.0));
    assert_eq!(
        v["rounds"],
        serde_json::json!([
            {"attempt": 0, "n": 2, "acc": 1.0, "transitions": null},
            {"attempt": 1, "n": 2, "acc": 0.5, "transitions": {"cc": 1, "cw": 1, "wc": 0, "ww": 0}},
        ])
    );
}

#[test]
fn rate_keys_exact() {
    assert_eq!(
        rate_keys(),
        ["acc_t1", "acc_t2", "delta", "delta_i2c", "delta_c2i", "cl", "cs", "rss"]
    );
}

/// Knuth's MMIX LCG: deterministic pseudo-random vectors without extra dependencies.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn identities_on_random_vectors() {
    let mut rng = Lcg(0x5eed);
    let mut both_defined = 0;
    for case in 0..500 {
        let items = 1 + rng.below(8);
        // Every third case has equal k, where item weighting must equal pooling.
        let equal_k = (case % 3 == 0).then(|| 1 + rng.below(5));
        let mut obs = Vec::new();
        for i in 0..items {
            let k = equal_k.unwrap_or_else(|| 1 + rng.below(6));
            for s in 0..k {
                let t1 = rng.below(2) == 1;
                let t2 = rng.below(2) == 1;
                obs.push(pair(&format!("i{i}"), s as u32, t1, t2));
            }
            // Noise that must not matter: unscored and failed episodes.
            if rng.below(4) == 0 {
                obs.push(ep(&format!("i{i}"), 99, &[Some(true)]));
            }
            if rng.below(4) == 0 {
                obs.push(EpisodeObs { failed: true, ..pair(&format!("i{i}"), 98, false, true) });
            }
        }
        let s = compute(&obs);
        for key in rate_keys() {
            assert!(s.rate(key).is_none_or(f64::is_finite), "{key} not finite");
        }
        let (p1, p2, d) = (s.acc_t1.unwrap_or(f64::NAN), s.acc_t2.unwrap_or(f64::NAN), s.delta);
        close(d, s.delta_i2c.unwrap_or(f64::NAN) - s.delta_c2i.unwrap_or(f64::NAN));
        if let (Some(cl), Some(cs)) = (s.cl, s.cs) {
            both_defined += 1;
            close(Some(p2), p1 * cl + (1.0 - p1) * cs);
        }
        if equal_k.is_some() {
            let t = s.transitions;
            let n = t.total() as f64;
            close(s.acc_t1, (t.cc + t.cw) as f64 / n);
            close(s.acc_t2, (t.cc + t.wc) as f64 / n);
            close(s.delta, (t.wc as f64 - t.cw as f64) / n);
            if t.cc + t.cw > 0 {
                close(s.cl, t.cc as f64 / (t.cc + t.cw) as f64);
            }
            if t.wc + t.ww > 0 {
                close(s.cs, t.wc as f64 / (t.wc + t.ww) as f64);
            }
        }
    }
    assert!(both_defined > 300, "too few cases exercise the CL/CS identity: {both_defined}");
}
