//! Word answers: text compared case- and space-insensitively, and the yes/no-prefix rule.

use super::leading_word;
use super::normalize::plain_text;

/// The yes/no-prefix rule: when one side is a bare "yes"/"no" and the other starts with one
/// (`Yes. Because …`), that leading word decides: `Some(same word)`. `None` when the rule does
/// not apply (neither side is a bare yes/no, or one side does not start with one).
pub(crate) fn yes_no(answer: &str, reference: &str) -> Option<bool> {
    let (a, r) = (leading_yes_no(answer)?, leading_yes_no(reference)?);
    (a.bare || r.bare).then_some(a.yes == r.yes)
}

struct YesNo {
    yes: bool,
    /// Nothing but the word (and punctuation) is there.
    bare: bool,
}

fn leading_yes_no(s: &str) -> Option<YesNo> {
    let text = plain_text(s);
    let decor = |c: char| c.is_whitespace() || "*_\"'`({[".contains(c);
    let (word, rest) = leading_word(text.trim_start_matches(decor));
    let yes = if word.eq_ignore_ascii_case("yes") {
        true
    } else if word.eq_ignore_ascii_case("no") {
        false
    } else {
        return None;
    };
    let bare = rest.chars().all(|c| c.is_whitespace() || ".!,;:*_\"'`)}]".contains(c));
    Some(YesNo { yes, bare })
}

/// Both sides are words (letters, spaces, `'` and `-`, with a run of three letters or more)
/// that agree ignoring case and spacing: `Infinitely many` ≡ `infinitelymany`.
pub(crate) fn same_words(answer: &str, reference: &str) -> bool {
    match (word_form(answer), word_form(reference)) {
        (Some(a), Some(r)) => a == r,
        _ => false,
    }
}

fn word_form(s: &str) -> Option<String> {
    let text = plain_text(s);
    let text = text.trim_end_matches(['.', '!']);
    let allowed = |c: char| c.is_alphabetic() || c.is_whitespace() || c == '\'' || c == '-';
    if text.is_empty() || !text.chars().all(allowed) {
        return None;
    }
    let mut run = 0usize;
    let mut longest = 0usize;
    for c in text.chars() {
        run = if c.is_alphabetic() { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    (longest >= 3)
        .then(|| text.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect())
}
