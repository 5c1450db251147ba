//! The compare grid ("Curves"): one panel per series, one colour per ticked run.

use egui::RichText;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Fingerprint, LoadedRun, OverlayCache, PanelCurves, RunsPanel};
use crate::app::Cx;
use crate::app::charts::{self, PALETTE, Series};
use crate::app::widgets;
use crate::runs::compare::{self, XAxis};
use crate::train::metrics::Metrics;

fn series_title(key: &str) -> String {
    match key {
        "loss" => "train loss".into(),
        "eval_loss" => "eval loss".into(),
        "learning_rate" => "learning rate".into(),
        "grad_norm" => "grad norm".into(),
        other => other.into(),
    }
}

/// The compare grid's first panels: train loss, eval loss, each compared run's headline
/// metric (`headlines`, e.g. `eval_pearson` for a regression run; the first eval metric
/// when none is logged) and the learning rate (those the runs have), then others, four at
/// most.
pub fn default_panels(keys: &[String], headlines: &[String]) -> Vec<String> {
    let mut metrics: Vec<String> = Vec::new();
    for key in headlines {
        if keys.contains(key) && !metrics.contains(key) {
            metrics.push(key.clone());
        }
    }
    if metrics.is_empty() {
        metrics.extend(
            keys.iter()
                .find(|k| k.starts_with("eval_") && *k != "eval_loss")
                .cloned(),
        );
    }
    let mut panels: Vec<String> = ["loss", "eval_loss"]
        .iter()
        .map(|k| k.to_string())
        .chain(metrics)
        .chain(["learning_rate".to_string()])
        .filter(|k| keys.contains(k))
        .collect();
    for key in keys {
        if panels.len() >= 4 {
            break;
        }
        if !panels.contains(key) {
            panels.push(key.clone());
        }
    }
    panels.truncate(4);
    panels
}

/// The colour of the run ticked `index`-th: the same in the table, the legend and every panel.
pub(super) fn run_color(index: usize) -> egui::Color32 {
    PALETTE[index % PALETTE.len()]
}

pub(super) fn color_swatch(ui: &mut egui::Ui, color: egui::Color32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 10.0), egui::Sense::hover());
    ui.painter().line_segment(
        [rect.left_center(), rect.right_center()],
        egui::Stroke::new(3.0, color),
    );
}

/// One compare panel: its title, Reset view, the visible runs' curves, and on hover a
/// tooltip with every visible run's value at the pointer's x.
fn compare_panel(
    ui: &mut egui::Ui,
    panel: &PanelCurves,
    hidden: &std::collections::HashSet<PathBuf>,
    x_label: &str,
    size: [f32; 2],
) {
    let id = egui::Id::unique(("runs-compare", &panel.key));
    ui.horizontal(|ui| {
        ui.label(RichText::new(series_title(&panel.key)).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            charts::reset_view_button(ui, id);
        });
    });
    let visible: Vec<&(usize, PathBuf, Series)> = panel
        .curves
        .iter()
        .filter(|(_, path, _)| !hidden.contains(path))
        .collect();
    let band = charts::flat_band(visible.iter().map(|(_, _, series)| series));
    let shown = charts::fit_flat(charts::plot(id), band)
        .width(size[0])
        .height(size[1])
        .x_axis_label(x_label)
        .link_cursor(egui::Id::unique("runs-compare-x"), [true, false])
        // The tooltip below says x and every run's y; the plot's own label would repeat it.
        .show_x(false)
        .show_y(false)
        .show(ui, |plot_ui| {
            for (index, _, series) in &visible {
                charts::draw_line(plot_ui, series, Some(run_color(*index)), 2.0);
            }
            plot_ui.pointer_coordinate()
        });
    if let Some(pointer) = shown.inner
        && shown.response.hovered()
    {
        let values: Vec<(egui::Color32, String, f64)> = visible
            .iter()
            .filter_map(|(index, _, series)| {
                let [_, y] = charts::value_at(&series.points, pointer.x)?;
                Some((run_color(*index), series.name.clone(), y))
            })
            .collect();
        if !values.is_empty() {
            shown.response.on_hover_ui_at_pointer(|ui| {
                let decimals = if x_label == "step" { 0 } else { 2 };
                ui.label(format!("{x_label} {:.*}", decimals, pointer.x));
                for (color, name, y) in values {
                    ui.horizontal(|ui| {
                        color_swatch(ui, color);
                        ui.label(format!("{name}: {y:.4}"));
                    });
                }
            });
        }
    }
}

impl RunsPanel {
    pub(super) fn compare_section(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        if self.rt.selected.is_empty() {
            ui.label(widgets::muted(
                ui,
                "Tick runs in the table to overlay their curves and compare them.",
            ));
            return;
        }
        let pending: Vec<String> = self
            .rt
            .selected
            .iter()
            .filter(|p| !self.rt.cache.contains_key(*p))
            .map(|p| match self.rt.load_errors.get(p) {
                Some(err) => format!("⚠ {err}"),
                None => format!(
                    "reading {}…",
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
            })
            .collect();
        for line in &pending {
            ui.label(widgets::muted(ui, line));
        }
        ui.heading("Curves");
        self.overlay(ui, cx);
        ui.add_space(8.0);
        if self.rt.selected.len() >= 2 {
            ui.heading("Config diff");
            self.config_diff(ui);
            ui.add_space(8.0);
            ui.heading("Per-example diff");
            self.example_diff(ui);
        } else {
            ui.label(widgets::muted(
                ui,
                "Tick a second run to see the config and per-example diffs.",
            ));
        }
    }

    fn overlay(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let loaded: Vec<(usize, PathBuf, Fingerprint, Arc<LoadedRun>)> = self
            .rt
            .selected
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let (fingerprint, run) = self.rt.cache.get(p)?;
                Some((i, p.clone(), *fingerprint, run.clone()))
            })
            .collect();
        let mut keys: Vec<String> = Vec::new();
        for (_, _, _, run) in &loaded {
            for key in &run.curve_keys {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        let any_wall_time = loaded.iter().any(|(_, _, _, r)| r.has_elapsed);
        if self.x_axis == XAxis::WallTime && !any_wall_time {
            self.x_axis = XAxis::Step;
        }
        self.panels.retain(|k| keys.contains(k));
        if self.panels.is_empty() {
            let headlines: Vec<String> = loaded
                .iter()
                .filter_map(|(_, path, _, _)| self.row(path))
                .map(|row| format!("eval_{}", Metrics::headline(row.task)))
                .collect();
            self.panels = default_panels(&keys, &headlines);
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Series");
            ui.menu_button(
                format!("{} of {} shown", self.panels.len(), keys.len()),
                |ui| {
                    for key in &keys {
                        let mut shown = self.panels.contains(key);
                        if ui.checkbox(&mut shown, series_title(key)).changed() {
                            if shown {
                                self.panels.push(key.clone());
                            } else {
                                self.panels.retain(|k| k != key);
                            }
                        }
                    }
                },
            );
            ui.separator();
            ui.label("x axis");
            ui.selectable_value(&mut self.x_axis, XAxis::Step, "Step");
            ui.selectable_value(&mut self.x_axis, XAxis::Epoch, "Epoch");
            ui.add_enabled_ui(any_wall_time, |ui| {
                ui.selectable_value(&mut self.x_axis, XAxis::WallTime, "Wall time")
                    .on_disabled_hover_text(
                        "These runs' logs have no elapsed_s (logged by newer versions)",
                    );
            });
            ui.separator();
            let smoothing = ui.label("Smoothing");
            ui.add(egui::Slider::new(&mut self.smoothing, 0.0..=0.99).fixed_decimals(2))
                .labelled_by(smoothing.id)
                .on_hover_text("EMA weight applied to every curve (as TensorBoard's)");
        });
        // The runs' legend: the colour each run has in every panel, and show/hide.
        ui.horizontal_wrapped(|ui| {
            for (index, path, _, _) in &loaded {
                let name = self
                    .row(path)
                    .map(|r| r.display_name().to_string())
                    .unwrap_or_default();
                color_swatch(ui, run_color(*index));
                let mut shown = !self.rt.hidden.contains(path);
                if ui
                    .checkbox(&mut shown, name)
                    .on_hover_text("Show or hide this run in every panel")
                    .changed()
                {
                    if shown {
                        self.rt.hidden.remove(path);
                    } else {
                        self.rt.hidden.insert(path.clone());
                    }
                }
            }
        });
        let key: Vec<(PathBuf, Fingerprint)> =
            loaded.iter().map(|(_, p, f, _)| (p.clone(), *f)).collect();
        let smoothing_bits = self.smoothing.to_bits();
        let stale = self.rt.overlay.as_ref().is_none_or(|o| {
            o.key != key
                || o.panels != self.panels
                || o.x_axis != self.x_axis
                || o.smoothing_bits != smoothing_bits
        });
        if stale {
            let mut without_wall_time = Vec::new();
            let mut series: Vec<PanelCurves> = self
                .panels
                .iter()
                .map(|key| PanelCurves {
                    key: key.clone(),
                    curves: Vec::new(),
                })
                .collect();
            for (index, path, _, run) in &loaded {
                let name = self
                    .row(path)
                    .map(|r| r.display_name().to_string())
                    .unwrap_or_default();
                if self.x_axis == XAxis::WallTime && !run.has_elapsed {
                    without_wall_time.push(name);
                    continue;
                }
                for panel in &mut series {
                    let points = compare::curve(&run.records, &panel.key, self.x_axis);
                    let curve = if self.smoothing > 0.0 {
                        let mut ema = charts::Ema::named(&name);
                        ema.update(&points, self.smoothing);
                        ema.series
                    } else {
                        Series {
                            name: name.clone(),
                            points,
                        }
                    };
                    panel.curves.push((*index, path.clone(), curve));
                }
            }
            self.rt.overlay = Some(OverlayCache {
                key,
                panels: self.panels.clone(),
                x_axis: self.x_axis,
                smoothing_bits,
                series,
                without_wall_time,
            });
        }
        self.rt.pixels_per_point = ui.ctx().pixels_per_point();
        let Some(overlay) = &self.rt.overlay else {
            return;
        };
        if !overlay.without_wall_time.is_empty() {
            ui.label(widgets::muted(
                ui,
                format!(
                    "Left out (no wall time in their logs): {}",
                    overlay.without_wall_time.join(", ")
                ),
            ));
        }
        let x_label = match self.x_axis {
            XAxis::Step => "step",
            XAxis::Epoch => "epoch",
            XAxis::WallTime => "seconds since the run started",
        };
        ui.label(widgets::muted(
            ui,
            "Ctrl/Cmd + wheel zooms, drag pans; hover a panel for every run's value",
        ));
        let hidden = &self.rt.hidden;
        let grid_rect = charts::chart_grid(
            ui,
            "runs-compare-grid",
            overlay.series.len(),
            420.0,
            |ui, index, width| {
                compare_panel(ui, &overlay.series[index], hidden, x_label, [width, 200.0]);
            },
        );
        let empty = overlay
            .series
            .iter()
            .all(|panel| panel.curves.iter().all(|(_, _, s)| s.is_empty()));
        if empty && !loaded.is_empty() {
            ui.label(widgets::muted(ui, "No points for these series yet."));
        }
        self.rt.plot_rect = grid_rect;
        self.export_row(ui, cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compare_grid_starts_with_loss_eval_loss_a_metric_and_the_learning_rate() {
        let keys: Vec<String> = [
            "grad_norm",
            "learning_rate",
            "loss",
            "eval_accuracy",
            "eval_loss",
            "eval_f1",
        ]
        .iter()
        .map(|k| k.to_string())
        .collect();
        assert_eq!(
            default_panels(&keys, &[]),
            ["loss", "eval_loss", "eval_accuracy", "learning_rate"]
        );
        let few: Vec<String> = ["grad_norm", "loss"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(default_panels(&few, &[]), ["loss", "grad_norm"]);
        assert!(default_panels(&[], &[]).is_empty());
    }

    #[test]
    fn the_compare_grid_shows_each_runs_headline_metric() {
        let keys: Vec<String> = [
            "loss",
            "eval_loss",
            "eval_accuracy",
            "eval_f1",
            "eval_mae",
            "eval_pearson",
            "learning_rate",
        ]
        .iter()
        .map(|k| k.to_string())
        .collect();
        let headline = |task| format!("eval_{}", Metrics::headline(task));
        use crate::task::Task;
        // A regression run: its Pearson correlation, not the alphabetically first metric.
        assert_eq!(
            default_panels(&keys, &[headline(Task::Regression)]),
            ["loss", "eval_loss", "eval_pearson", "learning_rate"]
        );
        // A token classifier and a regression run: both headlines, in tick order.
        assert_eq!(
            default_panels(
                &keys,
                &[
                    headline(Task::TokenClassification),
                    headline(Task::Regression),
                    headline(Task::Regression)
                ]
            ),
            ["loss", "eval_loss", "eval_f1", "eval_pearson"]
        );
        // A headline no run logged yet: the first eval metric stands in.
        assert_eq!(
            default_panels(&keys, &["eval_micro_f1".to_string()]),
            ["loss", "eval_loss", "eval_accuracy", "learning_rate"]
        );
    }
}
