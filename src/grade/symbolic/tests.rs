use super::{Decision, equivalent};

use Decision::{Equal as E, NotComparable as X, NotEqual as N};

fn check(cases: &[(&str, &str, Decision)]) {
    let mut bad = Vec::new();
    for &(a, b, want) in cases {
        let got = equivalent(a, b);
        if got != want {
            bad.push(format!("{a:?} vs {b:?}: got {got:?}, want {want:?}"));
        }
        let back = equivalent(b, a);
        if back != got {
            bad.push(format!("{b:?} vs {a:?} (swapped): got {back:?}, forward {got:?}"));
        }
    }
    assert!(bad.is_empty(), "{} failures:\n{}", bad.len(), bad.join("\n"));
}

/// Every example the issue names.
const ISSUE: &[(&str, &str, Decision)] = &[
    ("2^{15}", "32768", E),
    ("(x+4)(3x-2)", "(3x-2)(x+4)", E),
    (r"\frac{e^{x}-e^{-x}}{2}", r"\sinh x", E),
    (r"\sqrt{8}", r"2\sqrt{2}", E),
    (r"\frac{\ln 7}{\ln 2}", r"\log_2 7", E),
    ("x^{4}", "x^4", E),
    (r"\ln(7)", r"\ln7", E),
    (r"\sin{x}", r"\sin x", E),
    (r"\log_{5}(z)", r"\log_5 z", E),
    ("T_{2}", "T_2", E),
    (r"1/2+3/\pi", r"\frac{1}{2}+\frac{3}{\pi}", E),
    // and its look-alikes
    (r"\sqrt{8}", r"3\sqrt{2}", N),
    ("(x+4)(3x-2)", "(x-4)(3x+2)", N),
    ("x^{4}", "x^{5}", N),
    (r"\sin x", r"\cos x", N),
    ("54329", "54321", N),
    ("1.25e-3", "1.25e-2", N),
];

const NUMBERS: &[(&str, &str, Decision)] = &[
    ("1.25e-3", "0.00125", E),
    ("1.25e-3", r"\frac{1}{800}", E),
    ("1.25E3", "1250", E),
    (r"1.25 \times 10^{-3}", "0.00125", E),
    ("1,000", "1000", E),
    ("1{,}000{,}000", "10^6", E),
    (r"12\,345", "12345", E),
    ("1,000", "1001", N),
    ("1,00", "100", X),
    ("1,2345", "12345", X),
    (r"\frac{6}{4}", "1.5", E),
    (r"\frac{6}{4}", "1.6", N),
    (r"\frac12", "0.5", E),
    (r"\frac12", r"\frac13", N),
    (r"\dfrac{3}{4}", r"\tfrac{6}{8}", E),
    ("0.50", "0.5", E),
    (".5", r"\frac{1}{2}", E),
    ("-3", "3", N),
    ("-0.75", r"-\frac{3}{4}", E),
    ("2^{10}", "1024", E),
    ("2^{10}", "1023", N),
    ("2^{64}", "18446744073709551616", E),
    ("2^{64}", "18446744073709551617", N),
    ("10!", "3628800", E),
    ("5!", "121", N),
    ("3!+2", "8", E),
    ("12345678901234567", "12345678901234568", N),
    ("5.", "5", E),
    // Decimal precision: a rounded decimal equals what it rounds.
    ("0.33", r"\frac13", E),
    ("0.34", r"\frac13", N),
    ("0.333", r"\frac13", E),
    ("0.3", r"\frac13", N),
    ("3.14", r"\pi", E),
    ("3.15", r"\pi", N),
    ("3.1416", r"\pi", E),
    ("1.41", r"\sqrt2", E),
    ("1.42", r"\sqrt2", N),
    ("0.33", "0.333", E),
    ("0.33", "0.34", N),
    ("3", r"\pi", N),
    ("2.9", "3", N),
    ("3.0", "3", E),
    ("1.5e3", "150", N),
    (r"\frac{2}{3}", "0.67", E),
    (r"\frac{2}{3}", "0.66", N),
    ("-0.5", "0.5", N),
];

const ALGEBRA: &[(&str, &str, Decision)] = &[
    ("2x", r"x \cdot 2", E),
    ("2x", "x+x", E),
    ("2x", "3x", N),
    (r"2\pi r", r"2 r \pi", E),
    (r"2\pi r", r"\pi r^2", N),
    ("(x+1)(x-1)", "x^2-1", E),
    ("(x+1)(x-1)", "x^2+1", N),
    ("(x+1)^2", "x^2+2x+1", E),
    ("(x+1)^2", "x^2+1", N),
    (r"3\sqrt{2}", r"\sqrt{18}", E),
    (r"3\sqrt{2}", r"\sqrt{6}", N),
    (r"\frac{x}{2}", "x/2", E),
    (r"\frac{x}{2}", "2/x", N),
    (r"\frac{1}{R}", "1/R", E),
    (r"\pi/4", r"\frac{\pi}{4}", E),
    (r"\pi/4", r"\frac{4}{\pi}", N),
    ("a-b", "-(b-a)", E),
    ("a-b", "b-a", N),
    ("2^3^2", "512", E),
    ("2^{3^2}", "64", N),
    ("x^{-1}", r"\frac1x", E),
    ("x^2y", "y x^2", E),
    ("x^2y", "x^{2y}", N),
    (r"x \times y \div z", r"\frac{xy}{z}", E),
    ("x*y/z", "x/(yz)", N),
    (r"\sqrt[3]{27}", "3", E),
    (r"\sqrt[3]{-8}", "-2", E),
    (r"\sqrt[3]{x}", "x^{1/3}", E),
    (r"\sqrt[3]{x}", r"\sqrt{x}", N),
    (r"\left( x+1 \right)^{2}", "(x+1)^2", E),
    (r"x_{n+1} - x_n", r"x_{n + 1} - x_{n}", E),
    (r"x_{n+1}", "x_{n-1}", N),
    ("T_2", "T_3", N),
    ("T_2", "T", N),
    (r"\alpha + \beta", r"\beta+\alpha", E),
    (r"\alpha \beta", r"\alpha + \beta", N),
    ("xy", "yx", E),
    (r"2 \cdot -3", "-6", E),
    ("n!", "n(n-1)!", E),
    ("n!", "(n+1)!", N),
    ("(x+y)^2", "x^2+y^2", N),
    ("x(x+3)", "x^2+3", N),
    ("\\frac{x+1}{x}", "1+\\frac1x", E),
    (r"\frac{(n+1)!}{n!}", "n+1", E),
];

const FUNCTIONS: &[(&str, &str, Decision)] = &[
    (r"\sin^2 x + \cos^2 x", "1", E),
    (r"\sin^2 x", r"\sin x^2", N),
    (r"\sin(x)", r"\sin x", E),
    (r"\sin 2x", r"2 \sin x \cos x", E),
    (r"\sin 2x", r"2 \sin x", N),
    (r"\tan x", r"\frac{\sin x}{\cos x}", E),
    (r"\cot x", r"\frac{1}{\tan x}", E),
    (r"\sec x", r"\frac{1}{\cos x}", E),
    (r"\csc x", r"\frac{1}{\cos x}", N),
    (r"\arcsin(1)", r"\frac{\pi}{2}", E),
    (r"\sin^{-1} x", r"\arcsin x", E),
    (r"\arccos 0", r"\frac{\pi}{2}", E),
    (r"\arctan 1", r"\frac{\pi}{4}", E),
    (r"\arctan 1", r"\frac{\pi}{3}", N),
    (r"\cosh x", r"\frac{e^x+e^{-x}}{2}", E),
    (r"\tanh x", r"\frac{\sinh x}{\cosh x}", E),
    (r"\sinh x", r"\cosh x", N),
    (r"\ln(xy)", r"\ln x + \ln y", X),
    (r"\ln 8", r"3 \ln 2", E),
    (r"\ln 8", r"2 \ln 3", N),
    (r"\log 100", "2", E),
    (r"\log_2 8", "3", E),
    (r"\log_2 7", r"\log_3 7", N),
    (r"\log_{5}(z)", r"\frac{\ln z}{\ln 5}", E),
    (r"\log_5 z", r"\log_{10} z", N),
    (r"\exp(x)", "e^x", E),
    (r"\exp(2x)", "(e^x)^2", E),
    (r"e^{x+1}", "e^x+1", N),
    (r"e^{i\pi}", "-1", E),
    ("i^2", "-1", E),
    ("(1+i)^2", "2i", E),
    ("(1+i)^2", "2", N),
    (r"\sqrt{-4}", "2i", E),
    (r"|x|", r"\left| x \right|", E),
    (r"|-3|", "3", E),
    (r"|x|", "x", X),
    (r"\sqrt{x^2}", "|x|", E),
    ("sin(x)^2 + cos(x)^2", "1", E),
    ("sqrt(2)/2", r"\frac{1}{\sqrt2}", E),
    ("sqrt(2)/2", r"\sqrt2", N),
    (r"\ln|x|", r"\ln x", X),
    (r"\ln(x+1)", r"\ln x + 1", N),
    (r"e^{-x}", r"-e^{x}", N),
    (r"\cos(-x)", r"\cos x", E),
    (r"\sin(-x)", r"\sin x", N),
    ("2pi", r"2\pi", E),
    (r"\sin 30^\circ", r"\frac12", E),
    (r"\cos 60^{\circ}", "0.5", E),
    (r"\sin 30^\circ", r"\frac{\sqrt3}{2}", N),
];

const EQUATIONS: &[(&str, &str, Decision)] = &[
    ("x=2y", "2y=x", E),
    ("x=2y", "x-2y=0", E),
    ("x=2y", "2x = 4y", E),
    ("x=2y", "y=2x", N),
    ("x=2y", "x^2=4y^2", N),
    ("y = 2x+1", "y = 1+2x", E),
    ("y = 2x+1", "y = 2x-1", N),
    ("x^2+y^2=1", "1-x^2 = y^2", E),
    ("x^2+y^2=1", "x^2+y^2=2", N),
    ("x = 5", "5", E),
    ("x = 5", "6", N),
    ("y = 0.33", r"y = \frac13", E),
    ("2 = 2", "3 = 3", X),
    ("x = y = 1", "x = 1", X),
];

const TEXT_AND_LAYOUT: &[(&str, &str, Decision)] = &[
    (r"5\text{ cm}", "5", E),
    (r"5\text{ cm}", "6", N),
    (r"12\,\mathrm{m}^2", "12", E),
    (r"\text{cm} 5", "5", X),
    (r"50\%", "50", E),
    (r"30^\circ", "30", E),
    (r"x \, + \; 1 \quad", r"1+x", E),
    (r"\left[ x \right]", "x", E),
    (r"2\mathrm{e}", "2e", E),
    (r"\$5", "5", E),
    (r"\infty", r"\infty", E),
    (r"-\infty", r"\infty", N),
    (r"\infty", "5", N),
    (r"x+\infty", "x", X),
    (r"\frac{1}{2", r"\frac12", X),
    ("2+", "2", X),
    ("(1", "1", X),
    ("1 2", "12", X),
    (r"x \le 2", "x", X),
    (r"\binom{5}{2}", "10", X),
    ("", "0", X),
];

#[test]
fn issue_examples() {
    check(ISSUE);
}

#[test]
fn numbers() {
    check(NUMBERS);
}

#[test]
fn algebra() {
    check(ALGEBRA);
}

#[test]
fn functions() {
    check(FUNCTIONS);
}

#[test]
fn equations() {
    check(EQUATIONS);
}

#[test]
fn text_and_layout() {
    check(TEXT_AND_LAYOUT);
}

#[test]
fn hand_written_suite_is_large_and_has_negatives() {
    let all: Vec<_> = [ISSUE, NUMBERS, ALGEBRA, FUNCTIONS, EQUATIONS, TEXT_AND_LAYOUT].concat();
    let neg = all.iter().filter(|c| c.2 == N).count();
    assert!(all.len() >= 100, "{} cases", all.len());
    assert!(neg * 3 >= all.len(), "{neg} negatives of {}", all.len());
}
