use serde::{Deserialize, Serialize};

use super::Meta;

/// Identifier of an item inside its dataset (kept as the dataset spells it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(pub String);

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an item's answer is compared (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AnswerKind {
    /// A single number (integers, decimals, fractions).
    #[default]
    Number,
    /// A multiple-choice letter A–E.
    Choice,
    /// A LaTeX expression (fractions, tuples, intervals, matrices).
    Math,
    /// Free text, compared after normalisation.
    Text,
}

impl AnswerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Number => "number",
            AnswerKind::Choice => "choice",
            AnswerKind::Math => "math",
            AnswerKind::Text => "text",
        }
    }
}

/// A solution that ships with the item (critic-only protocols), with its known correctness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GivenSolution {
    pub text: String,
    /// The final answer the dataset extracted from `text`, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// The dataset's own label: is this solution correct?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub question: String,
    pub reference: String,
    #[serde(default)]
    pub answer_kind: AnswerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given: Option<GivenSolution>,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}
