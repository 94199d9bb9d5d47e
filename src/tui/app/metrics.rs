//! The metrics screen: the open run's report, its panels, the marked run and the comparison.

use super::*;

/// Panels of the metrics screen, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsPanel {
    /// Transitions, rates with intervals, per-round chart, critique confusion.
    #[default]
    Summary,
    /// Reliability diagram of one confidence source, and the what-if curve.
    Calibration,
    /// The open run against the marked one: paired differences and McNemar.
    Compare,
    /// Human-label counts per transition cell, override agreement and Cohen's κ.
    Labels,
}

impl MetricsPanel {
    pub const ALL: [MetricsPanel; 4] = [
        MetricsPanel::Summary,
        MetricsPanel::Calibration,
        MetricsPanel::Compare,
        MetricsPanel::Labels,
    ];

    pub fn label(self) -> &'static str {
        match self {
            MetricsPanel::Summary => "Summary",
            MetricsPanel::Calibration => "Calibration",
            MetricsPanel::Compare => "Compare",
            MetricsPanel::Labels => "Labels",
        }
    }
}

/// The metrics screen: the open run's report, the marked run and their comparison.
#[derive(Debug, Default)]
pub struct MetricsBoard {
    pub report: Option<(RunId, MetricsReport)>,
    /// A second run to show beside the first.
    pub compare: Option<RunId>,
    pub compare_report: Option<(RunId, MetricsReport)>,
    /// `(a, b, result)`: the open run `b` against the marked run `a`.
    pub comparison: Option<(RunId, RunId, Result<Comparison, String>)>,
    pub panel: MetricsPanel,
    /// Confidence source chosen on the calibration panel (`None`: the first there is).
    pub calibration_source: Option<String>,
}

/// The confidence sources of a report: the usual ones first, in a fixed order, then any other.
pub fn calibration_sources(report: &MetricsReport) -> Vec<&str> {
    const ORDER: [&str; 4] = ["verbalized", "p_true", "p_true_raw", "agreement"];
    let mut sources: Vec<&str> = report.calibration.keys().map(String::as_str).collect();
    sources.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
    sources
}

impl App {
    /// The confidence source the calibration panel shows: the chosen one when the open run's
    /// report has it, else its first.
    pub fn shown_calibration_source(&self) -> Option<&str> {
        let (_, report) = self.stats.report.as_ref()?;
        let sources = calibration_sources(report);
        let chosen = self.stats.calibration_source.as_deref();
        chosen.and_then(|c| sources.iter().find(|s| **s == c)).or(sources.first()).copied()
    }

    /// The comparison of the open run with the marked one, if it is for that pair.
    pub fn current_comparison(&self) -> Option<&Result<Comparison, String>> {
        let (a, b, result) = self.stats.comparison.as_ref()?;
        (Some(*a) == self.stats.compare && Some(*b) == self.run).then_some(result)
    }

    /// Loads the marked run's report and its comparison with the open run, when they differ.
    pub(super) fn comparison_effects(&mut self) -> Vec<Effect> {
        let (Some(a), Some(b)) = (self.stats.compare, self.run) else { return Vec::new() };
        if a == b {
            return Vec::new();
        }
        // A result for this pair stays on screen while it is recomputed.
        if self.stats.comparison.as_ref().is_some_and(|(x, y, _)| (*x, *y) != (a, b)) {
            self.stats.comparison = None;
        }
        vec![Effect::LoadMetrics(a), Effect::LoadComparison { a, b }]
    }

    /// The actions this screen handles.
    pub(super) fn metrics_act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Compare => {
                let Some(id) = self.selected_run().map(|r| r.record.id) else { return Vec::new() };
                self.stats.compare = if self.stats.compare == Some(id) { None } else { Some(id) };
                self.stats.compare_report = None;
                self.stats.comparison = None;
                let name = self.selected_run().map(|r| r.record.name.clone()).unwrap_or_default();
                self.info(match self.stats.compare {
                    Some(_) => format!("{name} marked: open another run's metrics to compare"),
                    None => "comparison cleared".into(),
                });
                if self.screen == Screen::Metrics {
                    return self.comparison_effects();
                }
                Vec::new()
            }
            Action::NextPanel | Action::PreviousPanel => {
                let all = MetricsPanel::ALL;
                let i = all.iter().position(|p| *p == self.stats.panel).unwrap_or(0);
                let n = all.len();
                let j = if action == Action::NextPanel { (i + 1) % n } else { (i + n - 1) % n };
                self.stats.panel = all[j];
                self.scroll = 0;
                Vec::new()
            }
            Action::NextSource => {
                // From another panel the key first shows the calibration.
                if self.stats.panel != MetricsPanel::Calibration {
                    self.stats.panel = MetricsPanel::Calibration;
                    self.scroll = 0;
                    return Vec::new();
                }
                let Some((_, report)) = &self.stats.report else { return Vec::new() };
                let sources: Vec<String> =
                    calibration_sources(report).into_iter().map(String::from).collect();
                if sources.is_empty() {
                    self.info("no confidence recorded in this run");
                    return Vec::new();
                }
                let shown = self.shown_calibration_source();
                let i = sources.iter().position(|s| Some(s.as_str()) == shown).unwrap_or(0);
                self.stats.calibration_source = sources.get((i + 1) % sources.len()).cloned();
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The events this screen handles.
    pub(super) fn metrics_update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Metrics { run, report } => {
                self.dirty = true;
                if Some(run) == self.stats.compare && Some(run) != self.run {
                    self.stats.compare_report = Some((run, *report));
                } else if Some(run) == self.run {
                    self.stats.report = Some((run, *report));
                }
                Vec::new()
            }
            Event::Comparison { a, b, result } => {
                // The mark or the open run changed while it was computed.
                if self.stats.compare != Some(a) || self.run != Some(b) {
                    return Vec::new();
                }
                self.dirty = true;
                self.stats.comparison = Some((a, b, result.map(|c| *c)));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
