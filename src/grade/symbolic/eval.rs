//! Exact rational evaluation of constant trees, and complex floating-point evaluation at a
//! point. Neither allocates; both recurse at most as deep as the (size-bounded) tree.

use super::parse::{Func, Node};
use super::rational::Rational;
use std::f64::consts::PI;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inexact {
    /// The value is not (known to be) rational: a symbol, π, a root, a function.
    Irrational,
    /// Rational, but too large for i128 (or undefined, like 1/0).
    Overflow,
}

/// Largest n with n! < i128::MAX.
const MAX_EXACT_FACT: i128 = 33;

pub(crate) fn exact(n: &Node) -> Result<Rational, Inexact> {
    use Inexact::*;
    let ov = |r: Option<Rational>| r.ok_or(Overflow);
    match n {
        Node::Num(v) | Node::Dec { value: v, .. } => Ok(*v),
        Node::Neg(a) => ov(exact(a)?.neg()),
        Node::Add(a, b) => ov(exact(a)?.add(exact(b)?)),
        Node::Sub(a, b) => ov(exact(a)?.sub(exact(b)?)),
        Node::Mul(a, b) => ov(exact(a)?.mul(exact(b)?)),
        Node::Div(a, b) => ov(exact(a)?.div(exact(b)?)),
        Node::Abs(a) => ov(exact(a)?.abs()),
        Node::Pow(a, b) => {
            let (base, e) = (exact(a)?, exact(b)?);
            if !e.is_integer() {
                return Err(Irrational);
            }
            ov(base.pow(e.numer()))
        }
        Node::Fact(a) => {
            let v = exact(a)?;
            if !v.is_integer() || v.numer() < 0 {
                return Err(Irrational);
            }
            if v.numer() > MAX_EXACT_FACT {
                return Err(Overflow);
            }
            let mut acc = Rational::ONE;
            for k in 2..=v.numer() {
                acc = ov(acc.mul(Rational::int(k)))?;
            }
            Ok(acc)
        }
        _ => Err(Irrational),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct C {
    pub(crate) re: f64,
    pub(crate) im: f64,
}

const NAN: C = C { re: f64::NAN, im: f64::NAN };
const I: C = C { re: 0.0, im: 1.0 };

impl C {
    pub(crate) const fn real(re: f64) -> C {
        C { re, im: 0.0 }
    }
    pub(crate) fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
    pub(crate) fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
    /// |re| + |im|: within √2 of the modulus, and far cheaper than `hypot` for error bounds.
    pub(crate) fn mag(self) -> f64 {
        self.re.abs() + self.im.abs()
    }
    fn is_real(self) -> bool {
        self.im == 0.0
    }
    pub(crate) fn add(self, o: C) -> C {
        C { re: self.re + o.re, im: self.im + o.im }
    }
    pub(crate) fn sub(self, o: C) -> C {
        C { re: self.re - o.re, im: self.im - o.im }
    }
    fn neg(self) -> C {
        C { re: -self.re, im: -self.im }
    }
    fn mul(self, o: C) -> C {
        if self.is_real() && o.is_real() {
            return C::real(self.re * o.re);
        }
        C { re: self.re * o.re - self.im * o.im, im: self.re * o.im + self.im * o.re }
    }
    pub(crate) fn div(self, o: C) -> C {
        if o.re == 0.0 && o.im == 0.0 {
            return NAN;
        }
        if self.is_real() && o.is_real() {
            return C::real(self.re / o.re);
        }
        let d = o.re * o.re + o.im * o.im;
        C { re: (self.re * o.re + self.im * o.im) / d, im: (self.im * o.re - self.re * o.im) / d }
    }
    fn exp(self) -> C {
        let m = self.re.exp();
        if self.is_real() {
            return C::real(m);
        }
        C { re: m * self.im.cos(), im: m * self.im.sin() }
    }
    fn ln(self) -> C {
        if self.re == 0.0 && self.im == 0.0 {
            return NAN;
        }
        if self.is_real() && self.re > 0.0 {
            return C::real(self.re.ln());
        }
        C { re: self.abs().ln(), im: self.im.atan2(self.re) }
    }
    fn sqrt(self) -> C {
        if self.is_real() {
            return if self.re >= 0.0 {
                C::real(self.re.sqrt())
            } else {
                C { re: 0.0, im: (-self.re).sqrt() }
            };
        }
        let m = self.abs();
        let re = ((m + self.re) / 2.0).sqrt();
        let im = ((m - self.re) / 2.0).sqrt().copysign(self.im);
        C { re, im }
    }
    fn sin(self) -> C {
        if self.is_real() {
            return C::real(self.re.sin());
        }
        C { re: self.re.sin() * self.im.cosh(), im: self.re.cos() * self.im.sinh() }
    }
    fn cos(self) -> C {
        if self.is_real() {
            return C::real(self.re.cos());
        }
        C { re: self.re.cos() * self.im.cosh(), im: -self.re.sin() * self.im.sinh() }
    }
    fn powi(self, n: i64) -> C {
        if self.is_real() {
            return C::real(self.re.powi(n as i32));
        }
        let (mut acc, mut sq, mut e) = (C::real(1.0), self, n.unsigned_abs());
        while e > 0 {
            if e & 1 == 1 {
                acc = acc.mul(sq);
            }
            sq = sq.mul(sq);
            e >>= 1;
        }
        if n < 0 { C::real(1.0).div(acc) } else { acc }
    }
    /// Principal power, except that a negative real base with a rational exponent of odd
    /// denominator takes the real root (`(-8)^{1/3}` = −2, as in school algebra).
    fn pow(self, e: C) -> C {
        if e.is_real() && e.re.fract() == 0.0 && e.re.abs() <= 1024.0 {
            if self.re == 0.0 && self.im == 0.0 && e.re < 0.0 {
                return NAN;
            }
            return self.powi(e.re as i64);
        }
        if self.re == 0.0 && self.im == 0.0 {
            return if e.re > 0.0 { C::real(0.0) } else { NAN };
        }
        if self.is_real() && e.is_real() {
            if self.re > 0.0 {
                return C::real(self.re.powf(e.re));
            }
            if let Some(p) = odd_denominator_numerator(e.re) {
                let m = (-self.re).powf(e.re);
                return C::real(if p % 2 == 0 { m } else { -m });
            }
        }
        e.mul(self.ln()).exp()
    }
}

/// If x = p/q with q odd and small, p.
fn odd_denominator_numerator(x: f64) -> Option<i64> {
    (3..=15).step_by(2).find_map(|q: i64| {
        let p = x * q as f64;
        ((p - p.round()).abs() < 1e-9).then_some(p.round() as i64)
    })
}

/// Γ(x) for real x (Lanczos, g = 7), for factorials of non-integers and symbols.
fn gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let s = (PI * x).sin();
        return if s == 0.0 { f64::NAN } else { PI / (s * gamma(1.0 - x)) };
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = G[0];
    for (k, g) in G.iter().enumerate().skip(1) {
        a += g / (x + k as f64);
    }
    (2.0 * PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
}

fn factorial(x: C) -> C {
    if x.im.abs() > 1e-12 {
        return NAN;
    }
    let r = x.re;
    if r.fract() == 0.0 && r >= 0.0 {
        // Exact products while they fit; 171! overflows f64 anyway.
        if r > 170.0 {
            return C::real(f64::INFINITY);
        }
        let mut acc = 1.0;
        let mut k = 2.0;
        while k <= r {
            acc *= k;
            k += 1.0;
        }
        return C::real(acc);
    }
    C::real(gamma(r + 1.0))
}

fn func(f: Func, z: C) -> C {
    let one = C::real(1.0);
    match f {
        Func::Sin => z.sin(),
        Func::Cos => z.cos(),
        Func::Tan => z.sin().div(z.cos()),
        Func::Cot => z.cos().div(z.sin()),
        Func::Sec => one.div(z.cos()),
        Func::Csc => one.div(z.sin()),
        Func::Asin => {
            if z.is_real() && z.re.abs() <= 1.0 {
                return C::real(z.re.asin());
            }
            // −i·ln(iz + √(1 − z²))
            I.mul(z).add(one.sub(z.mul(z)).sqrt()).ln().mul(I).neg()
        }
        Func::Acos => C::real(PI / 2.0).sub(func(Func::Asin, z)),
        Func::Atan => {
            if z.is_real() {
                return C::real(z.re.atan());
            }
            // (i/2)·ln((i + z)/(i − z))
            I.add(z).div(I.sub(z)).ln().mul(C { re: 0.0, im: 0.5 })
        }
        Func::Sinh => z.exp().sub(z.neg().exp()).mul(C::real(0.5)),
        Func::Cosh => z.exp().add(z.neg().exp()).mul(C::real(0.5)),
        Func::Tanh => {
            let (a, b) = (z.exp(), z.neg().exp());
            a.sub(b).div(a.add(b))
        }
        Func::Ln => z.ln(),
        Func::Exp => z.exp(),
    }
}

pub(crate) const EPS: f64 = f64::EPSILON;

/// The value of `n` with symbol k set to `vals[k]` (NaN or ∞ parts mean undefined), and a
/// first-order bound on its rounding error (running error analysis). The bound, not a fixed
/// absolute tolerance, says when a tiny difference is noise: `\sin\pi` is 0, yet `10^{-12}x`
/// is not `2 \cdot 10^{-12}x`.
pub(crate) fn eval(n: &Node, vals: &[C]) -> (C, f64) {
    ev(n, vals)
}

fn ev(n: &Node, vals: &[C]) -> (C, f64) {
    let exact_leaf = |v: C| (v, EPS * v.mag());
    match n {
        Node::Num(v) | Node::Dec { value: v, .. } => {
            let f = v.to_f64();
            // Integers below 2^53 are exact in f64.
            let err = if v.is_integer() && f.abs() < 9.0e15 { 0.0 } else { EPS * f.abs() };
            (C::real(f), err)
        }
        Node::Sym(k) => (vals.get(*k).copied().unwrap_or(NAN), 0.0),
        Node::Pi => exact_leaf(C::real(PI)),
        Node::E => exact_leaf(C::real(std::f64::consts::E)),
        Node::I => (I, 0.0),
        Node::Inf => (NAN, 0.0),
        Node::Neg(a) => {
            let (x, e) = ev(a, vals);
            (x.neg(), e)
        }
        Node::Add(a, b) | Node::Sub(a, b) => {
            let ((x, ex), (y, ey)) = (ev(a, vals), ev(b, vals));
            let v = if matches!(n, Node::Add(..)) { x.add(y) } else { x.sub(y) };
            (v, ex + ey + EPS * (x.mag() + y.mag()))
        }
        Node::Mul(a, b) => {
            let ((x, ex), (y, ey)) = (ev(a, vals), ev(b, vals));
            let v = x.mul(y);
            (v, x.mag() * ey + y.mag() * ex + 2.0 * EPS * v.mag())
        }
        Node::Div(a, b) => {
            let ((x, ex), (y, ey)) = (ev(a, vals), ev(b, vals));
            let v = x.div(y);
            (v, (ex + v.mag() * ey) / y.mag() + 2.0 * EPS * v.mag())
        }
        Node::Pow(a, b) => {
            let ((x, ex), (y, ey)) = (ev(a, vals), ev(b, vals));
            // e^x through exp keeps e^{iπ} = −1 accurate.
            let v = if **a == Node::E { y.exp() } else { x.pow(y) };
            let rel_base = if x.mag() == 0.0 { 0.0 } else { y.mag() * ex / x.mag() };
            let rel_exp = if x.mag() == 0.0 || ey == 0.0 { 0.0 } else { x.ln().mag() * ey };
            (v, v.mag() * (rel_base + rel_exp + 4.0 * EPS * (1.0 + y.mag())))
        }
        Node::Func(f, a) => {
            let (x, ex) = ev(a, vals);
            let v = func(*f, x);
            let m = v.mag();
            // |f'(x)|, roughly: enough to scale the argument's error.
            let d = match f {
                Func::Sin | Func::Cos | Func::Sinh | Func::Cosh => m + 1.0,
                Func::Tan | Func::Cot | Func::Sec | Func::Csc => (m + 1.0) * (m + 1.0),
                Func::Asin | Func::Acos => 1.0 / C::real(1.0).sub(x.mul(x)).sqrt().mag(),
                Func::Atan => 1.0 / C::real(1.0).add(x.mul(x)).mag(),
                Func::Tanh => 1.0 + m * m,
                Func::Ln => 1.0 / x.mag(),
                Func::Exp => m,
            };
            // Periodic functions also lose the argument's reduction modulo 2π.
            let periodic =
                matches!(f, Func::Sin | Func::Cos | Func::Tan | Func::Cot | Func::Sec | Func::Csc);
            let arg_err = ex + if periodic { 2.0 * EPS * x.mag() } else { 0.0 };
            // An exact argument at a singular derivative (`\arcsin 1`) adds nothing, not 0·∞.
            let prop = if arg_err == 0.0 { 0.0 } else { d * arg_err };
            (v, prop + 4.0 * EPS * m)
        }
        Node::Log(b, a) => {
            let ((x, ex), (y, ey)) = (ev(a, vals), ev(b, vals));
            let (lx, ly) = (x.ln(), y.ln());
            let (elx, ely) = (ex / x.mag() + EPS, ey / y.mag() + EPS);
            let v = lx.div(ly);
            (v, (elx + v.mag() * ely) / ly.mag() + 2.0 * EPS * v.mag())
        }
        Node::Root(k, a) => {
            let ((kv, _), (x, ex)) = (ev(k, vals), ev(a, vals));
            let v = root(kv, x);
            let rel = if x.mag() == 0.0 { 0.0 } else { ex / (kv.mag() * x.mag()) };
            (v, v.mag() * (rel + 4.0 * EPS))
        }
        Node::Fact(a) => {
            let (x, ex) = ev(a, vals);
            let v = factorial(x);
            (v, v.mag() * (ex * ((x.mag() + 2.0).ln() + 1.0) + 64.0 * EPS))
        }
        Node::Abs(a) => {
            let (x, ex) = ev(a, vals);
            let m = x.abs();
            (C::real(m), ex + EPS * m)
        }
        Node::Deg(a) => {
            let (x, ex) = ev(a, vals);
            let v = x.mul(C::real(PI / 180.0));
            (v, ex * PI / 180.0 + 2.0 * EPS * v.mag())
        }
    }
}

fn root(k: C, x: C) -> C {
    if k == C::real(2.0) {
        return x.sqrt();
    }
    if !k.is_real() || k.re == 0.0 {
        return NAN;
    }
    // Odd roots of negative reals are real, as `\sqrt[3]{-8}` = −2 is meant.
    if x.is_real() && x.re < 0.0 && k.re.fract() == 0.0 && k.re.rem_euclid(2.0) == 1.0 {
        return C::real(-(-x.re).powf(1.0 / k.re));
    }
    x.pow(C::real(1.0).div(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn gamma_matches_factorials_and_half_integers() {
        assert!(close(gamma(5.0), 24.0));
        assert!(close(gamma(0.5), PI.sqrt()));
        assert!(close(gamma(-0.5), -2.0 * PI.sqrt()));
    }

    #[test]
    fn negative_real_base_with_odd_root_stays_real() {
        let v = C::real(-8.0).pow(C::real(1.0 / 3.0));
        assert!(close(v.re, -2.0) && v.im == 0.0);
        let v = C::real(-8.0).pow(C::real(2.0 / 3.0));
        assert!(close(v.re, 4.0) && v.im == 0.0);
        // Even denominators go complex: √(−4) = 2i.
        let v = C::real(-4.0).pow(C::real(0.5));
        assert!(close(v.im, 2.0) && v.re.abs() < 1e-12);
    }

    #[test]
    fn inverse_trig_off_the_real_domain_inverts() {
        let z = C::real(2.0);
        let s = func(Func::Asin, z).sin();
        assert!(close(s.re, 2.0) && s.im.abs() < 1e-12);
    }
}
