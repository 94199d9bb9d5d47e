//! A seeded statistical model of a self-correcting LLM. Every reply is a pure function of
//! (seed, item, sample, turn index) and the graded prior turns, so a resumed run sees the same
//! text, and the true CL/CS follow from `SimParams` (see `SimParams::true_cl`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::{Reply, Request};
use crate::domain::{AnswerKind, Item, ProtocolKind, Role, SimParams, Turn, Verdict};

fn rng_for(req: &Request<'_>) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(req.sampling.seed.to_be_bytes());
    h.update(req.item.id.0.as_bytes());
    h.update([0]);
    h.update(req.sample.to_be_bytes());
    h.update(req.step.index.to_be_bytes());
    let d = h.finalize();
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&d);
    ChaCha8Rng::from_seed(seed)
}

/// Produces the simulated reply for one request.
pub fn simulate(p: &SimParams, req: &Request<'_>) -> Reply {
    let mut rng = rng_for(req);
    let content = match req.step.role {
        Role::Generate | Role::Given => {
            let right = rng.random_bool(p.p_correct.clamp(0.0, 1.0));
            solution(req.item, right, None, &mut rng)
        }
        Role::Critique => critique(p, req, &mut rng),
        Role::Revise => revise(p, req, &mut rng),
    };
    let words = u32::try_from(content.split_whitespace().count()).unwrap_or(u32::MAX);
    let prompt_words: usize =
        req.step.messages.iter().map(|m| m.content.split_whitespace().count()).sum();
    Reply {
        content,
        model: req.model.to_string(),
        prompt_tokens: Some(u32::try_from(prompt_words * 4 / 3).unwrap_or(u32::MAX)),
        completion_tokens: Some(words.saturating_mul(4) / 3),
        finish_reason: Some("stop".into()),
        simulated: true,
        tokens: Vec::new(),
        p_true: None,
        latency_ms: None,
        retried: Default::default(),
    }
}

/// The last attempt before the current turn, as (answer, correct).
fn last_attempt(prior: &[Turn]) -> Option<&Turn> {
    prior.iter().rev().find(|t| t.is_attempt())
}

/// Draws whether the next attempt is right, given whether the last one was and whether the
/// critique flagged it.
fn next_right(p: &SimParams, was_right: bool, flagged: bool, rng: &mut ChaCha8Rng) -> bool {
    let prob = match (was_right, flagged) {
        (true, true) => 1.0 - p.p_break,
        (true, false) => 1.0 - p.p_break_unflagged,
        (false, true) => p.p_fix,
        (false, false) => p.p_fix_unflagged,
    };
    rng.random_bool(prob.clamp(0.0, 1.0))
}

fn critique(p: &SimParams, req: &Request<'_>, rng: &mut ChaCha8Rng) -> String {
    let target = last_attempt(req.prior);
    let was_right = target.and_then(|t| t.correct).unwrap_or(false);
    let unparsed = rng.random_bool(p.p_unparsed.clamp(0.0, 1.0));
    let flag_p = if was_right { p.fpr } else { p.tpr };
    let flagged = rng.random_bool(flag_p.clamp(0.0, 1.0));
    // A verdict that matches the truth comes with higher stated confidence.
    let honest = flagged != was_right;
    let conf: u32 = if honest { rng.random_range(65..=95) } else { rng.random_range(50..=80) };
    let mut s = String::from("Let me check the solution step by step.\n\n");
    if flagged {
        s.push_str("The setup is fine, but the final computation does not follow from the steps above: the last result should be recomputed.\n\n");
    } else {
        s.push_str("Each step follows from the previous one and the arithmetic checks out.\n\n");
    }
    if unparsed {
        s.push_str("Overall I have some doubts about this solution.\n");
    } else {
        let v = if flagged { Verdict::Incorrect } else { Verdict::Correct };
        s.push_str(&format!("Verdict: {}\nConfidence: {conf}%\n", v.as_str()));
    }
    if req.protocol == ProtocolKind::CriticCorrect {
        let right = next_right(p, was_right, flagged && !unparsed, rng);
        let keep = target.and_then(|t| t.answer.clone());
        s.push('\n');
        s.push_str(&final_line(req.item, right, keep.as_deref(), rng));
    }
    s
}

fn revise(p: &SimParams, req: &Request<'_>, rng: &mut ChaCha8Rng) -> String {
    let flagged = matches!(req.prior.last(), Some(t) if t.verdict == Some(Verdict::Incorrect));
    let target = last_attempt(req.prior);
    let was_right = target.and_then(|t| t.correct).unwrap_or(false);
    let right = next_right(p, was_right, flagged, rng);
    let keep = target.and_then(|t| t.answer.clone());
    let opening = if flagged {
        "Thanks to the critique, let me redo the last part.\n\n"
    } else {
        "Reconsidering the problem from the start.\n\n"
    };
    format!("{opening}{}", solution(req.item, right, keep.as_deref(), rng))
}

/// A worked solution: the item's own steps when it has them, ending in a boxed answer.
fn solution(item: &Item, right: bool, keep: Option<&str>, rng: &mut ChaCha8Rng) -> String {
    let steps: Vec<&str> = item
        .meta
        .get("solution")
        .and_then(|v| v.as_str())
        .map(|s| s.lines().filter(|l| !l.trim().is_empty()).collect())
        .unwrap_or_default();
    let mut s = String::from("Let's solve this step by step.\n\n");
    let shown = if right { steps.len() } else { steps.len().saturating_sub(1) };
    for line in steps.iter().take(shown) {
        s.push_str(line.trim());
        s.push('\n');
    }
    if steps.is_empty() {
        s.push_str("Working through the quantities in the problem one at a time.\n");
    }
    s.push('\n');
    s.push_str(&final_line(item, right, keep, rng));
    s
}

fn final_line(item: &Item, right: bool, keep: Option<&str>, rng: &mut ChaCha8Rng) -> String {
    let answer = if right {
        item.reference.clone()
    } else {
        // Stay with the previous wrong answer half of the time, as real models often do.
        match keep {
            Some(k) if k != item.reference && rng.random_bool(0.5) => k.to_string(),
            _ => wrong_answer(item, rng),
        }
    };
    format!("The answer is \\boxed{{{answer}}}.")
}

/// A plausible wrong answer of the item's kind.
fn wrong_answer(item: &Item, rng: &mut ChaCha8Rng) -> String {
    let r = item.reference.trim();
    if item.answer_kind == AnswerKind::Choice {
        let n = item.choices.as_ref().map_or(4, |c| c.len().clamp(2, 26));
        let correct = r.chars().next().map_or(0, |c| (c as usize).saturating_sub('A' as usize));
        let mut pick = rng.random_range(0..n - 1);
        if pick >= correct {
            pick += 1;
        }
        return char::from(b'A' + u8::try_from(pick).unwrap_or(0)).to_string();
    }
    if let Ok(v) = r.replace(',', "").parse::<i64>() {
        let offsets = [1, -1, 2, -2, 10, -10, v, v / 2 + 1];
        let off = offsets[rng.random_range(0..offsets.len())];
        let off = if off == 0 { 3 } else { off };
        let w = v.saturating_add(off);
        return if w == v { v.saturating_sub(1) } else { w }.to_string();
    }
    if let Ok(v) = r.parse::<f64>() {
        return format!("{}", v + 1.5);
    }
    format!("{r}+1")
}
