//! `critloop grade`: the grader exposed for audits (DESIGN §3, §11).

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr, bail};
use serde_json::Value;

use super::args::{GradeAction, GradeArgs, KindArg};
use crate::domain::{AnswerKind, MatchTier};
use crate::grade::{GradeOptions, equivalent_with_question};

/// An exit status whose reason is already on standard output ("not equal", the disagreements):
/// `main` exits with it and prints nothing more.
#[derive(Debug)]
pub struct QuietExit(pub u8);

impl std::fmt::Display for QuietExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for QuietExit {}

pub fn grade(args: &GradeArgs) -> Result<()> {
    if let Some(GradeAction::Check { files, qwen_compat }) = &args.action {
        return check(files, GradeOptions { qwen_compat: *qwen_compat });
    }
    // clap requires both positionals when there is no subcommand.
    let (Some(answer), Some(reference)) = (&args.answer, &args.reference) else {
        bail!("usage: critloop grade ANSWER REFERENCE, or critloop grade check FILE");
    };
    let opts = GradeOptions { qwen_compat: args.qwen_compat };
    let tier = equivalent_with_question(
        answer,
        reference,
        kind(args.kind),
        opts,
        args.question.as_deref(),
    );
    crate::outln!("{}", decision(tier));
    if tier == MatchTier::None { Err(QuietExit(1).into()) } else { Ok(()) }
}

fn kind(k: KindArg) -> AnswerKind {
    match k {
        KindArg::Number => AnswerKind::Number,
        KindArg::Choice => AnswerKind::Choice,
        KindArg::Math => AnswerKind::Math,
        KindArg::Text => AnswerKind::Text,
    }
}

/// `equal (symbolic)` or `not equal`.
fn decision(tier: MatchTier) -> String {
    if tier == MatchTier::None {
        "not equal".into()
    } else {
        format!("equal ({})", tier_name(tier))
    }
}

/// The tier as stored in turns (serde snake_case).
fn tier_name(tier: MatchTier) -> String {
    match serde_json::to_value(tier) {
        Ok(Value::String(name)) => name,
        _ => format!("{tier:?}"),
    }
}

/// One line of a case file.
struct Case {
    answer: String,
    reference: String,
    expected: bool,
    kind: AnswerKind,
    question: Option<String>,
}

const FIELDS: &[&str] = &["answer", "reference", "expected", "kind", "question", "note"];

/// A case, or the cause naming the field (`field `expected`: …`).
fn parse_case(line: &str) -> std::result::Result<Case, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("field `{unknown}`: unknown (fields: {})", FIELDS.join(", ")));
    }
    let string = |name: &str| match map.get(name) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(other) => Err(format!("field `{name}`: expected a string, got {other}")),
    };
    let required = |name: &str| string(name)?.ok_or_else(|| format!("field `{name}`: missing"));
    let expected = match map.get("expected") {
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!("field `expected`: expected true or false, got {other}"));
        }
        None => return Err("field `expected`: missing".into()),
    };
    let kind = match string("kind")?.as_deref() {
        None | Some("math") => AnswerKind::Math,
        Some("number") => AnswerKind::Number,
        Some("choice") => AnswerKind::Choice,
        Some("text") => AnswerKind::Text,
        Some(other) => {
            return Err(format!("field `kind`: `{other}` is not number, choice, math or text"));
        }
    };
    string("note")?;
    Ok(Case {
        answer: required("answer")?,
        reference: required("reference")?,
        expected,
        kind,
        question: string("question")?,
    })
}

fn check(files: &[PathBuf], opts: GradeOptions) -> Result<()> {
    let (mut agree, mut total) = (0usize, 0usize);
    for file in files {
        let (a, t) = check_file(file, opts)?;
        agree += a;
        total += t;
    }
    crate::outln!("{agree}/{total} agree");
    if agree == total { Ok(()) } else { Err(QuietExit(1).into()) }
}

/// (agreeing, total) of one file; disagreements are printed as they are found.
fn check_file(file: &Path, opts: GradeOptions) -> Result<(usize, usize)> {
    let text =
        std::fs::read_to_string(file).wrap_err_with(|| format!("reading {}", file.display()))?;
    let (mut agree, mut total) = (0, 0);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", file.display(), i + 1);
        let case = match parse_case(line) {
            Ok(case) => case,
            Err(cause) => bail!("{at}: {cause}"),
        };
        total += 1;
        let tier = equivalent_with_question(
            &case.answer,
            &case.reference,
            case.kind,
            opts,
            case.question.as_deref(),
        );
        let got = tier != MatchTier::None;
        if got == case.expected {
            agree += 1;
            continue;
        }
        let said = |equal: bool| if equal { "equal" } else { "not equal" };
        crate::outln!(
            "{at}: answer `{}` reference `{}` expected {}, got {} (tier {})",
            case.answer,
            case.reference,
            said(case.expected),
            said(got),
            tier_name(tier)
        );
    }
    Ok((agree, total))
}
