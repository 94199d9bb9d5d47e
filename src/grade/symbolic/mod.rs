//! The symbolic tier (DESIGN §3): two math answers parsed whole into expression trees and
//! compared exactly where both are rational constants, else numerically at random points.
//!
//! Rules (each chosen for grading, where a false "equal" costs more than a declined pair):
//! - The whole string must parse, else [`Decision::NotComparable`]; no prefix is compared.
//! - Rational constants compare exactly (i128 rationals, overflow-checked): `2^{15}` = 32768,
//!   54329 ≠ 54321. A constant whose exact value overflows but agrees in floating point with the
//!   other side beyond 2^53 is not comparable (the bits to tell them apart are gone).
//! - A side that is a bare decimal literal with ≥ 1 place and ≥ 2 significant digits is an
//!   answer rounded to its places: it equals an exact rational x when |x − d| ≤ ½·10^−places
//!   (ties count), so `0.33` = 1/3, but `0.3` ≠ 1/3 (one significant digit only: such an answer
//!   is compared exactly). When both sides are such decimals, the coarser one rounds. Against an
//!   irrational constant a decimal is an approximation, another answer: `3.14` ≠ π, while
//!   `0.5` = sin(π/6) (numerically equal).
//! - Otherwise both sides are evaluated in complex arithmetic; constants once, expressions at
//!   5 random points with every symbol positive and 4 with mixed signs (seeded: decisions are
//!   deterministic). Values agree within 1e-9 relative plus 10^4 times a first-order bound on
//!   their rounding error (running error analysis; no fixed absolute tolerance, so `\sin\pi`
//!   = 0 but `10^{-12}x` ≠ `2 \cdot 10^{-12}x`). Points where either side is undefined or
//!   infinite are skipped; fewer than 3 usable points decline. A disagreement at a positive
//!   point is NotEqual; agreement there but not at a mixed-sign one (`\sqrt{x^2}` vs `x`,
//!   `\ln x^2` vs `2\ln x`) declines: equal only on a domain. A symbol's values depend on its
//!   name's rank, not on which side named it first, so the tier is symmetric.
//! - `e`, `i` and `\pi` are constants (`e_1`, `x_i` are names). `\log` is base 10.
//! - A whole side in degrees (`30^\circ`) drops the unit; inside a function it is an angle.
//! - Equations compare lhs − rhs up to a nonzero constant factor (`x=2y` ≡ `2x=4y`); `y = …`
//!   against `y = …` compares the right-hand sides as values, and `x = 5` (or `5 = x`) against
//!   `5` too.
//! - An integer literal before `\frac` of two integer literals is a mixed number: `2\frac12`
//!   is 5/2.
//! - `\infty` only compares structurally (`\infty`, `-\infty`).
//! - Bounded work: inputs over 4000 bytes, 64 levels of nesting, 1000 nodes or 12 symbols
//!   decline; exponents and factorials overflow into floating point and then to "undefined".

mod eval;
mod parse;
mod rational;

#[cfg(test)]
mod tests;

use eval::{C, EPS, Inexact, eval, exact};
use parse::{MAX_SYMBOLS, Node, Parsed, Ranks, Symbols, parse};
use rational::Rational;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Equal,
    NotEqual,
    /// Declined: a side did not parse whole, hit a limit, had too few defined points, or the
    /// sides agree only where every symbol is positive. Callers treat it as "no match here".
    NotComparable,
}

/// Whether two single math expressions (or equations) are equivalent. Lists/sets/intervals are
/// split by the caller; this compares one element each.
pub fn equivalent(a: &str, b: &str) -> Decision {
    let mut syms = Symbols::default();
    let (Ok(pa), Ok(pb)) = (parse(a, &mut syms), parse(b, &mut syms)) else {
        return Decision::NotComparable;
    };
    let n = &syms.ranks();
    match (pa, pb) {
        (Parsed::Expr(x), Parsed::Expr(y)) => compare_exprs(&x, &y, n),
        (Parsed::Equation(l1, r1), Parsed::Equation(l2, r2)) => {
            if let (Node::Sym(s1), Node::Sym(s2)) = (&l1, &l2)
                && s1 == s2
                && !r1.uses(*s1)
                && !r2.uses(*s1)
            {
                return compare_exprs(&r1, &r2, n);
            }
            compare_equations((&l1, &r1), (&l2, &r2), n)
        }
        (Parsed::Equation(l, r), Parsed::Expr(y)) | (Parsed::Expr(y), Parsed::Equation(l, r)) => {
            match (l, r) {
                (Node::Sym(s), v) | (v, Node::Sym(s)) if !v.uses(s) => compare_exprs(&v, &y, n),
                _ => Decision::NotComparable,
            }
        }
    }
}

const REL_TOL: f64 = 1e-9;
/// Safety factor over the first-order rounding-error bound of each side.
const NOISE_FACTOR: f64 = 1e4;
const POSITIVE_POINTS: usize = 5;
const MIXED_POINTS: usize = 4;
const MIN_POINTS: usize = 3;

/// A value with its rounding-error bound, as [`eval`] returns it.
type Val = (C, f64);

fn close((a, ea): Val, (b, eb): Val) -> bool {
    a.sub(b).abs() <= REL_TOL * a.abs().max(b.abs()) + NOISE_FACTOR * (ea + eb)
}

/// Usable for a comparison: finite, with a finite error bound.
fn usable((v, e): Val) -> bool {
    v.is_finite() && e.is_finite()
}

/// ±1 for `\infty` / `-\infty`.
fn infinity_sign(n: &Node) -> Option<i8> {
    match n {
        Node::Inf => Some(1),
        Node::Neg(a) => infinity_sign(a).map(|s| -s),
        _ => None,
    }
}

/// A bare decimal answer: its value and places, when the rounding rule applies to it.
fn bare_decimal(n: &Node) -> Option<(Rational, u32)> {
    match n {
        Node::Dec { value, places, sig } if *places >= 1 && *sig >= 2 => Some((*value, *places)),
        Node::Neg(a) => bare_decimal(a).and_then(|(v, p)| Some((v.neg()?, p))),
        _ => None,
    }
}

/// The decimal literal that rounds, if any: the coarser of the two sides.
fn rounding_side(x: &Node, y: &Node) -> Option<(Rational, u32, bool)> {
    match (bare_decimal(x), bare_decimal(y)) {
        (Some((v, p)), Some((_, q))) if p < q => Some((v, p, true)),
        (Some(_), Some((w, q))) => Some((w, q, false)),
        (Some((v, p)), None) => Some((v, p, true)),
        (None, Some((w, q))) => Some((w, q, false)),
        (None, None) => None,
    }
}

fn decide(eq: bool) -> Decision {
    if eq { Decision::Equal } else { Decision::NotEqual }
}

fn compare_exprs(x: &Node, y: &Node, nsyms: &Ranks) -> Decision {
    if x.has_inf() || y.has_inf() {
        return match (infinity_sign(x), infinity_sign(y)) {
            (Some(a), Some(b)) => decide(a == b),
            (Some(_), None) if !y.has_sym() && !y.has_inf() => Decision::NotEqual,
            (None, Some(_)) if !x.has_sym() && !x.has_inf() => Decision::NotEqual,
            _ => Decision::NotComparable,
        };
    }
    if !x.has_sym() && !y.has_sym() {
        return compare_constants(x, y);
    }
    compare_at_points(nsyms, |vals| {
        let (a, b) = (eval(x, vals), eval(y, vals));
        if !usable(a) || !usable(b) {
            return Point::Skip;
        }
        if close(a, b) { Point::Agree } else { Point::Differ }
    })
}

fn compare_constants(x: &Node, y: &Node) -> Decision {
    let (ex, ey) = (exact(x), exact(y));
    let rounding = rounding_side(x, y);
    if let (Ok(a), Ok(b)) = (ex, ey) {
        return match rounding {
            Some((d, places, d_is_x)) => {
                let other = if d_is_x { b } else { a };
                decide(within_half_unit(other, d, places).unwrap_or(a == b))
            }
            None => decide(a == b),
        };
    }
    let (a, b) = (eval(x, &[]), eval(y, &[]));
    if !usable(a) || !usable(b) {
        return Decision::NotComparable;
    }
    // Against a constant that is not an exact rational (π, √2, e), a rounded decimal is an
    // approximation, another answer: only a numerically equal value (sin(π/6) = 0.5) matches.
    if close(a, b) {
        let overflowed = ex == Err(Inexact::Overflow) || ey == Err(Inexact::Overflow);
        if overflowed && a.0.abs() > 9.007_199_254_740_992e15 {
            return Decision::NotComparable;
        }
        return Decision::Equal;
    }
    Decision::NotEqual
}

/// |x − d| ≤ ½·10^−places, exactly; `None` on overflow.
fn within_half_unit(x: Rational, d: Rational, places: u32) -> Option<bool> {
    let half = Rational::new(1, 2)?.mul(Rational::pow10(-(i32::try_from(places).ok()?))?)?;
    let dist = x.sub(d)?.abs()?;
    Some(dist.checked_cmp(half)? != std::cmp::Ordering::Greater)
}

fn compare_equations(e1: (&Node, &Node), e2: (&Node, &Node), nsyms: &Ranks) -> Decision {
    let all = [e1.0, e1.1, e2.0, e2.1];
    if all.iter().any(|n| n.has_inf()) || !all.iter().any(|n| n.has_sym()) {
        return Decision::NotComparable;
    }
    // The ratio (lhs1 − rhs1)/(lhs2 − rhs2) must be one nonzero constant.
    let mut ratio: Option<Val> = None;
    compare_at_points(nsyms, |vals| {
        let (l1, r1, l2, r2) =
            (eval(e1.0, vals), eval(e1.1, vals), eval(e2.0, vals), eval(e2.1, vals));
        if ![l1, r1, l2, r2].into_iter().all(usable) {
            return Point::Skip;
        }
        let diff = |(l, el): Val, (r, er): Val| (l.sub(r), el + er + EPS * (l.abs() + r.abs()));
        let (f1, f2) = (diff(l1, r1), diff(l2, r2));
        let zero = |(f, e): Val| f.abs() <= NOISE_FACTOR * e;
        match (zero(f1), zero(f2)) {
            (true, true) => return Point::Skip,
            (false, false) => {}
            _ => return Point::Differ,
        }
        let q = f1.0.div(f2.0);
        let q = (q, q.abs() * (f1.1 / f1.0.abs() + f2.1 / f2.0.abs() + EPS));
        match ratio {
            None => {
                ratio = Some(q);
                Point::Agree
            }
            Some(r) if close(q, r) => Point::Agree,
            Some(_) => Point::Differ,
        }
    })
}

enum Point {
    Agree,
    Differ,
    Skip,
}

/// Deterministic splitmix64: the same pair always gets the same points.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn compare_at_points(syms: &Ranks, mut point: impl FnMut(&[C]) -> Point) -> Decision {
    let mut rng = Rng(0x5EED_C0DE_2026);
    let (mut by_rank, mut vals) = ([C::real(0.0); MAX_SYMBOLS], [C::real(0.0); MAX_SYMBOLS]);
    let nsyms = syms.len.min(MAX_SYMBOLS);
    let (mut pos_ok, mut mix_ok, mut mix_bad) = (0, 0, 0);
    for p in 0..POSITIVE_POINTS + MIXED_POINTS {
        let m = p.checked_sub(POSITIVE_POINTS);
        for (k, v) in by_rank.iter_mut().enumerate().take(nsyms) {
            // Away from 0 and 1, where distinct expressions often coincide.
            let mag = 0.35 + 2.5 * rng.next_f64();
            // Mixed points: all negative, even symbols negative, odd ones, then random.
            let negative = match m {
                None => false,
                Some(0) => true,
                Some(1) => k % 2 == 0,
                Some(2) => k % 2 == 1,
                Some(_) => rng.next_f64() < 0.5,
            };
            *v = C::real(if negative { -mag } else { mag });
        }
        for k in 0..nsyms {
            vals[k] = by_rank[syms.rank[k]];
        }
        let r = point(&vals[..nsyms]);
        match (r, m.is_none()) {
            (Point::Agree, true) => pos_ok += 1,
            // One disagreement at a positive point decides: the rest cannot undo it.
            (Point::Differ, true) => return Decision::NotEqual,
            (Point::Agree, false) => mix_ok += 1,
            (Point::Differ, false) => mix_bad += 1,
            (Point::Skip, _) => {}
        }
    }
    if mix_bad > 0 && pos_ok == 0 {
        return Decision::NotEqual;
    }
    if mix_bad > 0 || pos_ok + mix_ok < MIN_POINTS {
        return Decision::NotComparable;
    }
    Decision::Equal
}
