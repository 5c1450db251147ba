//! The runs table: one row per run, ticked to compare, clicked to manage.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::RunsPanel;
use super::curves::{color_swatch, run_color};
use crate::app::widgets;
use crate::runs::RunStatus;

impl RunsPanel {
    pub(super) fn table(&mut self, ui: &mut egui::Ui) {
        let Some(rows) = self.rt.rows.as_ref() else {
            return;
        };
        let selected = &mut self.rt.selected;
        let focused = &mut self.rt.focused;
        let dark = ui.visuals().dark_mode;
        let height = (rows.len() as f32 * 24.0 + 30.0).min(260.0);
        ui.push_id("runs-table", |ui| {
            ui.set_max_height(height);
            TableBuilder::new(ui)
                .striped(true)
                .resizable(true)
                .sense(egui::Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(Column::initial(250.0).at_least(140.0).clip(true))
                .column(Column::initial(150.0).at_least(60.0).clip(true))
                .column(Column::initial(150.0).at_least(60.0).clip(true))
                .column(Column::initial(80.0).at_least(60.0))
                .column(Column::initial(170.0).at_least(80.0).clip(true))
                .column(Column::initial(80.0).at_least(50.0))
                .column(Column::remainder().at_least(110.0))
                .max_scroll_height(height)
                .header(22.0, |mut header| {
                    for title in [
                        "Run (tick to compare)",
                        "Model",
                        "Dataset",
                        "Status",
                        "Best metric",
                        "Duration",
                        "Started (UTC)",
                    ] {
                        header.col(|ui| {
                            ui.strong(title);
                        });
                    }
                })
                .body(|body| {
                    body.rows(24.0, rows.len(), |mut row| {
                        let run = &rows[row.index()];
                        let path = &run.summary.path;
                        let info = &run.summary.info;
                        row.set_selected(focused.as_ref() == Some(path));
                        let mut ticked = selected.contains(path);
                        let color = selected.iter().position(|p| p == path).map(run_color);
                        row.col(|ui| {
                            if let Some(color) = color {
                                color_swatch(ui, color);
                            }
                            let response = ui
                                .checkbox(&mut ticked, run.display_name())
                                .on_hover_text(format!("Folder: {}", run.summary.name));
                            if response.changed() {
                                if ticked {
                                    selected.push(path.clone());
                                } else {
                                    selected.retain(|p| p != path);
                                }
                                *focused = Some(path.clone());
                            }
                        });
                        row.col(|ui| {
                            ui.label(crate::app::short_name(&info.model))
                                .on_hover_text(&info.model);
                        });
                        row.col(|ui| {
                            let dataset = match &info.dataset_config {
                                Some(c) => {
                                    format!("{} ({c})", crate::app::short_name(&info.dataset))
                                }
                                None => crate::app::short_name(&info.dataset).to_string(),
                            };
                            ui.label(dataset).on_hover_text(&info.dataset);
                        });
                        row.col(|ui| {
                            let (text, level) = status_text(info.status);
                            let response = ui.label(RichText::new(text).color(level.color(dark)));
                            if let Some(err) = &info.error {
                                response.on_hover_text(err);
                            }
                        });
                        row.col(|ui| match &info.best_metric {
                            Some(best) => {
                                ui.label(format!("{} {:.4}", best.name, best.value))
                                    .on_hover_text(format!(
                                        "at step {}{}",
                                        best.step,
                                        best.checkpoint
                                            .as_deref()
                                            .map(|c| format!(" ({c})"))
                                            .unwrap_or_default()
                                    ));
                            }
                            None => {
                                ui.label(widgets::muted(ui, "–"));
                            }
                        });
                        row.col(|ui| match run.duration_s {
                            Some(s) => {
                                ui.label(widgets::duration(s));
                            }
                            None => {
                                ui.label(widgets::muted(ui, "–"));
                            }
                        });
                        row.col(|ui| {
                            ui.label(info.started_at.replace('T', " ").trim_end_matches('Z'));
                        });
                        if row.response().clicked() {
                            *focused = Some(path.clone());
                        }
                    });
                });
        });
    }
}

fn status_text(status: RunStatus) -> (&'static str, crate::app::toasts::Level) {
    use crate::app::toasts::Level;
    let level = match status {
        RunStatus::Running => Level::Info,
        RunStatus::Finished => Level::Success,
        RunStatus::Stopped | RunStatus::Interrupted => Level::Warning,
        RunStatus::Failed => Level::Error,
    };
    (status.label(), level)
}
