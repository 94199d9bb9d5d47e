//! Compound answers element by element (DESIGN §3). Every element goes through all the tiers
//! (symbolic included). Bracket semantics:
//! - tuples and intervals `(1, 2)`, `[1, 5)`, `(-\infty, 2]`: in order, and the brackets must be
//!   the same (interval openness matters: `[1,5]` ≢ `(1,5)`);
//! - sets `\{1, 2, 3\}` and bare lists `1, 2, 3` (solution lists, also `4 \text{ and } 9`): in
//!   any order, each element of one side equal to some element of the other (so a repeated
//!   root is harmless, a missing one is not); a one-element set equals its element;
//! - a bare list never equals a 2-element `(a, b)` (a point, or an open interval); against a
//!   parenthesised tuple of 3 or more it is read as that tuple without its parentheses (in order);
//! - `\pm`: `1 \pm \sqrt{2}` is the bare list `1+\sqrt{2}, 1-\sqrt{2}`;
//! - unions of intervals `(0,1) \cup (2,3)` (also `U`, `∪`): the same intervals in any order;
//! - `pmatrix`/`bmatrix`: the same rows and cells.
//!
//! Commas inside braces or brackets (`\frac{1,000}{3}`, `f(1,2)`) never separate. In a bare
//! answer `1,000` is one thousand; in a list written with `, ` the glued `2,500` is one number
//! too; `1, 000` is two elements. Inside brackets commas always separate (`[1,100]`).

use std::collections::HashSet;

use super::equiv::core_tier;
use super::normalize::{
    assigned_name, connectives_to_commas, is_grouped_number, light_clean, normalize,
};
use crate::domain::{AnswerKind, MatchTier};

/// More elements than this are declined (not equal): bounded work.
const MAX_ITEMS: usize = 256;
/// Pairwise comparisons an order-free match may spend on elements without an exact twin.
const MAX_PAIRS: usize = 4096;
/// Brackets within brackets: deeper compounds are declined.
const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Brackets {
    /// `1, 2, 3` (also from connectives).
    Bare,
    /// `\{1, 2\}`.
    Set,
    /// `(…)`, `[…]`, `[…)`, `(…]`.
    Pair(char, char),
}

#[derive(Debug)]
enum Shape {
    Seq {
        brackets: Brackets,
        items: Vec<String>,
    },
    /// Two or more intervals (or sets) joined by `\cup`.
    Union(Vec<String>),
    Matrix(Vec<Vec<String>>),
    /// Too many elements to compare: equal to nothing.
    Declined,
}

/// `Some(equal)` when either side is a compound answer (this tier then decides), `None` when
/// both are single values (left to the tiers after this one).
pub(crate) fn compare(
    answer: &str,
    reference: &str,
    kind: AnswerKind,
    depth: usize,
) -> Option<bool> {
    let (a, r) = (parse_shape(answer, kind), parse_shape(reference, kind));
    if a.is_none() && r.is_none() {
        return None;
    }
    if depth >= MAX_DEPTH {
        return Some(false);
    }
    let same = |x: &str, y: &str| core_tier(x, y, kind, depth + 1) != MatchTier::None;
    let equal = match (a, r) {
        (Some(a), Some(r)) => shapes_equal(a, r, kind, &same),
        // `\{2\}` vs `2`.
        (Some(Shape::Seq { brackets: Brackets::Set, items }), None) => {
            singleton(&items).is_some_and(|x| same(x, reference))
        }
        (None, Some(Shape::Seq { brackets: Brackets::Set, items })) => {
            singleton(&items).is_some_and(|y| same(answer, y))
        }
        _ => false,
    };
    Some(equal)
}

fn singleton(items: &[String]) -> Option<&str> {
    match items {
        [one] => Some(one.as_str()),
        _ => None,
    }
}

fn shapes_equal(a: Shape, r: Shape, kind: AnswerKind, same: &dyn Fn(&str, &str) -> bool) -> bool {
    use Brackets::{Bare, Pair, Set};
    match (a, r) {
        (Shape::Seq { brackets: ba, items: xa }, Shape::Seq { brackets: br, items: xr }) => {
            match (ba, br) {
                (Bare | Set, Bare | Set) => unordered(&xa, &xr, kind, same),
                (Pair(..), Pair(..)) => ba == br && ordered(&xa, &xr, same),
                (Bare, Pair('(', ')')) | (Pair('(', ')'), Bare) => {
                    xa.len() >= 3 && ordered(&xa, &xr, same)
                }
                _ => false,
            }
        }
        (Shape::Union(xa), Shape::Union(xr)) => unordered(&xa, &xr, kind, same),
        (Shape::Matrix(ra), Shape::Matrix(rr)) => {
            ra.len() == rr.len() && ra.iter().zip(&rr).all(|(x, y)| ordered(x, y, same))
        }
        _ => false,
    }
}

fn ordered(xs: &[String], ys: &[String], same: &dyn Fn(&str, &str) -> bool) -> bool {
    xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
}

/// Each element of either side equals some element of the other. Elements whose normalised
/// form has a twin on the other side need no pairwise comparison; the rest are bounded.
fn unordered(
    xs: &[String],
    ys: &[String],
    kind: AnswerKind,
    same: &dyn Fn(&str, &str) -> bool,
) -> bool {
    // The key keeps an assignment's name: `a=2` must not find `b=2` as its twin.
    let key = |s: &String| {
        let name = assigned_name(s).map(|n| n + "=").unwrap_or_default();
        name + &normalize(s, kind)
    };
    let keys = |v: &[String]| v.iter().map(key).collect::<Vec<_>>();
    let (kx, ky) = (keys(xs), keys(ys));
    let (sx, sy): (HashSet<&str>, HashSet<&str>) =
        (kx.iter().map(String::as_str).collect(), ky.iter().map(String::as_str).collect());
    let mut budget = MAX_PAIRS;
    let forward = covered(xs, &kx, &sy, ys, &mut budget, same);
    forward && covered(ys, &ky, &sx, xs, &mut budget, &|y: &str, x: &str| same(x, y))
}

/// Every element of `from` has a twin key in `other_keys` or an equal element in `to`; each
/// pairwise comparison spends one unit of `budget`, and an empty budget finds no match.
fn covered(
    from: &[String],
    from_keys: &[String],
    other_keys: &HashSet<&str>,
    to: &[String],
    budget: &mut usize,
    same: &dyn Fn(&str, &str) -> bool,
) -> bool {
    from.iter().zip(from_keys).all(|(x, key)| {
        other_keys.contains(key.as_str())
            || to.iter().any(|y| {
                if *budget == 0 {
                    return false;
                }
                *budget -= 1;
                same(x, y)
            })
    })
}

fn parse_shape(s: &str, kind: AnswerKind) -> Option<Shape> {
    let s =
        light_clean(s).replace("\\lbrace", "\\{").replace("\\rbrace", "\\}").replace('∪', "\\cup");
    let s = connectives_to_commas(&s, kind);
    let s = s.trim();
    let shape = parse_matrix(s).or_else(|| parse_union(s)).or_else(|| parse_seq(s))?;
    let too_many = match &shape {
        Shape::Seq { items, .. } | Shape::Union(items) => items.len() > MAX_ITEMS,
        Shape::Matrix(rows) => rows.iter().map(Vec::len).sum::<usize>() > MAX_ITEMS,
        Shape::Declined => true,
    };
    Some(if too_many { Shape::Declined } else { shape })
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

/// `(0,1) \cup [2,3]`: two or more bracketed parts.
fn parse_union(s: &str) -> Option<Shape> {
    let bracketed = |p: &String| enclosing_brackets(p).is_some() || set_body(p).is_some();
    // Models also write the union as a capital U between intervals: `(0,1) U (2,3)`.
    ["\\cup", "U"].iter().find_map(|sep| {
        let parts = trimmed(split_top(s, sep));
        (parts.len() >= 2 && parts.iter().all(bracketed)).then_some(Shape::Union(parts))
    })
}

/// A set, a bracketed tuple/interval enclosing the whole string, or a bare comma list; two
/// items or more (a set may have one).
fn parse_seq(s: &str) -> Option<Shape> {
    if let Some(body) = set_body(s) {
        let items = trimmed(split_top(body, ","));
        return items
            .iter()
            .all(|i| !i.is_empty())
            .then_some(Shape::Seq { brackets: Brackets::Set, items });
    }
    let (brackets, items) = match enclosing_brackets(s) {
        Some((open, close)) => {
            let inner = s.get(1..s.len() - 1)?;
            (Brackets::Pair(open, close), trimmed(split_top(inner, ",")))
        }
        None if is_grouped_number(s) => return None,
        None => {
            let items = merge_thousands(split_top(s, ","));
            (Brackets::Bare, items.into_iter().flat_map(expand_pm).collect())
        }
    };
    (items.len() >= 2 && items.iter().all(|i| !i.is_empty()))
        .then_some(Shape::Seq { brackets, items })
}

/// `\pm 2` → `2`, `-2`; `1 \pm \sqrt{2}` → `1+\sqrt{2}`, `1-\sqrt{2}`; `x = \pm 3` → `x=3`, `x=-3`.
/// One top-level `\pm` only; anything else stays one element.
fn expand_pm(item: String) -> Vec<String> {
    let at = item.match_indices("\\pm").map(|(at, _)| at).find(|&at| {
        let next = item.get(at + 3..).and_then(|r| r.chars().next());
        !next.is_some_and(|c| c.is_ascii_alphabetic())
    });
    let Some(at) = at else {
        return vec![item];
    };
    let (head, tail) = (item.get(..at).unwrap_or_default(), item.get(at + 3..).unwrap_or_default());
    let tail = tail.trim();
    let depth_ok = split_top(&item, "\\pm").len() == 2;
    if tail.is_empty() || tail.contains("\\pm") || !depth_ok {
        return vec![item];
    }
    let (prefix, head) = match head.rsplit_once('=') {
        Some((lhs, rest)) => (format!("{lhs}="), rest.trim()),
        None => (String::new(), head.trim()),
    };
    // `-(x+1)`, not `-x+1`.
    let compound_tail = split_top(tail, "+").len() > 1 || split_top(tail, "-").len() > 1;
    let minus = if compound_tail { format!("-({tail})") } else { format!("-{tail}") };
    if head.is_empty() {
        vec![format!("{prefix}{tail}"), format!("{prefix}{minus}")]
    } else {
        vec![format!("{prefix}{head}+{tail}"), format!("{prefix}{head}{minus}")]
    }
}

fn trimmed(parts: Vec<&str>) -> Vec<String> {
    parts.into_iter().map(|p| p.trim().to_string()).collect()
}

/// In a list written with `, ` a glued `2,500` is one number: its comma is a thousands separator.
pub(crate) fn merge_thousands(parts: Vec<&str>) -> Vec<String> {
    let spaced = parts.iter().skip(1).any(|p| p.starts_with(char::is_whitespace));
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let group = part.len() >= 3
            && part.bytes().take(3).all(|b| b.is_ascii_digit())
            && is_grouped_number(&format!("1,{part}"));
        if let Some(last) = out.last_mut()
            && spaced
            && i > 0
            && group
            && is_grouped_number(&format!("{last},000"))
        {
            last.push(',');
            last.push_str(part);
            continue;
        }
        out.push(part.trim().to_string());
    }
    out
}

/// The inside of `\{…\}` when that set spans the whole string.
fn set_body(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('\\')?;
    if !rest.starts_with('{') || !rest.ends_with("\\}") || !spans_whole(rest) {
        return None;
    }
    rest.get(1..rest.len() - 2)
}

/// The outer bracket pair when one opening bracket's group spans the whole string.
fn enclosing_brackets(s: &str) -> Option<(char, char)> {
    let open = s.chars().next().filter(|c| "([".contains(*c))?;
    let close = s.chars().last().filter(|c| ")]".contains(*c))?;
    spans_whole(s).then_some((open, close))
}

/// The group opened by the first char closes at the last one ("(1,2)\cup(3,4)" does not).
fn spans_whole(s: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        depth += bracket_delta(c);
        if depth <= 0 && i + c.len_utf8() < s.len() {
            return false;
        }
    }
    depth == 0
}

fn bracket_delta(c: char) -> i32 {
    match c {
        '(' | '[' | '{' => 1,
        ')' | ']' | '}' => -1,
        _ => 0,
    }
}

/// Split at `sep` where no bracket is open (intervals may mix `[` with `)`).
pub(crate) fn split_top<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
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
