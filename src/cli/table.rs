//! Human-readable metrics (percent only here, fractions everywhere in data).

use std::fmt::Write;

use crate::fmt::{MISSING, num3, p_value, pct, signed_num3, signed_points};
use crate::metrics::{Comparison, MetricsReport, rate_keys, scalar_rates};

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
        let shown = if *key == "rss" { num3(v) } else { pct(v) };
        let f = if *key == "rss" { num3 } else { pct };
        let ci = r
            .ci
            .get(*key)
            .map_or(String::new(), |[lo, hi]| format!("  [{}, {}]", f(Some(*lo)), f(Some(*hi))));
        let _ = writeln!(out, "  {key:<10} {shown:>8}{ci}   {}", describe(key));
    }
    if s.scored == 0
        && let Some(acc) = s.rounds.first().and_then(|r| r.acc)
    {
        let _ = writeln!(
            out,
            "\n  no episode has a second attempt (e.g. critique-only): accuracy of the judged \
             answers {}",
            pct(Some(acc))
        );
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
            "critique (positive = answer wrong): n {}  tp {}  fp {}  tn {}  fn {}  unparsed {} ({})",
            c.n,
            c.tp,
            c.fp,
            c.tn,
            c.fn_,
            c.unparsed,
            pct(Some(c.unparsed as f64 / c.n as f64))
        );
        let with_ci = |k: &str, v: Option<f64>| {
            let ci = r.ci.get(&format!("critique.{k}")).map_or(String::new(), |[lo, hi]| {
                format!(" [{}, {}]", pct(Some(*lo)), pct(Some(*hi)))
            });
            format!("{k} {}{ci}", pct(v))
        };
        let _ = writeln!(
            out,
            "  {}   {}",
            with_ci("accuracy", c.accuracy),
            with_ci("precision", c.precision)
        );
        let _ = writeln!(out, "  {}   {}", with_ci("recall", c.recall), with_ci("f1", c.f1));
    }
    if !r.calibration.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "calibration ({} equal-count bins; predicts that the judged answer is correct)",
            r.provenance.calibration_bins
        );
        for (source, c) in &r.calibration {
            let with = |label: &str, k: &str, v: Option<f64>| {
                let ci =
                    r.ci.get(&format!("calibration.{source}.{k}"))
                        .map_or(String::new(), |[lo, hi]| {
                            format!(" [{}, {}]", num3(Some(*lo)), num3(Some(*hi)))
                        });
                format!("{label} {}{ci}", num3(v))
            };
            let _ = writeln!(
                out,
                "  {source:<11} n {:<6} {}   {}   {}",
                c.n,
                with("ECE", "ece", Some(c.ece)),
                with("Brier", "brier", Some(c.brier)),
                with("AUROC", "auroc", c.auroc)
            );
        }
    }
    if let Some(w) = &r.what_if {
        let _ = writeln!(out);
        let _ =
            writeln!(out, "what if revising only below confidence τ ({}, n {}):", w.source, w.n);
        let cells: Vec<String> = w
            .points
            .iter()
            .filter(|p| (p.tau * 10.0).round() as i64 % 2 == 0 || p.tau > 1.0)
            .map(|p| {
                let tau = if p.tau > 1.0 { "always".to_string() } else { format!("{:.1}", p.tau) };
                format!("τ {tau}: acc {} revised {}", pct(Some(p.acc)), pct(Some(p.revised)))
            })
            .collect();
        for chunk in cells.chunks(3) {
            let _ = writeln!(out, "  {}", chunk.join("   "));
        }
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
            u.latency_ms_median.map_or(MISSING.into(), |l| format!("{l:.0} ms")),
            u.cost.map_or(String::new(), |c| format!(", cost {c:.4}"))
        );
    }
    if u.truncated > 0 {
        let _ = writeln!(
            out,
            "truncated: {} of {} replies cut at max_tokens (finish_reason length); raise --max-tokens",
            u.truncated, u.turns
        );
    }
    if r.overrides_used > 0 {
        let _ = writeln!(out, "human grade overrides used: {}", r.overrides_used);
    }
    human(&mut out, r);
    let b = &r.provenance.bootstrap;
    if b.resamples > 0 {
        let _ = writeln!(
            out,
            "\nintervals: {:.0}% percentile bootstrap over items, {} resamples, seed {}",
            b.level * 100.0,
            b.resamples,
            b.seed
        );
    }
    out
}

/// The human-label section; annotators, names and values are user text, shown inert.
fn human(out: &mut String, r: &MetricsReport) {
    let mut text = String::new();
    human_text(&mut text, r);
    for line in text.lines() {
        let _ = writeln!(out, "{}", crate::llm::doctor::inert(line));
    }
}

fn human_text(out: &mut String, r: &MetricsReport) {
    let h = &r.human;
    if h.labels == 0 {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "labels: {} in force ({} entries) by {}",
        h.effective,
        h.labels,
        h.annotators.join(", ")
    );
    for (name, values) in &h.counts {
        let parts: Vec<String> = values.iter().map(|(v, n)| format!("{v} {n}")).collect();
        let _ = writeln!(out, "  {name:<18} {}", parts.join("   "));
        if let Some(cells) = h.by_transition.get(name) {
            for (v, t) in cells {
                let _ = writeln!(
                    out,
                    "    {v:<16} c→c {}  c→w {}  w→c {}  w→w {}",
                    t.cc, t.cw, t.wc, t.ww
                );
            }
        }
    }
    let o = &h.overrides;
    if o.agree + o.disagree > 0 {
        let _ = writeln!(
            out,
            "  auto grade vs overrides: agree {}   disagree {}{}",
            o.agree,
            o.disagree,
            if o.disagreements.is_empty() {
                String::new()
            } else {
                format!("   ({})", o.disagreements.join(", "))
            }
        );
    }
    // Each label: α, then each pair with its confusion matrix under it.
    for (name, a) in &h.agreement {
        let lines = crate::metrics::label_agreement_lines(name, a);
        if let Some(head) = lines.first() {
            let _ = writeln!(out, "  {head}");
        }
        for (line, p) in lines.iter().skip(1).zip(&a.pairs) {
            let _ = writeln!(out, "  {line}");
            for row in crate::metrics::confusion_lines(p) {
                let _ = writeln!(out, "      {row}");
            }
        }
    }
    if let Some(line) = crate::metrics::human_critic_line(h) {
        let _ = writeln!(out, "  {line}");
    }
}

/// CSV: one row per metric with its interval.
pub fn csv(r: &MetricsReport) -> String {
    let mut out = String::from("metric,value,lo,hi\n");
    let f = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
    for (key, v) in scalar_rates(&r.summary) {
        let (lo, hi) = r.ci.get(&key).map_or((None, None), |[a, b]| (Some(*a), Some(*b)));
        let _ = writeln!(out, "{key},{},{},{}", f(v), f(lo), f(hi));
    }
    if let Some(v) = r.correction_acc {
        let (lo, hi) =
            r.ci.get("correction_acc").map_or((None, None), |[a, b]| (Some(*a), Some(*b)));
        let _ = writeln!(out, "correction_acc,{},{},{}", f(v), f(lo), f(hi));
    }
    for (source, c) in &r.calibration {
        for (k, v) in [("ece", Some(c.ece)), ("brier", Some(c.brier)), ("auroc", c.auroc)] {
            let key = format!("calibration.{source}.{k}");
            let (lo, hi) = r.ci.get(&key).map_or((None, None), |[a, b]| (Some(*a), Some(*b)));
            let _ = writeln!(out, "{key},{},{},{}", f(v), f(lo), f(hi));
        }
    }
    let g = |ci: Option<[f64; 2]>| ci.map_or((None, None), |[a, b]| (Some(a), Some(b)));
    for (name, a) in &r.human.agreement {
        if let Some(x) = &a.alpha {
            let (lo, hi) = g(x.ci);
            let _ = writeln!(out, "human.alpha.{name},{},{},{}", f(x.alpha), f(lo), f(hi));
        }
        for p in &a.pairs {
            let (lo, hi) = g(p.kappa_ci);
            let key = format!("human.kappa.{name}.{}.{}", p.a, p.b);
            let _ = writeln!(out, "{key},{},{},{}", f(p.kappa), f(lo), f(hi));
            let _ = writeln!(out, "human.percent.{name}.{}.{},{},,", p.a, p.b, p.percent);
        }
    }
    if let Some(k) = &r.human.human_critic {
        let (lo, hi) = g(k.kappa_ci);
        let _ = writeln!(out, "human.kappa_human_critic,{},{},{}", f(k.kappa), f(lo), f(hi));
    }
    out
}

/// The table printed by `critloop compare`.
pub fn comparison(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A = {}   B = {}", c.a, c.b);
    let _ = writeln!(
        out,
        "{} shared items ({} only in A, {} only in B); differences are B − A in points",
        c.shared_items, c.only_a, c.only_b
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<20} {:>8} {:>8} {:>8}   {:.0}% CI (paired)",
        "metric",
        "A",
        "B",
        "B − A",
        c.bootstrap.level * 100.0
    );
    // Per-attempt rows repeat acc_t1/acc_t2 unless there are several rounds.
    let multi_round = c.rates.iter().any(|r| r.key == "rounds.2.acc");
    for r in c.rates.iter().filter(|r| multi_round || !r.key.starts_with("rounds.")) {
        let d = |v: f64| {
            if r.key == "rss" { signed_num3(Some(v)) } else { signed_points(Some(v)) }
        };
        let ci = r.ci.map_or(MISSING.to_string(), |[lo, hi]| format!("[{}, {}]", d(lo), d(hi)));
        let diff = r.diff.map_or(MISSING.to_string(), d);
        let (a, b) = if r.key == "rss" { (num3(r.a), num3(r.b)) } else { (pct(r.a), pct(r.b)) };
        let _ = writeln!(out, "  {:<20} {a:>8} {b:>8} {diff:>8}   {ci}", r.key);
    }
    if let Some(m) = c.mcnemar.values().next() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            match m.pairing {
                crate::metrics::Pairing::Episode => {
                    "McNemar pairs: episodes with the same item id and sample, scored in both runs."
                }
                crate::metrics::Pairing::ItemMajority => {
                    "McNemar pairs: items scored in both runs (several samples each); a side is \
                     right when most of its samples are. An item whose samples tie is left out \
                     of that test only."
                }
            }
        );
    }
    for (key, m) in &c.mcnemar {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "McNemar on {key} ({}): {} pairs — both right {}, A only {}, B only {}, both wrong \
             {} — exact p = {}",
            match m.pairing {
                crate::metrics::Pairing::Episode => "episodes paired by item and sample",
                crate::metrics::Pairing::ItemMajority => "items, majority of their samples",
            },
            m.pairs,
            m.both_right,
            m.a_only,
            m.b_only,
            m.both_wrong,
            m.p_value.map_or(MISSING.to_string(), p_value)
        );
        if key == "acc_t2" {
            for (who, list) in
                [("right only in A", &m.a_only_episodes), ("right only in B", &m.b_only_episodes)]
            {
                if list.is_empty() {
                    continue;
                }
                let shown: Vec<&str> = list.iter().take(12).map(String::as_str).collect();
                let more = if list.len() > 12 {
                    format!(" … +{}", list.len() - 12)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "  {who}: {}{more}", shown.join(", "));
            }
        }
    }
    let b = &c.bootstrap;
    if b.resamples > 0 {
        let _ = writeln!(
            out,
            "\nintervals: paired percentile bootstrap over shared items, {} resamples, seed {}",
            b.resamples, b.seed
        );
    }
    out
}
