//! From stored records to what the metric formulas need, applying human grade overrides.

use std::collections::HashMap;

use super::{CritiqueObs, EpisodeObs};
use crate::domain::{Episode, EpisodeStatus, Label, ProtocolKind, Role, Turn, Verdict};
use crate::protocol::{SYNTHETIC, attempt_indices};

pub use crate::domain::{GRADE_OVERRIDE, override_value};

/// The grade override in force per turn index (see [`crate::domain::label::applied_overrides`]).
pub fn overrides(labels: &[Label]) -> HashMap<u32, bool> {
    crate::domain::label::applied_overrides(labels)
        .into_iter()
        .map(|(turn, o)| (turn, o.correct))
        .collect()
}

/// The (t1, t2) correctness of an episode as the metrics score it (overrides applied), or
/// `None` when they do not score it: the one definition of an episode's transition cell.
pub fn episode_cell(
    kind: ProtocolKind,
    ep: &Episode,
    turns: &[Turn],
    labels: &[Label],
) -> Option<(bool, bool)> {
    let o = observe(kind, ep, turns, &overrides(labels), &mut 0);
    if o.failed {
        return None;
    }
    super::aggregate::scored_pair(&o)
}

/// Builds the observation of one episode; `used` counts overrides that changed a grade input.
pub fn observe(
    kind: ProtocolKind,
    ep: &Episode,
    turns: &[Turn],
    overrides: &HashMap<u32, bool>,
    used: &mut u64,
) -> EpisodeObs {
    let mut correct_at = |i: usize| -> Option<bool> {
        let idx = u32::try_from(i).ok()?;
        match overrides.get(&idx) {
            Some(v) => {
                *used += 1;
                Some(*v)
            }
            None => turns.get(i).and_then(|t| t.correct),
        }
    };
    let attempt_idx = attempt_indices(kind, turns);
    let mut attempts = Vec::with_capacity(attempt_idx.len() + 1);
    for &i in &attempt_idx {
        attempts.push(correct_at(i));
    }
    // critique-revise with stop_when_correct ends on a critique: the final attempt is the last
    // one, unchanged, so t2 = t1 for that round and the episode is scored.
    let stopped_early = kind == ProtocolKind::CritiqueRevise
        && ep.status == EpisodeStatus::Done
        && turns.last().is_some_and(|t| t.role == Role::Critique);
    if stopped_early && let Some(last) = attempts.last().copied() {
        attempts.push(last);
    }
    let mut critiques = Vec::new();
    for (i, t) in turns.iter().enumerate() {
        if t.role != Role::Critique {
            continue;
        }
        // The last attempt before the critique (attempts[k] is turn attempt_idx[k]).
        let target = attempt_idx.iter().rposition(|&a| a < i);
        let target_correct = target.and_then(|k| attempts.get(k).copied().flatten());
        critiques.push(CritiqueObs {
            verdict: t.verdict.unwrap_or(Verdict::Unparsed),
            target_correct,
            // A control arm's critique is no critic's judgement: an oracle would score F1 = 1.
            synthetic: t.meta.contains_key(SYNTHETIC),
            confidence: t.confidence,
            p_true: t.p_true,
            p_true_raw: t.p_true_raw,
        });
    }
    let revise: Vec<&Turn> = turns.iter().filter(|t| t.role == Role::Revise).collect();
    let revise_tokens = (!revise.is_empty())
        .then(|| {
            revise.iter().try_fold(0u64, |acc, t| {
                Some(acc + u64::from(t.prompt_tokens?) + u64::from(t.completion_tokens?))
            })
        })
        .flatten();
    EpisodeObs {
        item_id: ep.item_id.0.clone(),
        sample: ep.id.sample,
        failed: ep.status == EpisodeStatus::Failed,
        // Only a generated first answer varies across samples; a given solution always agrees.
        first_answer: attempt_idx
            .first()
            .and_then(|&i| turns.get(i))
            .filter(|t| t.role == Role::Generate)
            .and_then(|t| t.answer.clone()),
        attempts,
        critiques,
        revise_tokens,
    }
}
