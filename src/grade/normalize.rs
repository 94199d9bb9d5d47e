//! Hendrycks MATH `is_equiv`-style normalisation (the Normalized tier), plus a light clean-up
//! used before structural (element-wise) parsing.

use super::matching_brace;
use crate::domain::AnswerKind;

/// Unit words dropped after a quantity ("10 cm", "5 dollars", "12 square feet").
const UNITS: &[&str] = &[
    "mm",
    "cm",
    "m",
    "km",
    "meter",
    "meters",
    "metre",
    "metres",
    "millimeter",
    "millimeters",
    "centimeter",
    "centimeters",
    "kilometer",
    "kilometers",
    "in",
    "inch",
    "inches",
    "ft",
    "foot",
    "feet",
    "yd",
    "yard",
    "yards",
    "mi",
    "mile",
    "miles",
    "mph",
    "kph",
    "unit",
    "units",
    "square",
    "sq",
    "cubic",
    "per",
    "dollar",
    "dollars",
    "cent",
    "cents",
    "degree",
    "degrees",
    "deg",
    "second",
    "seconds",
    "sec",
    "minute",
    "minutes",
    "min",
    "mins",
    "hour",
    "hours",
    "hr",
    "hrs",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "g",
    "gram",
    "grams",
    "kg",
    "kilogram",
    "kilograms",
    "mg",
    "lb",
    "lbs",
    "pound",
    "pounds",
    "oz",
    "ounce",
    "ounces",
    "l",
    "liter",
    "liters",
    "litre",
    "litres",
    "ml",
    "gallon",
    "gallons",
    "percent",
];

/// Commands that wrap plain text; their content is kept (or dropped as a unit).
const TEXT_COMMANDS: &[&str] = &["text", "textbf", "textit", "textrm", "mathrm", "mathbf", "mbox"];

/// Normalise an answer the way Hendrycks' `strip_string` does, with a few extensions
/// (thousands separators, unit words, `\,` spacing). `Text` answers are also lower-cased.
pub(crate) fn normalize(s: &str, kind: AnswerKind) -> String {
    let s = light_clean(s);
    let s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac");
    let s = remove_degrees(&s);
    let s = s.replace("\\%", "").replace('%', "");
    let s = unwrap_text(&s);
    let s = strip_units(&s);
    let s = s.replace("{,}", ",");
    let s = strip_trailing_dots(&s);
    let s = strip_assignment(&s);
    let s = strip_thousands(s);
    let s = fix_leading_zero(&s);
    let s = fix_sqrt(&s);
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let s = fix_fracs(&s);
    // Hendrycks' one decimal special case.
    let s = if s == "0.5" { "\\frac{1}{2}".to_string() } else { s };
    let s = fix_slash(s);
    if kind == AnswerKind::Text { s.to_lowercase() } else { s }
}

/// Remove presentation only: outer `\boxed{}`, `$`, `\left`/`\right`, `\!`-style spacing,
/// a trailing period. Keeps the structure (brackets, `&`, `\\`) intact.
pub(crate) fn light_clean(s: &str) -> String {
    let s = unwrap_box(s.trim()).replace('\n', " ");
    let s = s.replace("\\$", "").replace('$', "");
    let s = ["\\left", "\\right", "\\displaystyle", "\\qquad", "\\quad"]
        .iter()
        .fold(s, |acc, cmd| remove_command(&acc, cmd));
    strip_trailing_dots(&remove_spacing(&s))
}

/// The content of `s` when `s` is exactly one `\boxed{…}`/`\fbox{…}`.
fn unwrap_box(s: &str) -> &str {
    for cmd in ["\\boxed", "\\fbox"] {
        let Some(rest) = s.strip_prefix(cmd).map(str::trim_start) else {
            continue;
        };
        if matching_brace(rest, 0) == Some(rest.len().saturating_sub(1)) {
            return rest.get(1..rest.len() - 1).unwrap_or(rest).trim();
        }
    }
    s
}

/// Drop `name` (e.g. `\left`) where it is a whole command, not the start of a longer one
/// (`\rightarrow` stays).
fn remove_command(s: &str, name: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(name) {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + name.len()..).unwrap_or_default();
        if after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            out.push_str(name);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Drop the spacing commands `\,` `\;` `\:` `\!` `\ ` but keep the row break `\\`.
fn remove_spacing(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some(',' | ';' | ':' | '!' | ' ') => {
                chars.next();
            }
            Some('\\') => {
                chars.next();
                out.push_str("\\\\");
            }
            _ => out.push('\\'),
        }
    }
    out
}

fn remove_degrees(s: &str) -> String {
    ["^{\\circ}", "^\\circ", "\\degree", "°"]
        .iter()
        .fold(s.to_string(), |acc, mark| acc.replace(mark, ""))
}

/// The first `\text{` (or similar) in `s`: (offset of the backslash, offset of the brace).
fn find_text_command(s: &str) -> Option<(usize, usize)> {
    s.match_indices('\\').find_map(|(at, _)| {
        let rest = s.get(at + 1..)?;
        let name_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let name = rest.get(..name_len)?;
        let open = at + 1 + name_len;
        (TEXT_COMMANDS.contains(&name) && s.get(open..)?.starts_with('{')).then_some((at, open))
    })
}

/// Unwrap `\text{…}`-like commands. A `\text{ unit}` whose content starts with a space and
/// follows some content is a unit: Hendrycks drops it and everything after it.
fn unwrap_text(s: &str) -> String {
    let mut out = s.to_string();
    while let Some((start, open)) = find_text_command(&out) {
        let Some(close) = matching_brace(&out, open) else {
            break;
        };
        let head = out.get(..start).unwrap_or_default();
        let inner = out.get(open + 1..close).unwrap_or_default();
        let tail = out.get(close + 1..).unwrap_or_default();
        out = if inner.starts_with(' ') && !head.trim().is_empty() {
            head.to_string()
        } else {
            format!("{head}{inner}{tail}")
        };
    }
    out
}

/// Drop trailing unit words, but only when a quantity remains ("10 cm" → "10", "x cm" stays).
fn strip_units(s: &str) -> String {
    let full = s.trim_end();
    let mut rest = full;
    while let Some(shorter) = strip_unit_word(rest) {
        rest = shorter;
    }
    let quantity = rest.ends_with(|c: char| c.is_ascii_digit() || c == '}' || c == ')');
    if rest.len() < full.len() && quantity { rest.to_string() } else { s.to_string() }
}

/// `s` without its last word when that word is a unit (with an optional `^2`/`^3`).
fn strip_unit_word(s: &str) -> Option<&str> {
    let s = ["^2", "^3", "^{2}", "^{3}"].iter().find_map(|p| s.strip_suffix(p)).unwrap_or(s);
    let head = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let word = s.get(head.len()..)?;
    let is_unit = UNITS.iter().any(|u| u.eq_ignore_ascii_case(word));
    let separated = head.ends_with(char::is_whitespace);
    // A glued single letter ("2m") is more likely a variable than metres.
    let glued_ok = word.len() > 1 && head.ends_with(|c: char| c.is_ascii_digit());
    (is_unit && !head.is_empty() && (separated || glued_ok)).then(|| head.trim_end())
}

fn strip_trailing_dots(s: &str) -> String {
    s.trim_end_matches(|c: char| c == '.' || c.is_whitespace()).trim_start().to_string()
}

/// `x = 5` → `5` when there is a single `=` and the left side is a short name (Hendrycks).
fn strip_assignment(s: &str) -> String {
    let mut parts = s.split('=');
    let (Some(lhs), Some(rhs), None) = (parts.next(), parts.next(), parts.next()) else {
        return s.to_string();
    };
    let lhs = lhs.trim();
    let short_name = (1..=2).contains(&lhs.len())
        && lhs.starts_with(|c: char| c.is_ascii_alphabetic())
        && lhs.chars().all(|c| c.is_ascii_alphanumeric());
    if short_name { rhs.trim().to_string() } else { s.to_string() }
}

/// `1,234,567.5` → `1234567.5`, only when the whole answer is such a number (tuples keep commas).
fn strip_thousands(s: String) -> String {
    if is_grouped_number(s.trim()) { s.replace(',', "").trim().to_string() } else { s }
}

fn is_grouped_number(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mut groups = int.split(',');
    let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()) && digits(g));
    let groups: Vec<&str> = groups.collect();
    first_ok
        && !groups.is_empty()
        && groups.iter().all(|g| g.len() == 3 && digits(g))
        && digits(frac)
}

/// `.5` → `0.5` wherever a decimal point starts a number.
fn fix_leading_zero(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let starts_number = c == '.'
            && chars.peek().is_some_and(char::is_ascii_digit)
            && !prev.is_some_and(|p| p.is_ascii_digit());
        if starts_number {
            out.push('0');
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// `\sqrt2` → `\sqrt{2}` (a braceless argument is one character).
fn fix_sqrt(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut rest = s;
    while let Some(at) = rest.find("\\sqrt") {
        let (head, tail) = rest.split_at(at + "\\sqrt".len());
        out.push_str(head);
        rest = tail;
        let trimmed = tail.trim_start();
        let mut chars = trimmed.chars();
        if let Some(c) = chars.next().filter(char::is_ascii_alphanumeric) {
            out.push('{');
            out.push(c);
            out.push('}');
            rest = chars.as_str();
        }
    }
    out.push_str(rest);
    out
}

/// `\frac12` → `\frac{1}{2}`, `\frac1{x}` → `\frac{1}{x}`; nested fractions too.
fn fix_fracs(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut rest = s;
    while let Some(at) = rest.find("\\frac") {
        let (head, tail) = rest.split_at(at + "\\frac".len());
        out.push_str(head);
        rest = tail;
        for _ in 0..2 {
            let Some((arg, after)) = frac_arg(rest) else {
                break;
            };
            out.push('{');
            out.push_str(&fix_fracs(arg));
            out.push('}');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// One argument of `\frac`: a braced group, a command (`\pi`) or a single character.
fn frac_arg(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('{') {
        let close = matching_brace(s, 0)?;
        return Some((s.get(1..close)?, s.get(close + 1..)?));
    }
    let len = match s.strip_prefix('\\') {
        Some(cmd) => 1 + cmd.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(cmd.len()),
        None => s.chars().next()?.len_utf8(),
    };
    Some(s.split_at(len))
}

/// `3/4` → `\frac{3}{4}` when both sides are integers (Hendrycks `_fix_a_slash_b`).
fn fix_slash(s: String) -> String {
    let (sign, body) = match s.strip_prefix('-') {
        Some(body) => ("-", body),
        None => ("", s.as_str()),
    };
    let is_int = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    match body.split_once('/') {
        Some((a, b)) if is_int(a) && is_int(b) => format!("{sign}\\frac{{{a}}}{{{b}}}"),
        _ => s,
    }
}
