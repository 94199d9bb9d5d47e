//! `table.tex`: the main metrics and the critique verdicts as booktabs tables.

use std::fmt::Write as _;

use crate::domain::RunRecord;
use crate::metrics::{AnalysisOptions, MetricsReport};

use crate::fmt::points;

/// LaTeX special characters in user text.
pub(super) fn tex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            c => out.push(c),
        }
    }
    out
}

/// A run's name in a LaTeX table: escaped, with a dagger when its output is simulated.
fn tex_name(r: &RunRecord, m: &MetricsReport) -> String {
    let mark = if m.provenance.simulated { "$^\\dagger$" } else { "" };
    format!("{}{mark}", tex(&r.name))
}

fn tex_ci(m: &MetricsReport, key: &str, v: Option<f64>) -> String {
    match (v, m.ci.get(key)) {
        (Some(_), Some([lo, hi])) => {
            format!(
                "{}\\,{{\\scriptsize[{}, {}]}}",
                points(v),
                points(Some(*lo)),
                points(Some(*hi))
            )
        }
        _ => points(v),
    }
}

pub(super) fn latex(reports: &[(RunRecord, MetricsReport)], opts: &AnalysisOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "% Written by critloop {}; check with `critloop verify DIR`.",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "% Needs \\usepackage{{booktabs}}.");
    let _ = writeln!(out, "\\begin{{table}}[t]\n\\centering\n\\small");
    let _ = writeln!(out, "\\begin{{tabular}}{{lrrrrrrr}}\n\\toprule");
    let _ = writeln!(
        out,
        "Run & Acc@t1 & Acc@final & $\\Delta$ & $\\Delta^{{i\\to c}}$ & $\\Delta^{{c\\to i}}$ & CL & CS \\\\\n\\midrule"
    );
    for (r, m) in reports {
        let s = &m.summary;
        let _ = writeln!(
            out,
            "{} & {} & {} & {} & {} & {} & {} & {} \\\\",
            tex_name(r, m),
            tex_ci(m, "acc_t1", s.acc_t1),
            tex_ci(m, "acc_t2", s.acc_t2),
            tex_ci(m, "delta", s.delta),
            tex_ci(m, "delta_i2c", s.delta_i2c),
            tex_ci(m, "delta_c2i", s.delta_c2i),
            tex_ci(m, "cl", s.cl),
            tex_ci(m, "cs", s.cs),
        );
    }
    let _ = writeln!(out, "\\bottomrule\n\\end{{tabular}}");
    let judged: Vec<&(RunRecord, MetricsReport)> =
        reports.iter().filter(|(_, m)| m.summary.critique.n > 0).collect();
    if !judged.is_empty() {
        let _ = writeln!(out, "\n\\medskip\n\\begin{{tabular}}{{lrrrrr}}\n\\toprule");
        let _ = writeln!(out, "Run & $n$ & Acc & Precision & Recall & F1 \\\\\n\\midrule");
        for (r, m) in judged {
            let c = &m.summary.critique;
            let _ = writeln!(
                out,
                "{} & {} & {} & {} & {} & {} \\\\",
                tex_name(r, m),
                c.n,
                tex_ci(m, "critique.accuracy", c.accuracy),
                tex_ci(m, "critique.precision", c.precision),
                tex_ci(m, "critique.recall", c.recall),
                tex_ci(m, "critique.f1", c.f1),
            );
        }
        let _ = writeln!(out, "\\bottomrule\n\\end{{tabular}}");
    }
    let b = &opts.bootstrap;
    let sim = if reports.iter().any(|(_, m)| m.provenance.simulated) {
        " $^\\dagger$Simulated run (sim provider)."
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "\\caption{{Self-correction metrics (\\%) with {:.0}\\% percentile bootstrap intervals \
         over items ({} resamples, seed {}). CL: confidence level; CS: critique score; critique \
         scores take ``the answer is wrong'' as the positive class.{sim}}}",
        b.level * 100.0,
        b.resamples,
        b.seed
    );
    let _ = writeln!(out, "\\label{{tab:critloop}}\n\\end{{table}}");
    out
}
