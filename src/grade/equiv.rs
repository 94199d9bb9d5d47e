//! Answer equivalence in tiers (DESIGN §3): the first tier that matches is recorded.

use super::GradeOptions;
use super::compound;
use super::extract::sole_choice_letter;
use super::matching_brace;
use super::normalize::{assigned_name, is_grouped_number, light_clean, normalize};
use super::symbolic::{self, Decision};
use super::words;
use crate::domain::{AnswerKind, MatchTier};

/// Relative tolerance of the Numeric tier (decimals are also held to their written precision).
const REL_TOL: f64 = 1e-4;
/// Absolute tolerance of the qwen-compat comparison, which only matters for values near 0.
const ABS_TOL: f64 = 1e-9;
/// Longer answers (or references) are compared by the Exact tier only: bounded work.
pub(crate) const MAX_LEN: usize = 4096;
/// Deeper bracket nesting is declined the same way (the tiers recurse into brackets).
pub(crate) const MAX_NESTING: usize = 64;

/// Compare an extracted answer with the reference. Tiers are tried in the order Exact,
/// Normalized, Rational, Numeric, Elementwise, Symbolic, Choice, QwenCompat; `MatchTier::None`
/// if none match.
pub fn equivalent(
    answer: &str,
    reference: &str,
    kind: AnswerKind,
    opts: GradeOptions,
) -> MatchTier {
    equivalent_with_question(answer, reference, kind, opts, None)
}

/// [`equivalent`], knowing the question: when it asks for a percentage, x·100 and x/100 of the
/// reference are also accepted (tier `Percent`), so `0.375` ≡ `37.5` there and nowhere else.
pub fn equivalent_with_question(
    answer: &str,
    reference: &str,
    kind: AnswerKind,
    opts: GradeOptions,
    question: Option<&str>,
) -> MatchTier {
    let (answer, reference) = (answer.trim(), reference.trim());
    if answer == reference {
        return MatchTier::Exact;
    }
    if !within_bounds(answer) || !within_bounds(reference) {
        return MatchTier::None;
    }
    let tier = core_tier(answer, reference, kind, 0);
    if tier != MatchTier::None {
        return tier;
    }
    if kind == AnswerKind::Choice && same_choice(answer, reference) {
        return MatchTier::Choice;
    }
    if question.is_some_and(asks_percent) && scaled_match(answer, reference, kind) {
        return MatchTier::Percent;
    }
    if opts.qwen_compat && qwen_match(answer, reference, kind) {
        return MatchTier::QwenCompat;
    }
    MatchTier::None
}

/// Short enough and shallow enough for the tiers to stay quick.
fn within_bounds(s: &str) -> bool {
    if s.len() > MAX_LEN {
        return false;
    }
    let mut depth = 0usize;
    for b in s.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return false;
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// The tiers that also apply to the elements of lists, tuples, sets, intervals and matrices.
pub(crate) fn core_tier(
    answer: &str,
    reference: &str,
    kind: AnswerKind,
    depth: usize,
) -> MatchTier {
    if answer == reference {
        return MatchTier::Exact;
    }
    if kind != AnswerKind::Choice
        && let Some(same) = words::yes_no(answer, reference)
    {
        return if same { MatchTier::Normalized } else { MatchTier::None };
    }
    // `a = 2` and `b = 2` answer different questions, though both normalise to `2`: the string
    // and value tiers (which drop the names) stay out; `y = 2x+1` vs `x = (y-1)/2` is left to
    // the symbolic tier, which sees whole equations.
    let names_differ = matches!(
        (assigned_name(answer), assigned_name(reference)),
        (Some(x), Some(y)) if x != y
    );
    if !names_differ {
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
        if words::same_words(answer, reference) {
            return MatchTier::Normalized;
        }
    }
    if let Some(equal) = compound::compare(answer, reference, kind, depth) {
        return if equal { MatchTier::Elementwise } else { MatchTier::None };
    }
    if symbolic_applies(answer, reference, kind)
        && symbolic::equivalent(&light_clean(answer), &light_clean(reference)) == Decision::Equal
    {
        return MatchTier::Symbolic;
    }
    MatchTier::None
}

/// Math answers always; number answers only when both sides have a digit (`(B)` vs `B` stays
/// a letter question); text and choice answers never.
fn symbolic_applies(answer: &str, reference: &str, kind: AnswerKind) -> bool {
    let digit = |s: &str| s.bytes().any(|b| b.is_ascii_digit());
    match kind {
        AnswerKind::Math => true,
        AnswerKind::Number => digit(answer) && digit(reference),
        AnswerKind::Choice | AnswerKind::Text => false,
    }
}

/// When both sides are single numbers this tier decides (`Some(MatchTier::None)` when they
/// differ): integers and fractions exactly (`54329` ≢ `54321`), decimals within their written
/// precision and 1e-4 relative. `None` when a side is not a number.
fn value_tier(a: &str, r: &str) -> Option<MatchTier> {
    // Integers too long for i128 still compare digit by digit, never as floats.
    if let (Some(x), Some(y)) = (integer_digits(a), integer_digits(r)) {
        return Some(if x == y { MatchTier::Rational } else { MatchTier::None });
    }
    if let (Some(x), Some(y)) = (parse_rational(a), parse_rational(r)) {
        return Some(if x == y { MatchTier::Rational } else { MatchTier::None });
    }
    let (x, y) = (parse_written(a)?, parse_written(r)?);
    Some(if written_equal(x, y) { MatchTier::Numeric } else { MatchTier::None })
}

/// `(negative, digits without leading zeros)` of a plain integer literal.
fn integer_digits(s: &str) -> Option<(bool, &str)> {
    let (negative, digits) = split_sign(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    // -0 is 0.
    Some((negative && !digits.is_empty(), digits))
}

/// A number as written: its value and, for a decimal, half a unit of its last written place
/// (`3.14` → 0.005); `None` for an exact value (an integer or a fraction of literals).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    value: f64,
    half_ulp: Option<f64>,
}

impl Written {
    fn scaled(self, factor: f64) -> Written {
        Written { value: self.value * factor, half_ulp: self.half_ulp.map(|h| h * factor.abs()) }
    }
}

/// Equal within the coarser written precision of the two sides and within 1e-4 relative: so
/// `1/3` ≡ `0.3333`, but `1/3` ≢ `0.33` (too coarse to tell) and `54321.5` ≢ `54321.7`.
fn written_equal(x: Written, y: Written) -> bool {
    let diff = (x.value - y.value).abs();
    let scale = x.value.abs().max(y.value.abs());
    let tol = match (x.half_ulp, y.half_ulp) {
        // Two exact values (fractions of decimals): equal up to float rounding.
        (None, None) => scale * 1e-12,
        (hx, hy) => {
            let coarse = hx.unwrap_or(0.0).max(hy.unwrap_or(0.0)) * (1.0 + 1e-9);
            // The tiny slack makes the bound inclusive despite rounding (1/3 vs 0.3333).
            coarse.min(scale * (REL_TOL + 1e-12))
        }
    };
    diff <= tol
}

pub(crate) fn numbers_close(x: f64, y: f64) -> bool {
    let diff = (x - y).abs();
    diff <= ABS_TOL || diff <= x.abs().max(y.abs()) * (REL_TOL + 1e-12)
}

/// Whether the question asks for a percentage ("what percent", "as a percentage", "in %").
pub(crate) fn asks_percent(question: &str) -> bool {
    const CUES: &[&str] = &[
        "what percent",
        "what is the percent",
        "percentage",
        "as a percent",
        "in percent",
        "how many percent",
        "nearest percent",
        "of a percent",
        "percent increase",
        "percent decrease",
        "percent change",
        "percent of the",
        "in \\%",
        "in %",
        "(\\%)",
        "(%)",
        "what %",
    ];
    let q = question.to_lowercase();
    CUES.iter().any(|cue| q.contains(cue))
}

/// The answer is the reference times or divided by 100, each held to its written precision.
fn scaled_match(answer: &str, reference: &str, kind: AnswerKind) -> bool {
    let value = |s: &str| parse_written(&normalize(s, kind));
    let (Some(x), Some(y)) = (value(answer), value(reference)) else {
        return false;
    };
    written_equal(x, y.scaled(100.0)) || written_equal(x.scaled(100.0), y)
}

/// A number in normalised form: a decimal, `1e-3` or `1.5\times10^{-3}` literal, or
/// `\frac{a}{b}` of such, signed.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    parse_written(s).map(|w| w.value)
}

/// [`parse_number`] with the written precision.
pub(crate) fn parse_written(s: &str) -> Option<Written> {
    let (negative, body) = split_sign(s);
    let written = match frac_parts(body) {
        Some((num, den)) => {
            let den = parse_literal(den)?.value;
            let value = (den != 0.0).then_some(parse_literal(num)?.value / den)?;
            Written { value, half_ulp: None }
        }
        None => parse_literal(body)?,
    };
    Some(if negative { written.scaled(-1.0) } else { written })
}

/// A plain numeric literal; rejects `inf`/`nan`, which Rust's parser would accept. A decimal
/// point or an exponent gives it a written precision.
fn parse_literal(s: &str) -> Option<Written> {
    if let Some((mantissa, exp)) = times_ten_power(s) {
        let m = parse_literal(mantissa)?;
        let factor = 10f64.powi(exp);
        let value = m.value * factor;
        let half = m.half_ulp.unwrap_or(0.5) * factor;
        return value.is_finite().then_some(Written { value, half_ulp: Some(half) });
    }
    let plain = s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    let has_digit = s.chars().any(|c| c.is_ascii_digit());
    if !plain || !has_digit {
        return None;
    }
    let value = s.parse::<f64>().ok().filter(|v| v.is_finite())?;
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(at) => (s.get(..at)?, s.get(at + 1..)?.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let half_ulp = match mantissa.split_once('.') {
        Some((_, frac)) => {
            Some(0.5 * 10f64.powi(exp.saturating_sub(i32::try_from(frac.len()).ok()?)))
        }
        None if exp != 0 || s.contains(['e', 'E']) => Some(0.5 * 10f64.powi(exp)),
        None => None,
    };
    Some(Written { value, half_ulp })
}

/// `(mantissa, exponent)` of `M\times10^{E}` or `M\cdot10^E` (whitespace already removed).
fn times_ten_power(s: &str) -> Option<(&str, i32)> {
    let (mantissa, power) = s.split_once("\\times10^").or_else(|| s.split_once("\\cdot10^"))?;
    let exp = power.strip_prefix('{').and_then(|p| p.strip_suffix('}')).unwrap_or(power);
    let exp: i32 = exp.parse().ok()?;
    (!mantissa.is_empty() && exp.abs() <= 300).then_some((mantissa, exp))
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
    // `\frac{1,000}{3}`: thousands separators inside a fraction (a bare `1,000` is normalised).
    let grouped = |t: &str| is_grouped_number(t).then(|| t.replace(',', ""));
    let (num, den) = match frac_parts(body) {
        Some((num, den)) => {
            let (gn, gd) = (grouped(num), grouped(den));
            (parse_int(gn.as_deref().unwrap_or(num))?, parse_int(gd.as_deref().unwrap_or(den))?)
        }
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
