//! Token log probabilities and the P(True) confidence read from them (DESIGN §3): the
//! probability that the critic's verdict is "correct", raw and renormalised over the two
//! verdicts, taken at the token that spells the verdict word.

use std::ops::Range;

use serde::Deserialize;

use crate::domain::Verdict;

/// One generated token with its log probability and the alternatives the server returned.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default)]
    pub top_logprobs: Vec<TopLogprob>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f64,
}

const INCORRECT_WORDS: &[&str] =
    &["wrong", "false", "invalid", "flawed", "erroneous", "inaccurate", "mistaken", "faulty"];
const CORRECT_WORDS: &[&str] = &["right", "true", "valid", "accurate"];

/// Which verdict word a token spells, if any: `Some(true)` for "correct"-like words.
/// Tokenisers split "incorrect" as "in"+"correct" or "inc"+"orrect", so a piece of at least two
/// letters that starts "incorrect" (three for "correct") counts; "indeed" or "incomplete" do not.
fn verdict_class(token: &str) -> Option<bool> {
    let w = token.trim().trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    let piece_of = |word: &str, min: usize| {
        w.starts_with(word) || (w.len() >= min && word.starts_with(w.as_str()))
    };
    if w.is_empty() {
        None
    } else if piece_of("incorrect", 2) || INCORRECT_WORDS.iter().any(|x| w.starts_with(x)) {
        Some(false)
    } else if piece_of("correct", 3) || CORRECT_WORDS.iter().any(|x| w.starts_with(x)) {
        Some(true)
    } else {
        None
    }
}

/// Probability mass on (correct, incorrect) words at `tok`, whose verdict piece is `piece`
/// (the token from where the verdict word starts) of class `chosen`. Alternatives that repeat
/// the text before the word ("[[" in "[[incorrect") are read after it.
fn class_mass(tok: &TokenLogprob, piece: &str, chosen: bool) -> (f64, f64) {
    let prefix = tok.token.strip_suffix(piece).unwrap_or_default();
    let class = |alt: &str| verdict_class(alt.strip_prefix(prefix).unwrap_or(alt));
    let (mut p_yes, mut p_no) = (0.0, 0.0);
    let mut add = |class: Option<bool>, lp: f64| match class {
        Some(true) => p_yes += lp.exp(),
        Some(false) => p_no += lp.exp(),
        None => {}
    };
    if tok.top_logprobs.iter().any(|a| a.token == tok.token) {
        for a in &tok.top_logprobs {
            add(class(&a.token), a.logprob);
        }
    } else {
        // The sampled token is missing from the list: count it, and only alternatives of the
        // other class (same-class ones may be the sampled token spelled differently).
        add(Some(chosen), tok.logprob);
        for a in tok.top_logprobs.iter().filter(|a| class(&a.token) != Some(chosen)) {
            add(class(&a.token), a.logprob);
        }
    }
    (p_yes, p_no)
}

/// (raw, renormalised) probability of the class `yes` from a mass pair.
fn share((p_yes, p_no): (f64, f64), yes: bool) -> Option<(f64, f64)> {
    let p = if yes { p_yes } else { p_no };
    let sum = p_yes + p_no;
    (sum > 0.0).then(|| (p.min(1.0), p / sum))
}

/// P(True)-style confidence from the token after the last "Verdict:": the probability of
/// "correct", raw and renormalised over {correct, incorrect}.
pub fn p_true(tokens: &[TokenLogprob]) -> Option<(f64, f64)> {
    let mut text = String::new();
    let mut after = None;
    for (i, t) in tokens.iter().enumerate() {
        text.push_str(&t.token);
        let tail = text.trim_end().to_lowercase();
        if tail.ends_with("verdict:") || tail.ends_with("verdict:**") {
            after = Some(i + 1);
        }
    }
    let rest = tokens.get(after?..)?;
    let tok = rest.iter().find(|t| !t.token.trim().trim_matches('*').is_empty())?;
    let chosen = verdict_class(&tok.token)?;
    share(class_mass(tok, &tok.token, chosen), true)
}

/// P(True) at the verdict word whose byte range in `content` is `span` (as given by
/// `grade::parse_verdict_full`), for the parsed `verdict`: the probability mass, at the token
/// where the word starts, on the words that would have made the verdict `correct`, raw and
/// renormalised over the two classes.
///
/// When the verdict is the opposite of the word's literal meaning ("not correct" reads
/// Incorrect, "nothing wrong" Correct), the mass on the opposite words counts: "not incorrect"
/// would have been Correct. `None` when the tokens do not spell `content` exactly (byte
/// offsets would not line up), when `span` is not inside it, when the verdict is unparsed, or
/// when the word is no correct/incorrect word ("error", "mistakes": their alternatives at that
/// position cannot be classified).
pub fn p_true_at(
    tokens: &[TokenLogprob],
    content: &str,
    span: Range<usize>,
    verdict: Verdict,
) -> Option<(f64, f64)> {
    let says_correct = match verdict {
        Verdict::Correct => true,
        Verdict::Incorrect => false,
        Verdict::Unparsed => return None,
    };
    let literal = verdict_class(content.get(span.clone())?)?;
    let mut at = 0;
    let mut found = None;
    for tok in tokens {
        let end = at + tok.token.len();
        if content.get(at..end) != Some(tok.token.as_str()) {
            return None;
        }
        if found.is_none() && (at..end).contains(&span.start) {
            found = Some((tok, tok.token.get(span.start - at..)?));
        }
        at = end;
    }
    if at != content.len() {
        return None;
    }
    let (tok, piece) = found?;
    // The token's piece must spell the same class as the word ("in" of "incorrect").
    if verdict_class(piece) != Some(literal) {
        return None;
    }
    let negated = literal != says_correct;
    share(class_mass(tok, piece, literal), !negated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(t: &str, p: f64, alts: &[(&str, f64)]) -> TokenLogprob {
        TokenLogprob {
            token: t.into(),
            logprob: p.ln(),
            top_logprobs: alts
                .iter()
                .map(|(t, p)| TopLogprob { token: (*t).into(), logprob: p.ln() })
                .collect(),
        }
    }

    fn text(tokens: &[TokenLogprob]) -> String {
        tokens.iter().map(|t| t.token.as_str()).collect()
    }

    fn close(got: Option<(f64, f64)>, want: (f64, f64)) -> bool {
        got.is_some_and(|(raw, norm)| (raw - want.0).abs() < 1e-12 && (norm - want.1).abs() < 1e-12)
    }

    #[test]
    fn p_true_reads_the_verdict_token_and_renormalises() {
        let toks = vec![
            tok("Verdict", 0.9, &[]),
            tok(":", 0.9, &[]),
            tok(" correct", 0.6, &[(" correct", 0.6), (" incorrect", 0.3), (" unsure", 0.1)]),
        ];
        let (raw, norm) = p_true(&toks).unwrap();
        assert!((raw - 0.6).abs() < 1e-12);
        assert!((norm - 0.6 / 0.9).abs() < 1e-12);
        // Chosen "incorrect": P(true) comes from the alternative.
        let toks = vec![
            tok("Verdict:", 0.9, &[]),
            tok(" incorrect", 0.8, &[(" incorrect", 0.8), (" correct", 0.2)]),
        ];
        let (raw, norm) = p_true(&toks).unwrap();
        assert!((raw - 0.2).abs() < 1e-12 && (norm - 0.2).abs() < 1e-12);
        // Split token "in"+"correct" is "incorrect"; no alternatives → P(true) = 0.
        let toks = vec![tok("Verdict:", 0.9, &[]), tok(" in", 0.7, &[]), tok("correct", 0.99, &[])];
        assert_eq!(p_true(&toks), Some((0.0, 0.0)));
        assert_eq!(p_true(&[tok("no verdict here", 0.5, &[])]), None);
    }

    #[test]
    fn verdict_classes() {
        let cases = [
            (" correct", Some(true)),
            ("Correct", Some(true)),
            (" cor", Some(true)),
            (" correctly", Some(true)),
            (" Right", Some(true)),
            (" in", Some(false)),
            (" inc", Some(false)),
            (" INCORRECT", Some(false)),
            (" incorrectly", Some(false)),
            ("**wrong", Some(false)),
            (" invalid", Some(false)),
            (" indeed", None),
            (" incomplete", None),
            (" co", None),
            (" error", None),
            (" ", None),
        ];
        for (token, want) in cases {
            assert_eq!(verdict_class(token), want, "{token:?}");
        }
    }

    #[test]
    fn p_true_at_a_labelled_verdict() {
        let toks = vec![
            tok("Verdict", 0.9, &[]),
            tok(":", 0.9, &[]),
            tok(" incorrect", 0.7, &[(" incorrect", 0.7), (" correct", 0.2), (" unsure", 0.1)]),
        ];
        let content = text(&toks);
        // "incorrect" is bytes 9..18; P(correct) = 0.2, renormalised 0.2 / 0.9.
        assert!(close(p_true_at(&toks, &content, 9..18, Verdict::Incorrect), (0.2, 0.2 / 0.9)));
        assert_eq!(p_true_at(&toks, &content, 9..18, Verdict::Unparsed), None);
    }

    #[test]
    fn p_true_at_a_negated_word_counts_the_other_class() {
        // "The answer is not correct." reads Incorrect at "correct"; "not incorrect" would have
        // read Correct, so P(True) is the mass on "incorrect": 0.3 raw, 0.3 / 0.9 renormalised.
        let toks = vec![
            tok("The", 0.9, &[]),
            tok(" answer", 0.9, &[]),
            tok(" is", 0.9, &[]),
            tok(" not", 0.5, &[(" not", 0.5), (" correct", 0.4)]),
            tok(" correct", 0.6, &[(" correct", 0.6), (" incorrect", 0.3), (" sure", 0.1)]),
            tok(".", 0.9, &[]),
        ];
        let content = text(&toks);
        assert_eq!(&content[18..25], "correct");
        assert!(close(p_true_at(&toks, &content, 18..25, Verdict::Incorrect), (0.3, 1.0 / 3.0)));
        // "There is nothing wrong": Correct at "wrong"; the mass on wrong-words is P(True).
        let toks = vec![
            tok("Nothing", 0.9, &[]),
            tok(" wrong", 0.8, &[(" wrong", 0.8), (" right", 0.1), (" else", 0.1)]),
        ];
        let content = text(&toks);
        assert!(close(p_true_at(&toks, &content, 8..13, Verdict::Correct), (0.8, 0.8 / 0.9)));
    }

    #[test]
    fn p_true_at_the_span_the_verdict_parser_gives() {
        let toks = vec![
            tok("The answer is", 0.9, &[]),
            tok(" not", 0.5, &[]),
            tok(" correct", 0.6, &[(" correct", 0.6), (" incorrect", 0.3)]),
            tok(".", 0.9, &[]),
        ];
        let content = text(&toks);
        let parsed = crate::grade::parse_verdict_full(&content);
        let span = parsed.span.unwrap();
        assert_eq!(&content[span.clone()], "correct");
        assert!(close(p_true_at(&toks, &content, span, parsed.verdict), (0.3, 1.0 / 3.0)));
    }

    #[test]
    fn p_true_at_split_and_fused_tokens() {
        // "incorrect" as " in"+"correct": the verdict token is " in".
        let toks = vec![
            tok("The answer is", 0.9, &[]),
            tok(" in", 0.5, &[(" in", 0.5), (" correct", 0.4), (" wrong", 0.1)]),
            tok("correct", 0.99, &[]),
        ];
        let content = text(&toks);
        assert_eq!(&content[14..23], "incorrect");
        assert!(close(p_true_at(&toks, &content, 14..23, Verdict::Incorrect), (0.4, 0.4)));
        // A token that carries text before the word: alternatives are read after that text.
        let toks = vec![
            tok("[[correct", 0.75, &[("[[correct", 0.75), ("[[incorrect", 0.25)]),
            tok("]]", 0.99, &[]),
        ];
        let content = text(&toks);
        assert!(close(p_true_at(&toks, &content, 2..9, Verdict::Correct), (0.75, 0.75)));
        // The sampled token is not among the alternatives: it counts, and so do the alternatives
        // of the other class; " Correct" is skipped (0.5 / (0.5 + 0.3)).
        let toks = vec![
            tok("Verdict:", 0.9, &[]),
            tok(" correct", 0.5, &[(" incorrect", 0.3), (" Correct", 0.15)]),
        ];
        let content = text(&toks);
        assert!(close(p_true_at(&toks, &content, 9..16, Verdict::Correct), (0.5, 0.625)));
    }

    #[test]
    fn p_true_at_declines_what_it_cannot_read() {
        let toks = vec![
            tok("There is an", 0.9, &[]),
            tok(" error", 0.6, &[(" error", 0.6), (" issue", 0.3)]),
            tok(" in step 2.", 0.9, &[]),
        ];
        let content = text(&toks);
        // "error" has no correct/incorrect alternatives.
        assert_eq!(p_true_at(&toks, &content, 12..17, Verdict::Incorrect), None);
        // Tokens that do not spell the content, or a span outside it.
        let toks = vec![tok("Verdict:", 0.9, &[]), tok(" correct", 0.6, &[(" correct", 0.6)])];
        assert_eq!(p_true_at(&toks, "Verdict: correct!", 9..16, Verdict::Correct), None);
        assert_eq!(p_true_at(&toks, "Verdict:  correct", 10..17, Verdict::Correct), None);
        assert_eq!(p_true_at(&toks, "Verdict: correct", 9..30, Verdict::Correct), None);
        assert!(close(p_true_at(&toks, "Verdict: correct", 9..16, Verdict::Correct), (0.6, 1.0)));
    }
}
