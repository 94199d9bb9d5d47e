//! The SVG figures of a report and their captions.

use crate::domain::RunRecord;
use crate::metrics::MetricsReport;

use super::markdown::display_name;
use super::{ReportError, ReportFile, plots};

/// The calibration source drawn for a run: the first present of these.
fn figure_source(m: &MetricsReport) -> Option<&str> {
    ["verbalized", "p_true", "agreement", "p_true_raw"]
        .into_iter()
        .find(|s| m.calibration.contains_key(*s))
}

/// (file, caption) of every figure, in order.
pub(super) fn figure_names(reports: &[(RunRecord, MetricsReport)]) -> Vec<(String, String)> {
    let mut out = vec![
        (
            "transitions.svg".to_string(),
            "Transitions first → final attempt (share of scored episodes)".to_string(),
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

pub(super) fn figures(
    reports: &[(RunRecord, MetricsReport)],
) -> Result<Vec<ReportFile>, ReportError> {
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
