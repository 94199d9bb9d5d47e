//! A scripted "model" for the mock server whose every answer follows from the item number, so
//! tests can compute the metrics a run must produce without running critloop's code.
//!
//! Items are `Item N: what is N + N?` with reference 2N. In a critique-revise conversation the
//! number of assistant messages tells the step: 0 → generate, 1 → critique, 2 → revise.

use std::path::Path;

use super::mock::{ChatRequest, MockReply};

/// First attempt right?
pub fn t1_right(n: u64) -> bool {
    !n.is_multiple_of(3)
}

/// Revised attempt right?
pub fn t2_right(n: u64) -> bool {
    !n.is_multiple_of(4)
}

/// The critic writes no verdict line.
pub fn unparsed(n: u64) -> bool {
    n.is_multiple_of(11)
}

/// The critic says "incorrect" (when it writes a verdict).
pub fn flags(n: u64) -> bool {
    !t1_right(n) || n.is_multiple_of(7)
}

/// The revise request is refused with HTTP 400: the episode fails with this message.
pub fn rejected(n: u64) -> bool {
    n.is_multiple_of(13)
}

pub fn refusal(n: u64) -> String {
    format!("model refused item {n}")
}

/// The item number in the first user message.
pub fn item_number(req: &ChatRequest) -> Option<u64> {
    let first = req.messages.iter().find(|(r, _)| r == "user")?.1.as_str();
    let rest = &first[first.find("Item ")? + 5..];
    rest.split(':').next()?.trim().parse().ok()
}

fn answer(n: u64, right: bool) -> String {
    let v = if right { 2 * n } else { 2 * n + 1 };
    format!("{n} + {n} = {v}.\nThe answer is \\boxed{{{v}}}.")
}

/// The reply function to give the mock.
pub fn reply(req: &ChatRequest) -> MockReply {
    let Some(n) = item_number(req) else {
        return MockReply::text("I do not know. The answer is \\boxed{0}.");
    };
    let assistants = req.messages.iter().filter(|(r, _)| r == "assistant").count();
    match assistants {
        0 => MockReply::text(answer(n, t1_right(n))),
        1 if unparsed(n) => MockReply::text("Hmm, hard to say whether this holds up."),
        1 => {
            let v = if flags(n) { "incorrect" } else { "correct" };
            MockReply::text(format!("Checking the sum.\nVerdict: {v}\nConfidence: 80%"))
                .with_verdict_prob(0.8)
        }
        _ if rejected(n) => MockReply::rejected(refusal(n)),
        _ => MockReply::text(format!("Revised.\n{}", answer(n, t2_right(n)))),
    }
}

/// Items 1..=count as critloop JSONL.
pub fn dataset_jsonl(count: u64) -> String {
    (1..=count)
        .map(|n| {
            format!(
                "{{\"id\":\"i{n}\",\"question\":\"Item {n}: what is {n} + {n}?\",\"reference\":\"{}\",\"answer_kind\":\"number\"}}\n",
                2 * n
            )
        })
        .collect()
}

pub fn write_dataset(path: &Path, count: u64) {
    std::fs::write(path, dataset_jsonl(count)).unwrap();
}

/// What a one-round critique-revise run over items 1..=count must report.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct Expected {
    pub cc: u64,
    pub cw: u64,
    pub wc: u64,
    pub ww: u64,
    pub failed: u64,
    /// Critique confusion over non-failed episodes (positive = first answer wrong).
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
    pub unparsed: u64,
}

pub fn expected(count: u64) -> Expected {
    let mut e = Expected::default();
    for n in 1..=count {
        if rejected(n) {
            e.failed += 1;
            continue;
        }
        match (t1_right(n), t2_right(n)) {
            (true, true) => e.cc += 1,
            (true, false) => e.cw += 1,
            (false, true) => e.wc += 1,
            (false, false) => e.ww += 1,
        }
        let wrong = !t1_right(n);
        if unparsed(n) {
            e.unparsed += 1;
            if wrong { e.fn_ += 1 } else { e.fp += 1 }
        } else {
            match (flags(n), wrong) {
                (true, true) => e.tp += 1,
                (true, false) => e.fp += 1,
                (false, false) => e.tn += 1,
                (false, true) => e.fn_ += 1,
            }
        }
    }
    e
}
