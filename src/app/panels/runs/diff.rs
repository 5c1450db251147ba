//! The diffs of ticked runs: config keys that differ, and (for two runs) the examples
//! whose prediction flipped.

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use std::path::PathBuf;

use super::{PairCache, RunsPanel};
use crate::app::widgets;
use crate::runs::compare::{self, KeyDiff, NOISE_KEYS, PREDICTIONS_FILE};

impl RunsPanel {
    pub(super) fn config_diff(&mut self, ui: &mut egui::Ui) {
        let mut names = Vec::new();
        let mut configs = Vec::new();
        for p in &self.rt.selected {
            let Some(loaded) = self.loaded(p) else { return };
            let name = self
                .row(p)
                .map(|r| r.display_name().to_string())
                .unwrap_or_default();
            match &loaded.config {
                Ok(config) => {
                    names.push(name);
                    configs.push(config);
                }
                Err(err) => {
                    ui.label(format!("⚠ {name}: {err}"));
                }
            }
        }
        if configs.len() < 2 {
            return;
        }
        let diff: Vec<KeyDiff> = compare::config_diff_many(&configs);
        ui.label(widgets::muted(
            ui,
            format!(
                "Only the keys whose values differ; {} are left out (they differ for every run).",
                NOISE_KEYS.join(" and ")
            ),
        ));
        if diff.is_empty() {
            ui.label("The configs are the same (apart from those).");
            return;
        }
        // Columns share the width; a long name or value wraps in its column.
        let columns = (names.len() + 1) as f32;
        let spacing = ui.spacing().item_spacing.x;
        let column_width = ((ui.available_width() - spacing * (columns - 1.0)) / columns).max(80.0);
        egui::Grid::new("runs-config-diff")
            .striped(true)
            .num_columns(names.len() + 1)
            .max_col_width(column_width)
            .show(ui, |ui| {
                ui.strong("key");
                for name in &names {
                    ui.strong(name);
                }
                ui.end_row();
                for d in &diff {
                    ui.monospace(d.key)
                        .on_hover_text(crate::recipe::key_info(d.key).map_or("", |k| k.help));
                    for value in &d.values {
                        match value {
                            Some(v) => ui.monospace(v),
                            None => ui.label(widgets::muted(ui, "(unset)")),
                        };
                    }
                    ui.end_row();
                }
            });
    }

    pub(super) fn example_diff(&mut self, ui: &mut egui::Ui) {
        let [a, b] = [&self.rt.selected[0], &self.rt.selected[1]];
        let name = |p: &PathBuf| {
            self.row(p)
                .map(|r| r.display_name().to_string())
                .unwrap_or_default()
        };
        let (name_a, name_b) = (name(a), name(b));
        if self.rt.selected.len() > 2 {
            ui.label(widgets::muted(ui, "Comparing the first two ticked runs."));
        }
        ui.label(format!("A = {name_a}, B = {name_b}"));
        let (Some((fa, la)), Some((fb, lb))) = (self.rt.cache.get(a), self.rt.cache.get(b)) else {
            return;
        };
        let (pa, pb) = match (&la.predictions, &lb.predictions) {
            (Ok(Some(pa)), Ok(Some(pb))) => (pa, pb),
            (Err(err), _) | (_, Err(err)) => {
                ui.label(format!("⚠ {err}"));
                return;
            }
            (pa, _) => {
                let missing = if matches!(pa, Ok(None)) {
                    &name_a
                } else {
                    &name_b
                };
                ui.label(widgets::muted(
                    ui,
                    format!("{missing} has no {PREDICTIONS_FILE}: it is written when a run finishes its final evaluation."),
                ));
                return;
            }
        };
        let key = [(a.clone(), *fa), (b.clone(), *fb)];
        if self.rt.pair.as_ref().is_none_or(|c| c.key != key) {
            let result = compare::prediction_flips(pa, pb).and_then(|flips| {
                Ok((
                    flips,
                    compare::confusion_delta(pa, pb)?,
                    pa.label_names.clone(),
                ))
            });
            self.rt.pair = Some(PairCache { key, result });
        }
        let Some(pair) = &self.rt.pair else { return };
        let (flips, delta, labels) = match &pair.result {
            Ok(r) => r,
            Err(err) => {
                ui.label(format!(
                    "⚠ These runs cannot be compared example by example: {err}"
                ));
                return;
            }
        };
        ui.label(format!(
            "{} of {} {} examples flipped: B fixed {}, broke {}, {} changed between wrong answers.",
            flips.rows.len(),
            flips.total,
            pa.split,
            flips.fixed,
            flips.broken,
            flips.both_wrong
        ));
        let confusion = |ui: &mut egui::Ui| {
            ui.strong("Confusion matrix delta (B − A)");
            egui::Grid::new("runs-confusion-delta")
                .striped(true)
                .show(ui, |ui| {
                    ui.label(widgets::muted(ui, "gold \\ predicted"));
                    for name in labels {
                        ui.strong(name);
                    }
                    ui.end_row();
                    let dark = ui.visuals().dark_mode;
                    for (gold, row) in delta.iter().enumerate() {
                        ui.strong(&labels[gold]);
                        for (predicted, &d) in row.iter().enumerate() {
                            // More on the diagonal, or less off it, is better.
                            let good = (gold == predicted) == (d > 0);
                            let color = match d {
                                0 => ui.visuals().weak_text_color(),
                                _ if good => crate::app::toasts::Level::Success.color(dark),
                                _ => crate::app::toasts::Level::Error.color(dark),
                            };
                            ui.label(RichText::new(format!("{d:+}")).color(color).monospace());
                        }
                        ui.end_row();
                    }
                });
        };
        let flipped = |ui: &mut egui::Ui| {
            if flips.rows.is_empty() {
                ui.label("No example changed its prediction.");
                return;
            }
            let label = |i: usize| labels.get(i).cloned().unwrap_or_else(|| i.to_string());
            let dark = ui.visuals().dark_mode;
            let mark = |right: bool, text: String| {
                let level = if right {
                    crate::app::toasts::Level::Success
                } else {
                    crate::app::toasts::Level::Error
                };
                RichText::new(if right {
                    format!("{text} (right)")
                } else {
                    text
                })
                .color(level.color(dark))
            };
            ui.push_id("runs-flips", |ui| {
                // A long example ends in "…"; its tooltip has it whole.
                ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
                TableBuilder::new(ui)
                    .striped(true)
                    .resizable(true)
                    .column(Column::initial(50.0))
                    .column(Column::remainder().at_least(120.0).clip(true))
                    .column(Column::initial(80.0))
                    .column(Column::initial(110.0))
                    .column(Column::initial(110.0))
                    .max_scroll_height(260.0)
                    .header(22.0, |mut header| {
                        for title in ["row", "text", "gold", "A", "B"] {
                            header.col(|ui| {
                                ui.strong(title);
                            });
                        }
                    })
                    .body(|body| {
                        body.rows(22.0, flips.rows.len(), |mut row| {
                            let flip = &flips.rows[row.index()];
                            row.col(|ui| {
                                ui.label(flip.row.to_string());
                            });
                            row.col(|ui| {
                                let text = match &flip.text_pair {
                                    Some(pair) => format!("{} · {pair}", flip.text),
                                    None => flip.text.clone(),
                                };
                                ui.label(&text).on_hover_text(&text);
                            });
                            row.col(|ui| {
                                ui.label(label(flip.label));
                            });
                            row.col(|ui| {
                                ui.label(mark(flip.a_is_right(), label(flip.prediction_a)));
                            });
                            row.col(|ui| {
                                ui.label(mark(flip.b_is_right(), label(flip.prediction_b)));
                            });
                        });
                    });
            });
        };
        // Side by side when both fit; the matrix above the examples in a narrow window.
        if ui.available_width() >= 900.0 {
            ui.horizontal_top(|ui| {
                ui.vertical(confusion);
                ui.separator();
                ui.vertical(flipped);
            });
        } else {
            confusion(ui);
            ui.add_space(8.0);
            flipped(ui);
        }
    }
}
