//! SVG charts for critloop reports, rendered with `plotters` into a `String`.
//!
//! No font file is read: plotters (without its `ttf`/`ab_glyph` features) estimates text
//! extents itself and the SVG backend writes `<text font-family="sans-serif">` elements, which
//! the viewer draws. Text (titles, run names, legends) is XML-escaped by the backend.
//! Probabilities are fractions in [0, 1], drawn clamped to that range and labelled as
//! percentages. Non-finite values are skipped; input with nothing to draw gives `Ok` with a
//! valid SVG that says "no data". Output is deterministic for a given input.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::iter::once;

/// Default canvas size in pixels (width, height).
pub const SIZE: (u32, u32) = (640, 420);
const FONT: &str = "sans-serif";
const GREY: RGBColor = RGBColor(140, 140, 140);
const BLUE: RGBColor = RGBColor(0, 114, 178);
const VERMILION: RGBColor = RGBColor(213, 94, 0);
/// Okabe–Ito colour-blind-safe palette, cycled for runs.
const PALETTE: [RGBColor; 7] = [
    BLUE,
    VERMILION,
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];
/// The four cells of the 2×2 transition table, in input order.
const CELLS: [(&str, RGBColor); 4] = [
    ("c→c (kept correct)", RGBColor(0, 158, 115)),
    ("c→w (broken)", VERMILION),
    ("w→c (fixed)", BLUE),
    ("w→w (still wrong)", RGBColor(170, 170, 170)),
];

/// Rendering failed inside plotters (the message is plotters' own).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plot rendering failed: {0}")]
pub struct PlotError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

/// One run in the CL/CS scatter; intervals are `[low, high]` fractions.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    pub label: String,
    pub cl: f64,
    pub cs: f64,
    pub cl_ci: Option<[f64; 2]>,
    pub cs_ci: Option<[f64; 2]>,
}

/// One reliability bin: mean confidence, accuracy and item count in the bin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelBin {
    pub confidence: f64,
    pub accuracy: f64,
    pub n: u64,
}

type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
type UnitChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn text(size: u32, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(&color).pos(Pos::new(h, v))
}

fn pct(v: &f64) -> String {
    // `+ 0.0` turns -0.0 into 0.0 so no "-0%" label appears.
    format!("{:.0}%", v * 100.0 + 0.0)
}

fn unit(v: f64) -> f64 {
    v.clamp(0.0, 1.0)
}

fn finite_ci(ci: Option<[f64; 2]>) -> Option<(f64, f64)> {
    ci.filter(|[lo, hi]| lo.is_finite() && hi.is_finite()).map(|[lo, hi]| (unit(lo), unit(hi)))
}

fn render(
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(buf)
}

fn no_data(title: &str) -> Result<String, PlotError> {
    render(SIZE, |root| {
        let mid = SIZE.0 as i32 / 2;
        root.draw(&Text::new(title, (mid, 24), text(22, BLACK, HPos::Center, VPos::Center)))?;
        let style = text(20, GREY, HPos::Center, VPos::Center);
        root.draw(&Text::new("no data", (mid, SIZE.1 as i32 / 2), style))?;
        Ok(())
    })
}

/// A [0,1]×[0,1] chart with percentage axes and a dashed y = x diagonal.
fn unit_chart<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
) -> Result<UnitChart<'a, 'b>, PlotError> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&pct)
        .y_label_formatter(&pct)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(TRANSPARENT)
        .draw()?;
    chart.draw_series(once(DashedPathElement::new([(0.0, 0.0), (1.0, 1.0)], 6, 4, GREY)))?;
    Ok(chart)
}

fn draw_legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> Result<(), PlotError> {
    let style = WHITE.mix(0.85);
    let mut labels = chart.configure_series_labels();
    labels.position(position).background_style(style).border_style(BLACK.mix(0.3));
    Ok(labels.label_font((FONT, 15)).draw()?)
}

/// Grouped horizontal bars of the 2×2 transition cells `[c→c, c→w, w→c, w→w]` per run, each
/// as a share of that run's N (the sum of its four counts). Runs are listed top to bottom in
/// input order; the canvas grows taller with more runs. A run with N = 0 gets no bars.
pub fn transition_bars(runs: &[(String, [u64; 4])]) -> Result<String, PlotError> {
    const TITLE: &str = "Answer transitions per run (share of the run's N)";
    if runs.is_empty() {
        return no_data(TITLE);
    }
    let n = runs.len();
    let totals: Vec<u64> =
        runs.iter().map(|(_, c)| c.iter().fold(0u64, |a, &b| a.saturating_add(b))).collect();
    let labels: Vec<String> =
        runs.iter().zip(&totals).map(|((name, _), t)| format!("{name} (N={t})")).collect();
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let label_area = (widest as u32).saturating_mul(7).saturating_add(16).clamp(60, 320);
    let height = SIZE.1.max((n as u32).saturating_mul(72).saturating_add(140));
    render((SIZE.0, height), |root| {
        let root = root.titled(TITLE, (FONT, 22))?;
        let (legend, body) = root.split_vertically(30);
        let mut x = 16;
        for (name, color) in CELLS {
            legend.draw(&Rectangle::new([(x, 8), (x + 14, 22)], color.filled()))?;
            let style = text(14, BLACK, HPos::Left, VPos::Center);
            legend.draw(&Text::new(name, (x + 19, 15), style))?;
            x += 19 + 7 * name.chars().count() as i32 + 22;
        }
        // y is in hundredths of a run band (integer axes accept custom key points); run i
        // is centred at y = 100·(n-1-i) so the first run is on top.
        let n32 = i32::try_from(n).unwrap_or(i32::MAX / 200);
        let keys: Vec<i32> = (0..n32).map(|i| i * 100).collect();
        let mut chart = ChartBuilder::on(&body)
            .margin(10)
            .margin_right(48)
            .x_label_area_size(48)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0f64..1f64, (-50..n32 * 100 - 50).with_key_points(keys))?;
        let name_at = |v: &i32| {
            let i = usize::try_from(n32 - 1 - v / 100).unwrap_or(n);
            labels.get(i).cloned().unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(6)
            .x_label_formatter(&pct)
            .y_label_formatter(&name_at)
            .x_desc("share of the run's N")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(TRANSPARENT)
            .draw()?;
        for (i, ((_, counts), &total)) in (0..n32).rev().zip(runs.iter().zip(&totals)) {
            if total == 0 {
                continue;
            }
            for (k, (&count, (_, color))) in (0..).zip(counts.iter().zip(CELLS.iter())) {
                let share = count as f64 / total as f64;
                let top = i * 100 + 38 - k * 19;
                let rect = Rectangle::new([(0.0, top - 1), (share, top - 18)], color.filled());
                let note = EmptyElement::at((share, top - 9))
                    + Text::new(
                        format!("{:.1}%", share * 100.0),
                        (4, 0),
                        text(13, BLACK, HPos::Left, VPos::Center),
                    );
                chart.draw_series(once(rect))?;
                chart.draw_series(once(note))?;
            }
        }
        Ok(())
    })
}

/// Confidence level (x) vs critique score (y) per run, with optional interval whiskers and a
/// dashed y = x reference. Each point is labelled with its run name; points are coloured by
/// input position. Points with a non-finite CL or CS are skipped, as are non-finite intervals.
pub fn cl_cs_scatter(points: &[ScatterPoint]) -> Result<String, PlotError> {
    const TITLE: &str = "Confidence level vs critique score";
    let pts: Vec<(usize, &ScatterPoint)> =
        points.iter().enumerate().filter(|(_, p)| p.cl.is_finite() && p.cs.is_finite()).collect();
    if pts.is_empty() {
        return no_data(TITLE);
    }
    render(SIZE, |root| {
        let mut chart = unit_chart(root, TITLE, "confidence level (CL)", "critique score (CS)")?;
        for &(i, p) in &pts {
            let color = PALETTE[i % PALETTE.len()];
            let (x, y) = (unit(p.cl), unit(p.cs));
            if let Some((lo, hi)) = finite_ci(p.cs_ci) {
                chart.draw_series(once(ErrorBar::new_vertical(x, lo, y, hi, color, 8)))?;
            }
            if let Some((lo, hi)) = finite_ci(p.cl_ci) {
                chart.draw_series(once(ErrorBar::new_horizontal(y, lo, x, hi, color, 8)))?;
            }
            // Labels near the right edge go to the left of their point.
            let (dx, h) = if x > 0.75 { (-7, HPos::Right) } else { (7, HPos::Left) };
            let label = Text::new(p.label.clone(), (dx, -4), text(14, BLACK, h, VPos::Bottom));
            let marker = EmptyElement::at((x, y)) + Circle::new((0, 0), 5, color.filled()) + label;
            chart.draw_series(once(marker))?;
        }
        Ok(())
    })
}

/// Accuracy after each attempt (x = attempt index, shown as t1, t2, …), one line with markers
/// per run. Points with a non-finite accuracy are skipped (the line joins their neighbours);
/// runs with no finite point are left out, legend included.
pub fn round_accuracy(series: &[(String, Vec<(u32, f64)>)]) -> Result<String, PlotError> {
    const TITLE: &str = "Accuracy after each attempt";
    let clean: Vec<_> = series
        .iter()
        .enumerate()
        .filter_map(|(i, (name, pts))| {
            let mut v: Vec<(u32, f64)> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
            v.sort_by_key(|p| p.0);
            (!v.is_empty()).then_some((i, name.as_str(), v))
        })
        .collect();
    let ts = clean.iter().flat_map(|(_, _, v)| v.iter().map(|p| p.0));
    let (Some(lo), Some(hi)) = (ts.clone().min(), ts.max()) else {
        return no_data(TITLE);
    };
    let step = ((hi - lo) / 12 + 1) as usize;
    // x is in tenths of an attempt (integer axes accept custom key points).
    let (lo, hi) = (i64::from(lo) * 10, i64::from(hi) * 10);
    let keys: Vec<i64> = (lo..=hi).step_by(step * 10).collect();
    render(SIZE, |root| {
        let x_range = (lo - 3..hi + 3).with_key_points(keys);
        let mut chart = ChartBuilder::on(root)
            .caption(TITLE, (FONT, 22))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(x_range, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|t| format!("t{}", t / 10))
            .y_labels(6)
            .y_label_formatter(&pct)
            .x_desc("attempt")
            .y_desc("accuracy")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(TRANSPARENT)
            .draw()?;
        for (i, name, pts) in &clean {
            let color = PALETTE[i % PALETTE.len()];
            let data: Vec<(i64, f64)> =
                pts.iter().map(|&(t, a)| (i64::from(t) * 10, unit(a))).collect();
            chart
                .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(data.into_iter().map(|c| Circle::new(c, 4, color.filled())))?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// Reliability diagram titled `title`: dashed diagonal (perfect calibration), one marker per
/// bin at (mean confidence, accuracy) with size growing with n and an "n=…" note, and a red
/// gap line from each marker to the diagonal. The legend gives the n-weighted ECE of the bins
/// drawn. Bins with a non-finite confidence or accuracy are skipped.
pub fn reliability(title: &str, bins: &[RelBin]) -> Result<String, PlotError> {
    let mut b: Vec<RelBin> = bins
        .iter()
        .copied()
        .filter(|b| b.confidence.is_finite() && b.accuracy.is_finite())
        .collect();
    if b.is_empty() {
        return no_data(title);
    }
    b.sort_by(|x, y| x.confidence.total_cmp(&y.confidence));
    let total = b.iter().fold(0u64, |a, r| a.saturating_add(r.n));
    let max_n = b.iter().map(|r| r.n).max().unwrap_or(0);
    let gap_sum: f64 =
        b.iter().map(|r| r.n as f64 * (unit(r.accuracy) - unit(r.confidence)).abs()).sum();
    let ece = if total > 0 {
        format!("ECE {:.1}%", 100.0 * gap_sum / total as f64)
    } else {
        "ECE n/a".to_string()
    };
    render(SIZE, |root| {
        let mut chart = unit_chart(root, title, "mean confidence in bin", "accuracy in bin")?;
        let gaps = b.iter().map(|r| {
            let (c, a) = (unit(r.confidence), unit(r.accuracy));
            PathElement::new([(c, a), (c, c)], VERMILION.stroke_width(2))
        });
        chart
            .draw_series(gaps)?
            .label(format!("gap to diagonal ({ece})"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], VERMILION.stroke_width(2)));
        let line = b.iter().map(|r| (unit(r.confidence), unit(r.accuracy)));
        chart.draw_series(LineSeries::new(line, BLUE.mix(0.4)))?;
        let markers = b.iter().map(|r| {
            let scale = if max_n > 0 { (r.n as f64 / max_n as f64).sqrt() } else { 0.0 };
            let radius = 3 + (7.0 * scale).round() as i32;
            let (c, a) = (unit(r.confidence), unit(r.accuracy));
            // Notes near the right edge go to the left of their marker.
            let (dx, h) =
                if c > 0.85 { (-radius - 3, HPos::Right) } else { (radius + 3, HPos::Left) };
            let note = Text::new(format!("n={}", r.n), (dx, 0), text(13, BLACK, h, VPos::Center));
            EmptyElement::at((c, a)) + Circle::new((0, 0), radius, BLUE.filled()) + note
        });
        chart
            .draw_series(markers)?
            .label("bins (marker size grows with n)")
            .legend(|(x, y)| Circle::new((x + 9, y), 5, BLUE.filled()));
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the SVG root, balanced tags and that every `&` starts a known entity.
    fn assert_well_formed(svg: &str) {
        assert!(svg.starts_with("<svg "), "no <svg root: {}", &svg[..svg.len().min(80)]);
        assert!(svg.trim_end().ends_with("</svg>"));
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or("");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "bad tag name {name:?}");
            if tag.starts_with('/') {
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                stack.push(name);
            }
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed tags: {stack:?}");
        for (i, _) in svg.match_indices('&') {
            let ent = ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"];
            assert!(ent.iter().any(|e| svg[i..].starts_with(e)), "raw & at {i}");
        }
        let leaks = ["NaN", "\"inf", "\"-inf", " inf", ",inf", "-inf,"];
        assert!(!leaks.iter().any(|l| svg.contains(l)), "non-finite value leaked");
    }

    /// Well-formed, deterministic, and returns the SVG.
    fn check(f: impl Fn() -> Result<String, PlotError>) -> String {
        let svg = f().expect("render");
        assert_well_formed(&svg);
        assert_eq!(svg, f().expect("render"), "output not deterministic");
        svg
    }

    #[test]
    #[should_panic(expected = "bad tag name")]
    fn checker_rejects_unescaped_text() {
        assert_well_formed("<svg ><text>a<b&c</text></svg>");
    }

    fn point(label: &str, cl: f64, cs: f64) -> ScatterPoint {
        ScatterPoint { label: label.into(), cl, cs, cl_ci: None, cs_ci: None }
    }

    #[test]
    fn transition_bars_labels_and_escaping() {
        let runs = vec![
            ("gpt-small/self-refine".to_string(), [60, 5, 15, 20]),
            ("a<b&c>".to_string(), [300, 2, 40, 58]),
            ("empty-run".to_string(), [0, 0, 0, 0]),
        ];
        let svg = check(|| transition_bars(&runs));
        assert!(svg.contains("gpt-small/self-refine (N=100)"));
        assert!(svg.contains("a&lt;b&amp;c&gt; (N=400)"));
        assert!(svg.contains("empty-run (N=0)"));
        assert!(svg.contains("c→w (broken)") && svg.contains("w→c (fixed)"));
        assert!(svg.contains("15.0%"), "bar annotation missing");
        assert!(!svg.contains("a<b"));
        check(|| transition_bars(&[("huge".into(), [u64::MAX, 1, 0, 0])]));
    }

    #[test]
    fn transition_bars_grow_with_runs() {
        let runs: Vec<(String, [u64; 4])> =
            (0..12).map(|i| (format!("run{i}"), [i, 1, 1, 1])).collect();
        let svg = check(|| transition_bars(&runs));
        assert!(svg.contains("run0 (N=3)") && svg.contains("run11 (N=14)"));
        assert!(!svg.starts_with("<svg width=\"640\" height=\"420\""));
    }

    #[test]
    fn scatter_labels_ci_and_nan() {
        let mut a = point("base&<", 0.7, 0.55);
        a.cl_ci = Some([0.65, 0.75]);
        a.cs_ci = Some([0.5, 1.2]);
        let mut b = point("edge", 0.95, 0.9);
        b.cs_ci = Some([f64::NAN, 0.95]);
        let points = vec![a, b, point("ghost", f64::NAN, 0.5), point("inf", 0.5, f64::INFINITY)];
        let svg = check(|| cl_cs_scatter(&points));
        assert!(svg.contains("base&amp;&lt;") && svg.contains("edge"));
        assert!(!svg.contains("ghost") && !svg.contains(">inf"));
        assert!(svg.contains("confidence level (CL)") && svg.contains("100%"));
    }

    #[test]
    fn round_accuracy_lines_and_nan() {
        let series = vec![
            ("r<1>".to_string(), vec![(2, 0.6), (1, 0.5), (3, f64::NAN), (4, 0.7)]),
            ("all-nan".to_string(), vec![(1, f64::NAN)]),
            ("r2".to_string(), vec![(1, 0.4), (2, 0.45)]),
        ];
        let svg = check(|| round_accuracy(&series));
        assert!(svg.contains("r&lt;1&gt;") && svg.contains("r2"));
        assert!(!svg.contains("all-nan"));
        assert!(svg.contains(">\nt1\n") && svg.contains(">\nt4\n"));
        let long = vec![("long".to_string(), (1..=40).map(|t| (t, 0.5)).collect())];
        check(|| round_accuracy(&long));
        check(|| round_accuracy(&[("one".to_string(), vec![(7, 1.0)])]));
    }

    #[test]
    fn reliability_bins_and_nan() {
        let bins = [
            RelBin { confidence: 0.95, accuracy: 0.8, n: 300 },
            RelBin { confidence: 0.55, accuracy: 0.5, n: 40 },
            RelBin { confidence: f64::NAN, accuracy: 0.5, n: 10 },
            RelBin { confidence: 0.75, accuracy: 0.7, n: 0 },
        ];
        let svg = check(|| reliability("Model <A> & friends", &bins));
        assert!(svg.contains("Model &lt;A&gt; &amp; friends"));
        assert!(svg.contains("n=300") && svg.contains("n=40") && !svg.contains("n=10"));
        // ECE = (300·0.15 + 40·0.05) / 340 = 13.8%
        assert!(svg.contains("ECE 13.8%"), "ECE missing");
        let zero = [RelBin { confidence: 0.5, accuracy: 0.5, n: 0 }];
        assert!(check(|| reliability("z", &zero)).contains("ECE n/a"));
    }

    #[test]
    fn empty_and_all_nan_inputs_say_no_data() {
        let nan_pts = [point("p", f64::NAN, f64::NAN)];
        let nan_bins = [RelBin { confidence: 0.5, accuracy: f64::NAN, n: 3 }];
        let nan_series = [("s".to_string(), vec![(1, f64::NAN)])];
        let outputs = [
            check(|| transition_bars(&[])),
            check(|| cl_cs_scatter(&[])),
            check(|| cl_cs_scatter(&nan_pts)),
            check(|| round_accuracy(&[])),
            check(|| round_accuracy(&nan_series)),
            check(|| round_accuracy(&[("s".to_string(), vec![])])),
            check(|| reliability("Calib <x>", &[])),
            check(|| reliability("Calib <x>", &nan_bins)),
        ];
        for svg in &outputs {
            assert!(svg.contains(">\nno data\n"), "missing no-data note");
        }
        assert!(outputs[6].contains("Calib &lt;x&gt;"));
    }
}
