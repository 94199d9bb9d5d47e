//! t1→t2 transition counts and the item-weighted rates built on them.

use serde::Serialize;

use super::aggregate::ItemAgg;
use super::{mean, ratio};

/// Counts of (earlier, later) correctness pairs: c = correct, w = wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct Transitions {
    pub cc: u64,
    pub cw: u64,
    pub wc: u64,
    pub ww: u64,
}

impl Transitions {
    /// Counts one pair of correctness values.
    pub fn record(&mut self, from: bool, to: bool) {
        match (from, to) {
            (true, true) => self.cc += 1,
            (true, false) => self.cw += 1,
            (false, true) => self.wc += 1,
            (false, false) => self.ww += 1,
        }
    }

    /// Adds another set of counts.
    pub fn add(&mut self, o: &Transitions) {
        self.cc += o.cc;
        self.cw += o.cw;
        self.wc += o.wc;
        self.ww += o.ww;
    }

    /// N = cc + cw + wc + ww.
    pub fn total(&self) -> u64 {
        self.cc + self.cw + self.wc + self.ww
    }
}

/// Pooled counts plus the item-weighted rates.
pub(super) struct Scored {
    pub pooled: Transitions,
    pub acc_t1: Option<f64>,
    pub acc_t2: Option<f64>,
    pub delta: Option<f64>,
    pub delta_i2c: Option<f64>,
    pub delta_c2i: Option<f64>,
    pub cl: Option<f64>,
    pub cs: Option<f64>,
    pub rss: Option<f64>,
}

/// Rates over `items`, each item weighing the same.
pub(super) fn compute(items: &[&ItemAgg]) -> Scored {
    let mut pooled = Transitions::default();
    for i in items {
        pooled.add(&i.trans);
    }
    // Per-item shares of its own scored samples, for items with at least one.
    let shares: Vec<Shares> =
        items.iter().filter(|i| i.trans.total() > 0).map(|i| Shares::of(&i.trans)).collect();
    let avg = |f: fn(&Shares) -> f64| mean(shares.iter().map(f));
    let sum = |f: fn(&Shares) -> f64| shares.iter().map(f).sum::<f64>();

    let acc_t1 = avg(|s| s.cc + s.cw);
    let acc_t2 = avg(|s| s.cc + s.wc);
    // CL = Σ P(a_i)P(b_i|a_i) / Σ P(a_i) with P(a_i)P(b_i|a_i) = a_i/k_i; CS symmetrically.
    let cl = ratio(sum(|s| s.cc), sum(|s| s.cc + s.cw));
    let cs = ratio(sum(|s| s.wc), sum(|s| s.wc + s.ww));
    // Decide from counts, not floats, whether acc_t1 is exactly 0 or 1.
    let rss = match acc_t1 {
        Some(p1) if pooled.cc + pooled.cw > 0 && pooled.wc + pooled.ww > 0 => {
            acc_t2.map(|p2| (p2 - p1 * p1) / (2.0 * p1 * (1.0 - p1)))
        }
        _ => None,
    };
    Scored {
        pooled,
        acc_t1,
        acc_t2,
        delta: avg(|s| s.wc - s.cw),
        delta_i2c: avg(|s| s.wc),
        delta_c2i: avg(|s| s.cw),
        cl,
        cs,
        rss,
    }
}

/// One item's transition counts divided by its number of scored samples.
struct Shares {
    cc: f64,
    cw: f64,
    wc: f64,
    ww: f64,
}

impl Shares {
    fn of(t: &Transitions) -> Shares {
        // Only called on items with at least one scored sample, so k > 0.
        let k = t.total().max(1) as f64;
        Shares {
            cc: t.cc as f64 / k,
            cw: t.cw as f64 / k,
            wc: t.wc as f64 / k,
            ww: t.ww as f64 / k,
        }
    }
}
