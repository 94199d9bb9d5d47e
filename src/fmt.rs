//! How numbers are written for people, one way for the command line, the workbench and the
//! report (STYLE §3). Pure: no terminal, no IO, no other crate module.

/// Written where a value is missing or undefined (a rate with an empty denominator).
pub const MISSING: &str = "—";

/// `text` (a formatted number) without the minus of a value that rounded to zero, which would
/// read as a loss; a signed format gets `+` instead.
fn no_minus_zero(text: String, signed: bool) -> String {
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => {
            if signed {
                format!("+{rest}")
            } else {
                rest.to_string()
            }
        }
        _ => text,
    }
}

/// A fraction in percent, one decimal: `12.3%`.
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.to_string(), |_| format!("{}%", points(v)))
}

/// A fraction in percent without the sign, for tables that name the unit once (`12.3`).
pub fn points(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.to_string(), |x| no_minus_zero(format!("{:.1}", x * 100.0), false))
}

/// A difference of fractions in signed percentage points: `+4.0`, `-2.5`, `+0.0`.
pub fn signed_points(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.to_string(), |x| no_minus_zero(format!("{:+.1}", x * 100.0), true))
}

/// A number that is not a rate (RSS, ECE, Brier, AUROC, κ) with three decimals: `0.622`.
pub fn num3(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.to_string(), |x| no_minus_zero(format!("{x:.3}"), false))
}

/// A difference of such numbers, signed: `+0.300`.
pub fn signed_num3(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.to_string(), |x| no_minus_zero(format!("{x:+.3}"), true))
}

/// An exact p-value: four decimals, below 1e-4 two significant digits in scientific notation.
pub fn p_value(p: f64) -> String {
    if p < 1e-4 { format!("{p:.1e}") } else { format!("{p:.4}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_have_one_decimal_and_the_missing_glyph() {
        assert_eq!(pct(Some(0.5556)), "55.6%");
        assert_eq!(pct(Some(1.0)), "100.0%");
        assert_eq!(pct(Some(0.0)), "0.0%");
        assert_eq!(pct(None), "—");
        assert_eq!(points(Some(0.123)), "12.3");
        assert_eq!(points(None), MISSING);
        // A rounding to zero from below is not "-0.0".
        assert_eq!(points(Some(-1e-9)), "0.0");
        assert_eq!(pct(Some(-1e-9)), "0.0%");
    }

    #[test]
    fn differences_are_signed_and_never_minus_zero() {
        assert_eq!(signed_points(Some(-0.2222)), "-22.2");
        assert_eq!(signed_points(Some(0.05)), "+5.0");
        assert_eq!(signed_points(Some(-1e-17)), "+0.0");
        assert_eq!(signed_points(Some(-0.0004)), "+0.0");
        assert_eq!(signed_points(None), "—");
        assert_eq!(signed_num3(Some(0.3)), "+0.300");
        assert_eq!(signed_num3(Some(-0.0001)), "+0.000");
    }

    #[test]
    fn plain_numbers_have_three_decimals() {
        assert_eq!(num3(Some(0.95)), "0.950");
        assert_eq!(num3(Some(0.6224)), "0.622");
        assert_eq!(num3(Some(-0.0001)), "0.000");
        assert_eq!(num3(None), "—");
    }

    #[test]
    fn p_values_keep_four_decimals_then_go_scientific() {
        assert_eq!(p_value(1.0), "1.0000");
        assert_eq!(p_value(0.03125), "0.0312");
        assert_eq!(p_value(0.0001), "0.0001");
        assert_eq!(p_value(1.9e-6), "1.9e-6");
        assert_eq!(p_value(0.000_012_34), "1.2e-5");
    }
}
