//! What the human labels say: counts per value and per transition cell, agreement of the auto
//! grader with grade overrides, and Cohen's κ between annotators and between human and critic.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::Transitions;
use super::observe::{GRADE_OVERRIDE, override_value};
use super::stats::{Kappa, kappa};
use crate::domain::{Label, Verdict};

/// One episode as the human statistics see it.
#[derive(Debug, Clone, Default)]
pub struct LabelledEpisode<'a> {
    /// `item#sample`, used to list disagreements.
    pub name: String,
    pub labels: &'a [Label],
    /// The grade overrides metrics apply ([`overrides`](super::observe::overrides) of `labels`).
    pub overrides: HashMap<u32, bool>,
    /// (t1, t2) correctness when the episode is scored, by the grades metrics use.
    pub cell: Option<(bool, bool)>,
    /// The automatic grade of each attempt, by turn index.
    pub auto: HashMap<u32, bool>,
    /// Each model critique: its verdict and the turn index of the attempt it judged.
    pub critiques: Vec<(Verdict, u32)>,
}

/// Auto grade against the latest human override of the same attempt.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct OverrideAgreement {
    pub agree: u64,
    pub disagree: u64,
    /// `item#sample@turn` of each disagreement.
    pub disagreements: Vec<String>,
}

/// κ of two annotators on one label name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairKappa {
    pub a: String,
    pub b: String,
    #[serde(flatten)]
    pub kappa: Kappa,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct HumanStats {
    /// Label records, history included.
    pub labels: u64,
    pub annotators: Vec<String>,
    /// name → value → count, the latest label per annotator and target (free-text notes left
    /// out; every tag counted).
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// name → value → transition cells of the scored episodes carrying that label.
    pub by_transition: BTreeMap<String, BTreeMap<String, Transitions>>,
    pub overrides: OverrideAgreement,
    /// name → κ for every pair of annotators who labelled the same targets.
    pub kappa_annotators: BTreeMap<String, Vec<PairKappa>>,
    /// The human's `grade_override` of a critiqued attempt against the critic's verdict.
    pub kappa_human_critic: Option<Kappa>,
}

/// Two annotators' values on the same targets.
type ValuePairs<'a> = Vec<(&'a str, &'a str)>;

/// (annotator, turn, name) → latest value; tags keep every value.
type Latest<'a> = BTreeMap<(&'a str, Option<u32>, &'a str), Vec<&'a str>>;

fn latest(labels: &[Label]) -> Latest<'_> {
    let mut sorted: Vec<&Label> = labels.iter().filter(|l| l.name != "note").collect();
    sorted.sort_by_key(|l| l.time);
    let mut out: Latest<'_> = BTreeMap::new();
    for l in sorted {
        let slot = out.entry((l.annotator.as_str(), l.turn, l.name.as_str())).or_default();
        if l.name == "tags" {
            if !slot.contains(&l.value.as_str()) {
                slot.push(l.value.as_str());
            }
        } else {
            *slot = vec![l.value.as_str()];
        }
    }
    out
}

/// A grade override as the critic's verdict vocabulary, to pair the two for κ.
fn verdict_of_grade(v: &str) -> Option<&'static str> {
    override_value(v).map(|right| if right { "correct" } else { "incorrect" })
}

pub fn compute(eps: &[LabelledEpisode<'_>]) -> HumanStats {
    let mut h = HumanStats::default();
    let mut annotators = BTreeSet::new();
    // name → (annotator a, annotator b) → pairs of values.
    let mut pairs: BTreeMap<&str, BTreeMap<(&str, &str), ValuePairs<'_>>> = BTreeMap::new();
    let mut critic_pairs: Vec<(&str, &str)> = Vec::new();
    for ep in eps {
        h.labels += ep.labels.len() as u64;
        let latest = latest(ep.labels);
        // target → annotator → value, to pair annotators on the same target.
        let mut targets: BTreeMap<(Option<u32>, &str), ValuePairs<'_>> = BTreeMap::new();
        for (&(who, turn, name), values) in &latest {
            annotators.insert(who.to_string());
            for v in values {
                *h.counts.entry(name.into()).or_default().entry((*v).into()).or_default() += 1;
                if let Some((t1, t2)) = ep.cell {
                    h.by_transition
                        .entry(name.into())
                        .or_default()
                        .entry((*v).into())
                        .or_default()
                        .record(t1, t2);
                }
            }
            if name != "tags"
                && let Some(v) = values.first()
            {
                targets.entry((turn, name)).or_default().push((who, v));
            }
        }
        for ((_, name), by) in &targets {
            for (i, (a, va)) in by.iter().enumerate() {
                for (b, vb) in by.iter().skip(i + 1) {
                    pairs.entry(name).or_default().entry((a, b)).or_default().push((va, vb));
                }
            }
        }
        overrides_vs_auto(ep, &mut h.overrides);
        for &(verdict, target) in &ep.critiques {
            for (&(_, turn, name), values) in &latest {
                if name == GRADE_OVERRIDE
                    && turn == Some(target)
                    && let Some(human) = values.first().and_then(|v| verdict_of_grade(v))
                {
                    critic_pairs.push((human, verdict.as_str()));
                }
            }
        }
    }
    h.annotators = annotators.into_iter().collect();
    for (name, by_pair) in pairs {
        let list: Vec<PairKappa> = by_pair
            .into_iter()
            .filter_map(|((a, b), values)| {
                kappa(&values).map(|k| PairKappa { a: a.into(), b: b.into(), kappa: k })
            })
            .collect();
        if !list.is_empty() {
            h.kappa_annotators.insert(name.into(), list);
        }
    }
    h.kappa_human_critic = kappa(&critic_pairs);
    h
}

/// The override that metrics use (the latest of any annotator) against the auto grade.
fn overrides_vs_auto(ep: &LabelledEpisode<'_>, out: &mut OverrideAgreement) {
    // Sorted by turn so the disagreements list is stable.
    let by_turn: BTreeMap<u32, bool> = ep.overrides.iter().map(|(t, v)| (*t, *v)).collect();
    for (turn, human) in by_turn {
        let Some(&auto) = ep.auto.get(&turn) else { continue };
        if auto == human {
            out.agree += 1;
        } else {
            out.disagree += 1;
            out.disagreements.push(format!("{}@{turn}", ep.name));
        }
    }
}
