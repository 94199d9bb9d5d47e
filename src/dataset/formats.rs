//! One parser per dataset format. Each turns one JSON object (a JSONL line, or a CSV row whose
//! values are all strings) into an [`Item`]; fields it does not consume land in `meta`.

use serde_json::{Map, Value};

use super::error::{DatasetError, FieldError};
use crate::domain::{AnswerKind, GivenSolution, Item, ItemId, Meta};

/// What a parser needs to know besides the record itself.
pub(crate) struct Ctx<'a> {
    /// 1-based line of the record (fallback id).
    pub line: usize,
    /// The dataset name, stored in `Item::source`.
    pub source: &'a str,
}

/// A record being consumed: reading a field marks it used, the unused rest becomes `meta`.
/// Fields are read by copy (not removed) so a generic mapping may name one column twice.
pub(crate) struct Record {
    obj: Map<String, Value>,
    used: Vec<String>,
}

impl Record {
    pub(crate) fn new(obj: Map<String, Value>) -> Self {
        Record { obj, used: Vec::new() }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        let value = self.obj.get(key).cloned();
        if value.is_some() {
            self.used.push(key.to_string());
        }
        value
    }

    /// A required string that must not be blank.
    fn text(&mut self, key: &str) -> Result<String, FieldError> {
        match self.take(key) {
            None => Err(FieldError::field(key, "missing")),
            Some(Value::String(s)) if s.trim().is_empty() => Err(FieldError::field(key, "empty")),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(wrong_type(key, "a string", &other)),
        }
    }

    /// A required answer-like value: a string, or a number/boolean written out.
    fn scalar(&mut self, key: &str) -> Result<String, FieldError> {
        match self.take(key) {
            None => Err(FieldError::field(key, "missing")),
            Some(v) => match scalar_string(&v) {
                Some(s) if s.trim().is_empty() => Err(FieldError::field(key, "empty")),
                Some(s) => Ok(s.trim().to_string()),
                None => Err(wrong_type(key, "a string or number", &v)),
            },
        }
    }

    /// An optional answer-like value; `null` and blank count as absent.
    fn opt_scalar(&mut self, key: &str) -> Result<Option<String>, FieldError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match scalar_string(&v) {
                Some(s) if s.trim().is_empty() => Ok(None),
                Some(s) => Ok(Some(s.trim().to_string())),
                None => Err(wrong_type(key, "a string or number", &v)),
            },
        }
    }

    /// An optional id: string or integer; `null` and blank count as absent.
    fn opt_id(&mut self, key: &str) -> Result<Option<String>, FieldError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(wrong_type(key, "a string or number", &other)),
        }
    }

    fn keys(&self) -> String {
        let keys: Vec<&str> = self.obj.keys().map(String::as_str).collect();
        if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
    }

    /// The fields nobody read, in their original order.
    fn into_meta(self) -> Meta {
        let Record { obj, used } = self;
        obj.into_iter().filter(|(k, _)| !used.contains(k)).collect()
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(key: &str, expected: &str, found: &Value) -> FieldError {
    FieldError::field(key, format!("expected {expected}, found {}", type_name(found)))
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A plain decimal number: optional sign, digits (thousands commas allowed), optional fraction.
pub fn is_plain_number(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let int_ok = if int.contains(',') {
        let mut groups = int.split(',');
        let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()) && digits(g));
        first_ok && groups.all(|g| g.len() == 3 && digits(g))
    } else {
        digits(int)
    };
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && digits(f));
    int_ok && frac_ok && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()))
}

/// Answer kind from the reference alone: a letter A–E is a choice, a plain number a number,
/// anything else LaTeX-ish math.
pub fn infer_kind(reference: &str) -> AnswerKind {
    let r = reference.trim();
    if r.len() == 1 && r.bytes().all(|b| (b'A'..=b'E').contains(&b)) {
        AnswerKind::Choice
    } else if is_plain_number(r) {
        AnswerKind::Number
    } else {
        AnswerKind::Math
    }
}

fn parse_kind(key: &str, s: &str) -> Result<AnswerKind, FieldError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "number" => Ok(AnswerKind::Number),
        "choice" => Ok(AnswerKind::Choice),
        "math" => Ok(AnswerKind::Math),
        "text" => Ok(AnswerKind::Text),
        other => Err(FieldError::field(
            key,
            format!("unknown answer kind `{other}` (expected number, choice, math or text)"),
        )),
    }
}

/// A choice reference must be one letter that points inside the choice list.
fn check_choice(key: &str, reference: &str, choices: Option<&[String]>) -> Result<(), FieldError> {
    let letter = match reference.as_bytes() {
        [b] if b.is_ascii_uppercase() => *b,
        _ => {
            return Err(FieldError::field(key, format!("`{reference}` is not a choice letter")));
        }
    };
    if let Some(choices) = choices {
        let index = usize::from(letter - b'A');
        if index >= choices.len() {
            return Err(FieldError::field(
                key,
                format!("`{reference}` is outside the {} choices", choices.len()),
            ));
        }
    }
    Ok(())
}

/// Choices as a list of strings; in CSV also a JSON list in a cell or `|`-separated text.
fn parse_choices(key: &str, v: Value) -> Result<Option<Vec<String>>, FieldError> {
    let expected = "expected a list of strings";
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|c| scalar_string(c).ok_or_else(|| FieldError::field(key, expected)))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) if s.trim_start().starts_with('[') => match serde_json::from_str(&s) {
            Ok(inner @ Value::Array(_)) => parse_choices(key, inner),
            _ => Err(FieldError::field(key, expected)),
        },
        Value::String(s) => Ok(Some(s.split('|').map(|c| c.trim().to_string()).collect())),
        _ => Err(FieldError::field(key, expected)),
    }
}

/// Drop GSM8K calculator annotations `<<a*b=c>>`; an unclosed `<<` is left as written.
pub(crate) fn strip_calculator(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<<") {
        let Some(len) = rest[start + 2..].find(">>") else {
            break;
        };
        out.push_str(&rest[..start]);
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

fn item(id: String, question: String, reference: String, kind: AnswerKind, ctx: &Ctx<'_>) -> Item {
    Item {
        id: ItemId(id),
        question,
        reference,
        answer_kind: kind,
        choices: None,
        given: None,
        source: ctx.source.to_string(),
        meta: Meta::new(),
    }
}

/// GSM8K: `question`, `answer` = worked steps + `#### N`.
pub(crate) fn gsm8k(mut rec: Record, ctx: &Ctx<'_>) -> Result<Item, FieldError> {
    let id = rec.opt_id("id")?.unwrap_or_else(|| ctx.line.to_string());
    let question = rec.text("question")?;
    let answer = rec.text("answer")?;
    let Some(pos) = answer.rfind("####") else {
        return Err(FieldError::field("answer", "no final answer after `####`"));
    };
    let reference = answer[pos + 4..].trim().replace(',', "");
    if reference.is_empty() {
        return Err(FieldError::field("answer", "nothing after `####`"));
    }
    if !is_plain_number(&reference) {
        return Err(FieldError::field(
            "answer",
            format!("final answer `{reference}` after `####` is not a number"),
        ));
    }
    let solution = strip_calculator(answer[..pos].trim());
    let mut it = item(id, question, reference, AnswerKind::Number, ctx);
    it.meta = rec.into_meta();
    if !solution.is_empty() {
        it.meta.insert("solution".into(), Value::String(solution));
    }
    Ok(it)
}

/// MATH (Hendrycks): `problem`, `solution` with `\boxed{}`; `level`, `type` stay in meta.
pub(crate) fn math(mut rec: Record, ctx: &Ctx<'_>) -> Result<Item, FieldError> {
    let id = match rec.opt_id("unique_id")? {
        Some(id) => id,
        None => rec.opt_id("id")?.unwrap_or_else(|| ctx.line.to_string()),
    };
    let question = rec.text("problem")?;
    let solution = rec.text("solution")?;
    let reference = crate::grade::last_boxed(&solution)
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| FieldError::field("solution", "no `\\boxed{...}` answer"))?;
    let kind = if is_plain_number(&reference) { AnswerKind::Number } else { AnswerKind::Math };
    let mut it = item(id, question, reference, kind, ctx);
    it.meta = rec.into_meta();
    it.meta.insert("solution".into(), Value::String(solution));
    Ok(it)
}

/// RealCritic `mix_data`: a problem plus a model solution labelled right or wrong.
pub(crate) fn realcritic(mut rec: Record, ctx: &Ctx<'_>) -> Result<Item, FieldError> {
    let id = rec.opt_id("idx")?.unwrap_or_else(|| ctx.line.to_string());
    let question = rec.text("question")?;
    let reference = rec.scalar("gt")?;
    let text = rec.text("reasoning")?;
    let answer = rec.opt_scalar("pred")?;
    let correct = match rec.take("previous_score") {
        Some(Value::Array(v)) if v.len() == 1 && v[0].is_boolean() => v[0].as_bool(),
        Some(_) => {
            return Err(FieldError::field("previous_score", "expected a list of one boolean"));
        }
        None => return Err(FieldError::field("previous_score", "missing")),
    };
    let kind = infer_kind(&reference);
    let mut it = item(id, question, reference, kind, ctx);
    it.given = Some(GivenSolution { text, answer, correct });
    it.meta = rec.into_meta();
    Ok(it)
}

/// CriticBench: `answer` is a list (first element is the reference), `response` is judged
/// by `response_label`.
pub(crate) fn criticbench(mut rec: Record, ctx: &Ctx<'_>) -> Result<Item, FieldError> {
    let id = rec.opt_id("id")?.unwrap_or_else(|| ctx.line.to_string());
    let question = rec.text("question")?;
    let reference = match rec.take("answer") {
        None => return Err(FieldError::field("answer", "missing")),
        Some(Value::Array(list)) => match list.first() {
            None => return Err(FieldError::field("answer", "empty list")),
            // Non-scalar answers (rare) are kept as their JSON text.
            Some(first) => scalar_string(first).unwrap_or_else(|| first.to_string()),
        },
        // A bare answer is accepted as a list of one.
        Some(v) => {
            scalar_string(&v).ok_or_else(|| wrong_type("answer", "a list of answers", &v))?
        }
    };
    let reference = reference.trim().to_string();
    if reference.is_empty() {
        return Err(FieldError::field("answer", "empty"));
    }
    let text = rec.text("response")?;
    let label = rec.take("response_label");
    let correct = match label.as_ref().map(label_bool) {
        None => return Err(FieldError::field("response_label", "missing")),
        Some(Some(b)) => b,
        Some(None) => {
            return Err(FieldError::field(
                "response_label",
                "expected a boolean or one of \"correct\", \"incorrect\", \"true\", \"false\", \"1\", \"0\"",
            ));
        }
    };
    let kind = infer_kind(&reference);
    let mut it = item(id, question, reference, kind, ctx);
    it.given = Some(GivenSolution { text, answer: None, correct: Some(correct) });
    it.meta = rec.into_meta();
    Ok(it)
}

fn label_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "correct" | "true" | "1" => Some(true),
            "incorrect" | "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The native format: an [`Item`] as serde writes it. Extra top-level fields join `meta`.
pub(crate) fn critloop(mut rec: Record, ctx: &Ctx<'_>) -> Result<Item, FieldError> {
    let id = rec.opt_id("id")?.ok_or_else(|| FieldError::field("id", "missing"))?;
    let question = rec.text("question")?;
    let reference = rec.scalar("reference")?;
    let kind = match rec.take("answer_kind") {
        // Hand-written files may omit it; inferring beats serde's blanket `number`.
        None | Some(Value::Null) => infer_kind(&reference),
        Some(Value::String(s)) => parse_kind("answer_kind", &s)?,
        Some(other) => return Err(wrong_type("answer_kind", "a string", &other)),
    };
    let choices = match rec.take("choices") {
        None => None,
        Some(Value::String(_)) => {
            return Err(FieldError::field("choices", "expected a list of strings"));
        }
        Some(v) => parse_choices("choices", v)?,
    };
    if kind == AnswerKind::Choice {
        check_choice("reference", &reference, choices.as_deref())?;
    }
    let given = match rec.take("given") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(
            serde_json::from_value::<GivenSolution>(v)
                .map_err(|e| FieldError::field("given", e.to_string()))?,
        ),
        Some(other) => return Err(wrong_type("given", "an object", &other)),
    };
    // A native file keeps its own source; the dataset name only fills a blank one.
    let source = match rec.take("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s).filter(|s| !s.trim().is_empty()),
        Some(other) => return Err(wrong_type("source", "a string", &other)),
    };
    let mut meta = match rec.take("meta") {
        None | Some(Value::Null) => Meta::new(),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(wrong_type("meta", "an object", &other)),
    };
    for (k, v) in rec.into_meta() {
        meta.entry(k).or_insert(v);
    }
    let mut it = item(id, question, reference, kind, ctx);
    it.choices = choices;
    it.given = given;
    if let Some(source) = source {
        it.source = source;
    }
    it.meta = meta;
    Ok(it)
}

/// Which source column feeds which item field (`--map question=prompt,reference=target`).
/// `None` means the default column: `id`, `question`, `answer`, `answer_kind`, `choices`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    pub id: Option<String>,
    pub question: Option<String>,
    pub reference: Option<String>,
    pub answer_kind: Option<String>,
    pub choices: Option<String>,
}

impl FieldMap {
    /// The item fields a mapping can target.
    pub const TARGETS: [&'static str; 5] =
        ["id", "question", "reference", "answer_kind", "choices"];

    /// Parse `target=column` pairs separated by commas; unknown or repeated targets are errors.
    pub fn parse(spec: &str) -> Result<FieldMap, DatasetError> {
        let err = |message: String| DatasetError::FieldMap { spec: spec.to_string(), message };
        let mut map = FieldMap::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((target, column)) = part.split_once('=') else {
                return Err(err(format!("`{part}` is not of the form target=column")));
            };
            let (target, column) = (target.trim(), column.trim());
            if column.is_empty() {
                return Err(err(format!("no column given for `{target}`")));
            }
            let slot = match target {
                "id" => &mut map.id,
                "question" => &mut map.question,
                "reference" => &mut map.reference,
                "answer_kind" => &mut map.answer_kind,
                "choices" => &mut map.choices,
                other => {
                    return Err(err(format!(
                        "unknown target `{other}` (expected one of: {})",
                        Self::TARGETS.join(", ")
                    )));
                }
            };
            if slot.is_some() {
                return Err(err(format!("`{target}` is mapped twice")));
            }
            *slot = Some(column.to_string());
        }
        Ok(map)
    }
}

/// The column names datasets usually give an item's id, question and reference, most usual
/// first; the generic format takes the first present when `--map` does not say.
pub const USUAL_IDS: [&str; 8] =
    ["id", "item_id", "uid", "qid", "idx", "question_id", "problem_id", "unique_id"];
pub const USUAL_QUESTIONS: [&str; 6] =
    ["question", "problem", "prompt", "query", "input", "instruction"];
pub const USUAL_REFERENCES: [&str; 6] =
    ["answer", "reference", "target", "ground_truth", "gold", "final_answer"];

/// The usual columns a record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usual {
    pub id: Option<&'static str>,
    pub question: Option<&'static str>,
    pub reference: Option<&'static str>,
}

impl Usual {
    pub fn of(obj: &Map<String, Value>) -> Usual {
        let first = |names: &[&'static str]| names.iter().copied().find(|n| obj.contains_key(*n));
        Usual {
            id: first(&USUAL_IDS),
            question: first(&USUAL_QUESTIONS),
            reference: first(&USUAL_REFERENCES),
        }
    }
}

/// Generic: any JSONL/CSV, columns chosen by a [`FieldMap`], else by their usual names.
pub(crate) fn generic(mut rec: Record, ctx: &Ctx<'_>, map: &FieldMap) -> Result<Item, FieldError> {
    // Say which keys exist: the usual cause is a file whose columns need `--map`.
    let missing = |rec: &Record, key: &str| {
        FieldError::field(
            key,
            format!("missing (keys present: {}; map columns with --map)", rec.keys()),
        )
    };
    let usual = Usual::of(&rec.obj);
    let id_key = map.id.as_deref().or(usual.id).unwrap_or("id");
    let id = match rec.opt_id(id_key)? {
        Some(id) => id,
        None if map.id.is_some() && !rec.obj.contains_key(id_key) => {
            return Err(missing(&rec, id_key));
        }
        None => ctx.line.to_string(),
    };
    let q_key = map.question.as_deref().or(usual.question).unwrap_or("question");
    if !rec.obj.contains_key(q_key) {
        return Err(missing(&rec, q_key));
    }
    let question = rec.text(q_key)?;
    let r_key = map.reference.as_deref().or(usual.reference).unwrap_or("answer");
    if !rec.obj.contains_key(r_key) {
        return Err(missing(&rec, r_key));
    }
    let reference = rec.scalar(r_key)?;

    let choices = match map.choices.as_deref() {
        Some(key) if !rec.obj.contains_key(key) => return Err(missing(&rec, key)),
        Some(key) => rec.take(key).map(|v| parse_choices(key, v)).transpose()?.flatten(),
        None => rec.take("choices").map(|v| parse_choices("choices", v)).transpose()?.flatten(),
    };
    let k_key = map.answer_kind.as_deref().unwrap_or("answer_kind");
    if map.answer_kind.is_some() && !rec.obj.contains_key(k_key) {
        return Err(missing(&rec, k_key));
    }
    let kind = match rec.take(k_key) {
        None | Some(Value::Null) => infer_kind(&reference),
        Some(Value::String(s)) if s.trim().is_empty() => infer_kind(&reference),
        Some(Value::String(s)) => parse_kind(k_key, &s)?,
        Some(other) => return Err(wrong_type(k_key, "a string", &other)),
    };
    if kind == AnswerKind::Choice {
        check_choice(r_key, &reference, choices.as_deref())?;
    }
    let mut it = item(id, question, reference, kind, ctx);
    it.choices = choices;
    it.meta = rec.into_meta();
    Ok(it)
}

/// A record that is not a JSON object at all.
pub(crate) fn not_an_object(v: &Value) -> FieldError {
    FieldError::record(format!("expected a JSON object, found {}", type_name(v)))
}
