//! Labels (DESIGN §6): append-only entries, and the one definition of what they mean now.
//!
//! The effective value of (annotator, episode, turn, name) is its latest entry; earlier entries and
//! retractions stay as history. Every reader (screens, metrics, exports, agreement) goes through
//! [`effective`] or [`applied_overrides`], never its own "latest" loop.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Label name that overrides the automatic grade of an attempt.
pub const GRADE_OVERRIDE: &str = "grade_override";

/// A human judgement on an episode (turn = None) or one of its turns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label {
    pub annotator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    pub name: String,
    /// Empty for a retraction.
    #[serde(default)]
    pub value: String,
    /// Seconds since the Unix epoch, UTC.
    #[serde(default)]
    pub time: u64,
    /// Milliseconds within `time`, so two labels in one second keep their order.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub millis: u32,
    /// This entry withdraws the annotator's earlier value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retracted: bool,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// What a label is about: one annotator's slot for one name on one turn (or the episode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot<'a> {
    pub turn: Option<u32>,
    pub name: &'a str,
    pub annotator: &'a str,
}

impl Label {
    pub fn slot(&self) -> Slot<'_> {
        Slot { turn: self.turn, name: &self.name, annotator: &self.annotator }
    }

    /// Milliseconds since the epoch.
    pub fn stamp(&self) -> u64 {
        self.time.saturating_mul(1000).saturating_add(u64::from(self.millis))
    }

    /// Sets `time` and `millis` from milliseconds since the epoch.
    pub fn at(mut self, stamp_ms: u64) -> Label {
        self.time = stamp_ms / 1000;
        self.millis = (stamp_ms % 1000) as u32;
        self
    }

    /// A total order of one slot's entries that does not depend on the order they were stored in,
    /// so two merged databases agree on every effective value.
    fn order(&self) -> (u64, bool, &str) {
        (self.stamp(), self.retracted, self.value.as_str())
    }

    /// `name=value`, or `name retracted`.
    pub fn describe(&self) -> String {
        if self.retracted {
            format!("{} retracted", self.name)
        } else {
            format!("{}={}", self.name, self.value)
        }
    }
}

/// One slot's meaning now: its latest entry (absent when that is a retraction) and its history.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective<'a> {
    pub slot: Slot<'a>,
    /// The latest entry when it gives a value.
    pub label: Option<&'a Label>,
    /// Every entry of the slot, oldest first (the latest included).
    pub history: Vec<&'a Label>,
}

impl<'a> Effective<'a> {
    pub fn value(&self) -> Option<&'a str> {
        self.label.map(|l| l.value.as_str())
    }
}

/// Every slot of one episode's labels with its effective value, ordered by (turn, name, annotator).
/// Slots whose latest entry is a retraction are kept (with `label: None`) so history stays visible.
pub fn slots(labels: &[Label]) -> Vec<Effective<'_>> {
    let mut by: BTreeMap<Slot<'_>, Vec<&Label>> = BTreeMap::new();
    for l in labels {
        by.entry(l.slot()).or_default().push(l);
    }
    by.into_iter()
        .map(|(slot, mut history)| {
            history.sort_by(|a, b| a.order().cmp(&b.order()));
            let label = history.last().copied().filter(|l| !l.retracted);
            Effective { slot, label, history }
        })
        .collect()
}

/// The effective labels of one episode: one per slot that has a value now.
pub fn effective(labels: &[Label]) -> Vec<&Label> {
    slots(labels).into_iter().filter_map(|e| e.label).collect()
}

/// The grade override in force for an attempt, and whose it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Override<'a> {
    pub correct: bool,
    pub label: &'a Label,
}

/// The grade a `grade_override` value stands for: `correct`, or `wrong` (alias `incorrect`).
pub fn override_value(value: &str) -> Option<bool> {
    match value {
        "correct" => Some(true),
        "wrong" | "incorrect" => Some(false),
        _ => None,
    }
}

/// Per attempt (turn index), the override metrics apply: the latest effective `grade_override`
/// of any annotator (ties broken by annotator name, so the choice is stable).
pub fn applied_overrides(labels: &[Label]) -> BTreeMap<u32, Override<'_>> {
    let mut out: BTreeMap<u32, Override<'_>> = BTreeMap::new();
    for l in effective(labels) {
        let (Some(turn), true) = (l.turn, l.name == GRADE_OVERRIDE) else { continue };
        let Some(correct) = override_value(&l.value) else { continue };
        let newer = out
            .get(&turn)
            .is_none_or(|o| (l.stamp(), &l.annotator) > (o.label.stamp(), &o.label.annotator));
        if newer {
            out.insert(turn, Override { correct, label: l });
        }
    }
    out
}

/// The time for a new entry in `slot`: `now_ms`, or just after the slot's latest entry when the
/// clock has not moved past it (two keys in one millisecond, or a clock set back).
pub fn next_stamp(labels: &[Label], slot: Slot<'_>, now_ms: u64) -> u64 {
    labels
        .iter()
        .filter(|l| l.slot() == slot)
        .map(|l| l.stamp() + 1)
        .max()
        .map_or(now_ms, |after| after.max(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(who: &str, turn: Option<u32>, name: &str, value: &str, ms: u64) -> Label {
        Label {
            annotator: who.into(),
            turn,
            name: name.into(),
            value: value.into(),
            time: 0,
            millis: 0,
            retracted: false,
        }
        .at(ms)
    }

    #[test]
    fn the_latest_entry_wins_and_earlier_ones_are_history() {
        let labels = vec![
            l("ana", Some(1), "error_found", "yes", 1_000),
            l("ana", Some(1), "error_found", "no", 1_001),
            l("ben", Some(1), "error_found", "yes", 500),
        ];
        let s = slots(&labels);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].slot.annotator, "ana");
        assert_eq!(s[0].value(), Some("no"));
        assert_eq!(s[0].history.len(), 2);
        assert_eq!(s[1].value(), Some("yes"));
        // Stored order does not matter.
        let mut rev = labels.clone();
        rev.reverse();
        assert_eq!(effective(&rev), effective(&labels));
    }

    #[test]
    fn a_retraction_leaves_no_value_but_keeps_history() {
        let mut r = l("ana", None, "tone", "", 2_000);
        r.retracted = true;
        let labels = vec![l("ana", None, "tone", "hedging", 1_000), r];
        let s = slots(&labels);
        assert_eq!(s[0].label, None);
        assert_eq!(s[0].history.len(), 2);
        assert!(effective(&labels).is_empty());
    }

    #[test]
    fn equal_times_order_by_content_not_storage() {
        let a = l("ana", Some(0), "tone", "confident", 7);
        let b = l("ana", Some(0), "tone", "hedging", 7);
        let one = [a.clone(), b.clone()];
        let two = [b, a];
        assert_eq!(effective(&one)[0].value, "hedging");
        assert_eq!(effective(&two)[0].value, "hedging");
    }

    #[test]
    fn overrides_take_the_latest_annotator_and_ignore_retracted_ones() {
        let mut gone = l("ben", Some(2), GRADE_OVERRIDE, "", 9_000);
        gone.retracted = true;
        let labels = vec![
            l("ana", Some(0), GRADE_OVERRIDE, "wrong", 1_000),
            l("ben", Some(0), GRADE_OVERRIDE, "correct", 2_000),
            l("ben", Some(2), GRADE_OVERRIDE, "correct", 3_000),
            gone,
            l("ana", Some(1), GRADE_OVERRIDE, "maybe", 3_000),
        ];
        let o = applied_overrides(&labels);
        assert_eq!(o.len(), 1);
        assert!(o[&0].correct);
        assert_eq!(o[&0].label.annotator, "ben");
    }

    #[test]
    fn next_stamp_moves_past_the_slot_latest() {
        let labels = vec![l("ana", Some(1), "tone", "hedging", 5_000)];
        let slot = Slot { turn: Some(1), name: "tone", annotator: "ana" };
        assert_eq!(next_stamp(&labels, slot, 5_000), 5_001);
        assert_eq!(next_stamp(&labels, slot, 9_000), 9_000);
        let other = Slot { turn: Some(1), name: "tone", annotator: "ben" };
        assert_eq!(next_stamp(&labels, other, 10), 10);
    }

    #[test]
    fn old_records_without_millis_or_retraction_read() {
        let old: Label = serde_json::from_str(
            r#"{"annotator":"ana","turn":1,"name":"tone","value":"hedging","time":1700000000}"#,
        )
        .unwrap();
        assert_eq!(old.millis, 0);
        assert!(!old.retracted);
        let back = serde_json::to_string(&old).unwrap();
        assert!(!back.contains("millis") && !back.contains("retracted"));
    }
}
