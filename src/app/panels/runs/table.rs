//! The runs table: one row per run with its task and headline metric, ticked to compare,
//! clicked to manage.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::RunsPanel;
use super::curves::{color_swatch, run_color};
use crate::app::widgets;
use crate::runs::RunStatus;
use crate::task::Task;

/// A column of the runs table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RunColumn {
    Run,
    Task,
    Model,
    Dataset,
    Status,
    Metric,
    Duration,
    Started,
}

impl RunColumn {
    const ALL: [RunColumn; 8] = [
        Self::Run,
        Self::Task,
        Self::Model,
        Self::Dataset,
        Self::Status,
        Self::Metric,
        Self::Duration,
        Self::Started,
    ];

    /// Left out first, in this order, when the table is narrower than all the columns: the
    /// run's tooltip then shows them.
    const DROPPED_FIRST: [RunColumn; 3] = [Self::Dataset, Self::Model, Self::Started];

    fn title(self) -> &'static str {
        match self {
            Self::Run => "Run (tick to compare)",
            Self::Task => "Task",
            Self::Model => "Model",
            Self::Dataset => "Dataset",
            Self::Status => "Status",
            Self::Metric => "Last eval",
            Self::Duration => "Training time",
            Self::Started => "Started (UTC)",
        }
    }

    /// What the header's tooltip explains, if anything.
    fn hint(self) -> Option<&'static str> {
        match self {
            Self::Metric => Some(
                "The task's headline metric at the run's last evaluation (its summary value, \
                 as W&B shows it); hover a value for the best one and its step",
            ),
            _ => None,
        }
    }

    /// Its starting width and the least it shrinks to.
    fn widths(self) -> (f32, f32) {
        match self {
            Self::Run => (200.0, 140.0),
            Self::Task => (100.0, 80.0),
            Self::Model | Self::Dataset => (150.0, 60.0),
            Self::Status => (80.0, 60.0),
            Self::Metric => (130.0, 80.0),
            // Wide enough for its header: as the last column it only gets its least width.
            Self::Duration => (90.0, 90.0),
            Self::Started => (110.0, 110.0),
        }
    }

    /// Long values are cut to the column (a tooltip has the whole).
    fn clips(self) -> bool {
        matches!(
            self,
            Self::Run | Self::Task | Self::Model | Self::Dataset | Self::Metric
        )
    }

    fn column(self, last: bool) -> Column {
        let (initial, least) = self.widths();
        // The last column takes what is left, so the table spans the panel.
        let column = if last {
            Column::remainder()
        } else {
            Column::initial(initial)
        };
        column.at_least(least).clip(self.clips())
    }
}

/// The columns that fit `width` with `spacing` between them: every one when they fit, else
/// without those of [`RunColumn::DROPPED_FIRST`], one after the other, until they fit.
pub(super) fn columns_for(width: f32, spacing: f32) -> Vec<RunColumn> {
    let needed = |columns: &[RunColumn]| {
        let widths: f32 = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (initial, least) = c.widths();
                if i + 1 == columns.len() {
                    least
                } else {
                    initial
                }
            })
            .sum();
        widths + spacing * columns.len().saturating_sub(1) as f32
    };
    let mut columns = RunColumn::ALL.to_vec();
    for dropped in RunColumn::DROPPED_FIRST {
        if needed(&columns) <= width {
            break;
        }
        columns.retain(|c| *c != dropped);
    }
    columns
}

impl RunsPanel {
    pub(super) fn table(&mut self, ui: &mut egui::Ui) {
        let Some(rows) = self.rt.rows.as_ref() else {
            return;
        };
        let selected = &mut self.rt.selected;
        let focused = &mut self.rt.focused;
        let dark = ui.visuals().dark_mode;
        let height = (rows.len() as f32 * 24.0 + 30.0).min(260.0);
        // As egui_extras does: the body's scroll bar takes its width from the table's.
        let width = ui.available_width() - ui.spacing().scroll.allocated_width();
        let columns = columns_for(width, ui.spacing().item_spacing.x);
        let dropped: Vec<RunColumn> = RunColumn::ALL
            .into_iter()
            .filter(|c| !columns.contains(c))
            .collect();
        // Each set of columns keeps its own widths (a person may have resized them).
        let id = if dropped.is_empty() {
            egui::IdSalt::new("runs-table")
        } else {
            egui::IdSalt::new(("runs-table", columns.len()))
        };
        ui.push_id(id, |ui| {
            ui.set_max_height(height);
            // A value longer than its column ends in "…" (its tooltip has the whole).
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
            let mut table = TableBuilder::new(ui)
                .striped(true)
                .resizable(true)
                .sense(egui::Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center));
            for (i, column) in columns.iter().enumerate() {
                table = table.column(column.column(i + 1 == columns.len()));
            }
            table
                .max_scroll_height(height)
                .header(22.0, |mut header| {
                    for column in &columns {
                        header.col(|ui| {
                            let title = ui.strong(column.title());
                            if let Some(hint) = column.hint() {
                                title.on_hover_text(hint);
                            }
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
                        let model = || crate::app::short_name(&info.model).to_string();
                        let dataset = || match &info.dataset_config {
                            Some(c) => format!("{} ({c})", crate::app::short_name(&info.dataset)),
                            None => crate::app::short_name(&info.dataset).to_string(),
                        };
                        let started = || {
                            info.started_at
                                .replace('T', " ")
                                .trim_end_matches('Z')
                                .to_string()
                        };
                        for column in &columns {
                            match column {
                                RunColumn::Run => row.col(|ui| {
                                    if let Some(color) = color {
                                        color_swatch(ui, color);
                                    }
                                    // The whole name, the folder, and the columns left out.
                                    let mut hover = format!(
                                        "{}\nFolder: {}",
                                        run.display_name(),
                                        run.summary.name
                                    );
                                    for column in &dropped {
                                        let value = match column {
                                            RunColumn::Task => run.task.title().to_string(),
                                            RunColumn::Model => model(),
                                            RunColumn::Dataset => dataset(),
                                            RunColumn::Started => format!("{} UTC", started()),
                                            _ => continue,
                                        };
                                        hover.push_str(&format!("\n{}: {value}", column.title()));
                                    }
                                    // A long name is cut, never the LoRA badge after it.
                                    let name_width = ui.available_width()
                                        - run.lora.as_ref().map_or(0.0, |_| LORA_BADGE_WIDTH);
                                    let response = ui
                                        .allocate_ui_with_layout(
                                            egui::vec2(name_width, ui.available_height()),
                                            *ui.layout(),
                                            |ui| ui.checkbox(&mut ticked, run.display_name()),
                                        )
                                        .inner
                                        .on_hover_text(hover);
                                    if let Some(lora) = &run.lora {
                                        lora_badge(ui, lora);
                                    }
                                    if response.changed() {
                                        if ticked {
                                            selected.push(path.clone());
                                        } else {
                                            selected.retain(|p| p != path);
                                        }
                                        *focused = Some(path.clone());
                                    }
                                }),
                                RunColumn::Model => row.col(|ui| {
                                    ui.label(model()).on_hover_text(&info.model);
                                }),
                                RunColumn::Dataset => row.col(|ui| {
                                    ui.label(dataset()).on_hover_text(&info.dataset);
                                }),
                                RunColumn::Status => row.col(|ui| {
                                    let (text, level) = status_text(info.status);
                                    let response =
                                        ui.label(RichText::new(text).color(level.color(dark)));
                                    if let Some(err) = &info.error {
                                        response.on_hover_text(err);
                                    }
                                }),
                                RunColumn::Task => row.col(|ui| {
                                    ui.label(task_label(run.task))
                                        .on_hover_text(run.task.title());
                                }),
                                RunColumn::Metric => row.col(|ui| metric_cell(ui, run)),
                                RunColumn::Duration => row.col(|ui| {
                                    let durations = &run.durations;
                                    // Training time when known; older runs have only wall time.
                                    let text = match (durations.training_s, durations.wall_s) {
                                        (Some(training), _) => widgets::duration(training),
                                        (None, Some(wall)) => {
                                            format!("wall {}", widgets::duration(wall))
                                        }
                                        (None, None) => "–".into(),
                                    };
                                    ui.label(text).on_hover_text(format!(
                                        "{}\n{}",
                                        durations.label(),
                                        crate::runs::RunDurations::EXPLAINED
                                    ));
                                }),
                                RunColumn::Started => row.col(|ui| {
                                    ui.label(started());
                                }),
                            };
                        }
                        if row.response().clicked() {
                            *focused = Some(path.clone());
                        }
                    });
                });
        });
    }
}

/// Room kept after a run's name for its LoRA badge.
const LORA_BADGE_WIDTH: f32 = 44.0;

/// A small "LoRA" tag; its tooltip has the settings and the newest adapter's size.
fn lora_badge(ui: &mut egui::Ui, lora: &crate::runs::RunLora) {
    let dark = ui.visuals().dark_mode;
    let accent = widgets::accent(dark);
    egui::Frame::new()
        .stroke(egui::Stroke::new(1.0, accent))
        .corner_radius(3.0)
        .inner_margin(egui::Margin::symmetric(3, 0))
        .show(ui, |ui| {
            ui.label(RichText::new("LoRA").small().color(accent))
                .on_hover_text(lora.label(widgets::bytes));
        });
}

/// The task in a word or two (its title is the tooltip).
fn task_label(task: Task) -> &'static str {
    match task {
        Task::SingleLabelClassification => "single-label",
        Task::MultiLabelClassification => "multi-label",
        Task::Regression => "regression",
        Task::TokenClassification => "entities",
    }
}

/// The run's headline metric as last evaluated (the best metric, when the run names one,
/// in the tooltip); the best metric alone, marked "best", for a run that has not logged its
/// headline.
fn metric_cell(ui: &mut egui::Ui, run: &super::RunRow) {
    let best = run.summary.info.best_metric.as_ref().map(|best| {
        format!(
            "Best: {} {:.4} at step {}{}",
            best.name,
            best.value,
            best.step,
            best.checkpoint
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        )
    });
    let headline = crate::train::metrics::Metrics::headline(run.task);
    match (&run.headline, &run.summary.info.best_metric) {
        (Some(last), _) => {
            let mut hover = format!(
                "{} {:.4}{}: {}'s headline metric, at the last evaluation",
                last.key,
                last.value,
                last.step
                    .map(|s| format!(" at step {s}"))
                    .unwrap_or_default(),
                run.task.title()
            );
            if let Some(best) = best {
                hover.push('\n');
                hover.push_str(&best);
            }
            ui.label(format!("{headline} {:.4}", last.value))
                .on_hover_text(hover);
        }
        (None, Some(b)) => {
            ui.label(format!("best {} {:.4}", b.name, b.value))
                .on_hover_text(best.unwrap_or_default());
        }
        (None, None) => {
            ui.label(widgets::muted(ui, "–")).on_hover_text(format!(
                "Not evaluated yet; {} runs are judged by eval_{headline}",
                run.task.title()
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_table_leaves_out_dataset_then_model_then_the_start_time() {
        use RunColumn::*;
        // 1280 and 1440 wide windows: every column.
        assert_eq!(columns_for(1100.0, 8.0), RunColumn::ALL);
        assert_eq!(
            columns_for(900.0, 8.0),
            [Run, Task, Status, Metric, Duration, Started]
        );
        assert_eq!(
            columns_for(800.0, 8.0),
            [Run, Task, Status, Metric, Duration, Started]
        );
        // The 800x600 window: the run, its task, status, headline metric and duration.
        assert_eq!(
            columns_for(620.0, 8.0),
            [Run, Task, Status, Metric, Duration]
        );
        // Narrower still: never fewer than those.
        assert_eq!(
            columns_for(100.0, 8.0),
            [Run, Task, Status, Metric, Duration]
        );
    }
}
