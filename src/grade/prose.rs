//! Verdicts in prose, as small models write them (DESIGN §3); read only when the critique has
//! no explicit label.
//!
//! The text is cut into sentences (at `.` `!` `?` and line breaks) and clauses (at `,` `;` `:`,
//! dashes, and conjunctions such as "but", "and", "because", "which"). Words match whole and
//! regardless of case, so "incorrect" is never "correct". Every lookback is bounded, so the
//! reading is linear in the text.
//!
//! Rules, each deciding at one word (the span):
//! - Stated (`VerdictMethod::Stated`): `<subject> <copula> [adverbs] [not] <adjective>` —
//!   "the solution is correct", "the answer 42 is not correct", "this is wrong", "the
//!   reasoning is flawed", "the answer does not seem to be correct", "is not incorrect"
//!   (Correct); "is (not) the correct answer"; and a sentence that is nothing but a verdict
//!   ("Incorrect.", "**Correct**", "Conclusion: incorrect"). Parts of a solution (a step, the
//!   calculation, the explanation) only ever make it incorrect, unless all of them are correct
//!   ("all steps are correct"). "Partially/mostly/almost correct" and "not entirely correct"
//!   are Incorrect.
//! - Prose (`VerdictMethod::Prose`): error nouns (error, mistake, flaw, issue, miscalculation)
//!   that are asserted — "there is an error in step 2", "I made a mistake", "contains an
//!   error", "the error is in step 3", "Mistake: …" — or denied — "no errors", "I could not find
//!   any error", "doesn't contain any errors", "without error", "free of errors", "error-free",
//!   "Errors: none"; "nothing/something wrong"; "you are right", "I was wrong"; "gives/arrives at
//!   the (wrong) correct answer"; "solved/answered (in)correctly".
//!
//! Word choices: "correctly" is no adjective, but "solved/answered (in)correctly" is a
//! verdict (the problem as a whole was solved); "true"/"false" count only after a noun
//! ("the answer is false", not "this is true", which mathematics says all the time); "right"
//! is no verdict before a place or time ("right there", "right angle"); "mostly correct" is
//! Incorrect like "partially correct" (something is still wrong).
//!
//! Not verdicts: questions (sentences ending in `?`); sentences opening with "if", "unless",
//! "suppose", "assuming" or "whether"; clauses that only plan or wonder ("let's check whether
//! the answer is correct", "to verify the answer is correct", "make sure", "not sure"); hedged
//! modals ("there might be an error", "the answer would be correct"); generic or unrelated
//! error words ("a common mistake is to…", "error analysis", "margin of error", "trial and
//! error"); remarks on presentation ("a typo", "an error in notation", "formatting issues").
//!
//! Choice: the last candidate wins, so a later clause overrides an earlier one ("The answer is
//! correct, but there is an error in step 2" is Incorrect: an error is asserted; "The answer is
//! correct, but step 2 has a typo" is Correct: a typo is no verdict). A sentence that concludes
//! ("In conclusion", "Overall", "In summary", "Final verdict", or a heading such as
//! "Conclusion:" on the line before) or revises ("Actually", "Wait", "On second thought") beats
//! unmarked sentences, so "Overall, the solution is correct. One small error: …" is Correct.
//! "Therefore", "thus" and "so" are no markers: step-by-step critiques use them in every step.
//! Inside one sentence the last candidate decides the verdict, and the span moves to the last
//! adjective saying the same ("incorrect because of an error" keeps "incorrect"), so P(True)
//! can be read at it.

use std::borrow::Cow;
use std::ops::Range;

use super::verdict::Found;
use crate::domain::{Verdict, VerdictMethod};

/// Most words looked back (or ahead) from a candidate word; keeps the scan linear.
const LOOKBACK: usize = 12;

const POSITIVE: &str = "correct right valid accurate sound true";
const NEGATIVE: &str = "incorrect wrong flawed invalid erroneous inaccurate mistaken false faulty \
    unsound";
/// Adjectives that are too common in mathematics to count after "this"/"it" ("this is true").
const NOUN_ONLY: &str = "true false";
/// A sentence that is only one of these is a verdict ("Incorrect.").
const BARE: &str = "correct incorrect wrong true false";
/// Labels allowed before a bare verdict and a colon ("Conclusion: incorrect").
const BARE_LABELS: &str = "answer final judgment judgement assessment evaluation conclusion \
    decision result status grade correctness overall my the";

/// Whole attempts: their correctness is the verdict.
const WHOLE: &str = "answer answers solution solutions reasoning response result conclusion \
    approach work logic proof argument derivation attempt method claim output";
/// Parts of an attempt: a wrong part makes it wrong, a right part proves nothing.
const PARTS: &str = "step steps calculation calculations computation computations arithmetic \
    algebra equation equations formula explanation part line substitution simplification \
    expression total sum setup value";
/// Words that make a part stand for the whole ("all steps are correct").
const ALL: &str = "all every each both entire whole";
/// Subjects that must stand right before the copula ("this is correct").
const PRONOUNS: &str = "this that it which everything";
/// Person subjects: "you are right", "I was wrong" (prose, not a statement about the text).
const PERSONS: &str = "you i";

const COPULAS: &str = "is was are were am seems seem appears appear looks look";
const MORE_COPULAS: &str = "sounds remains remain isn't wasn't aren't weren't ain't";
const ADVERBS: &str = "also indeed actually definitely clearly certainly absolutely obviously \
    still now all both mathematically logically technically factually essentially basically \
    undoubtedly really very overall therefore thus hence likely probably generally surely to";
/// Degree words that make any adjective Incorrect ("partially correct").
const PARTIAL: &str = "partially partly mostly largely almost nearly half somewhat";
/// Words that, negated, leave a part wrong ("not entirely correct").
const UNIVERSAL: &str = "entirely completely fully totally quite wholly perfectly necessarily";
/// After the adjective: a condition or a complement, not a verdict ("correct if", "right to").
const AFTER_ADJECTIVE: &str = "if only provided unless to that";
/// After "right": a place or a time, not a verdict ("right there", "right angle").
const AFTER_RIGHT: &str = "there here now away after before side angle angles triangle";
const HEAD_NOUNS: &str = "answer solution result one approach response value conclusion";
/// "gives the correct answer", "arrives at the wrong result".
const ARRIVE: &str = "arrives arrived arrive reaches reached reach gets got get obtains obtained \
    obtain gives gave give yields yielded yield finds found find leads led lead produces \
    produced produce provides provided provide";
/// "solved correctly", "correctly answers" ("answer" and "solve" alone are too often nouns or
/// plans).
const SOLVED: &str = "solved answered solves answers";
/// Words that end the search for a noun subject: "the reasoning shows that x is correct" says
/// nothing about the reasoning.
const SUBJECT_STOPS: &str = "that which who where when than shows says states claims means \
    implies proves thinks believes";

const ERRORS: &str = "error errors mistake mistakes flaw flaws miscalculation miscalculations \
    issue issues inaccuracy inaccuracies blunder blunders";
/// An error noun followed by one of these names something else ("error analysis").
const COMPOUNDS: &str = "analysis analyses bar bars term terms margin rate rates message messages \
    handling checking check checks prone propagation bound bounds function code codes estimate \
    estimates type types tolerance correction detection log";
/// Remarks on presentation, not on correctness ("an error in notation").
const COSMETIC: &str = "formatting format notation notational presentation wording typo typos \
    typographical style stylistic clarity spelling grammar grammatical phrasing punctuation \
    capitalization latex";
/// Words between a verb (or a negation) and an error noun: "there is a small arithmetic error".
const FILLERS: &str = "a an any the single one two three several some few couple number lot lots \
    of other obvious apparent major minor significant serious real further more additional such \
    computational arithmetic arithmetical calculation algebraic logical conceptual mathematical \
    numerical sign rounding glaring big small slight subtle tiny little silly basic clear \
    notable noticeable critical fundamental substantive substantial actual evident visible key \
    main simple careless crucial common typical important factual new same another this that its \
    his her their my your only first second final last reasoning also still clearly definitely \
    indeed actually really there been be seems seem appears appear to i we think believe feel \
    say";
/// Verbs that assert an error noun after them: "there is", "contains", "I made", "I found".
const ASSERTING: &str = "is are was were there's here's that's it's contains contain contained \
    containing has have had made make makes making commits committed commit found find finds see \
    sees spot spotted notice noticed identified identify detected detect introduces introduced \
    include includes included shows exhibits observe observed exist exists";
/// Determiners that make "the error is …" point at one particular error.
const DEFINITE: &str = "the this that one my your its his her their";
/// "The error is in step 3", "the mistake lies in…", "the error occurs at…".
const LOCATED: &str = "is was lies lay occurs occurred happens happened comes came arises arose \
    appears appeared";
const LOCATIONS: &str = "in at on that here where when with from within";
/// After "error in/at/on/with": what makes it a place in the attempt.
const PLACES: &str = "step steps line lines the your my this his her their its calculation \
    calculations computation part equation equations solution reasoning answer final last first \
    second third how where when";
/// Values of an "Errors:" heading that deny errors.
const NONE_VALUES: &str = "none no nothing nil zero n na 0";
/// Words before an error heading that make it generic ("Common mistakes: …").
const GENERIC: &str = "common typical possible potential frequent";

/// Planning, wondering or conditions: the clause after them states no verdict.
const BLOCKERS: &str = "if whether unless suppose supposing assume assuming wonder wondering \
    ensure check checking verify verifying determine determining evaluate evaluating decide \
    deciding judge examine unsure uncertain avoid avoiding prevent careful possible possibly \
    potential potentially";
/// Hedges unless negated ("could be an error" hedges; "could not find any error" denies).
const MODALS: &str = "might may could would should";
const CONDITIONAL_OPENERS: &str = "if unless suppose supposing assuming whether";
/// Words that start a new clause.
const CONJUNCTIONS: &str = "but however although though yet whereas while because since and which \
    so then except";

/// Whether `w` is one of the space-separated words of `set`.
fn is(set: &str, w: &str) -> bool {
    // A substring search first: it runs for every word of the text, and most words are in no
    // set, so this keeps a megabyte of prose fast even in a debug build.
    if w.is_empty() || w.bytes().any(|b| b.is_ascii_whitespace()) {
        return false;
    }
    let bytes = set.as_bytes();
    let space = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_none_or(u8::is_ascii_whitespace);
    set.match_indices(w).any(|(at, _)| space(at.checked_sub(1)) && space(Some(at + w.len())))
}

fn is_negator(w: &str) -> bool {
    is("not no never without nor zero cannot", w) || w.ends_with("n't")
}

/// The adjective's literal polarity: `Some(true)` for "correct"-like words.
fn adjective(w: &str) -> Option<bool> {
    if is(POSITIVE, w) {
        Some(true)
    } else if is(NEGATIVE, w) {
        Some(false)
    } else {
        None
    }
}

fn verdict_of(correct: bool) -> Verdict {
    if correct { Verdict::Correct } else { Verdict::Incorrect }
}

/// One word (or number) of the text.
struct Word<'a> {
    range: Range<usize>,
    /// ASCII lower case, with ’ read as '.
    lower: Cow<'a, str>,
    number: bool,
    clause: usize,
    sentence: usize,
}

struct Sentence {
    /// Indices into `Text::words`.
    words: Range<usize>,
    question: bool,
}

/// The text cut into words, clauses and sentences.
struct Text<'a> {
    text: &'a str,
    words: Vec<Word<'a>>,
    sentences: Vec<Sentence>,
}

/// A candidate verdict and whether its word is a correct/incorrect adjective.
struct Candidate {
    found: Found,
    adjective: bool,
}

impl<'a> Text<'a> {
    fn scan(text: &'a str, lower: &'a str) -> Text<'a> {
        let bytes = text.as_bytes();
        let mut t = Text { text, words: Vec::new(), sentences: Vec::new() };
        let (mut i, mut clause, mut first) = (0, 0, 0);
        let end_sentence = |t: &mut Text<'a>, first: &mut usize, question: bool| {
            if *first < t.words.len() {
                t.sentences.push(Sentence { words: *first..t.words.len(), question });
            }
            *first = t.words.len();
        };
        while let Some(&b) = bytes.get(i) {
            if b.is_ascii_alphanumeric() {
                let number = b.is_ascii_digit();
                let end = if number { number_end(bytes, i) } else { word_end(bytes, i) };
                let raw = lower.get(i..end).unwrap_or_default();
                let lower = if raw.contains('\u{2019}') {
                    Cow::Owned(raw.replace('\u{2019}', "'"))
                } else {
                    Cow::Borrowed(raw)
                };
                if is(CONJUNCTIONS, &lower) {
                    clause += 1;
                }
                let sentence = t.sentences.len();
                t.words.push(Word { range: i..end, lower, number, clause, sentence });
                i = end;
                continue;
            }
            match b {
                b'.' | b'!' | b'?' | b'\n' => {
                    end_sentence(&mut t, &mut first, b == b'?');
                    clause += 1;
                }
                // "The answer, 12, is correct": commas at numbers join (lists, appositions).
                b',' if digit_near(bytes, i) => {}
                b',' | b';' | b':' => clause += 1,
                // Em and en dashes.
                0xE2 if matches!(bytes.get(i + 1..i + 3), Some([0x80, 0x93 | 0x94])) => clause += 1,
                _ => {}
            }
            i += 1;
        }
        end_sentence(&mut t, &mut first, false);
        t
    }

    fn w(&self, i: usize) -> &str {
        self.words.get(i).map_or("", |w| &w.lower)
    }

    fn number(&self, i: usize) -> bool {
        self.words.get(i).is_some_and(|w| w.number)
    }

    fn clause(&self, i: usize) -> Option<usize> {
        self.words.get(i).map(|w| w.clause)
    }

    /// The word before `i` in the same clause.
    fn prev(&self, i: usize) -> Option<usize> {
        let j = i.checked_sub(1)?;
        (self.clause(j) == self.clause(i)).then_some(j)
    }

    /// The word after `i` in the same clause.
    fn next(&self, i: usize) -> Option<usize> {
        let j = i + 1;
        (self.clause(j).is_some() && self.clause(j) == self.clause(i)).then_some(j)
    }

    /// Up to `LOOKBACK` words before `i` in its clause, nearest first.
    fn before(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(self.prev(i), move |&j| self.prev(j)).take(LOOKBACK)
    }

    fn found(&self, i: usize, correct: bool, method: VerdictMethod) -> Option<Candidate> {
        let range = self.words.get(i)?.range.clone();
        let found = Found { span: range, verdict: verdict_of(correct), method };
        Some(Candidate { found, adjective: adjective(self.w(i)).is_some() })
    }

    /// Whether the clause before `i` plans, wonders or hedges (see `BLOCKERS`, `MODALS`).
    fn blocked(&self, i: usize) -> bool {
        self.before(i).any(|j| {
            let w = self.w(j);
            let negated_next = self.next(j).is_some_and(|n| self.w(n) == "not");
            let prev = self.prev(j).map_or("", |p| self.w(p));
            match w {
                "sure" => is("make making be not", prev),
                "confirm" | "confirming" => !is("can i we hereby", prev),
                "doubt" => prev != "no",
                // "I would say …" states; "there might be …" hedges.
                _ => {
                    let states = self.next(j).is_some_and(|n| is("say think argue", self.w(n)));
                    is(BLOCKERS, w) || (is(MODALS, w) && !negated_next && !states)
                }
            }
        })
    }

    /// "I don't think …", "I do not believe …" before `i`: one negation.
    fn negated_belief(&self, i: usize) -> bool {
        self.before(i).any(|j| {
            is("think believe feel agree say consider", self.w(j))
                && self.before(j).take(2).any(|k| is_negator(self.w(k)))
        })
    }

    fn sentence_opens_conditional(&self, s: &Sentence) -> bool {
        is(CONDITIONAL_OPENERS, self.w(s.words.start))
    }

    /// Whether the sentence concludes or revises (see the module header).
    fn marked(&self, s: &Sentence) -> bool {
        let next = |i: usize| self.w(i + 1);
        s.words.clone().any(|i| match self.w(i) {
            "overall" | "conclusion" | "conclude" | "summary" | "summarize" | "summarise"
            | "ultimately" | "verdict" | "actually" | "wait" | "reflection" => true,
            "sum" => next(i) == "up",
            "all" => next(i) == "in" && self.w(i + 2) == "all",
            "in" => next(i) == "the" && self.w(i + 2) == "end",
            "second" => next(i) == "thought",
            "upon" | "on" => next(i) == "further",
            "final" => is("judgment judgement assessment evaluation decision", next(i)),
            _ => false,
        })
    }

    /// The verdict of one sentence: its last candidate decides, and the span moves to the last
    /// adjective candidate with the same verdict.
    fn sentence_verdict(&self, s: &Sentence) -> Option<Found> {
        let mut all: Vec<Candidate> = self.bare(s).into_iter().collect();
        if all.is_empty() {
            all.extend(s.words.clone().filter_map(|i| self.candidate(i)));
        }
        let last = all.last()?.found.verdict;
        let pick = all.iter().rev().filter(|c| c.found.verdict == last).find(|c| c.adjective);
        pick.or(all.last()).map(|c| c.found.clone())
    }

    fn candidate(&self, i: usize) -> Option<Candidate> {
        let w = self.w(i);
        if adjective(w).is_some() {
            self.stated(i).or_else(|| self.attributive(i)).or_else(|| self.nothing_wrong(i))
        } else if is(ERRORS, w) {
            self.error_noun(i)
        } else if w == "correctly" || w == "incorrectly" {
            self.solved(i)
        } else {
            None
        }
    }

    /// "Incorrect.", "**Correct**", "Not correct.", "Conclusion: incorrect", "Wrong answer.".
    fn bare(&self, s: &Sentence) -> Option<Candidate> {
        let last = s.words.end.checked_sub(1)?;
        if s.words.len() == 2 && is("answer solution", self.w(last)) {
            // Not "Correct answer: 12".
            let end = self.words.get(last)?.range.end;
            let rest = self.text.get(end..)?.trim_start_matches([' ', '*', '_', '"']);
            let polarity = adjective(self.w(s.words.start)).filter(|_| !rest.starts_with(':'));
            return polarity.and_then(|p| self.found(s.words.start, p, VerdictMethod::Stated));
        }
        if !is(BARE, self.w(last)) || s.words.len() > 5 {
            return None;
        }
        let mut head = s.words.start..last;
        let negated = head.end > head.start && self.w(head.end - 1) == "not";
        if negated {
            head.end -= 1;
        }
        if !head.clone().all(|i| is(BARE_LABELS, self.w(i))) {
            return None;
        }
        // Labels need a colon before the verdict ("Answer: correct", not "The correct").
        if let Some(label) = head.clone().last() {
            let from = self.words.get(label)?.range.end;
            let to = self.words.get(head.end)?.range.start;
            if !self.text.get(from..to)?.contains(':') {
                return None;
            }
        }
        let literal = adjective(self.w(last))?;
        self.found(last, literal != negated, VerdictMethod::Stated)
    }

    /// `<subject> <copula> [adverbs] [not] <adjective>` at the adjective `i`.
    fn stated(&self, i: usize) -> Option<Candidate> {
        let literal = adjective(self.w(i))?;
        let after = self.next(i).map_or("", |n| self.w(n));
        let after2 = self.next(i).and_then(|n| self.next(n)).map_or("", |n| self.w(n));
        // "wrong to me" is an opinion, "correct to say" a complement.
        let to_person = after == "to" && is("me us", after2);
        if (is(AFTER_ADJECTIVE, after) && !to_person)
            || (self.w(i) == "right" && is(AFTER_RIGHT, after))
        {
            return None;
        }
        let (mut negations, mut partial, mut universal, mut skipped_be) = (0, false, false, false);
        // Back over adverbs, negations and "to be" to the copula.
        let mut copula = None;
        for j in self.before(i) {
            let w = self.w(j);
            let modal_copula = skipped_be && is("must cannot can't couldn't won't", w);
            if is(COPULAS, w) || is(MORE_COPULAS, w) || fused_copula(w).is_some() || modal_copula {
                copula = Some(j);
                break;
            }
            match w {
                "not" | "never" => negations += 1,
                "be" | "been" => skipped_be = true,
                "100" => universal = true,
                _ if is(PARTIAL, w) => partial = true,
                _ if is(UNIVERSAL, w) => universal = true,
                _ if is(ADVERBS, w) => {}
                _ => return None,
            }
        }
        let copula = copula?;
        let cw = self.w(copula);
        if cw.ends_with("n't") || cw == "cannot" {
            negations += 1;
        }
        // The subject: inside a fused copula ("that's", "you're"), or before the copula.
        let (subject, subject_at) = match fused_copula(cw) {
            Some(stem) => (stem, copula),
            None => self.subject_before(copula, &mut negations)?,
        };
        let person = is(PERSONS, subject);
        let whole = is(WHOLE, subject) || is(PRONOUNS, subject);
        if (person || is(PRONOUNS, subject)) && is(NOUN_ONLY, self.w(i)) {
            return None;
        }
        if self.blocked(subject_at) {
            return None;
        }
        if self.negated_belief(subject_at) {
            negations += 1;
        }
        // "partially correct" and "not entirely correct" leave something wrong.
        let correct = literal != (negations % 2 == 1) && !partial && !(universal && negations > 0);
        // A part decides only when wrong, or when all parts are right.
        let all = self.before(subject_at).take(2).any(|k| is(ALL, self.w(k)));
        if !whole && !person && correct && !all {
            return None;
        }
        let method = if person { VerdictMethod::Prose } else { VerdictMethod::Stated };
        self.found(i, correct, method)
    }

    /// The subject before the copula at `copula`: a pronoun right before it, or a noun up to
    /// five words before ("the answer 42 is"); auxiliaries and negations may come between
    /// ("does not seem").
    fn subject_before(&self, copula: usize, negations: &mut u32) -> Option<(&str, usize)> {
        let mut at = None;
        for k in self.before(copula) {
            match self.w(k) {
                "does" | "do" | "did" => {}
                w if w == "not" || w == "never" || w.ends_with("n't") => *negations += 1,
                _ => {
                    at = Some(k);
                    break;
                }
            }
        }
        let k = at?;
        let w = self.words.get(k)?.lower.as_ref();
        if is(PRONOUNS, w) || is(PERSONS, w) {
            return Some((w, k));
        }
        for j in std::iter::successors(Some(k), |&j| self.prev(j)).take(5) {
            let w = self.words.get(j)?.lower.as_ref();
            let stem = w.strip_suffix("'s").unwrap_or(w);
            if is(WHOLE, stem) || is(PARTS, stem) {
                return Some((stem, j));
            }
            if is(SUBJECT_STOPS, w) || is(COPULAS, w) {
                return None;
            }
        }
        None
    }

    /// "is (not) the correct answer", "gives the wrong answer", "arrives at the correct result".
    fn attributive(&self, i: usize) -> Option<Candidate> {
        let literal = adjective(self.w(i))?;
        let noun = self.next(i)?;
        let det = self.prev(i)?;
        if !is(HEAD_NOUNS, self.w(noun)) || !is("the a an", self.w(det)) {
            return None;
        }
        // "the correct answer is 12" names the answer; it judges nothing.
        let after = self.next(noun).map_or("", |n| self.w(n));
        if is("is was should would will must", after) {
            return None;
        }
        let mut negations = 0;
        for j in self.before(det) {
            let w = self.w(j);
            if w == "not" || w == "never" {
                negations += 1;
            } else if is(COPULAS, w) || is(MORE_COPULAS, w) || fused_copula(w).is_some() {
                return self.attributive_stated(i, j, literal, negations);
            } else if is(ARRIVE, w) {
                return self.arrive(i, j, literal, negations);
            } else if !is(ADVERBS, w) && w != "at" {
                return None;
            }
        }
        None
    }

    fn attributive_stated(
        &self,
        i: usize,
        copula: usize,
        literal: bool,
        mut negations: u32,
    ) -> Option<Candidate> {
        let cw = self.w(copula);
        if cw.ends_with("n't") {
            negations += 1;
        }
        let (subject, at) = match fused_copula(cw) {
            Some(stem) => (stem, copula),
            None => self.subject_before(copula, &mut negations)?,
        };
        if !is(WHOLE, subject) && !is(PRONOUNS, subject) {
            return None;
        }
        if self.blocked(at) {
            return None;
        }
        self.found(i, literal != (negations % 2 == 1), VerdictMethod::Stated)
    }

    /// "The solution arrives at the correct answer", "did not get the right answer".
    fn arrive(
        &self,
        i: usize,
        verb: usize,
        literal: bool,
        mut negations: u32,
    ) -> Option<Candidate> {
        for p in self.before(verb) {
            let w = self.w(p);
            if w == "to" {
                // "failed to get" denies; "to get the correct answer, …" is a purpose.
                let before = self.prev(p).map_or("", |q| self.w(q));
                if !is("fails failed fail failing unable", before) {
                    return None;
                }
                negations += 1;
                break;
            }
            if is_negator(w) {
                negations += 1;
            } else if !is("does do did also still actually", w) {
                break;
            }
        }
        if self.blocked(verb) {
            return None;
        }
        self.found(i, literal != (negations % 2 == 1), VerdictMethod::Prose)
    }

    /// "nothing wrong" (Correct), "something is wrong" (Incorrect), "not … anything wrong".
    fn nothing_wrong(&self, i: usize) -> Option<Candidate> {
        if !is("wrong incorrect amiss", self.w(i)) {
            return None;
        }
        let mut j = self.prev(i)?;
        if is("is was seems", self.w(j)) {
            j = self.prev(j)?;
        }
        let correct = match self.w(j) {
            "nothing" => true,
            "something" => false,
            "anything" => {
                let negated = self.before(j).take(4).any(|k| is_negator(self.w(k)));
                if !negated {
                    return None;
                }
                true
            }
            _ => return None,
        };
        if self.blocked(j) {
            return None;
        }
        self.found(i, correct, VerdictMethod::Prose)
    }

    /// "solved correctly", "answered the question incorrectly", "correctly solves".
    fn solved(&self, i: usize) -> Option<Candidate> {
        let literal = self.w(i) == "correctly";
        let after = self.next(i).filter(|&n| is(SOLVED, self.w(n)));
        // "solve"/"answer" are verbs only after an auxiliary ("did not solve it correctly").
        let verb = |j: usize| {
            is(SOLVED, self.w(j))
                || (is("solve answer", self.w(j))
                    && self.prev(j).is_some_and(|p| {
                        let w = self.w(p);
                        is("did does do not never", w) || w.ends_with("n't")
                    }))
        };
        let verb = self.before(i).take(3).find(|&j| verb(j)).or(after)?;
        let from = verb.min(i);
        if self.prev(from).is_some_and(|p| self.w(p) == "to") || self.blocked(from) {
            return None;
        }
        let negated = self.before(from).take(3).any(|k| is_negator(self.w(k)));
        self.found(i, literal != negated, VerdictMethod::Prose)
    }

    /// An error noun at `i`: denied (Correct), asserted (Incorrect), or neither.
    fn error_noun(&self, i: usize) -> Option<Candidate> {
        let next = self.next(i).map_or("", |n| self.w(n));
        let prev = self.prev(i).map_or("", |p| self.w(p));
        let prev2 = self.prev(i).and_then(|p| self.prev(p)).map_or("", |p| self.w(p));
        if is(COMPOUNDS, next)
            || (prev == "of" && prev2 == "margin")
            || (prev == "and" && prev2 == "trial")
            || is("standard absolute relative percent percentage", prev)
        {
            return None;
        }
        let ahead = (1..=4).map(|d| i + d).take_while(|&j| self.clause(j) == self.clause(i));
        if self.before(i).take(3).chain(ahead).any(|j| is(COSMETIC, self.w(j))) || self.blocked(i) {
            return None;
        }
        // "error-free" and "free of (any) errors" deny by themselves; the walk starts before them.
        let end = self.words.get(i)?.range.end;
        let error_free =
            self.text.get(end..end + 5).is_some_and(|f| f.eq_ignore_ascii_case("-free"));
        let free_at = if !is("of from", prev) {
            None
        } else if prev2 == "free" {
            i.checked_sub(2)
        } else if prev2 == "any" && self.w(i.saturating_sub(3)) == "free" {
            i.checked_sub(3)
        } else {
            None
        };
        let denied = error_free || free_at.is_some();
        // Back over fillers and verbs: a negation denies, an asserting verb asserts.
        let (mut negator, mut asserted, mut definite) = (false, false, false);
        for p in self.before(free_at.unwrap_or(i)) {
            let w = self.w(p);
            if is_negator(w) {
                negator = true;
                break;
            }
            if is(ASSERTING, w) {
                // "to make a mistake" is generic, not a mistake made.
                asserted |= self.prev(p).is_none_or(|q| self.w(q) != "to");
            } else if is(DEFINITE, w) && !asserted {
                definite = true;
            } else if !is(FILLERS, w) && !self.number(p) {
                break;
            }
        }
        match (denied, negator) {
            // "not error-free".
            (true, true) => return self.found(i, false, VerdictMethod::Prose),
            (true, false) | (false, true) => return self.found(i, true, VerdictMethod::Prose),
            (false, false) => {}
        }
        let located = self.next(i).is_some_and(|n| {
            let after = self.next(n).map_or("", |m| self.w(m));
            let place = is(PLACES, after) || self.next(n).is_some_and(|m| self.number(m));
            (is("in at on with", self.w(n)) && place)
                || (definite
                    && is(LOCATED, self.w(n))
                    && is(LOCATIONS, after)
                    && !self.before(i).take(3).any(|j| is(GENERIC, self.w(j))))
                || (is("was were is are", self.w(n)) && is("made committed introduced", after))
        });
        if asserted || located {
            return self.found(i, false, VerdictMethod::Prose);
        }
        self.heading(i)
    }

    /// "Mistake: …" (Incorrect), "**Errors:** none" (Correct): an error noun opening its line.
    fn heading(&self, i: usize) -> Option<Candidate> {
        let s = self.sentences.get(self.words.get(i)?.sentence)?;
        if i.saturating_sub(s.words.start) >= 3 || self.before(i).any(|j| is(GENERIC, self.w(j))) {
            return None;
        }
        let mut value = i + 1;
        let mut end = self.words.get(i)?.range.end;
        if is("found identified detected spotted made", self.w(value)) {
            end = self.words.get(value)?.range.end;
            value += 1;
        }
        let gap = self.text.get(end..)?;
        let gap = gap.trim_start_matches([' ', '\t', '*', '_']);
        if !gap.starts_with(':') {
            return None;
        }
        let correct = is(NONE_VALUES, self.w(value));
        self.found(i, correct, VerdictMethod::Prose)
    }
}

/// The subject of a fused copula: "that's" → "that", "you're" → "you", "answer's" → "answer".
fn fused_copula(w: &str) -> Option<&str> {
    let stem =
        w.strip_suffix("'s").or_else(|| w.strip_suffix("'re")).or_else(|| w.strip_suffix("'m"))?;
    (is(PRONOUNS, stem) || is(PERSONS, stem) || is(WHOLE, stem) || is(PARTS, stem)).then_some(stem)
}

/// Whether the comma at `i` touches a number (spaces aside).
fn digit_near(bytes: &[u8], i: usize) -> bool {
    let before = bytes.get(..i).and_then(|b| b.iter().rev().find(|c| !c.is_ascii_whitespace()));
    let after = bytes.get(i + 1..).and_then(|b| b.iter().find(|c| !c.is_ascii_whitespace()));
    before.is_some_and(u8::is_ascii_digit) || after.is_some_and(u8::is_ascii_digit)
}

/// End of the word starting at `i`: letters, with apostrophes inside ("isn't", "there’s").
fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&b) = bytes.get(i) {
        let apostrophe = b == b'\'' && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic);
        if b.is_ascii_alphabetic() || apostrophe {
            i += 1;
        } else if bytes.get(i..i + 3) == Some("\u{2019}".as_bytes())
            && bytes.get(i + 3).is_some_and(u8::is_ascii_alphabetic)
        {
            i += 3;
        } else {
            break;
        }
    }
    i
}

/// End of the number starting at `i` ("3", "3.5", "1,000").
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&b) = bytes.get(i) {
        let inner = (b == b'.' || b == b',') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if b.is_ascii_digit() || inner {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// The prose verdict of a text without labels (see the module header).
pub(super) fn prose_verdict(text: &str) -> Option<Found> {
    let lower = text.to_ascii_lowercase();
    let t = Text::scan(text, &lower);
    let mut best: Option<(bool, Found)> = None;
    // A heading such as "Conclusion:" marks the sentence after it.
    let mut carried = false;
    for s in &t.sentences {
        if s.question || t.sentence_opens_conditional(s) {
            carried = false;
            continue;
        }
        let marked = t.marked(s);
        let Some(found) = t.sentence_verdict(s) else {
            carried = marked;
            continue;
        };
        let ranked = marked || carried;
        carried = false;
        if ranked || best.as_ref().is_none_or(|(was_ranked, _)| !was_ranked) {
            best = Some((ranked, found));
        }
    }
    best.map(|(_, found)| found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_membership_is_by_whole_word() {
        assert!(is("is are was", "is") && is("is are was", "are") && is("is are was", "was"));
        assert!(!is("is are was", "a") && !is("is are was", "as") && !is("is are was", ""));
        assert!(!is("is are was", "is are"));
    }

    #[test]
    fn words_clauses_and_sentences() {
        let text = "The answer isn’t 3.5, but it's wrong. Is it?";
        let lower = text.to_ascii_lowercase();
        let t = Text::scan(text, &lower);
        let words: Vec<&str> = t.words.iter().map(|w| w.lower.as_ref()).collect();
        assert_eq!(words, ["the", "answer", "isn't", "3.5", "but", "it's", "wrong", "is", "it"]);
        let clauses: Vec<usize> = t.words.iter().map(|w| w.clause).collect();
        assert_eq!(clauses, [0, 0, 0, 0, 1, 1, 1, 2, 2]);
        assert_eq!(t.sentences.len(), 2);
        assert!(!t.sentences[0].question && t.sentences[1].question);
        assert_eq!(&text[t.words[2].range.clone()], "isn’t");
    }
}
