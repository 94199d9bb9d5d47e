//! Answer equivalence in tiers (DESIGN §3): the first tier that matches is recorded.

use super::GradeOptions;
use super::extract::sole_choice_letter;
use super::matching_brace;
use super::normalize::{light_clean, normalize};
use crate::domain::{AnswerKind, MatchTier};

/// Relative tolerance of the Numeric tier.
const REL_TOL: f64 = 1e-4;
/// Absolute tolerance, which only matters for values near 0.
const ABS_TOL: f64 = 1e-9;

/// Compare an extracted answer with the reference. Tiers are tried in the order Exact,
/// Normalized, Rational, Numeric, Elementwise, Choice, QwenCompat; `MatchTier::None` if none match.
pub fn equivalent(
    answer: &str,
    reference: &str,
    kind: AnswerKind,
    opts: GradeOptions,
) -> MatchTier {
    let (answer, reference) = (answer.trim(), reference.trim());
    let tier = core_tier(answer, reference, kind);
    if tier != MatchTier::None {
        return tier;
    }
    if kind == AnswerKind::Choice && same_choice(answer, reference) {
        return MatchTier::Choice;
    }
    if opts.qwen_compat && qwen_match(answer, reference, kind) {
        return MatchTier::QwenCompat;
    }
    MatchTier::None
}

/// The tiers that also apply to the elements of tuples and matrices.
fn core_tier(answer: &str, reference: &str, kind: AnswerKind) -> MatchTier {
    if answer == reference {
        return MatchTier::Exact;
    }
    let (a, r) = (normalize(answer, kind), normalize(reference, kind));
    if a.is_empty() || r.is_empty() {
        return MatchTier::None;
    }
    if a == r {
        return MatchTier::Normalized;
    }
    if let Some(tier) = value_tier(&a, &r) {
        return tier;
    }
    if elementwise(answer, reference, kind) {
        return MatchTier::Elementwise;
    }
    MatchTier::None
}

/// Rational when both sides are exact fractions/integers (and then only Rational decides:
/// `123456` vs `123457` must not pass the tolerance), else Numeric within tolerance.
fn value_tier(a: &str, r: &str) -> Option<MatchTier> {
    if let (Some(x), Some(y)) = (parse_rational(a), parse_rational(r)) {
        return (x == y).then_some(MatchTier::Rational);
    }
    let (x, y) = (parse_number(a)?, parse_number(r)?);
    numbers_close(x, y).then_some(MatchTier::Numeric)
}

pub(crate) fn numbers_close(x: f64, y: f64) -> bool {
    let diff = (x - y).abs();
    // The tiny slack makes the bound inclusive despite rounding (1/3 vs 0.3333 is exactly 1e-4).
    diff <= ABS_TOL || diff <= x.abs().max(y.abs()) * (REL_TOL + 1e-12)
}

/// A number in normalised form: a decimal or `1e-3` literal, or `\frac{a}{b}` of such, signed.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let (negative, body) = split_sign(s);
    let value = match frac_parts(body) {
        Some((num, den)) => {
            let den = parse_literal(den)?;
            (den != 0.0).then_some(parse_literal(num)? / den)?
        }
        None => parse_literal(body)?,
    };
    Some(if negative { -value } else { value })
}

/// A plain numeric literal; rejects `inf`/`nan`, which Rust's parser would accept.
fn parse_literal(s: &str) -> Option<f64> {
    let plain = s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    let has_digit = s.chars().any(|c| c.is_ascii_digit());
    if !plain || !has_digit {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    }
}

/// `(a, b)` of a string that is exactly `\frac{a}{b}`.
fn frac_parts(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("\\frac")?;
    let num_end = matching_brace(rest, 0)?;
    let den_part = rest.get(num_end + 1..)?;
    let den_end = matching_brace(den_part, 0)?;
    if den_end + 1 != den_part.len() {
        return None;
    }
    Some((rest.get(1..num_end)?, den_part.get(1..den_end)?))
}

/// An integer or a fraction of integers, reduced, with a positive denominator.
pub(crate) fn parse_rational(s: &str) -> Option<(i128, i128)> {
    let (negative, body) = split_sign(s);
    let (num, den) = match frac_parts(body) {
        Some((num, den)) => (parse_int(num)?, parse_int(den)?),
        None => (parse_int(body)?, 1),
    };
    let num = if negative { num.checked_neg()? } else { num };
    reduce(num, den)
}

fn parse_int(s: &str) -> Option<i128> {
    let (negative, digits) = split_sign(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let value: i128 = digits.parse().ok()?;
    Some(if negative { -value } else { value })
}

fn reduce(num: i128, den: i128) -> Option<(i128, i128)> {
    if den == 0 {
        return None;
    }
    let g = i128::try_from(gcd(num.unsigned_abs(), den.unsigned_abs())).ok()?;
    let (num, den) = (num / g, den / g);
    if den < 0 { Some((num.checked_neg()?, den.checked_neg()?)) } else { Some((num, den)) }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

// ---- Element-wise: tuples, intervals, lists, matrices ----

/// A compound answer split into its elements.
#[derive(Debug, PartialEq)]
enum Shape {
    /// Tuple `(1, 2)`, interval `[0, 1)` or bare list `1, 2` (brackets `None`).
    Seq { brackets: Option<(char, char)>, items: Vec<String> },
    /// Rows of cells of a `pmatrix`/`bmatrix`.
    Matrix(Vec<Vec<String>>),
}

fn elementwise(answer: &str, reference: &str, kind: AnswerKind) -> bool {
    let (Some(a), Some(r)) = (parse_shape(answer), parse_shape(reference)) else {
        return false;
    };
    let same = |x: &String, y: &String| core_tier(x, y, kind) != MatchTier::None;
    let all_same = |xs: &[String], ys: &[String]| {
        xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
    };
    match (a, r) {
        (Shape::Seq { brackets: ba, items: xa }, Shape::Seq { brackets: br, items: xr }) => {
            ba == br && all_same(&xa, &xr)
        }
        (Shape::Matrix(ra), Shape::Matrix(rr)) => {
            ra.len() == rr.len() && ra.iter().zip(&rr).all(|(x, y)| all_same(x, y))
        }
        _ => false,
    }
}

fn parse_shape(s: &str) -> Option<Shape> {
    let s = light_clean(s);
    parse_matrix(&s).or_else(|| parse_seq(&s))
}

fn parse_matrix(s: &str) -> Option<Shape> {
    // pmatrix and bmatrix are the same matrix in different brackets.
    let body = ["pmatrix", "bmatrix"].iter().find_map(|env| {
        let begin = format!("\\begin{{{env}}}");
        let end = format!("\\end{{{env}}}");
        s.strip_prefix(begin.as_str())?.strip_suffix(end.as_str())
    })?;
    let rows: Vec<Vec<String>> = split_top(body, "\\\\")
        .into_iter()
        .filter(|row| !row.trim().is_empty())
        .map(|row| split_top(row, "&").into_iter().map(|c| c.trim().to_string()).collect())
        .collect();
    (!rows.is_empty()).then_some(Shape::Matrix(rows))
}

/// A bracketed tuple/interval enclosing the whole string, or a bare comma list; two items or more.
fn parse_seq(s: &str) -> Option<Shape> {
    let brackets = enclosing_brackets(s);
    let inner = match brackets {
        Some(_) => s.get(1..s.len() - 1)?,
        None => s,
    };
    let items: Vec<String> =
        split_top(inner, ",").into_iter().map(|i| i.trim().to_string()).collect();
    (items.len() >= 2 && items.iter().all(|i| !i.is_empty()))
        .then_some(Shape::Seq { brackets, items })
}

/// The outer bracket pair when one opening bracket's group spans the whole string.
fn enclosing_brackets(s: &str) -> Option<(char, char)> {
    let open = s.chars().next().filter(|c| "([".contains(*c))?;
    let close = s.chars().last().filter(|c| ")]".contains(*c))?;
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        depth += bracket_delta(c);
        if depth == 0 && i + c.len_utf8() < s.len() {
            // The first group closes early: "(1,2)\cup(3,4)" is not one tuple.
            return None;
        }
    }
    Some((open, close))
}

fn bracket_delta(c: char) -> i32 {
    match c {
        '(' | '[' | '{' => 1,
        ')' | ']' | '}' => -1,
        _ => 0,
    }
}

/// Split at `sep` where no bracket is open (intervals may mix `[` with `)`).
fn split_top<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        let rest = s.get(i..).unwrap_or_default();
        if depth == 0 && rest.starts_with(sep) {
            parts.extend(s.get(start..i));
            i += sep.len();
            start = i;
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        depth += bracket_delta(c);
        i += c.len_utf8().max(1);
    }
    parts.extend(s.get(start..));
    parts
}

// ---- Choice and Qwen compatibility ----

fn same_choice(answer: &str, reference: &str) -> bool {
    match (sole_choice_letter(answer), sole_choice_letter(reference)) {
        (Some(a), Some(r)) => a == r,
        _ => false,
    }
}

/// Qwen2.5-Math quirk: the answer is the reference times or divided by 100 (percentages).
fn qwen_match(answer: &str, reference: &str, kind: AnswerKind) -> bool {
    let value = |s: &str| parse_number(&normalize(s, kind));
    let (Some(x), Some(y)) = (value(answer), value(reference)) else {
        return false;
    };
    numbers_close(x, y * 100.0) || numbers_close(x, y / 100.0)
}
