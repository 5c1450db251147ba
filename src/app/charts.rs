//! Chart data: every point is kept; drawing decimates to what the plot's width can show.
//!
//! Decimation keeps, per pixel-wide bucket of the visible x range, the first, minimum,
//! maximum and last point (the M4 rule), so spikes and the line's shape survive while
//! 100k-point series cost a few thousand vertices per frame.

use egui_plot::{Line, PlotPoints, PlotUi};
use std::sync::Arc;

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
}
