//! What the human labels say: counts per value and per transition cell, agreement of the auto
//! grader with grade overrides, agreement between annotators (percent, Cohen's κ, Krippendorff's
//! α, confusion) and between human grades and critic verdicts. Every figure reads the effective
//! labels of [`crate::domain::label`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::Transitions;
use super::agreement::{AgreementOptions, LabelAgreement, Rating, agreement, kappa_interval};
use super::stats::kappa;
use crate::domain::label::{Effective, slots};
use crate::domain::{GRADE_OVERRIDE, Label, Verdict, override_value};

/// One episode as the human statistics see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelledEpisode {
    /// `item#sample`, used to name units and list disagreements.
    pub name: String,
    /// Every entry, history included.
    pub labels: Vec<Label>,
    /// The grade overrides metrics apply ([`overrides`](super::observe::overrides) of `labels`).
    pub overrides: HashMap<u32, bool>,
    /// (t1, t2) correctness when the episode is scored, by the grades metrics use.
    pub cell: Option<(bool, bool)>,
    /// The automatic grade of each attempt, by turn index.
    pub auto: HashMap<u32, bool>,
    /// Each model critique: its verdict and the turn index of the attempt it judged.
    pub critiques: Vec<(Verdict, u32)>,
}

/// Auto grade against the override in force on the same attempt.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct OverrideAgreement {
    pub agree: u64,
    pub disagree: u64,
    /// `item#sample@turn` of each disagreement.
    pub disagreements: Vec<String>,
}

/// A human's grade of a critiqued attempt against the critic's verdict on it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HumanCritic {
    /// (human grade, critic verdict) pairs; an unparsed verdict counts as a disagreement.
    pub n: u64,
    pub percent: f64,
    pub kappa: Option<f64>,
    pub kappa_ci: Option<[f64; 2]>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct HumanStats {
    /// Label entries, history and retractions included.
    pub labels: u64,
    /// Effective labels (one per annotator, target and name).
    pub effective: u64,
    pub annotators: Vec<String>,
    /// name → value → count of effective labels (free-text notes left out; each tag counted).
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// name → value → transition cells of the scored episodes carrying that label.
    pub by_transition: BTreeMap<String, BTreeMap<String, Transitions>>,
    pub overrides: OverrideAgreement,
    /// name → agreement between annotators on the targets they both labelled.
    pub agreement: BTreeMap<String, LabelAgreement>,
    /// Every annotator's `grade_override` of a critiqued attempt against the critic's verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human_critic: Option<HumanCritic>,
}

/// A grade override as the critic's verdict vocabulary, to pair the two.
fn verdict_of_grade(v: &str) -> Option<&'static str> {
    override_value(v).map(|right| if right { "correct" } else { "incorrect" })
}

/// The values an effective label counts as: tags one by one, other names whole.
fn counted<'a>(name: &str, value: &'a str) -> Vec<&'a str> {
    if name == "tags" {
        value.split(',').map(str::trim).filter(|t| !t.is_empty()).collect()
    } else {
        vec![value]
    }
}

pub fn compute(eps: &[LabelledEpisode], opts: &AgreementOptions) -> HumanStats {
    let mut h = HumanStats::default();
    let mut annotators = BTreeSet::new();
    // name → (unit, annotator, value), the input of the agreement statistics.
    let mut ratings: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    let mut critic_pairs: Vec<(&str, &str)> = Vec::new();
    for ep in eps {
        h.labels += ep.labels.len() as u64;
        let slots: Vec<Effective<'_>> = slots(&ep.labels);
        for e in &slots {
            annotators.insert(e.slot.annotator.to_string());
            let (Some(l), true) = (e.label, e.slot.name != "note") else { continue };
            h.effective += 1;
            for v in counted(&l.name, &l.value) {
                *h.counts.entry(l.name.clone()).or_default().entry(v.into()).or_default() += 1;
                if let Some((t1, t2)) = ep.cell {
                    h.by_transition
                        .entry(l.name.clone())
                        .or_default()
                        .entry(v.into())
                        .or_default()
                        .record(t1, t2);
                }
            }
            if l.name != "tags" {
                let unit = match l.turn {
                    Some(t) => format!("{}@{t}", ep.name),
                    None => ep.name.clone(),
                };
                ratings.entry(l.name.clone()).or_default().push((
                    unit,
                    l.annotator.clone(),
                    l.value.clone(),
                ));
            }
        }
        overrides_vs_auto(ep, &mut h.overrides);
        for &(verdict, target) in &ep.critiques {
            for e in &slots {
                let human = e.label.filter(|l| l.name == GRADE_OVERRIDE && l.turn == Some(target));
                if let Some(human) = human.and_then(|l| verdict_of_grade(&l.value)) {
                    critic_pairs.push((human, verdict.as_str()));
                }
            }
        }
    }
    h.annotators = annotators.into_iter().collect();
    for (name, list) in &ratings {
        let rs: Vec<Rating<'_>> =
            list.iter().map(|(unit, who, value)| Rating { unit, annotator: who, value }).collect();
        let a = agreement(&rs, opts);
        if !a.pairs.is_empty() {
            h.agreement.insert(name.clone(), a);
        }
    }
    h.human_critic = kappa(&critic_pairs).map(|k| HumanCritic {
        n: k.n,
        percent: k.observed,
        kappa: k.kappa,
        kappa_ci: kappa_interval(&critic_pairs, opts),
    });
    h
}

/// The override that metrics use (the latest of any annotator) against the auto grade.
fn overrides_vs_auto(ep: &LabelledEpisode, out: &mut OverrideAgreement) {
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

fn fixed3(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.3}"))
}

fn ci3(ci: Option<[f64; 2]>) -> String {
    ci.map_or(String::new(), |[lo, hi]| format!(" [{lo:.3}, {hi:.3}]"))
}

/// The agreement figures as plain lines, one definition for the CLI, the report and the TUI:
/// per label α with its interval, then per pair of annotators n, percent agreement and κ.
pub fn agreement_lines(h: &HumanStats) -> Vec<String> {
    let mut out: Vec<String> =
        h.agreement.iter().flat_map(|(name, a)| label_agreement_lines(name, a)).collect();
    out.extend(human_critic_line(h));
    out
}

/// One label's lines of [`agreement_lines`].
pub fn label_agreement_lines(name: &str, a: &LabelAgreement) -> Vec<String> {
    let alpha = a.alpha.as_ref().map_or("α n/a".to_string(), |x| {
        format!("α {}{} over {} units", fixed3(x.alpha), ci3(x.ci), x.units)
    });
    let mut out = vec![format!("{name}: {alpha}, {} annotators", a.annotators.len())];
    for p in &a.pairs {
        out.push(format!(
            "  {} vs {}: n {}, agree {:.1}%, κ {}{}",
            p.a,
            p.b,
            p.n,
            p.percent * 100.0,
            fixed3(p.kappa),
            ci3(p.kappa_ci)
        ));
    }
    out
}

/// The human grade against the critic's verdict, when any critiqued attempt was overridden.
pub fn human_critic_line(h: &HumanStats) -> Option<String> {
    h.human_critic.as_ref().map(|c| {
        format!(
            "human grade vs critic verdict: n {}, agree {:.1}%, κ {}{}",
            c.n,
            c.percent * 100.0,
            fixed3(c.kappa),
            ci3(c.kappa_ci)
        )
    })
}

/// A pair's confusion matrix as aligned lines (rows: `a`'s values, columns: `b`'s).
pub fn confusion_lines(p: &super::PairAgreement) -> Vec<String> {
    let w = p.values.iter().map(|v| v.chars().count()).max().unwrap_or(1).max(3);
    let corner = format!("{} \\ {}", p.a, p.b);
    let cw = corner.chars().count().max(w);
    let mut head = format!("{corner:<cw$}");
    for v in &p.values {
        head.push_str(&format!(" {v:>w$}"));
    }
    let mut out = vec![head];
    for (v, row) in p.values.iter().zip(&p.confusion) {
        let mut line = format!("{v:<cw$}");
        for n in row {
            line.push_str(&format!(" {n:>w$}"));
        }
        out.push(line);
    }
    out
}
