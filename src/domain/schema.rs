//! The label schema as data: assets/labels.toml, with a config's `[[labels]]` laid over it.

use serde::{Deserialize, Serialize};

use super::label::Label;
use super::turn::Role;

const DEFAULT: &str = include_str!("../../assets/labels.toml");

/// Which turns a field labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppliesTo {
    Critique,
    Revise,
    /// Any turn that carries an answer (given, generate, revise).
    Attempt,
    /// The episode as a whole (turn = none).
    Episode,
}

impl AppliesTo {
    pub fn as_str(self) -> &'static str {
        match self {
            AppliesTo::Critique => "critique",
            AppliesTo::Revise => "revise",
            AppliesTo::Attempt => "attempt",
            AppliesTo::Episode => "episode",
        }
    }

    /// Whether a field with this target labels a turn of `role` (`is_attempt`: it carries an answer).
    pub fn fits(self, role: Role, is_attempt: bool) -> bool {
        match self {
            AppliesTo::Critique => role == Role::Critique,
            AppliesTo::Revise => role == Role::Revise,
            AppliesTo::Attempt => is_attempt,
            AppliesTo::Episode => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelValue {
    pub value: String,
    /// The Episode screen key that sets it.
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelField {
    pub name: String,
    pub applies_to: AppliesTo,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub help: String,
    /// Empty: free text.
    #[serde(default)]
    pub values: Vec<LabelValue>,
}

impl LabelField {
    pub fn is_text(&self) -> bool {
        self.values.is_empty()
    }

    pub fn allows(&self, value: &str) -> bool {
        self.is_text() || self.values.iter().any(|v| v.value == value)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelSchema {
    pub labels: Vec<LabelField>,
}

/// One turn as the schema sees it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TurnShape {
    pub role: Role,
    pub is_attempt: bool,
}

impl LabelSchema {
    /// The embedded schema with `overrides` laid over it: a field of the same name is replaced,
    /// a new name is added at the end.
    pub fn load(overrides: &[LabelField]) -> Result<LabelSchema, String> {
        let mut schema: LabelSchema =
            toml::from_str(DEFAULT).map_err(|e| format!("labels.toml: {}", e.message()))?;
        // Positions by name: a config may hold thousands of fields.
        let mut at: std::collections::HashMap<String, usize> =
            schema.labels.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
        for f in overrides {
            match at.get(&f.name).and_then(|&i| schema.labels.get_mut(i)) {
                Some(slot) => *slot = f.clone(),
                None => {
                    at.insert(f.name.clone(), schema.labels.len());
                    schema.labels.push(f.clone());
                }
            }
        }
        schema.check().map_err(|e| super::text::one_line(&e))?;
        Ok(schema)
    }

    fn check(&self) -> Result<(), String> {
        // Sets, not scans: a config may hold thousands of fields.
        let mut names = std::collections::HashSet::new();
        let mut keys: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        for (i, f) in self.labels.iter().enumerate() {
            if f.name.trim().is_empty() {
                return Err(format!("label field {}: the name is empty", i + 1));
            }
            if !names.insert(f.name.as_str()) {
                return Err(format!("label `{}` is defined twice", f.name));
            }
            for v in &f.values {
                if v.value.is_empty() {
                    return Err(format!("label `{}`: a value is empty", f.name));
                }
                let Some(k) = v.key.as_deref() else { continue };
                if let Some(other) = keys.get(k) {
                    return Err(format!(
                        "label key `{k}` is used by both `{other}` and `{}={}`",
                        f.name, v.value
                    ));
                }
                keys.insert(k, f.name.as_str());
            }
        }
        Ok(())
    }

    pub fn field(&self, name: &str) -> Option<&LabelField> {
        self.labels.iter().find(|f| f.name == name)
    }

    /// Whether a value may be stored: a known field, one of its values (any text for a free one).
    pub fn validate(&self, name: &str, value: &str) -> Result<(), String> {
        let Some(f) = self.field(name) else {
            let names: Vec<&str> = self.labels.iter().map(|f| f.name.as_str()).collect();
            return Err(format!("unknown label `{name}` (labels: {})", names.join(", ")));
        };
        if f.allows(value) {
            return Ok(());
        }
        let vals: Vec<&str> = f.values.iter().map(|v| v.value.as_str()).collect();
        Err(format!("`{value}` is not a value of `{name}` ({})", vals.join(", ")))
    }

    /// Whether field `name` may label `turn` (None = the episode) of an episode with `turns`.
    pub fn fits(&self, name: &str, turn: Option<u32>, turns: &[TurnShape]) -> bool {
        let Some(f) = self.field(name) else { return false };
        match turn {
            None => f.applies_to == AppliesTo::Episode,
            Some(i) => {
                turns.get(i as usize).is_some_and(|t| f.applies_to.fits(t.role, t.is_attempt))
            }
        }
    }

    /// The required (turn, field) slots `annotator` has not set on an episode with `turns`.
    pub fn missing<'s>(
        &'s self,
        turns: &[TurnShape],
        labels: &[Label],
        annotator: &str,
    ) -> Vec<(Option<u32>, &'s str)> {
        let set: Vec<&Label> = super::label::effective(labels)
            .into_iter()
            .filter(|l| l.annotator == annotator)
            .collect();
        let has =
            |turn: Option<u32>, name: &str| set.iter().any(|l| l.turn == turn && l.name == name);
        let mut out = Vec::new();
        for f in self.labels.iter().filter(|f| f.required) {
            if f.applies_to == AppliesTo::Episode {
                if !has(None, &f.name) {
                    out.push((None, f.name.as_str()));
                }
                continue;
            }
            for (i, t) in turns.iter().enumerate() {
                let turn = u32::try_from(i).ok();
                if f.applies_to.fits(t.role, t.is_attempt) && !has(turn, &f.name) {
                    out.push((turn, f.name.as_str()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_of_fields_are_checked_in_linear_time() {
        let field = |i: usize| LabelField {
            name: format!("f{i}"),
            applies_to: AppliesTo::Critique,
            required: false,
            help: String::new(),
            values: vec![LabelValue { value: "v".into(), key: Some(format!("k{i}")) }],
        };
        let mut many: Vec<LabelField> = (0..50_000).map(field).collect();
        let started = std::time::Instant::now();
        assert_eq!(LabelSchema::load(&many).unwrap().labels.len(), 50_000 + 7);
        assert!(started.elapsed().as_secs_f64() < 2.0, "took {:?}", started.elapsed());
        // A later field of the same name replaces the earlier one.
        many.push(LabelField { help: "again".into(), ..field(7) });
        let schema = LabelSchema::load(&many).unwrap();
        assert_eq!(schema.field("f7").unwrap().help, "again");
        many.push(LabelField { name: "other".into(), ..field(8) });
        assert_eq!(
            LabelSchema::load(&many).unwrap_err(),
            "label key `k8` is used by both `f8` and `other=v`"
        );
    }

    fn shapes() -> Vec<TurnShape> {
        vec![
            TurnShape { role: Role::Generate, is_attempt: true },
            TurnShape { role: Role::Critique, is_attempt: false },
            TurnShape { role: Role::Revise, is_attempt: true },
        ]
    }

    fn lab(turn: u32, name: &str, value: &str) -> Label {
        Label {
            annotator: "ana".into(),
            turn: Some(turn),
            name: name.into(),
            value: value.into(),
            time: 1,
            millis: 0,
            retracted: false,
        }
    }

    #[test]
    fn the_default_schema_has_the_design_fields() {
        let s = LabelSchema::load(&[]).unwrap();
        let names: Vec<&str> = s.labels.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "error_found",
                "critique_quality",
                "tone",
                "followed_critique",
                "grade_override",
                "note",
                "tags"
            ]
        );
        assert!(s.validate("error_found", "partial").is_ok());
        assert!(s.validate("error_found", "maybe").unwrap_err().contains("yes, partial, no, n/a"));
        assert!(s.validate("colour", "red").unwrap_err().contains("unknown label `colour`"));
        assert!(s.validate("note", "anything at all").is_ok());
        assert!(s.fits("tone", Some(1), &shapes()));
        assert!(!s.fits("tone", Some(0), &shapes()));
        assert!(s.fits("grade_override", Some(2), &shapes()));
        assert!(s.fits("note", None, &shapes()));
        assert!(!s.fits("note", Some(1), &shapes()));
    }

    #[test]
    fn completeness_needs_every_required_field_on_every_turn_it_fits() {
        let s = LabelSchema::load(&[]).unwrap();
        let mut labels = vec![lab(1, "error_found", "yes")];
        assert_eq!(
            s.missing(&shapes(), &labels, "ana"),
            vec![(Some(1), "critique_quality"), (Some(1), "tone"), (Some(2), "followed_critique")]
        );
        labels.push(lab(1, "critique_quality", "qualified"));
        labels.push(lab(1, "tone", "hedging"));
        labels.push(lab(2, "followed_critique", "no"));
        assert!(s.missing(&shapes(), &labels, "ana").is_empty());
        // Someone else's labels do not complete ana's episode.
        assert_eq!(s.missing(&shapes(), &labels, "ben").len(), 4);
    }

    #[test]
    fn a_config_replaces_or_adds_fields_and_clashing_keys_are_refused() {
        let extra = LabelField {
            name: "hallucination".into(),
            applies_to: AppliesTo::Critique,
            required: false,
            help: String::new(),
            values: vec![LabelValue { value: "yes".into(), key: Some("H".into()) }],
        };
        let s = LabelSchema::load(std::slice::from_ref(&extra)).unwrap();
        assert_eq!(s.labels.last().map(|f| f.name.as_str()), Some("hallucination"));
        let mut tone = s.field("tone").unwrap().clone();
        tone.required = false;
        let s = LabelSchema::load(&[tone]).unwrap();
        assert!(!s.field("tone").unwrap().required);
        let clash = LabelField {
            values: vec![LabelValue { value: "yes".into(), key: Some("y".into()) }],
            ..extra
        };
        assert!(LabelSchema::load(&[clash]).unwrap_err().contains("label key `y`"));
    }
}
