//! `report.md`: the tables in the layouts of the papers, the figures, the provenance.

use std::fmt::Write as _;

use crate::domain::RunRecord;
use crate::metrics::{AnalysisOptions, MetricsReport};

use super::build::ArmEffect;
use super::figures::figure_names;
use crate::fmt::{MISSING, num3, p_value, points, signed_points};

/// `value [lo, hi]` in percent, the interval when there is one.
fn with_ci(m: &MetricsReport, key: &str, v: Option<f64>) -> String {
    match (v, m.ci.get(key)) {
        (Some(_), Some([lo, hi])) => {
            format!("{} [{}, {}]", points(v), points(Some(*lo)), points(Some(*hi)))
        }
        _ => points(v),
    }
}

/// `value [lo, hi]` with three decimals (scores that are not percentages).
fn num3_ci(m: &MetricsReport, key: &str, v: Option<f64>) -> String {
    match (v, m.ci.get(key)) {
        (Some(_), Some([lo, hi])) => {
            format!("{} [{}, {}]", num3(v), num3(Some(*lo)), num3(Some(*hi)))
        }
        _ => num3(v),
    }
}

fn rss_ci(m: &MetricsReport) -> String {
    match (m.summary.rss, m.ci.get("rss")) {
        (Some(v), Some([lo, hi])) => {
            format!("{} [{}, {}]", num3(Some(v)), num3(Some(*lo)), num3(Some(*hi)))
        }
        (v, _) => num3(v),
    }
}

/// Run names are user text: keep table cells intact.
pub(super) fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '|' | '`' | '[' | ']' | '*' | '_' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A run's name as every table shows it: escaped, with † when its output is simulated.
pub(super) fn display_name(r: &RunRecord, m: &MetricsReport) -> String {
    let mark = if m.provenance.simulated { " †" } else { "" };
    format!("{}{mark}", md_cell(&r.name))
}

/// `display_name` of the run called `name` in the report.
fn name_of(reports: &[(RunRecord, MetricsReport)], name: &str) -> String {
    reports
        .iter()
        .find(|(r, _)| r.name == name)
        .map_or_else(|| md_cell(name), |(r, m)| display_name(r, m))
}

/// How a column's cells line up: text to the left, numbers to the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Text,
    Num,
}

use Align::{Num, Text};

fn table<S: AsRef<str>>(out: &mut String, header: &[(S, Align)], rows: &[Vec<String>]) {
    let names: Vec<&str> = header.iter().map(|(h, _)| h.as_ref()).collect();
    let _ = writeln!(out, "| {} |", names.join(" | "));
    let align: Vec<&str> =
        header.iter().map(|(_, a)| if *a == Text { ":---" } else { "---:" }).collect();
    let _ = writeln!(out, "| {} |", align.join(" | "));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    let _ = writeln!(out);
}

pub(super) fn markdown(
    reports: &[(RunRecord, MetricsReport)],
    effects: &[ArmEffect],
    opts: &AnalysisOptions,
) -> String {
    let mut out = String::new();
    preamble_section(&mut out, reports, opts);
    self_correction_section(&mut out, reports);
    transitions_section(&mut out, reports);
    closed_loop_section(&mut out, reports);
    verdicts_section(&mut out, reports);
    attempts_section(&mut out, reports);
    calibration_section(&mut out, reports, opts);
    what_if_section(&mut out, reports);
    human_section(&mut out, reports);
    if !effects.is_empty() {
        effects_section(&mut out, reports, effects, opts);
    }
    figures_section(&mut out, reports);
    provenance_section(&mut out, reports);
    out
}

/// Title, runs, how to read the numbers.
fn preamble_section(
    out: &mut String,
    reports: &[(RunRecord, MetricsReport)],
    opts: &AnalysisOptions,
) {
    let names: Vec<String> = reports.iter().map(|(r, m)| display_name(r, m)).collect();
    let _ = writeln!(out, "# critloop report\n");
    let _ = writeln!(
        out,
        "Runs: {}. Written by critloop {}.",
        names.join(", "),
        env!("CARGO_PKG_VERSION")
    );
    let b = &opts.bootstrap;
    let _ = writeln!(
        out,
        "Rates are percentages; brackets hold {:.0}% percentile bootstrap intervals over items \
         (all samples of an item resampled together; {} resamples, seed {}). Every item weighs \
         the same whatever its number of samples.",
        b.level * 100.0,
        b.resamples,
        b.seed
    );
    if reports.iter().any(|(_, m)| m.provenance.simulated) {
        let _ = writeln!(out, "Runs marked † are SIMULATED (sim provider), not a real model.");
    }
    let _ = writeln!(out, "Check it against the database with `critloop verify DIR`.\n");
}

/// Yang et al.'s layout: accuracy at t1 and at the final attempt, CL, CS and RSS.
fn self_correction_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let _ = writeln!(out, "## Self-correction: confidence level and critique score\n");
    let _ = writeln!(
        out,
        "Layout of Yang et al., \"Confidence v.s. Critique\" (arXiv 2412.19513): CL = P(right \
         at the final attempt | right at t1), CS = P(right at the final attempt | wrong at t1), \
         Acc@final = Acc@t1·CL + (1−Acc@t1)·CS. Attempts are t1, t2, … throughout; Acc@final is \
         t2 after one round of critique and revision, t3 after two.\n"
    );
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|(r, m)| {
            let s = &m.summary;
            vec![
                display_name(r, m),
                md_cell(&m.provenance.protocol),
                md_cell(&m.provenance.dataset),
                s.scored.to_string(),
                with_ci(m, "acc_t1", s.acc_t1),
                with_ci(m, "acc_t2", s.acc_t2),
                with_ci(m, "cl", s.cl),
                with_ci(m, "cs", s.cs),
                rss_ci(m),
            ]
        })
        .collect();
    table(
        out,
        &[
            ("Run", Text),
            ("Protocol", Text),
            ("Dataset", Text),
            ("N", Num),
            ("Acc@t1", Num),
            ("Acc@final", Num),
            ("CL", Num),
            ("CS", Num),
            ("RSS", Num),
        ],
        &rows,
    );
}

/// The t1 → final 2×2 cells and the Δ rates (SCoRe).
fn transitions_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let _ = writeln!(out, "## Transitions first → final attempt (SCoRe)\n");
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|(r, m)| {
            let s = &m.summary;
            let t = &s.transitions;
            vec![
                display_name(r, m),
                t.cc.to_string(),
                t.cw.to_string(),
                t.wc.to_string(),
                t.ww.to_string(),
                with_ci(m, "delta", s.delta),
                with_ci(m, "delta_i2c", s.delta_i2c),
                with_ci(m, "delta_c2i", s.delta_c2i),
            ]
        })
        .collect();
    let mut header = vec![("Run", Text)];
    header.extend(["c→c", "c→w", "w→c", "w→w", "Δ", "Δ^{i→c}", "Δ^{c→i}"].map(|h| (h, Num)));
    table(out, &header, &rows);
}

/// Before and after the critique (RealCritic).
fn closed_loop_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let _ = writeln!(out, "## Closed-loop correction (RealCritic layout)\n");
    let _ = writeln!(
        out,
        "Accuracy of the answer before the critique and after the critic's (or reviser's) \
         correction; for critic-correct runs the second column is RealCritic's closed-loop \
         accuracy.\n"
    );
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|(r, m)| {
            let s = &m.summary;
            vec![
                display_name(r, m),
                md_cell(&r.critic_model),
                with_ci(m, "acc_t1", s.acc_t1),
                with_ci(m, "acc_t2", s.acc_t2),
                with_ci(m, "delta", s.delta),
            ]
        })
        .collect();
    table(
        out,
        &[("Run", Text), ("Critic", Text), ("Before", Num), ("After", Num), ("Δ", Num)],
        &rows,
    );
}

/// The critic's verdicts as a classifier (CriticBench).
fn verdicts_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let judged: Vec<&(RunRecord, MetricsReport)> =
        reports.iter().filter(|(_, m)| m.summary.critique.n > 0).collect();
    if !judged.is_empty() {
        let _ = writeln!(out, "## Critique verdicts (CriticBench layout)\n");
        let _ = writeln!(
            out,
            "Positive class = the critiqued answer is wrong; an unparsed verdict counts as a \
             wrong prediction.\n"
        );
        let rows: Vec<Vec<String>> = judged
            .iter()
            .map(|(r, m)| {
                let c = &m.summary.critique;
                vec![
                    display_name(r, m),
                    c.n.to_string(),
                    with_ci(m, "critique.accuracy", c.accuracy),
                    with_ci(m, "critique.precision", c.precision),
                    with_ci(m, "critique.recall", c.recall),
                    with_ci(m, "critique.f1", c.f1),
                    c.unparsed.to_string(),
                ]
            })
            .collect();
        let mut header = vec![("Run", Text)];
        header.extend(["n", "Acc", "Precision", "Recall", "F1", "Unparsed"].map(|h| (h, Num)));
        table(out, &header, &rows);
    }
}

/// Accuracy after every attempt, when some run has more than two.
fn attempts_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let max_rounds = reports.iter().map(|(_, m)| m.summary.rounds.len()).max().unwrap_or(0);
    if max_rounds > 2 {
        let _ = writeln!(out, "## Accuracy by attempt\n");
        let mut header = vec![("Run".to_string(), Text)];
        header.extend((1..=max_rounds).map(|j| (format!("t{j}"), Num)));
        let rows: Vec<Vec<String>> = reports
            .iter()
            .map(|(r, m)| {
                let mut row = vec![display_name(r, m)];
                row.extend((0..max_rounds).map(|j| match m.summary.rounds.get(j) {
                    Some(rd) => with_ci(m, &format!("rounds.{j}.acc"), rd.acc),
                    None => MISSING.into(),
                }));
                row
            })
            .collect();
        table(out, &header, &rows);
    }
}

/// ECE, Brier and AUROC per confidence source.
fn calibration_section(
    out: &mut String,
    reports: &[(RunRecord, MetricsReport)],
    opts: &AnalysisOptions,
) {
    let calibrated: Vec<Vec<String>> = reports
        .iter()
        .flat_map(|(r, m)| {
            m.calibration.iter().map(move |(src, c)| {
                vec![
                    display_name(r, m),
                    src.clone(),
                    c.n.to_string(),
                    num3_ci(m, &format!("calibration.{src}.ece"), Some(c.ece)),
                    num3_ci(m, &format!("calibration.{src}.brier"), Some(c.brier)),
                    num3_ci(m, &format!("calibration.{src}.auroc"), c.auroc),
                ]
            })
        })
        .collect();
    if !calibrated.is_empty() {
        let _ = writeln!(out, "## Calibration\n");
        let _ = writeln!(
            out,
            "Each source predicts that the judged answer is correct: `verbalized` = the critic's \
             stated confidence in its verdict, `p_true` = logprob of the verdict \"correct\" \
             (renormalised; `p_true_raw` unnormalised), `agreement` = share of the item's \
             samples giving the same first answer. ECE over {} equal-count bins; AUROC by \
             Mann–Whitney with ties counted ½.\n",
            opts.bins
        );
        table(
            out,
            &[
                ("Run", Text),
                ("Source", Text),
                ("n", Num),
                ("ECE", Num),
                ("Brier", Num),
                ("AUROC", Num),
            ],
            &calibrated,
        );
    }
}

/// Links to the SVG figures.
fn figures_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let _ = writeln!(out, "## Figures\n");
    for f in figure_names(reports) {
        let _ = writeln!(out, "![{}]({})\n", f.1, f.0);
    }
}

/// Where each run's numbers come from.
fn provenance_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let _ = writeln!(out, "## Provenance\n");
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|(r, m)| {
            let p = &m.provenance;
            vec![
                display_name(r, m),
                p.provider.clone(),
                md_cell(&format!("{} / {}", r.model, r.critic_model)),
                short(&p.dataset_hash),
                short(&p.prompts_hash),
                p.seed.to_string(),
                m.summary.episodes.to_string(),
                m.summary.failed.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &[
            ("Run", Text),
            ("Provider", Text),
            ("Generator / critic", Text),
            ("Dataset hash", Text),
            ("Prompts hash", Text),
            ("Seed", Num),
            ("Episodes", Num),
            ("Failed", Num),
        ],
        &rows,
    );
}

fn short(hash: &str) -> String {
    format!("`{}`", hash.get(..12).unwrap_or(hash))
}

fn what_if_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let with: Vec<&(RunRecord, MetricsReport)> =
        reports.iter().filter(|(_, m)| m.what_if.is_some()).collect();
    if with.is_empty() {
        return;
    }
    let _ = writeln!(out, "## What if revisions were attempted only below confidence τ\n");
    let _ = writeln!(
        out,
        "Accuracy of the final answers (item-weighted) / share of episodes revised, if an episode \
         were revised only when the critic's confidence that the answer is correct is below τ \
         (τ = 0: never revise; always: the run as made).\n"
    );
    let taus = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.01];
    let mut header =
        vec![("Run".to_string(), Text), ("Source".to_string(), Text), ("n".to_string(), Num)];
    header.extend(
        taus.iter().map(|t| (if *t > 1.0 { "always".into() } else { format!("τ={t:.1}") }, Num)),
    );
    let rows: Vec<Vec<String>> = with
        .iter()
        .filter_map(|(r, m)| {
            let w = m.what_if.as_ref()?;
            let mut row = vec![display_name(r, m), w.source.clone(), w.n.to_string()];
            row.extend(taus.iter().map(|t| {
                w.points.iter().find(|p| (p.tau - t).abs() < 1e-9).map_or(MISSING.into(), |p| {
                    format!("{} / {}", points(Some(p.acc)), points(Some(p.revised)))
                })
            }));
            Some(row)
        })
        .collect();
    table(out, &header, &rows);
}

fn human_section(out: &mut String, reports: &[(RunRecord, MetricsReport)]) {
    let labelled: Vec<&(RunRecord, MetricsReport)> =
        reports.iter().filter(|(_, m)| m.human.labels > 0).collect();
    if labelled.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Human labels\n");
    let mut rows = Vec::new();
    for (r, m) in &labelled {
        for (name, values) in &m.human.counts {
            for (value, n) in values {
                let t = m.human.by_transition.get(name).and_then(|v| v.get(value));
                let cell = |f: fn(&crate::metrics::Transitions) -> u64| {
                    t.map_or("0".to_string(), |t| f(t).to_string())
                };
                rows.push(vec![
                    display_name(r, m),
                    md_cell(name),
                    md_cell(value),
                    n.to_string(),
                    cell(|t| t.cc),
                    cell(|t| t.cw),
                    cell(|t| t.wc),
                    cell(|t| t.ww),
                ]);
            }
        }
    }
    let mut header = vec![("Run", Text), ("Label", Text), ("Value", Text)];
    header.extend(["Count", "c→c", "c→w", "w→c", "w→w"].map(|h| (h, Num)));
    table(out, &header, &rows);
    for (r, m) in &labelled {
        let h = &m.human;
        let o = &h.overrides;
        if o.agree + o.disagree > 0 {
            let _ = writeln!(
                out,
                "- {}: auto grade vs human override: {} agree, {} disagree.",
                display_name(r, m),
                o.agree,
                o.disagree
            );
        }
        for line in crate::metrics::agreement_lines(h) {
            let _ = writeln!(out, "- {}: {}", display_name(r, m), md_cell(line.trim()));
        }
        // Each pair's confusion matrix, as the Labels panel and `metrics` show it.
        for (name, a) in &h.agreement {
            for p in &a.pairs {
                let _ =
                    writeln!(out, "\nConfusion on {}, {}:\n", md_cell(name), display_name(r, m));
                let _ = writeln!(out, "```");
                for line in crate::metrics::confusion_lines(p) {
                    // Inside a code fence only a backtick could break out.
                    let _ = writeln!(out, "{}", line.replace('`', "'"));
                }
                let _ = writeln!(out, "```");
            }
        }
    }
    let _ = writeln!(out);
}

/// The control arms: the critique's own effect, source − arm, paired.
fn effects_section(
    out: &mut String,
    reports: &[(RunRecord, MetricsReport)],
    effects: &[ArmEffect],
    opts: &AnalysisOptions,
) {
    let _ = writeln!(out, "## The critique's own effect (control arms)\n");
    let _ = writeln!(
        out,
        "Each control arm revises the very same first attempts as its source run with another \
         critique (none, empty, an oracle's right/wrong, or another critic's); differences are source − arm in points, with paired bootstrap \
         intervals over shared items ({} resamples, seed {}) and McNemar's exact test on the \
         final answers.\n",
        opts.bootstrap.resamples, opts.bootstrap.seed
    );
    let rows: Vec<Vec<String>> = effects
        .iter()
        .map(|e| {
            let diff = |k: &str| {
                let r = e.cmp.rates.iter().find(|r| r.key == k);
                let d = r.and_then(|r| r.diff);
                match r.and_then(|r| r.ci) {
                    Some([lo, hi]) if d.is_some() => {
                        format!(
                            "{} [{}, {}]",
                            signed_points(d),
                            signed_points(Some(lo)),
                            signed_points(Some(hi))
                        )
                    }
                    _ => signed_points(d),
                }
            };
            let m = e.cmp.mcnemar.get("acc_t2");
            vec![
                name_of(reports, &e.source),
                name_of(reports, &e.arm),
                md_cell(&e.kind),
                e.cmp.shared_items.to_string(),
                diff("acc_t2"),
                diff("delta_i2c"),
                diff("delta_c2i"),
                m.map_or(MISSING.into(), |m| format!("{}/{}", m.b_only, m.a_only)),
                m.map_or(MISSING.into(), |m| m.p_value.map_or(MISSING.into(), p_value)),
            ]
        })
        .collect();
    table(
        out,
        &[
            ("Run", Text),
            ("Arm", Text),
            ("Control", Text),
            ("Items", Num),
            ("ΔAcc@final", Num),
            ("ΔΔ^{i→c}", Num),
            ("ΔΔ^{c→i}", Num),
            ("Flips +/−", Num),
            ("McNemar p", Num),
        ],
        &rows,
    );
}
