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
    let s = connectives_to_commas(&light_clean(s), kind);
    let s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac");
    let s = remove_degrees(&s);
    let s = s.replace("\\%", "").replace('%', "");
    let s = unwrap_text(&s);
    let s = strip_units(&s);
    let s = s.replace("{,}", ",");
    let s = strip_trailing_dots(&s);
    let s = strip_assignment(&s);
    let s = strip_thousands(s);
    let s = strip_list_thousands(s);
    let s = fix_leading_zero(&s);
    let s = fix_sqrt(&s);
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let s = fix_fracs(&s);
    let s = single_token_scripts(&s);
    let s = s.strip_prefix('+').filter(|rest| !rest.is_empty()).unwrap_or(&s).to_string();
    // Hendrycks' one decimal special case.
    let s = if s == "0.5" { "\\frac{1}{2}".to_string() } else { s };
    let s = fix_slash(s);
    if kind == AnswerKind::Text { s.to_lowercase() } else { s }
}

/// Remove presentation only: outer `\boxed{}`, `$`, `\left`/`\right`, `\!`-style spacing,
/// a trailing period; `∞` and the Unicode minus `−` are spelled `\infty` and `-`. Keeps the
/// structure (brackets, `&`, `\\`) intact.
pub(crate) fn light_clean(s: &str) -> String {
    let s = unwrap_box(s.trim()).replace('\n', " ");
    let s = s.replace("\\$", "").replace('$', "").replace('∞', "\\infty").replace('−', "-");
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

/// The short name of an assignment `x = 5` (as [`strip_assignment`] reads it), if `s` is one.
pub(crate) fn assigned_name(s: &str) -> Option<String> {
    let s = light_clean(s);
    let mut parts = s.split('=');
    let (Some(lhs), Some(_), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let lhs = lhs.trim();
    let short_name = (1..=2).contains(&lhs.len())
        && lhs.starts_with(|c: char| c.is_ascii_alphabetic())
        && lhs.chars().all(|c| c.is_ascii_alphanumeric());
    short_name.then(|| lhs.to_string())
}

/// `s` with `\text{…}`-like commands unwrapped, after the light clean-up: what words see.
pub(crate) fn plain_text(s: &str) -> String {
    unwrap_text(&light_clean(s))
}

/// `4 \text{ and } 9` and `x=1 \text{ or } x=2` are lists: the connective becomes a comma.
/// Outside text answers a bare ` and ` / ` or ` word does too ("salt and pepper" stays whole).
pub(crate) fn connectives_to_commas(s: &str, kind: AnswerKind) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some((start, open)) = find_text_command(rest) {
        let Some(close) = matching_brace(rest, open) else {
            break;
        };
        let inner = rest.get(open + 1..close).unwrap_or_default().trim();
        out.push_str(rest.get(..start).unwrap_or_default());
        if inner.eq_ignore_ascii_case("and") || inner.eq_ignore_ascii_case("or") {
            push_comma(&mut out);
        } else {
            out.push_str(rest.get(start..=close).unwrap_or_default());
        }
        rest = rest.get(close + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    if kind == AnswerKind::Text {
        return out;
    }
    for word in ["and", "or"] {
        let mut joined = String::with_capacity(out.len());
        let mut last = 0;
        for at in super::find_words_ci(&out, word) {
            let before = out.get(..at).unwrap_or_default();
            let after = out.get(at + word.len()..).unwrap_or_default();
            // Only a word between two operands: "x or" and "and 3" stay as written.
            if before.trim().is_empty() || after.trim().is_empty() || at < last {
                continue;
            }
            joined.push_str(out.get(last..at).unwrap_or_default());
            push_comma(&mut joined);
            last = at + word.len();
        }
        joined.push_str(out.get(last..).unwrap_or_default());
        out = joined;
    }
    out
}

/// A list separator, once: "1, 2, and 3" has one comma before the 3.
fn push_comma(out: &mut String) {
    let kept = out.trim_end().len();
    out.truncate(kept);
    if !out.ends_with(',') {
        out.push(',');
    }
    out.push(' ');
}

/// `x^{4}` → `x^4`, `T_{2}` → `T_2`: braces around one character say nothing.
fn single_token_scripts(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let window = (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2), bytes.get(i + 3));
        if let (Some(&mark @ (b'^' | b'_')), Some(b'{'), Some(&c), Some(b'}')) = window
            && c.is_ascii_alphanumeric()
        {
            out.push(char::from(mark));
            out.push(char::from(c));
            i += 4;
            continue;
        }
        // Copy one whole char (multi-byte ones too).
        let c = s.get(i..).and_then(|r| r.chars().next()).unwrap_or_default();
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
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

/// In a list written with `, `, a glued `2,500` is one number: `2,500, 3` → `2500, 3`, so that
/// removing the spaces cannot make it the list `2, 500, 3`.
fn strip_list_thousands(s: String) -> String {
    let parts = super::compound::split_top(&s, ",");
    if parts.len() < 2 || !parts.iter().skip(1).any(|p| p.starts_with(char::is_whitespace)) {
        return s;
    }
    let items = super::compound::merge_thousands(parts);
    let plain = |i: &String| if is_grouped_number(i) { i.replace(',', "") } else { i.clone() };
    items.iter().map(plain).collect::<Vec<_>>().join(", ")
}

pub(crate) fn is_grouped_number(s: &str) -> bool {
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
    fix_fracs_within(s, 0)
}

/// Nested fractions recurse: past the nesting bound an argument is kept as written.
fn fix_fracs_within(s: &str, depth: usize) -> String {
    if depth > super::equiv::MAX_NESTING {
        return s.to_string();
    }
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
            out.push_str(&fix_fracs_within(arg, depth + 1));
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
