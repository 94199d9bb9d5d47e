//! Paper-ready reports (Markdown in the layouts of the RealCritic, CriticBench and "Confidence
//! v.s. Critique" papers, a LaTeX table, SVG figures) and their verification: every file is a
//! pure function of the database and the options in the manifest, so `verify` rebuilds them and
//! points at the first number that differs.

pub mod plots;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::RunRecord;
use crate::metrics::{
    AnalysisOptions, BootstrapOptions, Comparison, MetricsReport, Pairing, RunData, compare_with,
    report_of,
};
use crate::store::{Store, StoreError};

/// The recipe of a report, written beside it.
pub const MANIFEST: &str = "report.json";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a critloop report manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("plotting failed: {0}")]
    Plot(String),
    #[error("no runs given")]
    NoRuns,
}

/// What a report was built from; `verify` rebuilds from this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// critloop version that wrote the report.
    pub critloop: String,
    pub runs: Vec<String>,
    pub resamples: u32,
    pub seed: u64,
    pub level: f64,
    pub bins: usize,
    /// Every generated file, relative to the report directory.
    pub files: Vec<String>,
}

impl Manifest {
    pub fn options(&self) -> AnalysisOptions {
        AnalysisOptions {
            bootstrap: BootstrapOptions {
                resamples: self.resamples,
                seed: self.seed,
                level: self.level,
            },
            bins: self.bins,
        }
    }
}

/// One generated file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFile {
    pub name: String,
    pub content: String,
}

/// Builds every file of the report of `runs` (in the given order).
pub fn build(
    store: &Store,
    runs: &[RunRecord],
    opts: &AnalysisOptions,
) -> Result<(Manifest, Vec<ReportFile>), ReportError> {
    if runs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    // Each run is read once: its metrics and, for control arms, the paired comparison.
    let data: Vec<RunData> =
        runs.iter().map(|r| crate::analysis::run_data(store, r)).collect::<Result<_, _>>()?;
    let reports: Vec<(RunRecord, MetricsReport)> =
        runs.iter().zip(&data).map(|(r, d)| (r.clone(), report_of(r, d, opts))).collect();
    let effects = arm_effects(runs, &data, opts);
    let mut files = vec![
        ReportFile { name: "report.md".into(), content: markdown(&reports, &effects, opts) },
        ReportFile { name: "table.tex".into(), content: latex(&reports, opts) },
        ReportFile {
            name: "metrics.json".into(),
            content: serde_json::to_string_pretty(
                &reports.iter().map(|(_, m)| m).collect::<Vec<_>>(),
            )
            .map_err(|e| ReportError::Plot(e.to_string()))?
                + "\n",
        },
    ];
    files.extend(figures(&reports)?);
    let manifest = Manifest {
        critloop: env!("CARGO_PKG_VERSION").to_string(),
        runs: runs.iter().map(|r| r.name.clone()).collect(),
        resamples: opts.bootstrap.resamples,
        seed: opts.bootstrap.seed,
        level: opts.bootstrap.level,
        bins: opts.bins,
        files: files.iter().map(|f| f.name.clone()).collect(),
    };
    Ok((manifest, files))
}

/// A control arm in the report next to its source run: the critique's effect is source − arm.
struct ArmEffect {
    arm: String,
    kind: String,
    source: String,
    cmp: Comparison,
}

fn arm_effects(runs: &[RunRecord], data: &[RunData], opts: &AnalysisOptions) -> Vec<ArmEffect> {
    let mut out = Vec::new();
    for (arm, a) in runs.iter().zip(data) {
        let crate::domain::Origin::Arm { of: source_name, arm: kind } = arm.origin() else {
            continue;
        };
        let Some((source, b)) = runs.iter().zip(data).find(|(r, _)| r.name == source_name) else {
            continue;
        };
        out.push(ArmEffect {
            arm: arm.name.clone(),
            kind,
            source: source.name.clone(),
            cmp: compare_with(
                &arm.name,
                &a.obs,
                &source.name,
                &b.obs,
                &opts.bootstrap,
                Pairing::Episode,
            ),
        });
    }
    out
}

fn signed(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{:+.1}", x * 100.0))
}

fn effects_section(
    reports: &[(RunRecord, MetricsReport)],
    effects: &[ArmEffect],
    opts: &AnalysisOptions,
) -> String {
    let mut out = String::new();
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
                        format!("{} [{}, {}]", signed(d), signed(Some(lo)), signed(Some(hi)))
                    }
                    _ => signed(d),
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
                m.map_or("–".into(), |m| format!("{}/{}", m.b_only, m.a_only)),
                m.map_or("–".into(), |m| m.p_value.map_or("–".into(), format_p)),
            ]
        })
        .collect();
    table(
        &mut out,
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
    out
}

/// p-values: four decimals, scientific below 1e-4 (the report and the command line).
pub fn format_p(p: f64) -> String {
    if p < 1e-4 { format!("{p:.2e}") } else { format!("{p:.4}") }
}

/// Writes the report into `dir` (created if needed); returns the paths written.
pub fn write(
    dir: &Path,
    manifest: &Manifest,
    files: &[ReportFile],
) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for f in files {
        let p = dir.join(&f.name);
        std::fs::write(&p, &f.content).map_err(io(&p))?;
        written.push(p);
    }
    let p = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|e| ReportError::Manifest { path: p.clone(), message: e.to_string() })?;
    std::fs::write(&p, text + "\n").map_err(io(&p))?;
    written.push(p);
    Ok(written)
}

/// The outcome of `verify`: one entry per file that does not match.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub manifest: Manifest,
    pub checked: usize,
    pub mismatches: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Rebuilds the report in `dir` from the database and compares it file by file.
pub fn verify(store: &Store, dir: &Path) -> Result<Verification, ReportError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .map_err(|source| ReportError::Io { path: path.clone(), source })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| ReportError::Manifest { path: path.clone(), message: e.to_string() })?;
    let runs =
        manifest.runs.iter().map(|name| store.require_run(name)).collect::<Result<Vec<_>, _>>()?;
    let (_, rebuilt) = build(store, &runs, &manifest.options())?;
    let mut mismatches = Vec::new();
    for name in &manifest.files {
        let Some(expected) = rebuilt.iter().find(|f| &f.name == name) else {
            mismatches.push(format!("{name}: this version of critloop does not produce it"));
            continue;
        };
        match std::fs::read_to_string(dir.join(name)) {
            Ok(actual) => {
                // The version line names the critloop that wrote the report, not data.
                let mut expected = expected.content.clone();
                for end in [".", ";"] {
                    expected = expected.replace(
                        &format!("critloop {}{end}", env!("CARGO_PKG_VERSION")),
                        &format!("critloop {}{end}", manifest.critloop),
                    );
                }
                if let Some(m) = first_difference(name, &actual, &expected) {
                    mismatches.push(m);
                }
            }
            Err(e) => mismatches.push(format!("{name}: cannot read it: {e}")),
        }
    }
    if manifest.critloop != env!("CARGO_PKG_VERSION") && !mismatches.is_empty() {
        mismatches.push(format!(
            "note: the report was written by critloop {}, this is {}",
            manifest.critloop,
            env!("CARGO_PKG_VERSION")
        ));
    }
    Ok(Verification { checked: manifest.files.len(), manifest, mismatches })
}

/// Numbers in a line, in order (digits with an optional sign and decimal part).
fn numbers(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start =
                if i > 0 && (bytes[i - 1] == b'-' || bytes[i - 1] == b'+') { i - 1 } else { i };
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            out.push(line.get(start..i).unwrap_or_default().trim_end_matches('.'));
        } else {
            i += 1;
        }
    }
    out
}

/// Where `actual` (on disk) departs from `expected` (rebuilt), naming the number if one differs.
fn first_difference(file: &str, actual: &str, expected: &str) -> Option<String> {
    if actual == expected {
        return None;
    }
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    for (i, (la, le)) in a.iter().zip(&e).enumerate() {
        if la == le {
            continue;
        }
        let (na, ne) = (numbers(la), numbers(le));
        if let Some((x, y)) = na.iter().zip(&ne).find(|(x, y)| x != y) {
            return Some(format!("{file}:{}: the report says {x}, the database gives {y}", i + 1));
        }
        return Some(format!("{file}:{}: the line differs from the rebuilt one: {le}", i + 1));
    }
    Some(format!("{file}: {} lines in the report, {} rebuilt from the database", a.len(), e.len()))
}

// ---- formatting -------------------------------------------------------------------------

/// A fraction as a percentage with one decimal.
fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{:.1}", x * 100.0))
}

fn num3(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"))
}

/// `value [lo, hi]` in percent, the interval when there is one.
fn with_ci(m: &MetricsReport, key: &str, v: Option<f64>) -> String {
    match (v, m.ci.get(key)) {
        (Some(_), Some([lo, hi])) => {
            format!("{} [{}, {}]", pct(v), pct(Some(*lo)), pct(Some(*hi)))
        }
        _ => pct(v),
    }
}

/// `value [lo, hi]` with three decimals (scores that are not percentages).
fn num3_ci(m: &MetricsReport, key: &str, v: Option<f64>) -> String {
    match (v, m.ci.get(key)) {
        (Some(x), Some([lo, hi])) => format!("{x:.3} [{lo:.3}, {hi:.3}]"),
        _ => num3(v),
    }
}

fn rss_ci(m: &MetricsReport) -> String {
    match (m.summary.rss, m.ci.get("rss")) {
        (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
        (v, _) => num3(v),
    }
}

/// Run names are user text: keep table cells intact.
fn md_cell(s: &str) -> String {
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
fn display_name(r: &RunRecord, m: &MetricsReport) -> String {
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

fn markdown(
    reports: &[(RunRecord, MetricsReport)],
    effects: &[ArmEffect],
    opts: &AnalysisOptions,
) -> String {
    let mut out = String::new();
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
        &mut out,
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
    table(&mut out, &header, &rows);

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
        &mut out,
        &[("Run", Text), ("Critic", Text), ("Before", Num), ("After", Num), ("Δ", Num)],
        &rows,
    );

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
        table(&mut out, &header, &rows);
    }

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
                    None => "–".into(),
                }));
                row
            })
            .collect();
        table(&mut out, &header, &rows);
    }

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
            &mut out,
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

    what_if_section(&mut out, reports);
    human_section(&mut out, reports);

    if !effects.is_empty() {
        out.push_str(&effects_section(reports, effects, opts));
    }
    let _ = writeln!(out, "## Figures\n");
    for f in figure_names(reports) {
        let _ = writeln!(out, "![{}]({})\n", f.1, f.0);
    }

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
        &mut out,
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
    out
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
                w.points.iter().find(|p| (p.tau - t).abs() < 1e-9).map_or("–".into(), |p| {
                    format!("{} / {}", pct(Some(p.acc)), pct(Some(p.revised)))
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

/// LaTeX special characters in user text.
fn tex(s: &str) -> String {
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
            format!("{}\\,{{\\scriptsize[{}, {}]}}", pct(v), pct(Some(*lo)), pct(Some(*hi)))
        }
        _ => pct(v),
    }
}

fn latex(reports: &[(RunRecord, MetricsReport)], opts: &AnalysisOptions) -> String {
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

// ---- figures ---------------------------------------------------------------------------

/// The calibration source drawn for a run: the first present of these.
fn figure_source(m: &MetricsReport) -> Option<&str> {
    ["verbalized", "p_true", "agreement", "p_true_raw"]
        .into_iter()
        .find(|s| m.calibration.contains_key(*s))
}

/// (file, caption) of every figure, in order.
fn figure_names(reports: &[(RunRecord, MetricsReport)]) -> Vec<(String, String)> {
    let mut out = vec![
        (
            "transitions.svg".to_string(),
            "t1 → t2 transitions (share of scored episodes)".to_string(),
        ),
        ("cl_cs.svg".to_string(), "Confidence level vs critique score".to_string()),
        ("rounds.svg".to_string(), "Accuracy after each attempt".to_string()),
    ];
    for (i, (r, m)) in reports.iter().enumerate() {
        if let Some(src) = figure_source(m) {
            out.push((
                format!("reliability-{}.svg", i + 1),
                format!("Reliability diagram of {} ({src})", display_name(r, m)),
            ));
        }
    }
    out
}

fn figures(reports: &[(RunRecord, MetricsReport)]) -> Result<Vec<ReportFile>, ReportError> {
    let err = |e: plots::PlotError| ReportError::Plot(e.to_string());
    let names = figure_names(reports);
    let mut contents = Vec::new();
    let bars: Vec<(String, [u64; 4])> = reports
        .iter()
        .map(|(r, m)| {
            let t = &m.summary.transitions;
            (r.name.clone(), [t.cc, t.cw, t.wc, t.ww])
        })
        .collect();
    contents.push(plots::transition_bars(&bars).map_err(err)?);
    let points: Vec<plots::ScatterPoint> = reports
        .iter()
        .filter_map(|(r, m)| {
            Some(plots::ScatterPoint {
                label: r.name.clone(),
                cl: m.summary.cl?,
                cs: m.summary.cs?,
                cl_ci: m.ci.get("cl").copied(),
                cs_ci: m.ci.get("cs").copied(),
            })
        })
        .collect();
    contents.push(plots::cl_cs_scatter(&points).map_err(err)?);
    let series: Vec<(String, Vec<(u32, f64)>)> = reports
        .iter()
        .map(|(r, m)| {
            let pts = m.summary.rounds.iter().filter_map(|rd| Some((rd.attempt + 1, rd.acc?)));
            (r.name.clone(), pts.collect())
        })
        .collect();
    contents.push(plots::round_accuracy(&series).map_err(err)?);
    for (r, m) in reports {
        let Some((src, cal)) = figure_source(m).and_then(|s| Some((s, m.calibration.get(s)?)))
        else {
            continue;
        };
        let bins: Vec<plots::RelBin> = cal
            .bins
            .iter()
            .map(|b| plots::RelBin { confidence: b.confidence, accuracy: b.accuracy, n: b.n })
            .collect();
        contents.push(plots::reliability(&format!("{} — {src}", r.name), &bins).map_err(err)?);
    }
    Ok(names
        .into_iter()
        .zip(contents)
        .map(|((name, _), content)| ReportFile { name, content })
        .collect())
}

#[cfg(test)]
mod tests;
