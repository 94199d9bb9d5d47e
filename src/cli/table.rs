//! Human-readable metrics (percent only here, fractions everywhere in data).

use std::fmt::Write;

use crate::metrics::{MetricsReport, rate_keys};

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{:.1}%", x * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{x:.3}"))
}

fn describe(key: &str) -> &'static str {
    match key {
        "acc_t1" => "accuracy of the first attempt",
        "acc_t2" => "accuracy of the final attempt",
        "delta" => "Δ(t1,t2) = acc_t2 − acc_t1",
        "delta_i2c" => "Δ^{i→c}: wrong → right",
        "delta_c2i" => "Δ^{c→i}: right → wrong",
        "cl" => "confidence level P(right at t2 | right at t1)",
        "cs" => "critique score P(right at t2 | wrong at t1)",
        "rss" => "0.5 = no net change",
        _ => "",
    }
}

/// The summary table printed after a run and by `critloop metrics`.
pub fn render(r: &MetricsReport) -> String {
    let s = &r.summary;
    let p = &r.provenance;
    let mut out = String::new();
    let sim = if p.simulated { " — SIMULATED output (sim provider)" } else { "" };
    let _ = writeln!(
        out,
        "run {}: {} on {} — generator {}, critic {}{sim}",
        r.run, p.protocol, p.dataset, p.models["generator"], p.models["critic"]
    );
    let _ = writeln!(out, "episodes {}   scored {}   failed {}", s.episodes, s.scored, s.failed);
    let t = &s.transitions;
    let _ =
        writeln!(out, "transitions   c→c {}   c→w {}   w→c {}   w→w {}", t.cc, t.cw, t.wc, t.ww);
    let _ = writeln!(out);
    for key in rate_keys() {
        let v = s.rate(key);
        let shown = if *key == "rss" { num(v) } else { pct(v) };
        let ci = r.ci.get(*key).map_or(String::new(), |[lo, hi]| {
            format!("  [{}, {}]", pct(Some(*lo)), pct(Some(*hi)))
        });
        let _ = writeln!(out, "  {key:<10} {shown:>8}{ci}   {}", describe(key));
    }
    if s.rounds.len() > 2 {
        let _ = writeln!(out);
        let accs: Vec<String> = s.rounds.iter().map(|rd| pct(rd.acc)).collect();
        let _ = writeln!(out, "  accuracy by attempt: {}", accs.join(" → "));
    }
    let c = &s.critique;
    if c.n > 0 {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "critique (positive = answer wrong): n {}  tp {}  fp {}  tn {}  fn {}  unparsed {}",
            c.n, c.tp, c.fp, c.tn, c.fn_, c.unparsed
        );
        let _ = writeln!(
            out,
            "  accuracy {}   precision {}   recall {}   f1 {}",
            pct(c.accuracy),
            pct(c.precision),
            pct(c.recall),
            pct(c.f1)
        );
    }
    if let Some(g) = &r.grader {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "grader vs dataset labels: agree {}   disagree {}{}",
            g.agree,
            g.disagree,
            if g.disagreements.is_empty() {
                String::new()
            } else {
                format!("   ({})", g.disagreements.join(", "))
            }
        );
    }
    let u = &r.usage;
    if u.turns > 0 && (u.prompt_tokens.is_some() || u.latency_ms_median.is_some_and(|l| l > 0.0)) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "usage: {} turns ({} cached), {} prompt + {} completion tokens, median latency {}{}",
            u.turns,
            u.cached,
            u.prompt_tokens.map_or("?".into(), |n| n.to_string()),
            u.completion_tokens.map_or("?".into(), |n| n.to_string()),
            u.latency_ms_median.map_or("—".into(), |l| format!("{l:.0} ms")),
            u.cost.map_or(String::new(), |c| format!(", cost {c:.4}"))
        );
    }
    if r.overrides_used > 0 {
        let _ = writeln!(out, "human grade overrides used: {}", r.overrides_used);
    }
    out
}

/// CSV: one row per metric with its interval.
pub fn csv(r: &MetricsReport) -> String {
    let mut out = String::from("metric,value,lo,hi\n");
    let f = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
    for key in rate_keys() {
        let (lo, hi) = r.ci.get(*key).map_or((None, None), |[a, b]| (Some(*a), Some(*b)));
        let _ = writeln!(out, "{key},{},{},{}", f(r.summary.rate(key)), f(lo), f(hi));
    }
    let c = &r.summary.critique;
    for (k, v) in [
        ("critique_accuracy", c.accuracy),
        ("critique_precision", c.precision),
        ("critique_recall", c.recall),
        ("critique_f1", c.f1),
    ] {
        let _ = writeln!(out, "{k},{},,", f(v));
    }
    out
}
