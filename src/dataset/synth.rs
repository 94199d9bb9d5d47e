//! Deterministic generators for the bundled datasets (`datasets/arith.jsonl`,
//! `datasets/choice.jsonl`). Seeded ChaCha8, so the output is byte-stable across platforms;
//! the test `bundled_datasets_match_generator` checks the committed files against it.
//!
//! Every answer is computed twice: once through the worked steps (each an exact integer
//! operation that rejects remainders, negatives and large values) and once from a closed-form
//! formula; a mismatch is a generator bug and fails generation.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::domain::{AnswerKind, Item, ItemId, Meta};

pub const ARITH_SEED: u64 = 20_250_301;
pub const ARITH_COUNT: usize = 300;
pub const CHOICE_SEED: u64 = 20_250_302;
pub const CHOICE_COUNT: usize = 60;

/// Largest intermediate value allowed in a word problem: keeps the arithmetic modest.
const LIMIT: i64 = 20_000;
/// Draws a template may reject in a row before generation gives up.
const MAX_DRAWS: usize = 1_000;

/// A generator bug (never a property of the random draw).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dataset generator: {0}")]
pub struct SynthError(String);

/// This draw breaks a template's constraints (remainder, negative, too large): draw again.
struct Reject;

type Rng8 = ChaCha8Rng;

fn pick<T: Copy>(r: &mut Rng8, xs: &[T]) -> T {
    xs[r.random_range(0..xs.len())]
}

fn pick_two<T: Copy + PartialEq>(r: &mut Rng8, xs: &[T]) -> (T, T) {
    let a = pick(r, xs);
    let rest: Vec<T> = xs.iter().copied().filter(|x| *x != a).collect();
    (a, pick(r, &rest))
}

#[derive(Clone, Copy, PartialEq)]
struct Person {
    name: &'static str,
    she: bool,
}

impl Person {
    fn he(self) -> &'static str {
        if self.she { "she" } else { "he" }
    }
    fn he_c(self) -> &'static str {
        if self.she { "She" } else { "He" }
    }
    fn his(self) -> &'static str {
        if self.she { "her" } else { "his" }
    }
}

const PEOPLE: [Person; 24] = {
    const fn p(name: &'static str, she: bool) -> Person {
        Person { name, she }
    }
    [
        p("Ava", true),
        p("Ben", false),
        p("Carla", true),
        p("Diego", false),
        p("Elena", true),
        p("Farid", false),
        p("Grace", true),
        p("Hiro", false),
        p("Isla", true),
        p("Jamal", false),
        p("Keiko", true),
        p("Liam", false),
        p("Maya", true),
        p("Noah", false),
        p("Olivia", true),
        p("Pedro", false),
        p("Priya", true),
        p("Omar", false),
        p("Rosa", true),
        p("Sven", false),
        p("Tara", true),
        p("Victor", false),
        p("Wen", true),
        p("Yusuf", false),
    ]
};

fn person(r: &mut Rng8) -> Person {
    pick(r, &PEOPLE)
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// One exact operation of a worked solution.
struct Calc {
    v: i64,
    expr: String,
}

impl Calc {
    /// GSM8K style: `4*3 = <<4*3=12>>12`.
    fn t(&self) -> String {
        format!("{e} = <<{e}={v}>>{v}", e = self.expr, v = self.v)
    }
    /// Money: `4*3 = $<<4*3=12>>12`.
    fn m(&self) -> String {
        format!("{e} = $<<{e}={v}>>{v}", e = self.expr, v = self.v)
    }
}

fn bounded(v: Option<i64>) -> Result<i64, Reject> {
    v.filter(|v| (1..=LIMIT).contains(v)).ok_or(Reject)
}

fn calc(a: i64, op: Op, b: i64) -> Result<Calc, Reject> {
    let (sym, v) = match op {
        Op::Add => ('+', a.checked_add(b)),
        Op::Sub => ('-', a.checked_sub(b)),
        Op::Mul => ('*', a.checked_mul(b)),
        // Division only when exact: every intermediate result is an integer.
        Op::Div => ('/', if a.checked_rem(b) == Some(0) { a.checked_div(b) } else { None }),
    };
    Ok(Calc { v: bounded(v)?, expr: format!("{a}{sym}{b}") })
}

fn sum3(a: i64, b: i64, c: i64) -> Result<Calc, Reject> {
    let v = a.checked_add(b).and_then(|s| s.checked_add(c));
    Ok(Calc { v: bounded(v)?, expr: format!("{a}+{b}+{c}") })
}

use Op::{Add, Div, Mul, Sub};

/// A drawn word problem: `answer` comes from the steps, `expected` from a formula.
struct Problem {
    question: String,
    steps: Vec<String>,
    answer: i64,
    expected: i64,
}

fn done(
    question: String,
    steps: Vec<String>,
    answer: i64,
    expected: i64,
) -> Result<Problem, Reject> {
    Ok(Problem { question, steps, answer, expected })
}

type Template = fn(&mut Rng8) -> Result<Problem, Reject>;

const TEMPLATES: [(&str, Template); 18] = [
    ("shopping", shopping),
    ("travel", travel),
    ("sharing", sharing),
    ("savings", savings),
    ("area", area),
    ("bakery", bakery),
    ("eggs", eggs),
    ("reading", reading),
    ("school", school),
    ("harvest", harvest),
    ("wages", wages),
    ("tickets", tickets),
    ("fence", fence),
    ("ages", ages),
    ("tank", tank),
    ("pizza", pizza),
    ("collection", collection),
    ("inventory", inventory),
];

fn shopping(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let goods = [
        "notebooks",
        "pens",
        "mugs",
        "candles",
        "apples",
        "rulers",
        "plant pots",
        "towels",
        "batteries",
    ];
    let (g1, g2) = pick_two(r, &goods);
    let (a, pa) = (r.random_range(2..=9), r.random_range(2..=15));
    let (b, pb) = (r.random_range(2..=9), r.random_range(2..=12));
    let x = calc(a, Mul, pa)?;
    let y = calc(b, Mul, pb)?;
    let t = calc(x.v, Add, y.v)?;
    let mut q = format!("{} buys {a} {g1} for ${pa} each and {b} {g2} for ${pb} each.", p.name);
    let mut steps = vec![
        format!("The {g1} cost {}.", x.m()),
        format!("The {g2} cost {}.", y.m()),
        format!("Altogether {} spends {}.", p.he(), t.m()),
    ];
    let formula = a * pa + b * pb;
    if r.random_bool(0.5) {
        let bill = [50, 100, 200].into_iter().find(|&b| b > t.v).ok_or(Reject)?;
        let c = calc(bill, Sub, t.v)?;
        q += &format!(
            " {} pays with a ${bill} bill. How much change does {} get?",
            p.he_c(),
            p.he()
        );
        steps.push(format!("{} gets {} in change.", p.he_c(), c.m()));
        done(q, steps, c.v, bill - formula)
    } else {
        q += &format!(" How much does {} spend in total?", p.he());
        done(q, steps, t.v, formula)
    }
}

fn travel(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let (verb, lo, hi) = pick(r, &[("drives", 8, 18), ("cycles", 3, 5), ("rides a scooter", 4, 7)]);
    let (s1, s2) = (r.random_range(lo..=hi) * 5, r.random_range(lo..=hi) * 5);
    let (h1, h2) = (r.random_range(2..=5), r.random_range(1..=4));
    let x = calc(s1, Mul, h1)?;
    let y = calc(s2, Mul, h2)?;
    let t = calc(x.v, Add, y.v)?;
    let mut q = format!(
        "{} {verb} at {s1} km per hour for {h1} hours and then at {s2} km per hour for {h2} hours.",
        p.name
    );
    let mut steps = vec![
        format!("In the first part {} covers {} km.", p.he(), x.t()),
        format!("In the second part {} covers {} km.", p.he(), y.t()),
        format!("In total {} travels {} km.", p.he(), t.t()),
    ];
    let formula = s1 * h1 + s2 * h2;
    if r.random_bool(0.5) {
        let trip = t.v + r.random_range(2..=30) * 10;
        let left = calc(trip, Sub, t.v)?;
        q += &format!(" The whole trip is {trip} km long. How many kilometres are left?");
        steps.push(format!("{} km are left.", cap(&left.t())));
        done(q, steps, left.v, trip - formula)
    } else {
        q += &format!(" How many kilometres does {} travel in total?", p.he());
        done(q, steps, t.v, formula)
    }
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn sharing(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let sweets = pick(r, &["sweets", "stickers", "marbles", "cookies", "crayons"]);
    let (n, k, f) = (r.random_range(2..=8), r.random_range(6..=24), r.random_range(2..=6));
    let total = calc(n, Mul, k)?;
    let mut steps = vec![format!("{} has {} {sweets}.", p.name, total.t())];
    let mut q = format!("{} has {n} bags of {sweets} with {k} in each bag.", p.name);
    let (rest, formula_rest, what) = if r.random_bool(0.5) {
        let e = r.random_range(2..=9);
        let left = calc(total.v, Sub, e)?;
        q += &format!(" {} gives {e} of them to {} teacher.", p.he_c(), p.his());
        steps.push(format!("After giving {e} away, {} has {} {sweets} left.", p.he(), left.t()));
        (left.v, n * k - e, "the rest")
    } else {
        (total.v, n * k, "them")
    };
    let each = calc(rest, Div, f)?;
    q += &format!(
        " {} shares {what} equally among {f} friends. How many {sweets} does each friend get?",
        p.he_c()
    );
    steps.push(format!("Each friend gets {} {sweets}.", each.t()));
    done(q, steps, each.v, formula_rest / f)
}

fn savings(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let (start, w, n) =
        (r.random_range(2..=30) * 5, r.random_range(5..=25), r.random_range(3..=12));
    let saved = calc(w, Mul, n)?;
    let mut q = format!(
        "{} has ${start} in {} piggy bank. {} saves ${w} every week for {n} weeks.",
        p.name,
        p.his(),
        p.he_c()
    );
    let mut steps = vec![format!("In {n} weeks {} saves {}.", p.he(), saved.m())];
    let mut formula = start + w * n;
    let total = if r.random_bool(0.5) {
        let (e, c) = (r.random_range(4..=15), r.random_range(2..=6));
        let earned = calc(e, Mul, c)?;
        q += &format!(" {} also earns ${e} for each of the {c} lawns {} mows.", p.he_c(), p.he());
        steps.push(format!("Mowing lawns earns {} {}.", p.his(), earned.m()));
        formula += e * c;
        let t = sum3(start, saved.v, earned.v)?;
        steps.push(format!("{} now has {}.", p.he_c(), t.m()));
        t.v
    } else {
        let t = calc(start, Add, saved.v)?;
        steps.push(format!("{} now has {}.", p.he_c(), t.m()));
        t.v
    };
    if r.random_bool(0.5) {
        let thing = pick(r, &["bike", "game", "jacket", "telescope", "guitar", "skateboard"]);
        let cost = r.random_range(total / 4..=total * 3 / 4).max(1);
        let left = calc(total, Sub, cost)?;
        q += &format!(
            " Then {} buys a {thing} for ${cost}. How much money does {} have left?",
            p.he(),
            p.he()
        );
        steps.push(format!("After buying the {thing}, {} has {} left.", p.he(), left.m()));
        done(q, steps, left.v, formula - cost)
    } else {
        q += &format!(" How much money does {} have now?", p.he());
        done(q, steps, total, formula)
    }
}

fn area(r: &mut Rng8) -> Result<Problem, Reject> {
    let (place, cover, unit, sq, sqs) = pick(
        r,
        &[
            ("room", "Carpet", "feet", "square foot", "square feet"),
            ("patio", "Tiling", "metres", "square metre", "square metres"),
            ("garden", "Turf", "metres", "square metre", "square metres"),
            ("hall", "Wood flooring", "metres", "square metre", "square metres"),
        ],
    );
    let (l, w, c) = (r.random_range(4..=20), r.random_range(3..=15), r.random_range(2..=12));
    let a = calc(l, Mul, w)?;
    if r.random_bool(0.35) {
        let (l2, w2) = (r.random_range(3..=15), r.random_range(3..=12));
        let b = calc(l2, Mul, w2)?;
        let t = calc(a.v, Add, b.v)?;
        let cost = calc(t.v, Mul, c)?;
        let q = format!(
            "One {place} is {l} {unit} long and {w} {unit} wide, and a second {place} is {l2} {unit} long and {w2} {unit} wide. {cover} costs ${c} per {sq}. How much does it cost to cover both?"
        );
        let steps = vec![
            format!("The first {place} has an area of {} {sqs}.", a.t()),
            format!("The second {place} has an area of {} {sqs}.", b.t()),
            format!("Together they cover {} {sqs}.", t.t()),
            format!("Covering both costs {}.", cost.m()),
        ];
        return done(q, steps, cost.v, (l * w + l2 * w2) * c);
    }
    let cost = calc(a.v, Mul, c)?;
    let mut q =
        format!("A {place} is {l} {unit} long and {w} {unit} wide. {cover} costs ${c} per {sq}.");
    let mut steps = vec![
        format!("The {place} has an area of {} {sqs}.", a.t()),
        format!("The {} costs {}.", cover.to_lowercase(), cost.m()),
    ];
    if r.random_bool(0.5) {
        let fee = r.random_range(2..=12) * 10;
        let t = calc(cost.v, Add, fee)?;
        q += &format!(
            " Fitting costs an extra ${fee}. How much does it cost to cover the {place} in total?"
        );
        steps.push(format!("With fitting the total is {}.", t.m()));
        done(q, steps, t.v, l * w * c + fee)
    } else {
        q += &format!(" How much does it cost to cover the {place}?");
        done(q, steps, cost.v, l * w * c)
    }
}

fn bakery(r: &mut Rng8) -> Result<Problem, Reject> {
    let food = pick(r, &["muffins", "cookies", "bread rolls", "cupcakes", "bagels"]);
    let (b, k, m) = (r.random_range(2..=9), r.random_range(6..=30), pick(r, &[4, 6, 8, 10, 12]));
    let total = calc(b, Mul, k)?;
    let mut q = format!("A bakery bakes {b} batches of {food} with {k} {food} in each batch.");
    let mut steps = vec![format!("The bakery bakes {} {food}.", total.t())];
    let (rest, formula_rest) = if r.random_bool(0.5) {
        let s = r.random_range(2..=12);
        let left = calc(total.v, Sub, s)?;
        q += &format!(" It keeps {s} for the staff and packs the rest into boxes of {m}.");
        steps.push(format!("After the staff's share, {} {food} are left.", left.t()));
        (left.v, b * k - s)
    } else {
        q += &format!(" It packs them into boxes of {m}.");
        (total.v, b * k)
    };
    let boxes = calc(rest, Div, m)?;
    steps.push(format!("That fills {} boxes.", boxes.t()));
    if r.random_bool(0.5) {
        let price = r.random_range(3..=15);
        let money = calc(boxes.v, Mul, price)?;
        q += &format!(
            " Each box sells for ${price}. How much money does the bakery make by selling all the boxes?"
        );
        steps.push(format!("Selling them makes {}.", money.m()));
        done(q, steps, money.v, formula_rest / m * price)
    } else {
        q += " How many boxes does it fill?";
        done(q, steps, boxes.v, formula_rest / m)
    }
}

fn eggs(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let (n, e, price) =
        (pick(r, &[6, 12, 18, 24, 30]), r.random_range(3..=7), r.random_range(2..=6));
    let week = calc(n, Mul, e)?;
    let mut q = format!(
        "{} has {n} hens, and each hen lays {e} eggs a week. {} sells the eggs for ${price} a dozen.",
        p.name,
        p.he_c()
    );
    let mut steps = vec![format!("The hens lay {} eggs a week.", week.t())];
    let (eggs, weeks) = if r.random_bool(0.5) {
        let w = r.random_range(2..=6);
        let all = calc(week.v, Mul, w)?;
        q += &format!(" How much money does {} make in {w} weeks?", p.he());
        steps.push(format!("In {w} weeks they lay {} eggs.", all.t()));
        (all.v, w)
    } else {
        q += &format!(" How much money does {} make each week?", p.he());
        (week.v, 1)
    };
    let dozens = calc(eggs, Div, 12)?;
    let money = calc(dozens.v, Mul, price)?;
    steps.push(format!("That is {} dozen.", dozens.t()));
    steps.push(format!("{} makes {}.", p.he_c(), money.m()));
    done(q, steps, money.v, n * e * weeks / 12 * price)
}

fn reading(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let thing = pick(r, &["book", "novel", "textbook", "comic collection"]);
    let (pages, d1) = (r.random_range(2..=6) * 5, r.random_range(2..=7));
    let first = calc(pages, Mul, d1)?;
    let leftover = r.random_range(5..=60);
    if r.random_bool(0.5) {
        let d2 = r.random_range(2..=5);
        let doubled = calc(pages, Mul, 2)?;
        let second = calc(doubled.v, Mul, d2)?;
        let read = calc(first.v, Add, second.v)?;
        let total = read.v + leftover;
        let left = calc(total, Sub, read.v)?;
        let q = format!(
            "A {thing} has {total} pages. {} reads {pages} pages a day for {d1} days, and then twice as many pages a day for {d2} more days. How many pages does {} still have to read?",
            p.name,
            p.he()
        );
        let steps = vec![
            format!("In the first {d1} days {} reads {} pages.", p.he(), first.t()),
            format!("Then {} reads {} pages a day.", p.he(), doubled.t()),
            format!("In the next {d2} days {} reads {} pages.", p.he(), second.t()),
            format!("Altogether {} has read {} pages.", p.he(), read.t()),
            format!("{} pages are left.", cap(&left.t())),
        ];
        done(q, steps, left.v, total - (pages * d1 + 2 * pages * d2))
    } else {
        let total = first.v + leftover;
        let left = calc(total, Sub, first.v)?;
        let q = format!(
            "A {thing} has {total} pages. {} reads {pages} pages a day for {d1} days. How many pages does {} still have to read?",
            p.name,
            p.he()
        );
        let steps = vec![
            format!("{} reads {} pages.", p.he_c(), first.t()),
            format!("{} pages are left.", cap(&left.t())),
        ];
        done(q, steps, left.v, total - pages * d1)
    }
}

fn school(r: &mut Rng8) -> Result<Problem, Reject> {
    let thing = pick(r, &["notebooks", "pencils", "folders", "erasers"]);
    let (c, s, n, k) = (
        r.random_range(3..=9),
        r.random_range(18..=32),
        r.random_range(2..=5),
        pick(r, &[4, 5, 6, 8, 10]),
    );
    let students = calc(c, Mul, s)?;
    let needed = calc(students.v, Mul, n)?;
    let packs = calc(needed.v, Div, k)?;
    let mut q = format!(
        "A school has {c} classes with {s} students in each class. Every student needs {n} {thing}, and {thing} come in packs of {k}."
    );
    let mut steps = vec![
        format!("There are {} students.", students.t()),
        format!("They need {} {thing}.", needed.t()),
        format!("That is {} packs.", packs.t()),
    ];
    if r.random_bool(0.5) {
        let price = r.random_range(2..=9);
        let cost = calc(packs.v, Mul, price)?;
        q += &format!(" Each pack costs ${price}. How much does the school spend on {thing}?");
        steps.push(format!("The packs cost {}.", cost.m()));
        done(q, steps, cost.v, c * s * n / k * price)
    } else {
        q += " How many packs does the school need?";
        done(q, steps, packs.v, c * s * n / k)
    }
}

fn harvest(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let (f1, f2, f3) = pick(
        r,
        &[
            ("apples", "oranges", "pears"),
            ("tomatoes", "peppers", "cucumbers"),
            ("strawberries", "cherries", "plums"),
        ],
    );
    let (a, m, c) = (r.random_range(5..=30), r.random_range(2..=4), r.random_range(2..=15));
    let second = calc(a, Mul, m)?;
    let third = calc(second.v, Sub, c)?;
    let total = sum3(a, second.v, third.v)?;
    let mut q = format!(
        "{} picks {a} {f1}. {} picks {m} times as many {f2} as {f1} and {c} fewer {f3} than {f2}.",
        p.name,
        p.he_c()
    );
    let mut steps = vec![
        format!("{} picks {} {f2}.", p.he_c(), second.t()),
        format!("{} picks {} {f3}.", p.he_c(), third.t()),
        format!("In total {} picks {} pieces.", p.he(), total.t()),
    ];
    let formula = a + a * m + (a * m - c);
    if r.random_bool(0.5) {
        let kept = calc(total.v, Div, 2)?;
        q += &format!(
            " {} gives half of everything to {} neighbour. How many pieces does {} keep?",
            p.he_c(),
            p.his(),
            p.he()
        );
        steps.push(format!("{} keeps {} pieces.", p.he_c(), kept.t()));
        done(q, steps, kept.v, formula / 2)
    } else {
        q += &format!(" How many pieces does {} pick in total?", p.he());
        done(q, steps, total.v, formula)
    }
}

fn wages(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let (h, d, rate) = (r.random_range(3..=8), r.random_range(3..=6), r.random_range(8..=20));
    let (o, orate) = (r.random_range(2..=6), rate + r.random_range(2..=8));
    let hours = calc(h, Mul, d)?;
    let base = calc(hours.v, Mul, rate)?;
    let extra = calc(o, Mul, orate)?;
    let total = calc(base.v, Add, extra.v)?;
    let mut q = format!(
        "{} works {h} hours a day for {d} days at ${rate} an hour. {} also works {o} hours of overtime at ${orate} an hour.",
        p.name,
        p.he_c()
    );
    let mut steps = vec![
        format!("{} regular hours are {} hours.", cap(p.his()), hours.t()),
        format!("They pay {}.", base.m()),
        format!("The overtime pays {}.", extra.m()),
        format!("{} earns {} in total.", p.he_c(), total.m()),
    ];
    let formula = h * d * rate + o * orate;
    if r.random_bool(0.5) {
        let spent = r.random_range(2..=total.v / 20).max(1) * 10;
        let left = calc(total.v, Sub, spent)?;
        q += &format!(
            " {} spends ${spent} on groceries. How much of {} pay is left?",
            p.he_c(),
            p.his()
        );
        steps.push(format!("{} has {} left.", p.he_c(), left.m()));
        done(q, steps, left.v, formula - spent)
    } else {
        q += &format!(" How much does {} earn?", p.he());
        done(q, steps, total.v, formula)
    }
}

fn tickets(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let venue = pick(r, &["zoo", "museum", "aquarium", "theme park", "cinema"]);
    let (adult, child) = (r.random_range(8..=30), r.random_range(3..=15));
    let (a, k) = (r.random_range(1..=4), r.random_range(2..=6));
    let x = calc(a, Mul, adult)?;
    let y = calc(k, Mul, child)?;
    let t = calc(x.v, Add, y.v)?;
    let adults = if a == 1 { "1 adult".to_string() } else { format!("{a} adults") };
    let mut q = format!(
        "Adult tickets to the {venue} cost ${adult} and child tickets cost ${child}. {} buys tickets for {adults} and {k} children.",
        p.name
    );
    let mut steps = vec![
        format!("The adult tickets cost {}.", x.m()),
        format!("The child tickets cost {}.", y.m()),
        format!("Together they cost {}.", t.m()),
    ];
    let formula = a * adult + k * child;
    if r.random_bool(0.5) {
        let off = pick(r, &[5, 10, 15, 20]);
        let pay = calc(t.v, Sub, off)?;
        q += &format!(
            " {} has a coupon for ${off} off the total. How much does {} pay?",
            p.he_c(),
            p.he()
        );
        steps.push(format!("With the coupon {} pays {}.", p.he(), pay.m()));
        done(q, steps, pay.v, formula - off)
    } else {
        q += &format!(" How much does {} pay?", p.he());
        done(q, steps, t.v, formula)
    }
}

fn fence(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let field = pick(r, &["garden", "paddock", "playground", "vegetable patch"]);
    let (l, w, c) = (r.random_range(5..=40), r.random_range(4..=30), r.random_range(3..=15));
    let half = calc(l, Add, w)?;
    let perim = calc(half.v, Mul, 2)?;
    let mut q = format!(
        "A rectangular {field} is {l} metres long and {w} metres wide. {} puts a fence around it",
        p.name
    );
    let mut steps = vec![
        format!("One long side and one short side make {} metres.", half.t()),
        format!("The perimeter is {} metres.", perim.t()),
    ];
    let (length, formula_len) = if r.random_bool(0.5) {
        let g = r.random_range(2..=4);
        let fenced = calc(perim.v, Sub, g)?;
        q += &format!(", leaving a gap {g} metres wide for a gate.");
        steps.push(format!("Without the gate {} needs {} metres of fence.", p.he(), fenced.t()));
        (fenced.v, 2 * (l + w) - g)
    } else {
        q += ".";
        (perim.v, 2 * (l + w))
    };
    let cost = calc(length, Mul, c)?;
    q += &format!(" Fencing costs ${c} per metre. How much does the fence cost?");
    steps.push(format!("The fence costs {}.", cost.m()));
    done(q, steps, cost.v, formula_len * c)
}

fn ages(r: &mut Rng8) -> Result<Problem, Reject> {
    let a = person(r);
    let b = loop {
        let x = person(r);
        if x != a {
            break x;
        }
    };
    let c = loop {
        let x = person(r);
        if x != a && x != b {
            break x;
        }
    };
    let (age, m, k) = (r.random_range(3..=14), r.random_range(2..=4), r.random_range(2..=9));
    let bage = calc(age, Mul, m)?;
    let cage = calc(bage.v, Sub, k)?;
    let total = sum3(age, bage.v, cage.v)?;
    let mut q = format!(
        "{} is {age} years old. {} is {m} times as old as {}, and {} is {k} years younger than {}.",
        a.name, b.name, a.name, c.name, b.name
    );
    let mut steps = vec![
        format!("{} is {} years old.", b.name, bage.t()),
        format!("{} is {} years old.", c.name, cage.t()),
        format!("Together they are {} years old.", total.t()),
    ];
    let formula = age + age * m + (age * m - k);
    if r.random_bool(0.4) {
        let y = r.random_range(2..=10);
        let gain = calc(3, Mul, y)?;
        let later = calc(total.v, Add, gain.v)?;
        q += &format!(" What will the sum of their ages be in {y} years?");
        steps.push(format!("In {y} years each is {y} years older, adding {} years.", gain.t()));
        steps.push(format!("The sum will be {}.", later.t()));
        done(q, steps, later.v, formula + 3 * y)
    } else {
        q += " What is the sum of their ages?";
        done(q, steps, total.v, formula)
    }
}

fn tank(r: &mut Rng8) -> Result<Problem, Reject> {
    let (r1, m1) = (r.random_range(5..=30), r.random_range(3..=20));
    let first = calc(r1, Mul, m1)?;
    if r.random_bool(0.5) {
        let (r2, m2) = (r.random_range(5..=30), r.random_range(3..=20));
        let second = calc(r2, Mul, m2)?;
        let both = calc(first.v, Add, second.v)?;
        let cap_l = (both.v / 50 + r.random_range(1..=6)) * 50;
        let need = calc(cap_l, Sub, both.v)?;
        let q = format!(
            "A tank holds {cap_l} litres. One pump adds {r1} litres a minute for {m1} minutes, and then a second pump adds {r2} litres a minute for {m2} minutes. How many more litres are needed to fill the tank?"
        );
        let steps = vec![
            format!("The first pump adds {} litres.", first.t()),
            format!("The second pump adds {} litres.", second.t()),
            format!("Together they add {} litres.", both.t()),
            format!("The tank still needs {} litres.", need.t()),
        ];
        done(q, steps, need.v, cap_l - (r1 * m1 + r2 * m2))
    } else {
        let cap_l = (first.v / 50 + r.random_range(1..=6)) * 50;
        let need = calc(cap_l, Sub, first.v)?;
        let q = format!(
            "A tank holds {cap_l} litres. A pump adds {r1} litres a minute for {m1} minutes. How many more litres are needed to fill the tank?"
        );
        let steps = vec![
            format!("The pump adds {} litres.", first.t()),
            format!("The tank still needs {} litres.", need.t()),
        ];
        done(q, steps, need.v, cap_l - r1 * m1)
    }
}

fn pizza(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let (n_pizza, slices) = (r.random_range(2..=8), pick(r, &[6, 8, 10, 12]));
    let (friends, each) = (r.random_range(2..=8), r.random_range(2..=4));
    let total = calc(n_pizza, Mul, slices)?;
    let eaten = calc(friends, Mul, each)?;
    let mut q = format!(
        "{} orders {n_pizza} pizzas, each cut into {slices} slices. {friends} friends eat {each} slices each",
        p.name
    );
    let mut steps = vec![
        format!("There are {} slices.", total.t()),
        format!("The friends eat {} slices.", eaten.t()),
    ];
    let (gone, formula_gone) = if r.random_bool(0.5) {
        let own = r.random_range(2..=4);
        let all = calc(eaten.v, Add, own)?;
        q += &format!(" and {} eats {own} slices.", p.name);
        steps.push(format!("Adding {}'s {own} slices, {} slices are eaten.", p.name, all.t()));
        (all.v, friends * each + own)
    } else {
        q += ".";
        (eaten.v, friends * each)
    };
    let left = calc(total.v, Sub, gone)?;
    q += " How many slices are left over?";
    steps.push(format!("{} slices are left over.", cap(&left.t())));
    done(q, steps, left.v, n_pizza * slices - formula_gone)
}

fn collection(r: &mut Rng8) -> Result<Problem, Reject> {
    let p = person(r);
    let thing = pick(r, &["marbles", "trading cards", "stickers", "stamps", "shells"]);
    let relative = pick(r, &["brother", "sister", "cousin", "best friend"]);
    let (a, b, c) = (r.random_range(20..=90), r.random_range(5..=40), r.random_range(3..=30));
    let won = calc(a, Add, b)?;
    let after = calc(won.v, Sub, c)?;
    let half = calc(after.v, Div, 2)?;
    let mut q = format!(
        "{} has {a} {thing}. {} gets {b} more at a swap meet and then loses {c}. {} gives half of {} {thing} to {} {relative}",
        p.name,
        p.he_c(),
        p.he_c(),
        p.his(),
        p.his()
    );
    let mut steps = vec![
        format!("After the swap meet {} has {} {thing}.", p.he(), won.t()),
        format!("After losing {c}, {} has {} {thing}.", p.he(), after.t()),
        format!("{} gives away half and keeps {} {thing}.", p.he_c(), half.t()),
    ];
    let formula = (a + b - c) / 2;
    if r.random_bool(0.5) {
        let d = r.random_range(3..=20);
        let end = calc(half.v, Add, d)?;
        q += &format!(" and then buys {d} more. How many {thing} does {} have now?", p.he());
        steps.push(format!("After buying more {} has {} {thing}.", p.he(), end.t()));
        done(q, steps, end.v, formula + d)
    } else {
        q += &format!(". How many {thing} does {} have now?", p.he());
        done(q, steps, half.v, formula)
    }
}

fn inventory(r: &mut Rng8) -> Result<Problem, Reject> {
    let thing = pick(r, &["pens", "light bulbs", "soap bars", "tins of soup", "tennis balls"]);
    let (b, k) = (r.random_range(4..=20), pick(r, &[6, 10, 12, 20, 24]));
    let stock = calc(b, Mul, k)?;
    let x = r.random_range(5..=stock.v / 3 + 5);
    let y = r.random_range(5..=stock.v / 3 + 5);
    let sold = calc(x, Add, y)?;
    let left = calc(stock.v, Sub, sold.v)?;
    let mut q = format!(
        "A shop has {b} boxes of {thing} with {k} in each box. It sells {x} {thing} on Monday and {y} on Tuesday."
    );
    let mut steps = vec![
        format!("The shop starts with {} {thing}.", stock.t()),
        format!("It sells {} {thing}.", sold.t()),
        format!("{} {thing} are left.", cap(&left.t())),
    ];
    let formula = b * k - (x + y);
    if r.random_bool(0.5) {
        let z = r.random_range(2..=6);
        let delivered = calc(z, Mul, k)?;
        let now = calc(left.v, Add, delivered.v)?;
        q += &format!(
            " On Wednesday a delivery brings {z} more boxes. How many {thing} does the shop have now?"
        );
        steps.push(format!("The delivery brings {} {thing}.", delivered.t()));
        steps.push(format!("Now the shop has {} {thing}.", now.t()));
        done(q, steps, now.v, formula + z * k)
    } else {
        q += &format!(" How many {thing} are left?");
        done(q, steps, left.v, formula)
    }
}

/// Draw from a template until the draw fits; a step/formula mismatch is a bug.
fn draw(
    r: &mut Rng8,
    seen: &mut HashSet<String>,
    topic: &str,
    template: Template,
) -> Result<Problem, SynthError> {
    for _ in 0..MAX_DRAWS {
        let Ok(p) = template(r) else { continue };
        if p.answer != p.expected {
            return Err(SynthError(format!(
                "template `{topic}`: steps give {} but the formula gives {}",
                p.answer, p.expected
            )));
        }
        if !(2..=5).contains(&p.steps.len()) {
            return Err(SynthError(format!("template `{topic}` made {} steps", p.steps.len())));
        }
        if seen.insert(p.question.clone()) {
            return Ok(p);
        }
    }
    Err(SynthError(format!("template `{topic}` rejected {MAX_DRAWS} draws in a row")))
}

/// The text of `datasets/arith.jsonl`: GSM8K-format word problems, templates in rotation.
pub fn arith_jsonl() -> Result<String, SynthError> {
    let mut r = Rng8::seed_from_u64(ARITH_SEED);
    let mut seen = HashSet::new();
    let mut out = String::new();
    for i in 0..ARITH_COUNT {
        let (topic, template) = TEMPLATES[i % TEMPLATES.len()];
        let p = draw(&mut r, &mut seen, topic, template)?;
        let answer = format!("{}\n#### {}", p.steps.join("\n"), p.answer);
        let line = json!({
            "id": format!("arith-{:03}", i + 1),
            "question": p.question,
            "answer": answer,
            "topic": topic,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
}

/// A drawn multiple-choice question; `candidates` are wrong answers in order of preference.
struct Mc {
    question: String,
    correct: i64,
    candidates: Vec<i64>,
    working: String,
    /// Whether near-miss numbers may fill up missing distractors (not for "which is prime").
    pad: bool,
}

type McTemplate = fn(&mut Rng8) -> Mc;

const MC_TEMPLATES: [(&str, McTemplate); 10] = [
    ("multiplication", mc_multiply),
    ("units", mc_units),
    ("primes", mc_prime),
    ("gcd", mc_gcd),
    ("lcm", mc_lcm),
    ("percent", mc_percent),
    ("remainder", mc_remainder),
    ("square-root", mc_sqrt),
    ("angles", mc_angles),
    ("order-of-operations", mc_order),
];

fn mc_multiply(r: &mut Rng8) -> Mc {
    let (a, b) = (r.random_range(12..=49), r.random_range(11..=29));
    let c = a * b;
    Mc {
        question: format!("What is {a} × {b}?"),
        correct: c,
        candidates: vec![c + 10, c - 10, a * (b + 1), (a + 1) * b, c + 100, c - 1],
        working: format!("{a} × {b} = {c}."),
        pad: true,
    }
}

fn mc_units(r: &mut Rng8) -> Mc {
    let (big, one, small, f) = pick(
        r,
        &[
            ("metres", "metre", "centimetres", 100),
            ("kilograms", "kilogram", "grams", 1000),
            ("litres", "litre", "millilitres", 1000),
            ("hours", "hour", "minutes", 60),
            ("minutes", "minute", "seconds", 60),
            ("days", "day", "hours", 24),
            ("feet", "foot", "inches", 12),
            ("yards", "yard", "feet", 3),
            ("weeks", "week", "days", 7),
            ("kilometres", "kilometre", "metres", 1000),
        ],
    );
    let v = r.random_range(2..=15);
    let c = v * f;
    let mut candidates = vec![c * 10, (v + 1) * f, (v - 1) * f, v + f];
    if c % 10 == 0 {
        candidates.insert(1, c / 10);
    }
    Mc {
        question: format!("How many {small} are in {v} {big}?"),
        correct: c,
        candidates,
        working: format!("One {one} is {f} {small}, so {v} {big} is {v} × {f} = {c} {small}."),
        pad: true,
    }
}

fn mc_prime(r: &mut Rng8) -> Mc {
    const PRIMES: [i64; 17] = [23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97];
    // Odd composites that are easy to mistake for primes.
    const COMPOSITES: [i64; 14] = [21, 27, 33, 39, 49, 51, 57, 63, 69, 77, 81, 87, 91, 93];
    let p = pick(r, &PRIMES);
    let mut candidates = COMPOSITES.to_vec();
    candidates.shuffle(r);
    Mc {
        question: "Which of these numbers is prime?".to_string(),
        correct: p,
        candidates,
        working: format!(
            "{p} is not divisible by 2, 3, 5 or 7, and 11 × 11 = 121 is larger than {p}, so {p} is prime; each of the other numbers has a factor other than 1 and itself."
        ),
        pad: false,
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn mc_gcd(r: &mut Rng8) -> Mc {
    let g = r.random_range(2..=15);
    let (m, n) = loop {
        let (m, n) = (r.random_range(2..=9), r.random_range(2..=9));
        if m != n && gcd(m, n) == 1 {
            break (m, n);
        }
    };
    let (a, b) = (g * m, g * n);
    let mut candidates = vec![g * 2, g * 3, g + 1, g - 1, m * n];
    if g % 2 == 0 {
        candidates.insert(0, g / 2);
    }
    Mc {
        question: format!("What is the greatest common divisor of {a} and {b}?"),
        correct: g,
        candidates,
        working: format!(
            "{a} = {g} × {m} and {b} = {g} × {n}, and {m} and {n} have no common factor, so the greatest common divisor is {g}."
        ),
        pad: true,
    }
}

fn mc_lcm(r: &mut Rng8) -> Mc {
    let (a, b) = loop {
        let (a, b) = (r.random_range(4..=18), r.random_range(4..=18));
        if a < b && b % a != 0 {
            break (a, b);
        }
    };
    let g = gcd(a, b);
    let l = a * b / g;
    Mc {
        question: format!("What is the least common multiple of {a} and {b}?"),
        correct: l,
        candidates: vec![a * b, l * 2, l + a, l + b, a + b, l - a],
        working: format!(
            "The greatest common divisor of {a} and {b} is {g}, so the least common multiple is {a} × {b} ÷ {g} = {l}."
        ),
        pad: true,
    }
}

fn mc_percent(r: &mut Rng8) -> Mc {
    let p = pick(r, &[10, 15, 20, 25, 30, 40, 60, 75]);
    // A multiple of 20 makes every listed percentage a whole number.
    let n = r.random_range(2..=30) * 20;
    let c = p * n / 100;
    let mut candidates = vec![c * 2, n - c, c + n / 10, c + 5, c - 5, p * n / 10];
    if c % 2 == 0 {
        candidates.insert(2, c / 2);
    }
    Mc {
        question: format!("What is {p}% of {n}?"),
        correct: c,
        candidates,
        working: format!("{p}% of {n} is {n} × {p} ÷ 100 = {c}."),
        pad: true,
    }
}

fn mc_remainder(r: &mut Rng8) -> Mc {
    let d = r.random_range(5..=12);
    let (q, rem) = (r.random_range(6..=40), r.random_range(1..d));
    let a = d * q + rem;
    Mc {
        question: format!("What is the remainder when {a} is divided by {d}?"),
        correct: rem,
        candidates: vec![q, rem + 1, rem - 1, d - rem, d, rem + 2],
        working: format!("{a} = {d} × {q} + {rem}, so the remainder is {rem}."),
        pad: true,
    }
}

fn mc_sqrt(r: &mut Rng8) -> Mc {
    let n = r.random_range(11..=30);
    let sq = n * n;
    Mc {
        question: format!("What is the square root of {sq}?"),
        correct: n,
        candidates: vec![n + 1, n - 1, n * 2, n + 2, n - 2, sq / 2],
        working: format!("{n} × {n} = {sq}, so the square root of {sq} is {n}."),
        pad: true,
    }
}

fn mc_angles(r: &mut Rng8) -> Mc {
    let k = r.random_range(5..=12);
    let c = (k - 2) * 180;
    Mc {
        question: format!(
            "What is the sum of the interior angles, in degrees, of a polygon with {k} sides?"
        ),
        correct: c,
        candidates: vec![k * 180, (k - 1) * 180, (k - 3) * 180, 360, (k - 2) * 90],
        working: format!(
            "A polygon with {k} sides splits into {k} − 2 = {} triangles, so its angles add up to {} × 180 = {c}.",
            k - 2,
            k - 2
        ),
        pad: true,
    }
}

fn mc_order(r: &mut Rng8) -> Mc {
    let (a, b, c) = (r.random_range(2..=20), r.random_range(2..=12), r.random_range(2..=12));
    if r.random_bool(0.5) {
        let res = a + b * c;
        Mc {
            question: format!("What is {a} + {b} × {c}?"),
            correct: res,
            candidates: vec![(a + b) * c, a * b + c, a + b + c, a * b * c],
            working: format!(
                "Multiplication comes before addition: {b} × {c} = {}, and {a} + {} = {res}.",
                b * c,
                b * c
            ),
            pad: true,
        }
    } else {
        // a × b − c with c kept below a × b so the result stays positive.
        let c = c.min(a * b - 1);
        let res = a * b - c;
        Mc {
            question: format!("What is {a} × {b} − {c}?"),
            correct: res,
            candidates: vec![a * (b - c), a * b + c, a + b - c, (a - c) * b],
            working: format!(
                "Multiplication comes first: {a} × {b} = {}, and {} − {c} = {res}.",
                a * b,
                a * b
            ),
            pad: true,
        }
    }
}

/// Pick `n - 1` distinct positive distractors and place the answer at a random position.
fn arrange(
    r: &mut Rng8,
    topic: &str,
    mc: &Mc,
    n: usize,
) -> Result<(Vec<String>, usize), SynthError> {
    let mut wrong: Vec<i64> = Vec::new();
    for &c in &mc.candidates {
        if c > 0 && c != mc.correct && !wrong.contains(&c) {
            wrong.push(c);
        }
    }
    // Prefer the most plausible distractors, but shuffle which of the top ones show up.
    wrong.truncate(n + 1);
    wrong.shuffle(r);
    wrong.truncate(n - 1);
    // Near misses only fill a gap; they are the weakest distractors.
    if mc.pad {
        for d in [1, -1, 2, -2, 3, 10, -10, 20] {
            let c = mc.correct + d;
            if wrong.len() < n - 1 && c > 0 && !wrong.contains(&c) && c != mc.correct {
                wrong.push(c);
            }
        }
    }
    if wrong.len() != n - 1 {
        return Err(SynthError(format!(
            "`{topic}`: only {} distractors for {}",
            wrong.len(),
            mc.question
        )));
    }
    let pos = r.random_range(0..n);
    wrong.insert(pos, mc.correct);
    Ok((wrong.iter().map(i64::to_string).collect(), pos))
}

/// The items of `datasets/choice.jsonl`: question types in rotation, 4 or 5 choices.
pub fn choice_items() -> Result<Vec<Item>, SynthError> {
    let mut r = Rng8::seed_from_u64(CHOICE_SEED);
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(CHOICE_COUNT);
    for i in 0..CHOICE_COUNT {
        let (topic, template) = MC_TEMPLATES[i % MC_TEMPLATES.len()];
        let n = if r.random_bool(0.5) { 4 } else { 5 };
        let mut tries = 0;
        let mc = loop {
            let mc = template(&mut r);
            // "Which is prime?" repeats its wording; the answer keeps those apart.
            if seen.insert((mc.question.clone(), mc.correct)) {
                break mc;
            }
            tries += 1;
            if tries > MAX_DRAWS {
                return Err(SynthError(format!(
                    "`{topic}`: no new question after {MAX_DRAWS} draws"
                )));
            }
        };
        let (choices, pos) = arrange(&mut r, topic, &mc, n)?;
        let letter = char::from(b'A' + u8::try_from(pos).map_err(|e| SynthError(e.to_string()))?);
        if choices.get(pos) != Some(&mc.correct.to_string()) {
            return Err(SynthError(format!("`{topic}`: answer not at its letter")));
        }
        let mut meta = Meta::new();
        meta.insert("topic".into(), Value::String(topic.to_string()));
        meta.insert(
            "solution".into(),
            Value::String(format!(
                "{} {} is option {letter}. The answer is \\boxed{{{letter}}}",
                mc.working, mc.correct
            )),
        );
        items.push(Item {
            id: ItemId(format!("choice-{:03}", i + 1)),
            question: mc.question,
            reference: letter.to_string(),
            answer_kind: AnswerKind::Choice,
            choices: Some(choices),
            given: None,
            source: "choice".to_string(),
            meta,
        });
    }
    Ok(items)
}

/// The text of `datasets/choice.jsonl`: one serialised [`Item`] per line.
pub fn choice_jsonl() -> Result<String, SynthError> {
    let mut out = String::new();
    for item in choice_items()? {
        out.push_str(&serde_json::to_string(&item).map_err(|e| SynthError(e.to_string()))?);
        out.push('\n');
    }
    Ok(out)
}
