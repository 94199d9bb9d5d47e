//! LaTeX / plain-math lexer and recursive-descent parser into [`Node`]. The whole input must
//! parse; anything unknown is an error (the tier then declines rather than guess).

use super::rational::Rational;

/// Longer inputs are declined outright: real answers are far shorter.
pub(crate) const MAX_LEN: usize = 4000;
/// Nesting depth of groups, unary signs and exponents (guards the parser's stack).
const MAX_DEPTH: usize = 64;
/// Nodes per side: bounds the tree height, hence the evaluator's recursion.
const MAX_NODES: usize = 1000;
/// Distinct free symbols over both sides: the evaluator keeps their values on the stack.
pub(crate) const MAX_SYMBOLS: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail;
type R<T> = Result<T, Fail>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Sin,
    Cos,
    Tan,
    Cot,
    Sec,
    Csc,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Ln,
    Exp,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Num(Rational),
    /// A decimal literal: its exact value, digits after the point, significant digits.
    Dec {
        value: Rational,
        places: u32,
        sig: u32,
    },
    Sym(usize),
    Pi,
    E,
    I,
    Inf,
    Neg(Box<Node>),
    Add(Box<Node>, Box<Node>),
    Sub(Box<Node>, Box<Node>),
    Mul(Box<Node>, Box<Node>),
    Div(Box<Node>, Box<Node>),
    Pow(Box<Node>, Box<Node>),
    Func(Func, Box<Node>),
    /// Base, argument.
    Log(Box<Node>, Box<Node>),
    /// Index, radicand.
    Root(Box<Node>, Box<Node>),
    Fact(Box<Node>),
    Abs(Box<Node>),
    /// An angle in degrees.
    Deg(Box<Node>),
}

impl Node {
    pub(crate) fn has_sym(&self) -> bool {
        self.any(&|n| matches!(n, Node::Sym(_)))
    }

    pub(crate) fn has_inf(&self) -> bool {
        self.any(&|n| matches!(n, Node::Inf))
    }

    pub(crate) fn uses(&self, s: usize) -> bool {
        self.any(&|n| *n == Node::Sym(s))
    }

    fn any(&self, f: &dyn Fn(&Node) -> bool) -> bool {
        if f(self) {
            return true;
        }
        match self {
            Node::Neg(a) | Node::Func(_, a) | Node::Fact(a) | Node::Abs(a) | Node::Deg(a) => {
                a.any(f)
            }
            Node::Add(a, b)
            | Node::Sub(a, b)
            | Node::Mul(a, b)
            | Node::Div(a, b)
            | Node::Pow(a, b)
            | Node::Log(a, b)
            | Node::Root(a, b) => a.any(f) || b.any(f),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    Expr(Node),
    Equation(Node, Node),
}

/// Symbol names shared by both sides, so that `x` on each side gets the same value.
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    names: Vec<String>,
}

impl Symbols {
    /// Each symbol's rank among the names in sorted order. Values are drawn by rank, so that
    /// a symbol gets the same value whichever side named it first: the tier is symmetric.
    pub(crate) fn ranks(&self) -> Ranks {
        let mut rank = [0; MAX_SYMBOLS];
        for (k, name) in self.names.iter().enumerate() {
            rank[k] = self.names.iter().filter(|o| *o < name).count();
        }
        Ranks { rank, len: self.names.len() }
    }

    fn intern(&mut self, name: &str) -> R<usize> {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Ok(i);
        }
        if self.names.len() >= MAX_SYMBOLS {
            return Err(Fail);
        }
        self.names.push(name.to_owned());
        Ok(self.names.len() - 1)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranks {
    pub(crate) rank: [usize; MAX_SYMBOLS],
    pub(crate) len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Num(&'a str),
    Letter(char),
    Greek(&'a str),
    Func(Func),
    Log,
    Sqrt,
    Frac,
    Pi,
    Inf,
    Circ,
    Degree,
    Text(&'a str),
    Plus,
    Minus,
    Mul,
    Div,
    Caret,
    Under,
    LParen,
    RParen,
    LBrack,
    RBrack,
    LBrace,
    RBrace,
    Bar,
    Bang,
    Eq,
    Percent,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok<'a>,
    /// The source text, used for subscript names.
    text: &'a str,
}

const GREEK: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
];

/// Function names, longest first so that `sinh` wins over `sin` in plain text.
const WORDS: &[(&str, Tok<'static>)] = &[
    ("arcsin", Tok::Func(Func::Asin)),
    ("arccos", Tok::Func(Func::Acos)),
    ("arctan", Tok::Func(Func::Atan)),
    ("sqrt", Tok::Sqrt),
    ("sinh", Tok::Func(Func::Sinh)),
    ("cosh", Tok::Func(Func::Cosh)),
    ("tanh", Tok::Func(Func::Tanh)),
    ("sin", Tok::Func(Func::Sin)),
    ("cos", Tok::Func(Func::Cos)),
    ("tan", Tok::Func(Func::Tan)),
    ("cot", Tok::Func(Func::Cot)),
    ("sec", Tok::Func(Func::Sec)),
    ("csc", Tok::Func(Func::Csc)),
    ("exp", Tok::Func(Func::Exp)),
    ("log", Tok::Log),
    ("ln", Tok::Func(Func::Ln)),
    ("lg", Tok::Log),
    ("pi", Tok::Pi),
];

fn command(name: &str) -> Option<Tok<'static>> {
    if let Some((_, t)) = WORDS.iter().find(|(w, _)| *w == name) {
        return Some(*t);
    }
    Some(match name {
        "frac" | "dfrac" | "tfrac" | "cfrac" => Tok::Frac,
        "infty" => Tok::Inf,
        "circ" => Tok::Circ,
        "cdot" | "times" | "ast" => Tok::Mul,
        "div" => Tok::Div,
        "lvert" | "rvert" | "vert" => Tok::Bar,
        "%" => Tok::Percent,
        _ => return None,
    })
}

/// Commands that only affect layout.
fn is_layout(name: &str) -> bool {
    matches!(
        name,
        "," | ";" | ":" | "!" | " " | "quad" | "qquad" | "displaystyle" | "textstyle" | "$"
    )
}

/// `\left` and friends: dropped, and a following `.` (the invisible delimiter) with them.
fn is_sizing(name: &str) -> bool {
    matches!(
        name,
        "left" | "right" | "big" | "Big" | "bigl" | "bigr" | "Bigl" | "Bigr" | "bigg" | "Bigg"
    )
}

fn is_text_cmd(name: &str) -> bool {
    matches!(
        name,
        "text"
            | "mathrm"
            | "textrm"
            | "textbf"
            | "mathbf"
            | "mbox"
            | "operatorname"
            | "textit"
            | "mathit"
    )
}

/// Digits of a number starting at `i`: `1,000`, `1{,}000` and `1\,000` group thousands only
/// when every later group has exactly three digits and the first at most three.
fn lex_number(s: &str, i: usize) -> R<usize> {
    let b = s.as_bytes();
    let digits = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let mut j = digits(i);
    if j - i <= 3 && j > i {
        loop {
            let sep = [",", "{,}", "\\,"].iter().find(|p| s[j..].starts_with(**p));
            let Some(sep) = sep else { break };
            let k = j + sep.len();
            let e = digits(k);
            if e - k == 3 {
                j = e;
            } else {
                break;
            }
        }
    }
    if j < b.len() && b[j] == b'.' {
        let k = digits(j + 1);
        if k == j + 1 && j == i {
            return Err(Fail);
        }
        j = k;
    }
    // Scientific notation binds: `1.25e-3` is 0.00125, never 1.25·e − 3.
    if j > i && j < b.len() && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        let e = digits(k);
        if e > k {
            j = e;
        }
    }
    Ok(j)
}

fn lex<'a>(s: &'a str) -> R<Vec<Token<'a>>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(s.len() / 2 + 1);
    let mut i = 0;
    fn push<'a>(out: &mut Vec<Token<'a>>, tok: Tok<'a>, text: &'a str) {
        out.push(Token { tok, text });
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() || c == b'~' || c == b'$' {
            i += 1;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let j = lex_number(s, i)?;
            push(&mut out, Tok::Num(&s[i..j]), &s[i..j]);
            i = j;
        } else if c.is_ascii_alphabetic() {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
            let run = &s[i..j];
            if let Some((w, t)) = WORDS.iter().find(|(w, _)| run.starts_with(*w)) {
                push(&mut out, *t, &s[i..i + w.len()]);
                i += w.len();
            } else {
                push(&mut out, Tok::Letter(char::from(c)), &s[i..i + 1]);
                i += 1;
            }
        } else if c == b'\\' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
            if j == start {
                // A one-character command such as `\,` or `\{`.
                let ch = s[start..].chars().next().ok_or(Fail)?;
                j = start + ch.len_utf8();
            }
            let name = &s[start..j];
            i = j;
            if is_layout(name) {
                continue;
            }
            if is_sizing(name) {
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'.' {
                    i += 1;
                }
                continue;
            }
            if is_text_cmd(name) {
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                if i >= b.len() || b[i] != b'{' {
                    return Err(Fail);
                }
                let close = s[i..].find('}').ok_or(Fail)? + i;
                let inner = &s[i + 1..close];
                if inner.contains('{') {
                    return Err(Fail);
                }
                push(&mut out, Tok::Text(inner), &s[i..=close]);
                i = close + 1;
                continue;
            }
            if let Some(g) = GREEK.iter().find(|g| **g == name) {
                push(&mut out, Tok::Greek(g), &s[start - 1..j]);
                continue;
            }
            let tok = command(name).ok_or(Fail)?;
            push(&mut out, tok, &s[start - 1..j]);
        } else {
            let ch = s[i..].chars().next().ok_or(Fail)?;
            let tok = match ch {
                '+' => Tok::Plus,
                '-' | '−' => Tok::Minus,
                // Python-style `x**2` is a power.
                '*' if b.get(i + 1) == Some(&b'*') => {
                    push(&mut out, Tok::Caret, &s[i..i + 2]);
                    i += 2;
                    continue;
                }
                '*' | '×' | '·' => Tok::Mul,
                '/' | '÷' => Tok::Div,
                '^' => Tok::Caret,
                '_' => Tok::Under,
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '[' => Tok::LBrack,
                ']' => Tok::RBrack,
                '{' => Tok::LBrace,
                '}' => Tok::RBrace,
                '|' => Tok::Bar,
                '!' => Tok::Bang,
                '=' => Tok::Eq,
                '%' => Tok::Percent,
                'π' => Tok::Pi,
                '√' => Tok::Sqrt,
                '⋅' => Tok::Mul,
                '∞' => Tok::Inf,
                '°' => Tok::Degree,
                _ => return Err(Fail),
            };
            let n = ch.len_utf8();
            push(&mut out, tok, &s[i..i + n]);
            i += n;
        }
    }
    Ok(out)
}

/// Drops trailing units: `\text{ cm}`, `\mathrm{m}^2`, `\%`. A lone `\mathrm{e}` stays math.
fn strip_trailing_units(toks: &mut Vec<Token<'_>>) {
    loop {
        let n = toks.len();
        let is_unit = |t: &Token<'_>| match t.tok {
            Tok::Text(s) => !matches!(s.trim(), "e" | "i"),
            _ => false,
        };
        if n >= 2 && (toks[n - 1].tok == Tok::Percent || is_unit(&toks[n - 1])) {
            toks.pop();
        } else if n >= 4
            && is_unit(&toks[n - 3])
            && toks[n - 2].tok == Tok::Caret
            && matches!(toks[n - 1].tok, Tok::Num(_))
        {
            toks.truncate(n - 3);
        } else if n >= 6
            && is_unit(&toks[n - 5])
            && toks[n - 4].tok == Tok::Caret
            && toks[n - 3].tok == Tok::LBrace
            && matches!(toks[n - 2].tok, Tok::Num(_))
            && toks[n - 1].tok == Tok::RBrace
        {
            toks.truncate(n - 5);
        } else {
            return;
        }
    }
}

/// A whole side written in degrees (`30^\circ`) is an angle unit, like `cm`: it is dropped.
/// Inside a function (`\sin 30^\circ`) degrees convert to radians.
fn strip_degrees(n: Node) -> Node {
    match n {
        Node::Deg(x) => *x,
        Node::Neg(x) => match *x {
            Node::Deg(y) => Node::Neg(y),
            other => Node::Neg(Box::new(other)),
        },
        other => other,
    }
}

pub(crate) fn parse(s: &str, syms: &mut Symbols) -> R<Parsed> {
    if s.len() > MAX_LEN {
        return Err(Fail);
    }
    let s = s.trim().trim_end_matches('.');
    let mut toks = lex(s)?;
    strip_trailing_units(&mut toks);
    if toks.is_empty() {
        return Err(Fail);
    }
    let mut p = Parser { toks, pos: 0, depth: 0, nodes: 0, in_abs: false, syms };
    let lhs = strip_degrees(p.expr()?);
    let out = if p.eat(Tok::Eq) {
        Parsed::Equation(lhs, strip_degrees(p.expr()?))
    } else {
        Parsed::Expr(lhs)
    };
    if p.pos != p.toks.len() {
        return Err(Fail);
    }
    Ok(out)
}

struct Parser<'a, 's> {
    toks: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
    nodes: usize,
    /// Inside `|…|` a bar closes instead of opening a new absolute value.
    in_abs: bool,
    syms: &'s mut Symbols,
}

fn parse_number(text: &str) -> R<Node> {
    let (mant, exp) = match text.find(['e', 'E']) {
        Some(k) => (&text[..k], text[k + 1..].parse::<i32>().map_err(|_| Fail)?),
        None => (text, 0),
    };
    let (int_part, frac) = match mant.find('.') {
        Some(k) => (&mant[..k], &mant[k + 1..]),
        None => (mant, ""),
    };
    let mut m: i128 = 0;
    let mut sig = 0u32;
    for ch in int_part.bytes().chain(frac.bytes()).filter(u8::is_ascii_digit) {
        m = m.checked_mul(10).and_then(|m| m.checked_add(i128::from(ch - b'0'))).ok_or(Fail)?;
        if m != 0 {
            sig += 1;
        }
    }
    let frac_len = i32::try_from(frac.len()).map_err(|_| Fail)?;
    let shift = exp.checked_sub(frac_len).ok_or(Fail)?;
    if !(-40..=40).contains(&shift) {
        return Err(Fail);
    }
    let value = Rational::int(m).mul(Rational::pow10(shift).ok_or(Fail)?).ok_or(Fail)?;
    if mant.contains('.') || shift < 0 {
        let places = u32::try_from((-shift).max(0)).map_err(|_| Fail)?;
        Ok(Node::Dec { value, places, sig })
    } else {
        Ok(Node::Num(value))
    }
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).map(|t| t.tok)
    }

    fn eat(&mut self, t: Tok<'_>) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: Tok<'_>) -> R<()> {
        if self.eat(t) { Ok(()) } else { Err(Fail) }
    }

    fn bx(&mut self, n: Node) -> R<Box<Node>> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Fail);
        }
        Ok(Box::new(n))
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(Fail) } else { Ok(()) }
    }

    fn expr(&mut self) -> R<Node> {
        self.enter()?;
        let mut lhs = if self.eat(Tok::Minus) {
            let t = self.term()?;
            Node::Neg(self.bx(t)?)
        } else {
            self.eat(Tok::Plus);
            self.term()?
        };
        loop {
            let op = self.peek();
            if op != Some(Tok::Plus) && op != Some(Tok::Minus) {
                break;
            }
            self.pos += 1;
            let rhs = self.term()?;
            let (l, r) = (self.bx(lhs)?, self.bx(rhs)?);
            lhs = if op == Some(Tok::Plus) { Node::Add(l, r) } else { Node::Sub(l, r) };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    /// Whether the next token can start an implicitly multiplied factor.
    fn starts_factor(&self) -> bool {
        match self.peek() {
            Some(
                Tok::Num(_)
                | Tok::Letter(_)
                | Tok::Greek(_)
                | Tok::Func(_)
                | Tok::Log
                | Tok::Sqrt
                | Tok::Frac
                | Tok::Pi
                | Tok::Inf
                | Tok::Text(_)
                | Tok::LParen
                | Tok::LBrack
                | Tok::LBrace,
            ) => true,
            Some(Tok::Bar) => !self.in_abs,
            _ => false,
        }
    }

    fn term(&mut self) -> R<Node> {
        let mut lhs = self.unary()?;
        loop {
            let rhs_div = if self.eat(Tok::Mul) {
                (self.unary()?, false)
            } else if self.eat(Tok::Div) {
                (self.unary()?, true)
            } else if self.starts_factor() {
                self.no_number_after_number()?;
                (self.power()?, false)
            } else {
                break;
            };
            let (l, r) = (self.bx(lhs)?, self.bx(rhs_div.0)?);
            lhs = if rhs_div.1 { Node::Div(l, r) } else { Node::Mul(l, r) };
        }
        Ok(lhs)
    }

    /// `2 3` (or `1\,000` that failed the thousands rule) is not a product.
    fn no_number_after_number(&self) -> R<()> {
        let prev = self.pos.checked_sub(1).and_then(|p| self.toks.get(p)).map(|t| t.tok);
        if matches!(self.peek(), Some(Tok::Num(_))) && matches!(prev, Some(Tok::Num(_))) {
            return Err(Fail);
        }
        Ok(())
    }

    fn unary(&mut self) -> R<Node> {
        if self.eat(Tok::Minus) {
            self.enter()?;
            let u = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Neg(self.bx(u)?));
        }
        if self.eat(Tok::Plus) {
            self.enter()?;
            let u = self.unary()?;
            self.depth -= 1;
            return Ok(u);
        }
        self.power()
    }

    fn power(&mut self) -> R<Node> {
        let base = self.postfix()?;
        if self.eat(Tok::Caret) {
            if self.eat_degree_sign()? {
                return Ok(Node::Deg(self.bx(base)?));
            }
            let e = self.exponent()?;
            return Ok(Node::Pow(self.bx(base)?, self.bx(e)?));
        }
        Ok(base)
    }

    /// After `^`: `\circ` or `{\circ}`.
    fn eat_degree_sign(&mut self) -> R<bool> {
        if self.eat(Tok::Circ) {
            return Ok(true);
        }
        if self.peek() == Some(Tok::LBrace)
            && self.toks.get(self.pos + 1).map(|t| t.tok) == Some(Tok::Circ)
        {
            self.pos += 2;
            self.expect(Tok::RBrace)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// An exponent: a signed atom (`x^-1`, `x^2`, `x^{n+1}`), right-associative.
    fn exponent(&mut self) -> R<Node> {
        self.enter()?;
        let out = if self.eat(Tok::Minus) {
            let e = self.exponent()?;
            Node::Neg(self.bx(e)?)
        } else {
            self.eat(Tok::Plus);
            let b = self.postfix()?;
            if self.eat(Tok::Caret) {
                let e = self.exponent()?;
                Node::Pow(self.bx(b)?, self.bx(e)?)
            } else {
                b
            }
        };
        self.depth -= 1;
        Ok(out)
    }

    fn postfix(&mut self) -> R<Node> {
        let mut a = self.atom()?;
        loop {
            if self.eat(Tok::Bang) {
                a = Node::Fact(self.bx(a)?);
            } else if self.eat(Tok::Degree) {
                a = Node::Deg(self.bx(a)?);
            } else {
                return Ok(a);
            }
        }
    }

    fn group(&mut self, close: Tok<'_>) -> R<Node> {
        let saved = self.in_abs;
        self.in_abs = false;
        let e = self.expr()?;
        self.in_abs = saved;
        self.expect(close)?;
        Ok(e)
    }

    fn atom(&mut self) -> R<Node> {
        let tok = self.peek().ok_or(Fail)?;
        self.pos += 1;
        match tok {
            Tok::Num(t) => {
                let n = parse_number(t)?;
                self.mixed_number(n)
            }
            Tok::Letter(c) => {
                let sub = self.subscript()?;
                match (c, sub.is_empty()) {
                    ('e', true) => Ok(Node::E),
                    ('i', true) => Ok(Node::I),
                    _ => self.symbol(c.encode_utf8(&mut [0; 4]), &sub),
                }
            }
            Tok::Greek(g) => {
                let sub = self.subscript()?;
                self.symbol(g, &sub)
            }
            Tok::Pi => Ok(Node::Pi),
            Tok::Inf => Ok(Node::Inf),
            Tok::LParen => self.group(Tok::RParen),
            Tok::LBrack => self.group(Tok::RBrack),
            Tok::LBrace => self.group(Tok::RBrace),
            // Where an operand is expected a bar always opens; `in_abs` only stops it from
            // being read as an implicit factor after one.
            Tok::Bar => {
                let saved = self.in_abs;
                self.in_abs = true;
                let e = self.expr()?;
                self.in_abs = saved;
                self.expect(Tok::Bar)?;
                Ok(Node::Abs(self.bx(e)?))
            }
            Tok::Frac => {
                let a = self.latex_arg()?;
                let b = self.latex_arg()?;
                Ok(Node::Div(self.bx(a)?, self.bx(b)?))
            }
            Tok::Sqrt => {
                let index = if self.eat(Tok::LBrack) {
                    self.group(Tok::RBrack)?
                } else {
                    Node::Num(Rational::int(2))
                };
                // Plain `sqrt(2)` as well as LaTeX `\sqrt{2}` / `\sqrt2`.
                let x = if self.eat(Tok::LParen) {
                    self.group(Tok::RParen)?
                } else {
                    self.latex_arg()?
                };
                Ok(Node::Root(self.bx(index)?, self.bx(x)?))
            }
            Tok::Func(f) => self.call(f),
            Tok::Log => {
                let base = if self.eat(Tok::Under) {
                    self.latex_arg()?
                } else {
                    Node::Num(Rational::int(10))
                };
                let pw = self.func_power()?;
                let arg = self.func_arg()?;
                let n = Node::Log(self.bx(base)?, self.bx(arg)?);
                self.apply_power(n, pw)
            }
            Tok::Text(t) => match t.trim() {
                "e" => Ok(Node::E),
                "i" => Ok(Node::I),
                w => match command(w) {
                    Some(Tok::Func(f)) => self.call(f),
                    _ if w.len() == 1 && w.bytes().all(|c| c.is_ascii_alphabetic()) => {
                        self.symbol(w, "")
                    }
                    _ => Err(Fail),
                },
            },
            _ => Err(Fail),
        }
    }

    /// `2\frac{1}{2}` is the mixed number 2½, as answers write it, not 2·½ (a product of a
    /// literal and a fraction of literals would be written with `\cdot`).
    fn mixed_number(&mut self, n: Node) -> R<Node> {
        let Node::Num(whole) = n else { return Ok(n) };
        if !whole.is_integer() || self.peek() != Some(Tok::Frac) {
            return Ok(n);
        }
        let tok = |p: usize| self.toks.get(p).map(|t| t.tok);
        let int = |p: usize| match tok(p) {
            Some(Tok::Num(t)) if t.bytes().all(|c| c.is_ascii_digit()) => Some(t),
            _ => None,
        };
        let braced = |p: usize| {
            (tok(p) == Some(Tok::LBrace) && tok(p + 2) == Some(Tok::RBrace)).then(|| int(p + 1))?
        };
        let p = self.pos + 1;
        let (num, den, used) = match (braced(p), braced(p + 3), int(p)) {
            (Some(a), Some(b), _) => (a, b, 7),
            (_, _, Some(t)) if t.len() == 2 => (&t[..1], &t[1..], 2),
            _ => return Ok(n),
        };
        let parse = |t: &str| t.parse::<i128>().map_err(|_| Fail);
        let frac = Rational::new(parse(num)?, parse(den)?).ok_or(Fail)?;
        self.pos += used;
        Ok(Node::Num(whole.add(frac).ok_or(Fail)?))
    }

    fn symbol(&mut self, name: &str, sub: &str) -> R<Node> {
        let i = if sub.is_empty() {
            self.syms.intern(name)?
        } else {
            self.syms.intern(&format!("{name}_{sub}"))?
        };
        Ok(Node::Sym(i))
    }

    /// A subscript's canonical text: `T_2` and `T_{2}` are both "2"; `x_{n + 1}` is "n+1".
    fn subscript(&mut self) -> R<String> {
        if !self.eat(Tok::Under) {
            return Ok(String::new());
        }
        let mut out = String::new();
        if self.eat(Tok::LBrace) {
            let mut level = 1usize;
            loop {
                let t = self.toks.get(self.pos).ok_or(Fail)?;
                self.pos += 1;
                match t.tok {
                    Tok::LBrace => level += 1,
                    Tok::RBrace => {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                out.push_str(t.text);
            }
        } else {
            let t = self.toks.get(self.pos).ok_or(Fail)?;
            if !matches!(t.tok, Tok::Num(_) | Tok::Letter(_) | Tok::Greek(_)) {
                return Err(Fail);
            }
            self.pos += 1;
            out.push_str(t.text);
        }
        if out.is_empty() { Err(Fail) } else { Ok(out) }
    }

    /// A LaTeX macro argument: a braced group or one token (`\frac12` is ½, `\sqrt2`).
    fn latex_arg(&mut self) -> R<Node> {
        if self.eat(Tok::LBrace) {
            return self.group(Tok::RBrace);
        }
        if let Some(Tok::Num(t)) = self.peek()
            && t.len() > 1
        {
            // A multi-digit token after `\frac`: LaTeX takes its first digit only.
            let (first, rest) = t.split_at(1);
            if !first.bytes().all(|c| c.is_ascii_digit()) || rest.starts_with(['.', ',', '{']) {
                return Err(Fail);
            }
            self.toks[self.pos] = Token { tok: Tok::Num(rest), text: rest };
            return parse_number(first);
        }
        match self.peek() {
            Some(Tok::Num(_) | Tok::Letter(_) | Tok::Greek(_) | Tok::Pi) => self.atom(),
            _ => Err(Fail),
        }
    }

    /// `\sin^2` (a power of the result) or `\sin^{-1}` (the inverse function).
    fn func_power(&mut self) -> R<Option<Node>> {
        if self.eat(Tok::Caret) { Ok(Some(self.exponent()?)) } else { Ok(None) }
    }

    fn apply_power(&mut self, n: Node, pw: Option<Node>) -> R<Node> {
        match pw {
            Some(p) => Ok(Node::Pow(self.bx(n)?, self.bx(p)?)),
            None => Ok(n),
        }
    }

    fn call(&mut self, f: Func) -> R<Node> {
        let mut pw = self.func_power()?;
        let mut f = f;
        if let Some(Node::Neg(inner)) = &pw
            && **inner == Node::Num(Rational::ONE)
        {
            let inv = match f {
                Func::Sin => Some(Func::Asin),
                Func::Cos => Some(Func::Acos),
                Func::Tan => Some(Func::Atan),
                _ => None,
            };
            if let Some(inv) = inv {
                f = inv;
                pw = None;
            }
        }
        let arg = self.func_arg()?;
        let n = Node::Func(f, self.bx(arg)?);
        self.apply_power(n, pw)
    }

    /// A function's argument: a parenthesised/braced group, or else the product of factors up
    /// to the next operator or function (`\sin 2x` is sin(2x), `\sin x \cos x` two factors).
    fn func_arg(&mut self) -> R<Node> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.pos += 1;
                return self.group(Tok::RParen);
            }
            Some(Tok::LBrace) => {
                self.pos += 1;
                return self.group(Tok::RBrace);
            }
            _ => {}
        }
        self.enter()?;
        let mut arg = self.unary()?;
        while self.starts_factor() && !matches!(self.peek(), Some(Tok::Func(_) | Tok::Log)) {
            self.no_number_after_number()?;
            let f = self.power()?;
            arg = Node::Mul(self.bx(arg)?, self.bx(f)?);
        }
        self.depth -= 1;
        Ok(arg)
    }
}
