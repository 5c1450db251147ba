//! The diffs of ticked runs: config keys that differ, and for two runs the examples their
//! task's comparison picks: flipped predictions (single-label), changed label sets
//! (multi-label), the largest changes in error (regression), entities found by one run and
//! missed by the other (token classification).

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use std::path::PathBuf;

use super::{PairCache, RunsPanel};
use crate::app::toasts::Level;
use crate::app::widgets;
use crate::runs::compare::{
    self, EntityDiff, ExampleDiff, Flips, KeyDiff, LabelSetDiff, NOISE_KEYS, PREDICTIONS_FILE,
    Predictions, ScoreDiff,
};

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
            let result = compare::example_diff(pa, pb);
            self.rt.pair = Some(PairCache { key, result });
        }
        let Some(pair) = &self.rt.pair else { return };
        let diff = match &pair.result {
            Ok(diff) => diff,
            Err(err) => {
                ui.label(format!(
                    "⚠ These runs cannot be compared example by example: {err}"
                ));
                return;
            }
        };
        breakdown_diff(ui, pa, pb);
        match diff {
            ExampleDiff::Classes {
                flips,
                confusion_delta,
            } => class_diff(ui, pa, flips, confusion_delta),
            ExampleDiff::LabelSets(diff) => label_set_diff(ui, pa, diff),
            ExampleDiff::Scores(diff) => score_diff(ui, pa, diff),
            ExampleDiff::Entities(diff) => entity_diff(ui, pa, diff),
        }
    }
}

/// Both runs' final scores per class, label or entity type, side by side (folded): the
/// rows by A's support, each with both F1s and B − A.
fn breakdown_diff(ui: &mut egui::Ui, pa: &Predictions, pb: &Predictions) {
    let (Some(a), Some(b)) = (&pa.breakdown, &pb.breakdown) else {
        return;
    };
    if a.kind != b.kind {
        return;
    }
    let title = a.kind.title().to_lowercase();
    egui::CollapsingHeader::new(format!("Final F1 {title}, A and B"))
        .id_salt("runs-breakdown-diff")
        .show(ui, |ui| {
            // Built only while the section is open (it sorts and joins both breakdowns).
            let f1_of = |name: &str| b.rows.iter().find(|r| r.name == name).map(|r| r.f1);
            let mut rows: Vec<(&str, usize, Option<f64>, Option<f64>)> = a
                .by_support()
                .into_iter()
                .map(|r| (r.name.as_str(), r.support, Some(r.f1), f1_of(&r.name)))
                .collect();
            // Names only B's evaluation found (an entity type A never predicted nor saw).
            for r in b.by_support() {
                if !a.rows.iter().any(|x| x.name == r.name) {
                    rows.push((r.name.as_str(), r.support, None, Some(r.f1)));
                }
            }
            egui::ScrollArea::vertical()
                .id_salt("runs-breakdown-diff-rows")
                .max_height(180.0)
                .show(ui, |ui| {
                    egui::Grid::new("runs-breakdown-diff-grid")
                        .num_columns(5)
                        .spacing([14.0, 2.0])
                        .striped(true)
                        .show(ui, |ui| {
                            for header in [a.kind.noun(), "support (A)", "F1 A", "F1 B", "B − A"]
                            {
                                ui.label(RichText::new(header).strong());
                            }
                            ui.end_row();
                            let cell =
                                |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.4}"));
                            for (name, support, f1_a, f1_b) in rows {
                                ui.label(name);
                                ui.label(support.to_string());
                                ui.label(cell(f1_a));
                                ui.label(cell(f1_b));
                                let delta = f1_a.zip(f1_b).map(|(x, y)| y - x);
                                ui.label(delta.map_or("–".into(), |d| format!("{d:+.4}")));
                                ui.end_row();
                            }
                        });
                });
        });
}

/// Single-label: the flip summary, the confusion-matrix delta and the flipped examples.
fn class_diff(ui: &mut egui::Ui, pa: &Predictions, flips: &Flips, delta: &[Vec<i64>]) {
    let labels = &pa.label_names;
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

/// A label's name, or its id when the file has fewer names.
fn label_name(names: &[String], id: u32) -> String {
    names
        .get(id as usize)
        .cloned()
        .unwrap_or_else(|| id.to_string())
}

/// `text` in the success colour when `right` (with "(right)" after it), else the error's.
fn marked(ui: &egui::Ui, right: bool, text: String) -> RichText {
    let dark = ui.visuals().dark_mode;
    if right {
        RichText::new(format!("{text} (right)")).color(Level::Success.color(dark))
    } else {
        RichText::new(text).color(Level::Error.color(dark))
    }
}

/// The example's text, with its pair after a "·".
fn example_text(text: &str, pair: Option<&str>) -> String {
    match pair {
        Some(pair) => format!("{text} · {pair}"),
        None => text.to_string(),
    }
}

/// A table of examples, one line each: a row id, the text (cut to the column, whole on
/// hover), then `columns` more; `cell(row, column, ui)` draws column `column` of row `row`.
fn examples_table(
    ui: &mut egui::Ui,
    id: &str,
    rows: usize,
    columns: &[(&str, f32)],
    mut cell: impl FnMut(usize, usize, &mut egui::Ui),
) {
    ui.push_id(id, |ui| {
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        let mut table = TableBuilder::new(ui)
            .striped(true)
            .resizable(true)
            .column(Column::initial(50.0))
            .column(Column::remainder().at_least(120.0).clip(true));
        for (_, width) in columns {
            table = table.column(Column::initial(*width));
        }
        table
            .max_scroll_height(260.0)
            .header(22.0, |mut header| {
                for title in ["row", "text"]
                    .into_iter()
                    .chain(columns.iter().map(|(t, _)| *t))
                {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(22.0, rows, |mut row| {
                    let index = row.index();
                    for column in 0..columns.len() + 2 {
                        row.col(|ui| cell(index, column, ui));
                    }
                });
            });
    });
}

/// Multi-label: the examples whose predicted label set changed, with the gold set.
fn label_set_diff(ui: &mut egui::Ui, pa: &Predictions, diff: &LabelSetDiff) {
    let threshold = pa
        .threshold
        .map_or(String::new(), |t| format!(" (at threshold {t})"));
    ui.label(format!(
        "{} of {} {} examples changed their predicted labels{threshold}: B got {} sets exactly \
         right that A did not, A got {} that B did not, {} changed between wrong sets.",
        diff.rows.len(),
        diff.total,
        pa.split,
        diff.fixed,
        diff.broken,
        diff.both_wrong
    ));
    if diff.rows.is_empty() {
        ui.label("No example changed its predicted labels.");
        return;
    }
    let names = &pa.label_names;
    let set = |ids: &[u32]| {
        if ids.is_empty() {
            "(none)".to_string()
        } else {
            ids.iter()
                .map(|&id| label_name(names, id))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    examples_table(
        ui,
        "runs-label-sets",
        diff.rows.len(),
        &[("gold", 120.0), ("A", 140.0), ("B", 140.0)],
        |index, column, ui| {
            let change = &diff.rows[index];
            match column {
                0 => ui.label(change.row.to_string()),
                1 => {
                    let text = example_text(&change.text, change.text_pair.as_deref());
                    ui.label(&text).on_hover_text(&text)
                }
                2 => {
                    let gold = set(&change.labels);
                    ui.label(&gold).on_hover_text(&gold)
                }
                3 => ui.label(marked(ui, change.a_is_right(), set(&change.predicted_a))),
                _ => ui.label(marked(ui, change.b_is_right(), set(&change.predicted_b))),
            };
        },
    );
}

/// Regression: the examples whose absolute error changed most, both predictions and the
/// gold score.
fn score_diff(ui: &mut egui::Ui, pa: &Predictions, diff: &ScoreDiff) {
    ui.label(format!(
        "Mean absolute error over {} {} examples: A {:.4}, B {:.4}. B is closer to the gold \
         score on {} and further on {}. The examples whose error changed most come first.",
        diff.total, pa.split, diff.mae_a, diff.mae_b, diff.closer, diff.further
    ));
    if diff.rows.is_empty() {
        return;
    }
    let dark = ui.visuals().dark_mode;
    examples_table(
        ui,
        "runs-score-changes",
        diff.rows.len(),
        &[
            ("gold", 60.0),
            ("A", 60.0),
            ("B", 60.0),
            ("error B − A", 90.0),
        ],
        |index, column, ui| {
            let change = &diff.rows[index];
            match column {
                0 => ui.label(change.row.to_string()),
                1 => {
                    let text = example_text(&change.text, change.text_pair.as_deref());
                    ui.label(&text).on_hover_text(&text)
                }
                2 => ui.label(format!("{:.3}", change.score)),
                3 => ui.label(format!("{:.3}", change.prediction_a)),
                4 => ui.label(format!("{:.3}", change.prediction_b)),
                _ => {
                    let delta = change.error_change();
                    // A smaller error is better.
                    let color = match delta {
                        d if d < 0.0 => Level::Success.color(dark),
                        d if d > 0.0 => Level::Error.color(dark),
                        _ => ui.visuals().weak_text_color(),
                    };
                    ui.label(
                        RichText::new(format!("{delta:+.3}"))
                            .color(color)
                            .monospace(),
                    )
                    .on_hover_text(format!(
                        "|error| A {:.3} → B {:.3}",
                        change.error_a(),
                        change.error_b()
                    ))
                }
            };
        },
    );
}

/// Rows of the entity diff drawn at most (the counts cover every row).
const ENTITY_ROWS_SHOWN: usize = 200;

/// Token classification: per entity type and row by row, the gold entities one run found
/// (type and words exactly) and the other missed.
fn entity_diff(ui: &mut egui::Ui, pa: &Predictions, diff: &EntityDiff) {
    ui.label(format!(
        "Of {} gold entities in {} {} examples, A found {} that B missed and B found {} that A \
         missed (an entity counts as found when its type and words are exactly right).",
        diff.gold_entities, diff.total, pa.split, diff.found_by_a_only, diff.found_by_b_only
    ));
    if diff.per_type.is_empty() {
        return;
    }
    ui.strong("Per entity type");
    egui::Grid::new("runs-entity-types")
        .striped(true)
        .show(ui, |ui| {
            for title in ["type", "gold", "A found, B missed", "B found, A missed"] {
                ui.strong(title);
            }
            ui.end_row();
            for (kind, counts) in &diff.per_type {
                ui.label(kind);
                ui.label(counts.gold.to_string());
                ui.label(counts.found_by_a_only.to_string());
                ui.label(counts.found_by_b_only.to_string());
                ui.end_row();
            }
        });
    ui.add_space(8.0);
    if diff.rows.is_empty() {
        ui.label("Both runs found the same gold entities.");
        return;
    }
    let shown = diff.rows.len().min(ENTITY_ROWS_SHOWN);
    if shown < diff.rows.len() {
        ui.label(widgets::muted(
            ui,
            format!("The first {shown} of {} examples:", diff.rows.len()),
        ));
    }
    let names = &pa.label_names;
    let dark = ui.visuals().dark_mode;
    // Each word with its tag where the tag is not O; words past the tags were cut off.
    let tagged = |words: &[String], tags: &[u32]| {
        words
            .iter()
            .enumerate()
            .map(
                |(i, word)| match tags.get(i).map(|&t| label_name(names, t)) {
                    Some(tag) if tag != "O" => format!("{word}/{tag}"),
                    _ => word.clone(),
                },
            )
            .collect::<Vec<_>>()
            .join(" ")
    };
    egui::ScrollArea::vertical()
        .id_salt("runs-entity-rows")
        .max_height(320.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            for change in &diff.rows[..shown] {
                ui.add_space(4.0);
                let found = |entities: &[compare::EntitySpan]| {
                    entities
                        .iter()
                        .map(|e| format!("{} \"{}\"", e.kind, change.entity_text(e)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                ui.horizontal_wrapped(|ui| {
                    ui.strong(format!("row {}", change.row));
                    if !change.found_by_a_only.is_empty() {
                        ui.label(
                            RichText::new(format!(
                                "A found, B missed: {}",
                                found(&change.found_by_a_only)
                            ))
                            .color(Level::Info.color(dark)),
                        );
                    }
                    if !change.found_by_b_only.is_empty() {
                        ui.label(
                            RichText::new(format!(
                                "B found, A missed: {}",
                                found(&change.found_by_b_only)
                            ))
                            .color(Level::Warning.color(dark)),
                        );
                    }
                });
                for (who, tags) in [
                    ("gold", &change.tags),
                    ("A", &change.tags_a),
                    ("B", &change.tags_b),
                ] {
                    ui.label(
                        RichText::new(format!("{who:>4}  {}", tagged(&change.words, tags)))
                            .monospace(),
                    );
                }
                ui.separator();
            }
        });
}
