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
/// Space around a chart; the right one leaves room for half the last x label ("100%").
const MARGIN: i32 = 14;
const MARGIN_RIGHT: i32 = 32;
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

/// The width a viewer gives `s` at plotters font size `size`, estimated generously: plotters
/// writes `size / 1.24` as the SVG font size, and sans-serif glyphs average under 0.65 em.
fn text_width(s: &str, size: u32) -> i32 {
    (s.chars().count() as f64 * 0.65 * f64::from(size) / 1.24).ceil() as i32
}

/// `s`, cut with an ellipsis so that it is at most `room` pixels wide at `size`.
fn fit(s: &str, room: i32, size: u32) -> String {
    if text_width(s, size) <= room {
        return s.to_string();
    }
    let mut out: String = s.chars().collect();
    while !out.is_empty() && text_width(&format!("{out}…"), size) > room {
        out.pop();
    }
    format!("{out}…")
}

/// Text boxes `[x0, y0, x1, y1]` in pixels overlap.
fn overlaps(a: [i32; 4], b: [i32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// An axis tick: whole percent.
fn tick(v: &f64) -> String {
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
        let title = fit(title, SIZE.0 as i32 - 2 * MARGIN, 22);
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
    let title = fit(title, SIZE.0 as i32 - 2 * MARGIN, 22);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(MARGIN)
        .margin_right(MARGIN_RIGHT)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
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
    let widest = labels.iter().map(|l| text_width(l, 15)).max().unwrap_or(0);
    let label_area = (widest.max(0) as u32).saturating_add(16).clamp(60, 320);
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
        // Labels end at the axis: a name too long for the area is cut rather than drawn off
        // the left edge.
        let room = label_area as i32 - 12;
        let name_at = |v: &i32| {
            let i = usize::try_from(n32 - 1 - v / 100).unwrap_or(n);
            labels.get(i).map_or_else(String::new, |l| fit(l, room, 15))
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(6)
            .x_label_formatter(&tick)
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
                        crate::fmt::pct(Some(share)),
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
            // A label goes right of its point if it fits before the canvas edge, else left,
            // cut to the wider side if it fits neither.
            let px = chart.backend_coord(&(x, y)).0;
            let (right, left) = (SIZE.0 as i32 - 2 - (px + 7), px - 7 - 2);
            let w = text_width(&p.label, 14);
            let (dx, h, room) = if w <= right || right >= left {
                (7, HPos::Left, right)
            } else {
                (-7, HPos::Right, left)
            };
            let style = text(14, BLACK, h, VPos::Bottom);
            let label = Text::new(fit(&p.label, room, 14), (dx, -4), style);
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
            .margin(MARGIN)
            .margin_right(MARGIN_RIGHT)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(x_range, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|t| format!("t{}", t / 10))
            .y_labels(6)
            .y_label_formatter(&tick)
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
                // Legend names are cut to fit the plot, which the legend must stay inside.
                .label(fit(name, 400, 15))
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
        format!("ECE {}", crate::fmt::pct(Some(gap_sum / total as f64)))
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
        let radius = |r: &RelBin| {
            let scale = if max_n > 0 { (r.n as f64 / max_n as f64).sqrt() } else { 0.0 };
            3 + (7.0 * scale).round() as i32
        };
        let markers = b.iter().map(|r| {
            let (c, a) = (unit(r.confidence), unit(r.accuracy));
            EmptyElement::at((c, a)) + Circle::new((0, 0), radius(r), BLUE.filled())
        });
        chart
            .draw_series(markers)?
            .label("bins (marker size grows with n)")
            .legend(|(x, y)| Circle::new((x + 9, y), 5, BLUE.filled()));
        let centres: Vec<(i32, i32, i32)> = b
            .iter()
            .map(|r| {
                let (x, y) = chart.backend_coord(&(unit(r.confidence), unit(r.accuracy)));
                (x, y, radius(r))
            })
            .collect();
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let notes = b.iter().map(|r| format!("n={}", r.n)).collect::<Vec<_>>();
        for (note, pos) in note_layout(&centres, &notes, [xs.start, ys.start, xs.end, ys.end]) {
            root.draw(&Text::new(note, pos, text(NOTE, BLACK, HPos::Left, VPos::Top)))?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// Font size of the `n=` notes of a reliability diagram.
const NOTE: u32 = 13;

/// Where the `n=` note of each bin goes (top-left corner, pixels), for bins drawn as circles
/// `(x, y, radius)` inside `area` `[x0, y0, x1, y1]`. Each note tries the right, left, top and
/// bottom of its marker, first clear of every marker, then clear of the other notes only; a note
/// with no free place is left out (the marker's size still shows its n). Notes never overlap.
fn note_layout<'s>(
    centres: &[(i32, i32, i32)],
    notes: &'s [String],
    area: [i32; 4],
) -> Vec<(&'s str, (i32, i32))> {
    let h = (f64::from(NOTE) / 1.24).ceil() as i32 + 2;
    let discs: Vec<[i32; 4]> =
        centres.iter().map(|&(x, y, r)| [x - r, y - r, x + r, y + r]).collect();
    let mut placed: Vec<[i32; 4]> = Vec::new();
    let mut out = Vec::new();
    for (&(x, y, r), note) in centres.iter().zip(notes) {
        let w = text_width(note, NOTE);
        let gap = r + 3;
        let spots = [
            (x + gap, y - h / 2),
            (x - gap - w, y - h / 2),
            (x - w / 2, y - gap - h),
            (x - w / 2, y + gap),
        ];
        let boxes = spots.map(|(left, top)| [left, top, left + w, top + h]);
        let inside =
            |b: &[i32; 4]| b[0] >= area[0] && b[1] >= area[1] && b[2] <= area[2] && b[3] <= area[3];
        let free = |b: &[i32; 4]| inside(b) && !placed.iter().any(|p| overlaps(*p, *b));
        let clear = |b: &[i32; 4]| !discs.iter().any(|d| overlaps(*d, *b));
        let chosen = boxes
            .iter()
            .find(|b| free(b) && clear(b))
            .or_else(|| boxes.iter().find(|b| free(b)))
            .copied();
        if let Some(b) = chosen {
            placed.push(b);
            out.push((note.as_str(), (b[0], b[1])));
        }
    }
    out
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

    /// A `<text>` element as a viewer lays it out: its estimated box `[x0, y0, x1, y1]`
    /// (0.65 em a character, what digits and `%` average in common sans-serif fonts; the anchor
    /// and the vertical offset respected) and its content.
    fn text_boxes(svg: &str) -> Vec<([f64; 4], String)> {
        let mut out = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find("<text ") {
            let close = rest[i..].find('>').unwrap() + i;
            let tag = &rest[i..close];
            let end = rest[close..].find("</text>").unwrap() + close;
            let content = rest[close + 1..end]
                .trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&");
            let attr = |name: &str| {
                let key = format!(" {name}=\"");
                let start = tag.find(&key)? + key.len();
                Some(tag[start..].split('"').next()?.to_string())
            };
            let num = |name: &str| attr(name).unwrap().parse::<f64>().unwrap();
            let (x, y, size) = (num("x"), num("y"), num("font-size"));
            let w = content.chars().count() as f64 * 0.65 * size;
            let (x0, x1) = match attr("text-anchor").as_deref() {
                Some("middle") => (x - w / 2.0, x + w / 2.0),
                Some("end") => (x - w, x),
                _ => (x, x + w),
            };
            let (y0, y1) = match attr("dy").as_deref() {
                Some("0.76em") => (y, y + size),
                Some("0.5ex") => (y - size / 2.0, y + size / 2.0),
                _ => (y - size, y),
            };
            // Axis descriptions turned a quarter: the box turns with them about (x, y).
            let b = if attr("transform").is_some_and(|t| t.starts_with("rotate(270")) {
                // A glyph point (x + u, y + v) goes to (x + v, y − u).
                [x + (y0 - y), y - (x1 - x), x + (y1 - y), y - (x0 - x)]
            } else {
                [x0, y0, x1, y1]
            };
            out.push((b, content));
            rest = &rest[end..];
        }
        out
    }

    fn canvas(svg: &str) -> (f64, f64) {
        let vb = svg.split("viewBox=\"").nth(1).unwrap().split('"').next().unwrap();
        let v: Vec<f64> = vb.split(' ').map(|n| n.parse().unwrap()).collect();
        (v[2], v[3])
    }

    fn assert_text_inside(svg: &str) {
        let (w, h) = canvas(svg);
        let boxes = text_boxes(svg);
        assert!(!boxes.is_empty());
        for ([x0, y0, x1, y1], content) in boxes {
            assert!(
                x0 >= 0.0 && x1 <= w && y0 >= 0.0 && y1 <= h,
                "{content:?} at [{x0:.1}, {y0:.1}, {x1:.1}, {y1:.1}] leaves the {w}×{h} canvas"
            );
        }
    }

    #[test]
    fn the_text_box_estimate_respects_anchor_and_rotation() {
        let svg = r#"<svg viewBox="0 0 640 420"><text x="625" y="368" dy="0.76em" text-anchor="middle" font-size="10">
100%
</text><text x="64" y="40" dy="0.5ex" text-anchor="end" font-size="10">
a&amp;b
</text><text x="14" y="200" dy="0.76em" text-anchor="middle" font-size="10" transform="rotate(270, 14, 200)">
abcd
</text></svg>"#;
        let b = text_boxes(svg);
        // 4 chars × 0.65 × 10 = 26 wide, centred on 625.
        assert_eq!(b[0], ([612.0, 368.0, 638.0, 378.0], "100%".to_string()));
        assert_eq!(b[1], ([44.5, 35.0, 64.0, 45.0], "a&b".to_string()));
        // Turned to read upwards: 26 tall centred on y = 200, 10 wide right of x = 14.
        assert_eq!(b[2], ([14.0, 187.0, 24.0, 213.0], "abcd".to_string()));
    }

    #[test]
    fn the_last_percent_tick_fits() {
        // The "100%" x tick was centred at x = 625 of 640, its right half past the edge.
        let svg = check(|| cl_cs_scatter(&[point("a", 0.5, 0.5)]));
        let ticks = text_boxes(&svg).into_iter().filter(|(_, c)| c == "100%");
        let right = ticks.map(|(b, _)| b[2]).fold(0.0, f64::max);
        assert!(right > 600.0 && right <= 640.0, "{right}");
        assert_text_inside(&svg);
    }

    #[test]
    fn every_text_lies_inside_the_canvas() {
        let long = "a-rather-long-run-name-from-a-sweep/temperature-0.7/critic-large-model";
        let mut edge = point(long, 1.0, 1.0);
        edge.cl_ci = Some([0.9, 1.0]);
        let scatter = vec![
            edge,
            point("zero", 0.0, 0.0),
            point(long, 0.7, 0.4),
            point("mid-run-with-a-name", 0.74, 0.6),
        ];
        assert_text_inside(&check(|| cl_cs_scatter(&scatter)));
        let bins: Vec<RelBin> = (0..=10)
            .map(|i| RelBin { confidence: f64::from(i) / 10.0, accuracy: 1.0, n: 100 })
            .collect();
        assert_text_inside(&check(|| reliability(&format!("{long} — verbalized"), &bins)));
        assert_text_inside(&check(|| reliability(long, &[])));
        let series = vec![
            (long.to_string(), vec![(1, 1.0), (2, 0.0), (3, 1.0)]),
            ("short".to_string(), vec![(1, 0.5), (2, 1.0)]),
        ];
        assert_text_inside(&check(|| round_accuracy(&series)));
        let runs = vec![
            (long.repeat(2), [100, 0, 0, 0]),
            ("b".to_string(), [0, 100, 0, 0]),
            ("c".to_string(), [1, 1, 1, 1]),
        ];
        assert_text_inside(&check(|| transition_bars(&runs)));
    }

    /// The boxes of the `n=` notes of a reliability diagram.
    fn notes(svg: &str) -> Vec<[f64; 4]> {
        text_boxes(svg).into_iter().filter(|(_, c)| c.starts_with("n=")).map(|(b, _)| b).collect()
    }

    fn assert_apart(boxes: &[[f64; 4]]) {
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let meet = a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
                assert!(!meet, "n= notes overlap: {a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn reliability_notes_never_overlap() {
        // Ten equal-count bins crowded at high confidence, as verbalized confidences are.
        let dense: Vec<RelBin> = (0..10)
            .map(|i| RelBin {
                confidence: 0.905 + f64::from(i) * 0.01,
                accuracy: 0.80 + f64::from(i % 3) * 0.01,
                n: 100 + i as u64,
            })
            .collect();
        let svg = check(|| reliability("dense", &dense));
        let boxes = notes(&svg);
        assert_apart(&boxes);
        assert!(!boxes.is_empty() && boxes.len() < 10, "{} notes", boxes.len());
        // Ten bins spread over the range all have room for their note.
        let spread: Vec<RelBin> = (0..10)
            .map(|i| RelBin {
                confidence: 0.05 + f64::from(i) * 0.1,
                accuracy: 0.6,
                n: 1000 + i as u64,
            })
            .collect();
        let boxes = notes(&check(|| reliability("spread", &spread)));
        assert_apart(&boxes);
        assert_eq!(boxes.len(), 10);
    }

    #[test]
    fn long_labels_are_cut_to_their_room() {
        assert_eq!(fit("short", 100, 15), "short");
        // 0.65 × 15 / 1.24 ≈ 7.86 px a character: 60 px hold 7 characters, the ellipsis one.
        assert_eq!(fit("abcdefghijkl", 60, 15), "abcdef…");
        assert_eq!(text_width("abcdefg", 15), 56);
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
