//! The symbolic math tier (DESIGN §3). Placeholder: the real parser lands from branch
//! `symbolic`; until then every pair is declined, so the string tiers decide alone.

/// The symbolic tier's answer for one pair of expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Equal,
    NotEqual,
    NotComparable,
}

/// Whether two single math expressions (or equations) are equivalent (LaTeX or plain math:
/// \frac, \sqrt, ^, implicit multiplication, trig, logs, slashes, equations up to a factor).
pub fn equivalent(_: &str, _: &str) -> Decision {
    Decision::NotComparable
}
