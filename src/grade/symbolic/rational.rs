//! A small exact rational over i128. Every operation is checked: `None` means overflow (or a
//! zero denominator), and the caller falls back to floating point or declines.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rational {
    num: i128,
    /// Always > 0; the fraction is always reduced, so equality is structural.
    den: i128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    // u128 division is a slow library call; answers' numbers nearly always fit u64.
    if let (Ok(mut x), Ok(mut y)) = (u64::try_from(a), u64::try_from(b)) {
        while y != 0 {
            (x, y) = (y, x % y);
        }
        return u128::from(x);
    }
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Rational {
    pub(crate) const ZERO: Rational = Rational { num: 0, den: 1 };
    pub(crate) const ONE: Rational = Rational { num: 1, den: 1 };

    pub(crate) fn int(n: i128) -> Rational {
        Rational { num: n, den: 1 }
    }

    pub(crate) fn new(num: i128, den: i128) -> Option<Rational> {
        if den == 0 {
            return None;
        }
        let g = gcd(num.unsigned_abs(), den.unsigned_abs());
        // g ≥ 1 here since den ≠ 0; g fits i128 unless both are i128::MIN.
        let g = i128::try_from(g).ok()?;
        let (mut num, mut den) = (num / g, den / g);
        if den < 0 {
            num = num.checked_neg()?;
            den = den.checked_neg()?;
        }
        Some(Rational { num, den })
    }

    pub(crate) fn numer(self) -> i128 {
        self.num
    }

    pub(crate) fn is_integer(self) -> bool {
        self.den == 1
    }

    pub(crate) fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    pub(crate) fn neg(self) -> Option<Rational> {
        Some(Rational { num: self.num.checked_neg()?, den: self.den })
    }

    pub(crate) fn abs(self) -> Option<Rational> {
        if self.num < 0 { self.neg() } else { Some(self) }
    }

    pub(crate) fn add(self, o: Rational) -> Option<Rational> {
        // Over the lcm of the denominators, so sums of like fractions do not overflow early.
        let g = i128::try_from(gcd(self.den.unsigned_abs(), o.den.unsigned_abs())).ok()?;
        let l = (self.den / g).checked_mul(o.den)?;
        let a = self.num.checked_mul(l / self.den)?;
        let b = o.num.checked_mul(l / o.den)?;
        Rational::new(a.checked_add(b)?, l)
    }

    pub(crate) fn sub(self, o: Rational) -> Option<Rational> {
        self.add(o.neg()?)
    }

    pub(crate) fn mul(self, o: Rational) -> Option<Rational> {
        // Cross-reduce first to keep intermediates small.
        let g1 = i128::try_from(gcd(self.num.unsigned_abs(), o.den.unsigned_abs())).ok()?.max(1);
        let g2 = i128::try_from(gcd(o.num.unsigned_abs(), self.den.unsigned_abs())).ok()?.max(1);
        let num = (self.num / g1).checked_mul(o.num / g2)?;
        let den = (self.den / g2).checked_mul(o.den / g1)?;
        Rational::new(num, den)
    }

    pub(crate) fn recip(self) -> Option<Rational> {
        Rational::new(self.den, self.num)
    }

    pub(crate) fn div(self, o: Rational) -> Option<Rational> {
        self.mul(o.recip()?)
    }

    /// `self^e` by squaring: at most ~128 multiplications before overflow stops it.
    pub(crate) fn pow(self, e: i128) -> Option<Rational> {
        if self.num == 0 {
            return if e > 0 {
                Some(Rational::ZERO)
            } else if e == 0 {
                Some(Rational::ONE)
            } else {
                None
            };
        }
        if self.den == 1 && (self.num == 1 || self.num == -1) {
            return Some(if e % 2 == 0 { Rational::ONE } else { self });
        }
        let base = if e < 0 { self.recip()? } else { self };
        let mut e = e.unsigned_abs();
        let (mut acc, mut sq) = (Rational::ONE, base);
        loop {
            if e & 1 == 1 {
                acc = acc.mul(sq)?;
            }
            e >>= 1;
            if e == 0 {
                return Some(acc);
            }
            sq = sq.mul(sq)?;
        }
    }

    /// 10^k as a rational, for decimal literals and rounding bounds.
    pub(crate) fn pow10(k: i32) -> Option<Rational> {
        Rational::int(10).pow(i128::from(k))
    }

    pub(crate) fn checked_cmp(self, o: Rational) -> Option<Ordering> {
        let l = self.num.checked_mul(o.den)?;
        let r = o.num.checked_mul(self.den)?;
        Some(l.cmp(&r))
    }
}

#[cfg(test)]
mod tests {
    use super::Rational;

    fn r(n: i128, d: i128) -> Rational {
        Rational::new(n, d).unwrap()
    }

    #[test]
    fn reduces_and_normalises_sign() {
        assert_eq!(r(6, -4), r(-3, 2));
        assert_eq!(r(0, -5), Rational::ZERO);
        assert!(Rational::new(1, 0).is_none());
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(r(1, 3).add(r(1, 6)), Some(r(1, 2)));
        assert_eq!(r(1, 3).sub(r(1, 2)), Some(r(-1, 6)));
        assert_eq!(r(2, 3).mul(r(9, 4)), Some(r(3, 2)));
        assert_eq!(r(2, 3).div(r(4, 9)), Some(r(3, 2)));
        assert_eq!(Rational::int(2).pow(15), Some(Rational::int(32768)));
        assert_eq!(r(2, 3).pow(-2), Some(r(9, 4)));
        assert_eq!(Rational::int(-1).pow(1_000_000_001), Some(Rational::int(-1)));
        assert!(Rational::ZERO.pow(-1).is_none());
    }

    #[test]
    fn overflow_is_none_not_wrap() {
        assert!(Rational::int(10).pow(39).is_none());
        assert!(Rational::int(10).pow(10_000_000_000).is_none());
        assert!(Rational::int(i128::MAX).add(Rational::ONE).is_none());
        assert!(Rational::int(i128::MIN).neg().is_none());
    }
}
