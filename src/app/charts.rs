//! Chart data: every point is kept; drawing decimates to what the plot's width can show.
//!
//! Decimation keeps, per pixel-wide bucket of the visible x range, the first, minimum,
//! maximum and last point (the M4 rule), so spikes and the line's shape survive while
//! 100k-point series cost a few thousand vertices per frame.

use egui::Color32;
use egui_plot::{GridInput, GridMark, Line, Plot, PlotMemory, PlotPoints, PlotUi, Points};
use std::ops::RangeInclusive;
use std::sync::Arc;

/// Colours for named series; [`series_color`] picks one by name so a metric keeps its colour
/// in every panel, for its line and its markers alike.
pub const PALETTE: [Color32; 8] = [
    Color32::from_rgb(255, 170, 60),
    Color32::from_rgb(90, 150, 230),
    Color32::from_rgb(110, 200, 120),
    Color32::from_rgb(230, 100, 150),
    Color32::from_rgb(160, 120, 230),
    Color32::from_rgb(90, 200, 200),
    Color32::from_rgb(220, 200, 80),
    Color32::from_rgb(200, 120, 90),
];

/// Palette slots of the known metric names: within each task's metrics
/// (`Metrics::names_for`) no two share a colour, and none takes the loss's.
const METRIC_COLORS: &[(&str, usize)] = &[
    ("accuracy", 0),
    ("f1", 1),
    ("precision", 2),
    ("recall", 3),
    ("matthews_correlation", 4),
    ("loss", 5),
    ("pearson", 6),
    ("spearmanr", 7),
    ("macro_f1", 6),
    // Multi-label.
    ("subset_accuracy", 0),
    ("micro_f1", 1),
    ("micro_precision", 2),
    ("micro_recall", 3),
    ("hamming_loss", 4),
    ("tuned_micro_f1", 7),
    // Regression.
    ("spearman", 7),
    ("rmse", 0),
    ("mse", 1),
    ("mae", 2),
];

/// The colour of the series called `name`: the usual eval metrics get distinct fixed ones,
/// any other name a stable pick from its hash.
pub fn series_color(name: &str) -> Color32 {
    let bare = name.trim_start_matches("eval_");
    let index = METRIC_COLORS
        .iter()
        .find(|(known, _)| *known == bare)
        .map(|(_, slot)| *slot)
        .unwrap_or_else(|| {
            bare.bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
        });
    PALETTE[index % PALETTE.len()]
}

/// A plot with the app's interaction rules: the mouse wheel scrolls the page and never
/// pans the chart; Ctrl/Cmd + wheel zooms, a drag pans, and a double click or
/// [`reset_view_button`] fits the data again. Every chart gets readable y ticks and a margin
/// so points on the extremes are not cut by the frame.
pub fn plot<'a>(id: egui::Id) -> Plot<'a> {
    Plot::new(id)
        .id(id)
        .allow_scroll(false)
        // egui turns Ctrl/Cmd + wheel (and pinch) into zoom, never a plain wheel.
        .allow_zoom(true)
        .allow_drag(true)
        .allow_boxed_zoom(false)
        .set_margin_fraction(egui::vec2(0.03, 0.12))
        .y_grid_spacer(tick_marks)
        .y_axis_formatter(|mark, _range: &RangeInclusive<f64>| {
            format_tick(mark.value, mark.step_size)
        })
}

/// A band around a flat chart (every y the same, e.g. an accuracy stuck at 0): egui_plot
/// would stretch a zero span to ±50 around it. `None` when the data has a span.
pub fn flat_band<'s>(series: impl IntoIterator<Item = &'s Series>) -> Option<(f64, f64)> {
    let mut ys = series
        .into_iter()
        .flat_map(|s| &s.points)
        .map(|p| p[1])
        .filter(|y| y.is_finite());
    let first = ys.next()?;
    // Drawn every frame over long series: a series that moves stops the scan at once.
    if ys.any(|y| (y - first).abs() > 1e-9 * first.abs().max(y.abs())) {
        return None;
    }
    let pad = if first != 0.0 { first.abs() * 0.1 } else { 0.1 };
    Some((first - pad, first + pad))
}

/// `plot` with the y range of [`flat_band`] included, when there is one.
pub fn fit_flat<'a>(plot: Plot<'a>, band: Option<(f64, f64)>) -> Plot<'a> {
    match band {
        Some((low, high)) => plot.include_y(low).include_y(high),
        None => plot,
    }
}

/// A small "Reset view" button that puts the plot `id` back to fitting its data. Draw it
/// before the plot so the plot picks it up in the same frame.
pub fn reset_view_button(ui: &mut egui::Ui, id: egui::Id) {
    let clicked = ui
        .small_button("Reset view")
        .on_hover_text("Fit the chart to its data again (Ctrl/Cmd + wheel zooms, drag pans)")
        .clicked();
    if clicked && let Some(mut memory) = PlotMemory::load(ui.ctx(), id) {
        memory.auto_bounds = true.into();
        memory.store(ui.ctx(), id);
    }
}

/// The most charts side by side: more make each too small to read.
pub const MAX_GRID_COLUMNS: usize = 3;

/// Space between the charts of a grid, both ways.
pub const GRID_SPACING: f32 = 12.0;

/// A chart grid in `width`: as many columns as keep every chart at least `min_width` wide
/// (one when narrower, then as wide as `width`), at most [`MAX_GRID_COLUMNS`]; returns the
/// number of columns and each chart's width.
pub fn grid_layout(width: f32, min_width: f32) -> (usize, f32) {
    let width = width.max(0.0);
    let fits = ((width + GRID_SPACING) / (min_width.max(1.0) + GRID_SPACING)).floor() as usize;
    let columns = fits.clamp(1, MAX_GRID_COLUMNS);
    let each = (width - GRID_SPACING * (columns - 1) as f32) / columns as f32;
    (columns, each.max(1.0))
}

/// Draws `count` charts in a grid laid out by [`grid_layout`] for the width left in `ui`:
/// `chart(ui, index, width)` draws the `index`-th, `width` wide. Returns the rect the
/// charts cover.
pub fn chart_grid(
    ui: &mut egui::Ui,
    id_salt: &str,
    count: usize,
    min_width: f32,
    mut chart: impl FnMut(&mut egui::Ui, usize, f32),
) -> Option<egui::Rect> {
    let (columns, width) = grid_layout(ui.available_width(), min_width);
    let mut covered: Option<egui::Rect> = None;
    egui::Grid::new(id_salt)
        .num_columns(columns)
        .spacing([GRID_SPACING, GRID_SPACING])
        .show(ui, |ui| {
            for index in 0..count {
                let rect = ui
                    .vertical(|ui| {
                        ui.set_width(width);
                        chart(ui, index, width);
                    })
                    .response
                    .rect;
                covered = Some(covered.map_or(rect, |r| r.union(rect)));
                if (index + 1) % columns == 0 {
                    ui.end_row();
                }
            }
        });
    covered
}

/// The step between y ticks: the smallest of 1, 2 or 5 times a power of ten that puts at
/// most five steps in `span`, so a short chart still shows two to six labels (the default
/// spacer's powers of ten could leave one, e.g. only "1" for a grad norm of 0.6..1.4).
pub fn tick_step(span: f64) -> f64 {
    if !span.is_finite() || span <= 0.0 {
        return 1.0;
    }
    let rough = span / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// Y grid marks at every [`tick_step`] inside the visible range.
pub fn tick_marks(input: GridInput) -> Vec<GridMark> {
    let (min, max) = input.bounds;
    let step = tick_step(max - min);
    let first = (min / step).ceil() as i64;
    let last = (max / step).floor() as i64;
    if last < first || last - first > 1000 {
        return Vec::new();
    }
    (first..=last)
        .map(|k| GridMark {
            value: k as f64 * step,
            step_size: step,
        })
        .collect()
}

/// A tick label with as many decimals as the step needs; tiny or huge values (learning
/// rates) in scientific notation.
pub fn format_tick(value: f64, step: f64) -> String {
    if value == 0.0 || value.abs() < step * 1e-6 {
        return "0".into();
    }
    // Small steps on small values (learning rates) read best as 2.0e-5; on values near 1
    // (a loss that barely moves) as 1.1002, not 1.1002e0.
    if (step < 1e-3 && value.abs() < 1.0) || value.abs() >= 1e6 {
        let digits = (value.abs().log10().floor() - step.log10().floor()).clamp(0.0, 6.0);
        return format!("{value:.*e}", digits as usize);
    }
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0);
    format!("{value:.*}", decimals as usize)
}

/// The point of `points` (sorted by x) nearest to `x`, for a hover readout.
pub fn value_at(points: &[[f64; 2]], x: f64) -> Option<[f64; 2]> {
    let after = points.partition_point(|p| p[0] < x);
    let candidates = [after.checked_sub(1), Some(after)];
    candidates
        .into_iter()
        .flatten()
        .filter_map(|i| points.get(i))
        .min_by(|a, b| (a[0] - x).abs().total_cmp(&(b[0] - x).abs()))
        .copied()
}

/// A series as a line with a marker on each point, both in `color`.
pub fn draw_line_with_markers(plot_ui: &mut PlotUi, series: &Series, color: Color32) {
    draw_line(plot_ui, series, Some(color), 2.0);
    plot_ui.points(
        Points::new(series.name.clone(), series.points.clone())
            .radius(3.0)
            .color(color),
    );
}

/// A legend above a chart, outside its data: a coloured dash and the name of each series.
pub fn legend_row(ui: &mut egui::Ui, entries: &[(&str, Color32)]) {
    ui.horizontal_wrapped(|ui| {
        for (name, color) in entries {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 10.0), egui::Sense::hover());
            ui.painter().line_segment(
                [rect.left_center(), rect.right_center()],
                egui::Stroke::new(3.0, *color),
            );
            ui.label(egui::RichText::new(*name).small());
        }
    });
}

/// One named curve.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    /// `[x, y]`, x non-decreasing.
    pub points: Vec<[f64; 2]>,
}

impl Series {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            points: Vec::new(),
        }
    }

    pub fn push(&mut self, x: f64, y: f64) {
        if x.is_finite() && y.is_finite() {
            self.points.push([x, y]);
        }
    }

    pub fn last(&self) -> Option<[f64; 2]> {
        self.points.last().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// The points of `points` (sorted by x) to draw for the x range `[x_min, x_max]` on a plot
/// `buckets` pixels wide: at most 4 per bucket, plus one neighbour on each side so lines
/// run to the edges.
pub fn decimate(points: &[[f64; 2]], x_min: f64, x_max: f64, buckets: usize) -> Vec<[f64; 2]> {
    let start = points.partition_point(|p| p[0] < x_min).saturating_sub(1);
    let end = (points.partition_point(|p| p[0] <= x_max) + 1).min(points.len());
    let visible = &points[start..end];
    let buckets = buckets.max(1);
    // An empty or NaN range has nothing to bucket.
    let empty_range = x_max.partial_cmp(&x_min) != Some(std::cmp::Ordering::Greater);
    if visible.len() <= 4 * buckets || empty_range {
        return visible.to_vec();
    }
    let width = (x_max - x_min) / buckets as f64;
    let mut out = Vec::with_capacity(4 * buckets + 2);
    let mut i = 0;
    while i < visible.len() {
        let bucket = ((visible[i][0] - x_min) / width).floor();
        let mut j = i + 1;
        while j < visible.len() && ((visible[j][0] - x_min) / width).floor() == bucket {
            j += 1;
        }
        let group = &visible[i..j];
        let (mut lo, mut hi) = (0, 0);
        for (k, p) in group.iter().enumerate() {
            if p[1] < group[lo][1] {
                lo = k;
            }
            if p[1] > group[hi][1] {
                hi = k;
            }
        }
        let mut picks = [0, lo.min(hi), lo.max(hi), group.len() - 1];
        picks.sort_unstable();
        let mut previous = usize::MAX;
        for k in picks {
            if k != previous {
                out.push(group[k]);
                previous = k;
            }
        }
        i = j;
    }
    out
}

/// Exponential moving average with TensorBoard's debiasing (`weight` in [0, 1)), kept up to
/// date as points arrive: each new point costs one step, and the whole series is recomputed
/// only when the weight changes.
#[derive(Debug, Clone, Default)]
pub struct Ema {
    weight: f64,
    last: f64,
    debias: f64,
    pub series: Series,
}

impl Ema {
    pub fn named(name: &str) -> Self {
        Self {
            series: Series::new(name),
            ..Self::default()
        }
    }

    pub fn update(&mut self, points: &[[f64; 2]], weight: f64) {
        if weight != self.weight || points.len() < self.series.points.len() {
            self.weight = weight;
            self.last = 0.0;
            self.debias = 1.0;
            self.series.points.clear();
        }
        for p in &points[self.series.points.len()..] {
            self.last = self.last * weight + (1.0 - weight) * p[1];
            self.debias *= weight;
            let value = self.last / (1.0 - self.debias).max(f64::MIN_POSITIVE);
            self.series.points.push([p[0], value]);
        }
    }
}

/// Adds `series` to a plot, decimated to the plot's pixel width: over the visible x range
/// when the user has zoomed or panned, over the whole series while the plot fits its data
/// (clipping then would keep auto-bounds from ever seeing the rest).
pub fn draw_line(plot_ui: &mut PlotUi, series: &Series, color: Option<egui::Color32>, width: f32) {
    let (Some(first), Some(last)) = (series.points.first(), series.points.last()) else {
        return;
    };
    let pixels = plot_ui.transform().frame().width().max(1.0) as usize;
    let [x_min, x_max] = if plot_ui.auto_bounds().x {
        [first[0], last[0]]
    } else {
        let bounds = plot_ui.plot_bounds();
        [bounds.min()[0], bounds.max()[0]]
    };
    let points = decimated_cached(plot_ui.ctx(), series, x_min, x_max, pixels);
    let mut line = Line::new(series.name.clone(), PlotPoints::from(points)).width(width);
    if let Some(color) = color {
        line = line.color(color);
    }
    plot_ui.line(line);
}

/// [`decimate`], remembered per series between frames: a plot that does not move or grow
/// costs a copy of a few thousand points instead of a scan of every point.
fn decimated_cached(
    ctx: &egui::Context,
    series: &Series,
    x_min: f64,
    x_max: f64,
    pixels: usize,
) -> Vec<[f64; 2]> {
    type Entry = (u64, Arc<Vec<[f64; 2]>>);
    let id = egui::Id::unique((
        "wick-decimated",
        &series.name,
        series.points.as_ptr() as usize,
    ));
    let key = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (
            series.points.len(),
            x_min.to_bits(),
            x_max.to_bits(),
            pixels,
        )
            .hash(&mut hasher);
        series
            .points
            .last()
            .map(|p| (p[0].to_bits(), p[1].to_bits()))
            .hash(&mut hasher);
        hasher.finish()
    };
    if let Some((cached_key, points)) = ctx.memory(|m| m.data.get_temp::<Entry>(id))
        && cached_key == key
    {
        return points.as_ref().clone();
    }
    let points = Arc::new(decimate(&series.points, x_min, x_max, pixels));
    ctx.memory_mut(|m| m.data.insert_temp::<Entry>(id, (key, points.clone())));
    points.as_ref().clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ema(points: &[[f64; 2]], weight: f64) -> Vec<[f64; 2]> {
        let mut smoothed = Ema::default();
        smoothed.update(points, weight);
        smoothed.series.points
    }

    #[test]
    fn a_chart_grid_takes_one_column_when_narrow_and_more_as_it_widens() {
        // The 800x600 window leaves about 630 points: one chart, as wide as that.
        assert_eq!(grid_layout(630.0, 420.0), (1, 630.0));
        // 1280 and 1440 wide windows: two.
        let (columns, width) = grid_layout(1110.0, 420.0);
        assert_eq!((columns, width), (2, 549.0));
        assert_eq!(grid_layout(1270.0, 420.0).0, 2);
        assert_eq!(grid_layout(1800.0, 420.0).0, 3);
        assert_eq!(grid_layout(5000.0, 420.0).0, MAX_GRID_COLUMNS);
        // Never zero columns, never a negative width.
        assert_eq!(grid_layout(0.0, 420.0), (1, 1.0));
        assert_eq!(grid_layout(-5.0, 0.0), (1, 1.0));
    }

    #[test]
    fn ticks_give_every_range_two_to_six_distinct_labels() {
        for (min, max) in [
            (0.6, 1.4),
            (0.95, 1.05),
            (0.0, 2e-5),
            (1e-6, 3e-6),
            (0.0, 1.0),
            (-3.0, 250.0),
            (1234.0, 1240.0),
        ] {
            let step = tick_step(max - min);
            let first = (min / step).ceil() as i64;
            let last = (max / step).floor() as i64;
            let labels: Vec<String> = (first..=last)
                .map(|k| format_tick(k as f64 * step, step))
                .collect();
            assert!((2..=6).contains(&labels.len()), "{min}..{max}: {labels:?}");
            let mut distinct = labels.clone();
            distinct.dedup();
            assert_eq!(distinct, labels, "{min}..{max}: labels repeat");
        }
        assert_eq!(format_tick(0.8, 0.2), "0.8");
        assert_eq!(format_tick(2e-5, 5e-6), "2.0e-5");
        assert_eq!(format_tick(200.0, 50.0), "200");
        assert_eq!(format_tick(1.1002, 1e-4), "1.1002");
    }

    #[test]
    fn each_eval_metric_gets_its_own_colour_for_line_and_markers() {
        let names = [
            "eval_accuracy",
            "eval_f1",
            "eval_precision",
            "eval_recall",
            "eval_matthews_correlation",
        ];
        let colors: Vec<Color32> = names.iter().map(|n| series_color(n)).collect();
        for (i, a) in colors.iter().enumerate() {
            assert!(!colors[i + 1..].contains(a), "{} shares a colour", names[i]);
            // Not egui's grey default: a colour from the palette.
            assert!(PALETTE.contains(a));
        }
        assert_eq!(series_color("eval_f1"), series_color("f1"));
        assert_eq!(series_color("eval_custom"), series_color("eval_custom"));
    }

    #[test]
    fn every_tasks_metrics_get_distinct_colours_apart_from_the_loss() {
        use crate::task::Task;
        use crate::train::metrics::Metrics;
        for task in [
            Task::SingleLabelClassification,
            Task::MultiLabelClassification,
            Task::Regression,
            Task::TokenClassification,
        ] {
            let names = Metrics::names_for(task);
            let colors: Vec<Color32> = names.iter().map(|n| series_color(n)).collect();
            for (i, a) in colors.iter().enumerate() {
                assert!(
                    !colors[i + 1..].contains(a),
                    "{task:?}: {} shares a colour",
                    names[i]
                );
            }
            assert!(
                names
                    .iter()
                    .all(|n| METRIC_COLORS.iter().any(|(k, _)| k == n)),
                "{task:?}: every metric has a fixed colour"
            );
        }
    }

    #[test]
    fn the_hover_value_is_the_nearest_point() {
        let points = [[0.0, 1.0], [10.0, 2.0], [20.0, 3.0]];
        assert_eq!(value_at(&points, 4.0), Some([0.0, 1.0]));
        assert_eq!(value_at(&points, 6.0), Some([10.0, 2.0]));
        assert_eq!(value_at(&points, 99.0), Some([20.0, 3.0]));
        assert_eq!(value_at(&points, -5.0), Some([0.0, 1.0]));
        assert_eq!(value_at(&[], 1.0), None);
    }

    #[test]
    fn decimation_bounds_the_points_and_keeps_extremes() {
        let points: Vec<[f64; 2]> = (0..100_000)
            .map(|i| {
                [
                    i as f64,
                    if i == 54_321 {
                        100.0
                    } else {
                        (i as f64 * 0.01).sin()
                    },
                ]
            })
            .collect();
        let drawn = decimate(&points, 0.0, 99_999.0, 800);
        assert!(drawn.len() <= 4 * 800 + 2, "{} points", drawn.len());
        assert!(drawn.contains(&[54_321.0, 100.0]), "the spike must survive");
        assert_eq!(drawn.first(), points.first());
        assert_eq!(drawn.last(), points.last());
        assert!(drawn.windows(2).all(|w| w[0][0] <= w[1][0]));
    }

    #[test]
    fn decimation_of_a_zoomed_range_keeps_neighbours_and_few_points_as_is() {
        let points: Vec<[f64; 2]> = (0..1000).map(|i| [i as f64, i as f64]).collect();
        let drawn = decimate(&points, 100.5, 110.5, 800);
        assert_eq!(drawn.first(), Some(&[100.0, 100.0]));
        assert_eq!(drawn.last(), Some(&[111.0, 111.0]));
        assert_eq!(drawn.len(), 12);
        assert!(decimate(&[], 0.0, 1.0, 10).is_empty());
    }

    #[test]
    fn incremental_ema_equals_a_fresh_one_and_resets_on_a_new_weight() {
        let points: Vec<[f64; 2]> = (0..50).map(|i| [i as f64, (i % 7) as f64]).collect();
        let mut running = Ema::default();
        running.update(&points[..20], 0.6);
        running.update(&points, 0.6);
        assert_eq!(running.series.points, ema(&points, 0.6));
        running.update(&points, 0.9);
        assert_eq!(running.series.points, ema(&points, 0.9));
    }

    #[test]
    fn ema_is_debiased_and_smooths() {
        let points = [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]];
        for p in ema(&points, 0.9) {
            assert!((p[1] - 1.0).abs() < 1e-12);
        }
        let noisy: Vec<[f64; 2]> = (0..200).map(|i| [i as f64, (i % 2) as f64]).collect();
        let smooth = ema(&noisy, 0.9);
        assert!((smooth[199][1] - 0.5).abs() < 0.06);
    }

    #[test]
    fn a_flat_series_gets_a_narrow_band_and_a_varying_one_none() {
        let mut zeros = Series::new("eval_accuracy");
        zeros.points = vec![[40.0, 0.0], [80.0, 0.0]];
        assert_eq!(flat_band([&zeros]), Some((-0.1, 0.1)));
        let mut ones = Series::new("eval_f1");
        ones.points = vec![[40.0, 1.0], [80.0, 1.0]];
        let (low, high) = flat_band([&ones]).unwrap();
        assert!((low - 0.9).abs() < 1e-12 && (high - 1.1).abs() < 1e-12);
        let mut moving = Series::new("loss");
        moving.points = vec![[1.0, 1.1], [2.0, 0.9]];
        assert_eq!(flat_band([&moving]), None);
        assert_eq!(flat_band([&Series::new("empty")]), None);
    }
}
