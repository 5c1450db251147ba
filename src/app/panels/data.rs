//! Data: what the tokenizer and the collator make of the recipe's dataset, before training.
//! Column mapping (guesses preselected), max_length, padding, length grouping, batch size and
//! tokenizer threads write into the recipe; "Tokenize" runs the same preparation the trainer
//! runs through the tokenized-split cache, then shows a batch inspector (the epoch's batches
//! in the sampler's order), a length histogram with the max_length cut, the class balance and
//! the padding cost of three batching strategies.
//!
//! The task is the data's guess (with its reason) until the user picks one beside the
//! columns; that writes `recipe.task`, the same key as the Train form's Task group. The
//! inspector and the balance view draw each task's labels: a tag under each sub-token with
//! the -100s marked, a label set, a score; entities per type; and, when the classes are
//! skewed, an offer of `class_weights = "balanced"`.
//!
//! Reading, tokenizing, collating and the statistics are [`crate::train::preview`]'s, run on
//! tasks; `ui` only draws the small structs they hand back.

use std::sync::Arc;

use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Plot, VLine};
use serde::{Deserialize, Serialize};

use crate::app::jobs::{self, Task, poll_slot};
use crate::app::widgets::{self, Alert};
use crate::app::{Action, Cx, Tab};
#[cfg(test)]
use crate::data::ColumnMapping;
use crate::recipe::IntervalStrategy;
use crate::recipe::{ClassWeights, TrainConfig};
use crate::task::Task as ModelTask;
use crate::train::TrainError;
use crate::train::preview::{
    Balance, BatchView, ColumnsView, Prepared, PreviewPadding, Progress, Report, RowView,
    TaskBalance, Tokenized, batch_view, columns_key, read_columns, signature, tokenize_preview,
};

/// Tokens drawn per row in the batch inspector (the rest is summarised).
const GRID_TOKENS: usize = 96;
/// Rows of a batch the inspector shows at once; "Next 8 rows" pages through the rest.
pub const ROWS_PER_PAGE: usize = 8;
/// Below this width the report's two columns (lengths | balance and padding) stack.
const TWO_COLUMNS_WIDTH: f32 = 700.0;
/// The share of train the Data panel offers to hold out, as the course's
/// `train_test_split(test_size=0.1)`.
const HOLDOUT_OFFER: u32 = 10;

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DataPanel {
    pub preview_padding: PreviewPadding,
    /// What lives only while the app runs (not persisted).
    #[serde(skip)]
    runtime: DataRuntime,
}

/// DataPanel's state that lives only while the app runs.
#[derive(Default)]
struct DataRuntime {
    columns: Option<ColumnsView>,
    /// The dataset/config/split the columns were asked for.
    columns_key: String,
    /// Reading the columns for `columns_key`.
    columns_task: Option<Task<Result<ColumnsView, TrainError>>>,
    /// Tokenize: the prepared split and its numbers.
    tokenize_task: Option<Task<Result<Box<Tokenized>, TrainError>>>,
    prepared: Option<Arc<Prepared>>,
    report: Option<Report>,
    batch: Option<BatchView>,
    /// Collating the batch Prev/Next batch asked for, from `prepared`.
    batch_task: Option<Task<BatchView>>,
    /// The first row of the batch the inspector shows (a multiple of [`ROWS_PER_PAGE`]).
    first_row: usize,
    alert: Option<Alert>,
}

impl DataPanel {
    /// The batch the inspector shows.
    pub fn batch_view(&self) -> Option<&BatchView> {
        self.runtime.batch.as_ref()
    }

    /// The numbers of the last Tokenize.
    pub fn report(&self) -> Option<&Report> {
        self.runtime.report.as_ref()
    }

    /// Tokenizes the recipe's data, as the Tokenize button does (for the screenshot tour).
    pub fn tokenize_now(&mut self, cx: &mut Cx) {
        self.tokenize(cx);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        widgets::panel_header(
            ui,
            "Data",
            "What the tokenizer and DataCollatorWithPadding make of the recipe's dataset.",
        );
        widgets::alert(ui, &mut self.runtime.alert);
        if cx.recipe.dataset.trim().is_empty() || cx.recipe.model.trim().is_empty() {
            self.recipe_line(ui, cx);
            ui.add_space(8.0);
            let missing = match (
                cx.recipe.dataset.trim().is_empty(),
                cx.recipe.model.trim().is_empty(),
            ) {
                (true, true) => "a dataset and a model",
                (true, false) => "a dataset",
                _ => "a model (its tokenizer is used)",
            };
            widgets::empty_state(
                ui,
                &format!("Pick {missing} in Hub (\"Use for training\"), then come back here."),
            );
            ui.vertical_centered(|ui| {
                if ui.button("Go to Hub").clicked() {
                    cx.actions.push(Action::Navigate(Tab::Hub));
                }
            });
            return;
        }
        self.refresh_columns(cx);
        egui::ScrollArea::vertical()
            .id_salt("data-panel")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                self.recipe_line(ui, cx);
                ui.add_space(6.0);
                self.settings_ui(ui, cx);
                ui.add_space(6.0);
                self.tokenize_bar(ui, cx);
                ui.separator();
                self.preview_ui(ui, cx);
            });
    }

    /// Takes what the panel's tasks finished with; the app calls this every frame.
    pub fn poll(&mut self, cx: &mut Cx) {
        // The recipe may have moved to other data while Data was not shown (a fork, an
        // opened TOML file): what was read for the old data must not land in it.
        let in_flight = self.runtime.columns_task.is_some()
            || self.runtime.tokenize_task.is_some()
            || self.runtime.batch_task.is_some();
        if in_flight && columns_key(cx.recipe) != self.runtime.columns_key {
            self.runtime.columns_task = None;
            self.runtime.tokenize_task = None;
            self.runtime.batch_task = None;
        }
        match poll_slot(&mut self.runtime.columns_task).map(jobs::flatten) {
            Some(Ok(view)) => {
                adopt_guesses(cx.recipe, &view);
                self.runtime.columns = Some(view);
            }
            Some(Err(err)) => {
                self.runtime.columns = None;
                self.fail(cx, "Could not read the dataset's columns", err);
            }
            None => {}
        }
        match poll_slot(&mut self.runtime.tokenize_task).map(jobs::flatten) {
            Some(Ok(tokenized)) => {
                let Tokenized {
                    prepared,
                    report,
                    first_batch,
                } = *tokenized;
                self.runtime.alert = None;
                self.runtime.prepared = Some(prepared);
                self.runtime.report = Some(report);
                self.runtime.batch = Some(first_batch);
                self.runtime.first_row = 0;
            }
            Some(Err(err)) => self.fail(cx, "Tokenize failed", err),
            None => {}
        }
        match poll_slot(&mut self.runtime.batch_task) {
            Some(Ok(batch)) => {
                self.runtime.batch = Some(batch);
                self.runtime.first_row = 0;
            }
            Some(Err(err)) => self.fail(cx, "Could not collate the batch", err.to_string()),
            None => {}
        }
    }

    fn fail(&mut self, cx: &mut Cx, title: &str, detail: String) {
        cx.toasts.error(title, detail.clone());
        self.runtime.alert = Some(Alert::error(title, detail));
    }

    /// Data without an evaluation split: offer to hold out a seeded share of train (the
    /// course's `train_test_split`), or take the offer back.
    fn holdout_offer_ui(ui: &mut egui::Ui, recipe: &mut TrainConfig) {
        let has_eval_split = recipe.eval_split.as_deref().is_some_and(|s| !s.is_empty());
        if recipe.dataset.is_empty() || has_eval_split {
            return;
        }
        ui.horizontal_wrapped(|ui| match recipe.validation_split_percentage {
            None => {
                ui.label(widgets::muted(
                    ui,
                    "No evaluation split: nothing measures the model while it trains.",
                ));
                if ui
                    .button(format!("Hold out {HOLDOUT_OFFER}% of train for evaluation"))
                    .on_hover_text(
                        "Sets validation_split_percentage: a seeded share of the training rows \
                         (data_seed, else seed) is kept apart and evaluated each epoch; the \
                         run's config.toml records it.",
                    )
                    .clicked()
                {
                    recipe.validation_split_percentage = Some(HOLDOUT_OFFER);
                    if recipe.eval_strategy == IntervalStrategy::No {
                        recipe.eval_strategy = IntervalStrategy::Epoch;
                    }
                }
            }
            Some(_) => {
                if ui
                    .button("Train on all of train")
                    .on_hover_text(
                        "Clears validation_split_percentage; with nothing left to evaluate on, \
                         evaluation goes off (eval_strategy = \"no\")",
                    )
                    .clicked()
                {
                    recipe.validation_split_percentage = None;
                    if !recipe.has_eval_data() {
                        recipe.eval_strategy = IntervalStrategy::No;
                    }
                }
            }
        });
    }

    fn recipe_line(&self, ui: &mut egui::Ui, cx: &mut Cx) {
        let recipe = &cx.recipe;
        egui::Grid::new("data-recipe")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Dataset");
                if recipe.dataset.is_empty() {
                    ui.label(widgets::muted(ui, "none yet"));
                } else {
                    let mut text = recipe.dataset.clone();
                    if let Some(config) = &recipe.dataset_config {
                        text.push_str(&format!(" · config {config}"));
                    }
                    text.push_str(&format!(" · train on {}", recipe.train_split));
                    match (recipe.eval_split.as_deref(), recipe.holdout_percentage()) {
                        (_, Some(percent)) => text.push_str(&format!(
                            ", evaluate on {percent}% of it held out (seed {})",
                            recipe.resolved_data_seed()
                        )),
                        (Some(eval), None) if !eval.is_empty() => {
                            text.push_str(&format!(", evaluate on {eval}"))
                        }
                        _ => text.push_str(", no evaluation split"),
                    }
                    ui.label(RichText::new(text).strong());
                }
                ui.end_row();
                ui.label("Model (tokenizer)");
                if recipe.model.is_empty() {
                    ui.label(widgets::muted(ui, "none yet"));
                } else {
                    ui.label(RichText::new(&recipe.model).strong());
                }
                ui.end_row();
            });
        Self::holdout_offer_ui(ui, cx.recipe);
    }

    /// Asks for the training split's columns when the dataset, config or split changed.
    fn refresh_columns(&mut self, cx: &mut Cx) {
        let key = columns_key(cx.recipe);
        if key == self.runtime.columns_key {
            return;
        }
        self.runtime.columns_key = key.clone();
        self.runtime.columns = None;
        self.runtime.report = None;
        self.runtime.batch = None;
        self.runtime.prepared = None;
        let mut cfg = cx.recipe.clone();
        // The columns that exist do not depend on the roles chosen.
        cfg.text_column = None;
        cfg.text_pair_column = None;
        cfg.label_column = None;
        let settings = cx.hub.clone();
        // A read for the previous key is dropped with its task.
        self.runtime.columns_task = Some(cx.jobs.task(
            "data-columns",
            format!("reading the columns of {}", cfg.dataset),
            move |r| read_columns(&cfg, &settings, progress_of(r)),
        ));
    }

    fn settings_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let loading = self.runtime.columns_task.is_some();
        ui.columns(2, |columns| {
            let ui = &mut columns[0];
            ui.strong("Columns");
            match &self.runtime.columns {
                None if loading => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Reading the columns (downloading the split if needed)…");
                    });
                }
                None => {
                    ui.label(widgets::muted(ui, "The columns could not be read."));
                }
                Some(view) => column_pickers(ui, cx.recipe, view),
            }

            let ui = &mut columns[1];
            ui.strong("Tokenization and batching");
            egui::Grid::new("data-settings").num_columns(2).show(ui, |ui| {
                let recipe = &mut *cx.recipe;
                let label = ui.label("max_length").on_hover_text(
                    "Rows are cut to this many tokens (both texts together). Capped by the \
                     tokenizer's model_max_length and the model's positions.",
                );
                let mut max_length = recipe.max_length.unwrap_or(512);
                if ui
                    .add(egui::DragValue::new(&mut max_length).range(8..=8192))
                    .labelled_by(label.id)
                    .changed()
                {
                    recipe.max_length = Some(max_length);
                }
                ui.end_row();

                ui.label("Truncation");
                ui.add_enabled(false, egui::Checkbox::new(&mut true, "Truncate to max_length"))
                    .on_disabled_hover_text(
                        "Always on, as truncation=True in the course: longer rows are cut, the \
                         longer text of a pair first.",
                    );
                ui.end_row();

                let preview_label = ui.label("Padding");
                egui::ComboBox::from_id_salt("data-padding")
                    .selected_text(match self.preview_padding {
                        PreviewPadding::Dynamic => "dynamic (longest in batch)",
                        PreviewPadding::MaxLength => "max_length (preview only)",
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(
                            &mut self.preview_padding,
                            PreviewPadding::Dynamic,
                            "dynamic (longest in batch)",
                        );
                        ui.selectable_value(
                            &mut self.preview_padding,
                            PreviewPadding::MaxLength,
                            "max_length (preview only)",
                        );
                    })
                    .response
                    .labelled_by(preview_label.id)
                    .on_hover_text(
                        "Training always pads each batch to its longest row, like \
                         DataCollatorWithPadding. \"max_length\" only previews what padding \
                         every row to max_length would cost.",
                    );
                ui.end_row();

                let mut multiple_on = recipe.pad_to_multiple_of.is_some();
                let mut multiple = recipe.pad_to_multiple_of.unwrap_or(8);
                let label = ui.label("pad_to_multiple_of").on_hover_text(
                    "Round each batch's length up to a multiple of this (8 suits tensor cores).",
                );
                ui.horizontal(|ui| {
                    ui.checkbox(&mut multiple_on, "Round up");
                    ui.add_enabled(
                        multiple_on,
                        egui::DragValue::new(&mut multiple).range(1..=512),
                    )
                    .labelled_by(label.id);
                });
                recipe.pad_to_multiple_of = multiple_on.then_some(multiple);
                ui.end_row();

                ui.label("Batches");
                ui.checkbox(&mut recipe.group_by_length, "Group by length").on_hover_text(
                    "group_by_length: batches of similar lengths, less padding; still shuffled",
                );
                ui.end_row();

                let label = ui.label("Batch size").on_hover_text(
                    "per_device_train_batch_size: rows per training batch (the same field as Train)",
                );
                ui.add(
                    egui::DragValue::new(&mut recipe.per_device_train_batch_size).range(1..=4096),
                )
                .labelled_by(label.id);
                ui.end_row();

                let label = ui
                    .label("Tokenizer threads")
                    .on_hover_text("Worker threads for tokenization; 0 means one per core.");
                let mut threads = recipe.tokenize_threads.unwrap_or(0);
                if ui
                    .add(egui::DragValue::new(&mut threads).range(0..=256))
                    .labelled_by(label.id)
                    .changed()
                {
                    recipe.tokenize_threads = (threads > 0).then_some(threads);
                }
                ui.end_row();
            });
        });
    }

    fn tokenize_bar(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let running = self.runtime.tokenize_task.as_ref().map(Task::job);
        ui.horizontal(|ui| {
            if ui
                .add_enabled(running.is_none(), egui::Button::new("Tokenize"))
                .on_hover_text(
                    "Download what is missing, then tokenize the training split the way training \
                     will (through the cache)",
                )
                .clicked()
            {
                self.tokenize(cx);
            }
            if let Some(job) = running {
                let status = cx.jobs.status(job);
                let fraction = status.and_then(|s| s.fraction());
                let detail = status
                    .map(|s| s.detail.clone())
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| "preparing…".into());
                ui.add(
                    egui::ProgressBar::new(fraction.unwrap_or(0.0))
                        .desired_width(300.0)
                        .animate(fraction.is_none())
                        .text(detail),
                );
            } else if let Some(report) = &self.runtime.report {
                let color = if report.cache_hit {
                    Color32::from_rgb(80, 170, 90)
                } else {
                    widgets::accent(ui.visuals().dark_mode)
                };
                ui.label(
                    RichText::new(if report.cache_hit {
                        "cache hit"
                    } else {
                        "cache miss"
                    })
                    .strong()
                    .color(color),
                )
                .on_hover_text(&report.cache_detail);
                ui.label(widgets::muted(
                    ui,
                    format!(
                        "{} rows of {} in {:.2} s",
                        report.rows, report.split, report.seconds
                    ),
                ));
                if report.signature != signature(cx.recipe, self.preview_padding) {
                    ui.label(
                        RichText::new("Settings changed: Tokenize again to refresh the preview")
                            .color(ui.visuals().warn_fg_color),
                    );
                }
            }
        });
    }

    /// Tokenizes the recipe's data; an earlier Tokenize, and a batch collated from its
    /// split, are dropped.
    fn tokenize(&mut self, cx: &mut Cx) {
        let cfg = cx.recipe.clone();
        let settings = cx.hub.clone();
        let padding = self.preview_padding;
        self.runtime.batch_task = None;
        self.runtime.tokenize_task = Some(cx.jobs.task(
            "data-tokenize",
            format!("tokenizing {}", cfg.train_split),
            move |r| tokenize_preview(&cfg, &settings, padding, progress_of(r)).map(Box::new),
        ));
    }

    fn step_batch(&mut self, cx: &mut Cx, index: usize) {
        let Some(prepared) = self.runtime.prepared.clone() else {
            return;
        };
        self.runtime.batch_task = Some(cx.jobs.task(
            "data-batch",
            format!("collating batch {}", index + 1),
            move |_| batch_view(&prepared, index),
        ));
    }

    fn preview_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let Some(report) = self.runtime.report.clone() else {
            widgets::empty_state(
                ui,
                "Press Tokenize to see batches, token lengths, the class balance and what \
                 padding costs.",
            );
            return;
        };
        ui.label(widgets::muted(
            ui,
            format!(
                "text: {}{} · label: {} ({}) · max_length {}",
                report.mapping.text,
                report
                    .mapping
                    .text_pair
                    .as_ref()
                    .map(|p| format!(" + {p}"))
                    .unwrap_or_default(),
                report.mapping.label,
                report.label_source,
                report.max_length
            ),
        ));
        ui.add(
            egui::Label::new(widgets::muted(
                ui,
                format!("task: {} ({})", report.task.title(), report.task_reason),
            ))
            .wrap(),
        );
        ui.add_space(4.0);
        self.batch_ui(ui, cx);
        ui.add_space(8.0);
        if ui.available_width() < TWO_COLUMNS_WIDTH {
            histogram_ui(ui, &report);
            ui.add_space(8.0);
            balance_ui(ui, &report, cx.recipe);
            ui.add_space(8.0);
            padding_ui(ui, &report);
            return;
        }
        ui.columns(2, |columns| {
            histogram_ui(&mut columns[0], &report);
            balance_ui(&mut columns[1], &report, cx.recipe);
            columns[1].add_space(8.0);
            padding_ui(&mut columns[1], &report);
        });
    }

    fn batch_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let Some(batch) = self.runtime.batch.clone() else {
            return;
        };
        let busy = self.runtime.batch_task.is_some();
        let mut step = None;
        ui.strong("Batch inspector");
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(!busy && batch.index > 0, egui::Button::new("Prev batch"))
                .clicked()
            {
                step = Some(batch.index - 1);
            }
            ui.label(format!("Batch {} of {}", batch.index + 1, batch.total));
            if ui
                .add_enabled(
                    !busy && batch.index + 1 < batch.total,
                    egui::Button::new("Next batch"),
                )
                .clicked()
            {
                step = Some(batch.index + 1);
            }
        });
        if let Some(report) = &self.runtime.report {
            ui.label(widgets::muted(
                ui,
                format!(
                    "{} · padded to {} tokens: {} real, {} pad",
                    report.order, batch.seq_len, batch.real_tokens, batch.pad_tokens
                ),
            ));
        }
        if let Some(index) = step {
            self.step_batch(cx, index);
        }
        let rows = batch.rows.len();
        self.runtime.first_row =
            self.runtime.first_row.min(rows.saturating_sub(1)) / ROWS_PER_PAGE * ROWS_PER_PAGE;
        let shown = self.runtime.first_row..(self.runtime.first_row + ROWS_PER_PAGE).min(rows);
        if rows > ROWS_PER_PAGE {
            // Paging moves within this batch; Prev/Next batch above moves through the epoch.
            ui.horizontal_wrapped(|ui| {
                if ui
                    .add_enabled(
                        shown.start > 0,
                        egui::Button::new(format!("Previous {ROWS_PER_PAGE} rows")),
                    )
                    .clicked()
                {
                    self.runtime.first_row -= ROWS_PER_PAGE;
                }
                ui.label(format!(
                    "Rows {}–{} of {rows} in this batch",
                    shown.start + 1,
                    shown.end
                ));
                if ui
                    .add_enabled(
                        shown.end < rows,
                        egui::Button::new(format!("Next {ROWS_PER_PAGE} rows")),
                    )
                    .clicked()
                {
                    self.runtime.first_row += ROWS_PER_PAGE;
                }
            });
        }
        token_grid(ui, &batch.rows[shown]);
    }
}

/// Sets the recipe's columns to the guesses where they are unset or do not exist.
fn adopt_guesses(recipe: &mut TrainConfig, view: &ColumnsView) {
    let exists = |c: &Option<String>| c.as_ref().is_some_and(|c| view.columns.contains(c));
    let Ok(guess) = &view.guess else {
        return;
    };
    if !exists(&recipe.text_column) {
        recipe.text_column = Some(guess.text.clone());
        recipe.text_pair_column = guess.text_pair.clone();
    }
    if recipe.text_pair_column.is_some() && !exists(&recipe.text_pair_column) {
        recipe.text_pair_column = None;
    }
    if !exists(&recipe.label_column) {
        recipe.label_column = Some(guess.label.clone());
    }
}

/// Why the columns are not settled: the failed guess, until the user has picked a text and
/// a label column that exist.
fn column_warning(recipe: &TrainConfig, view: &ColumnsView) -> Option<String> {
    let exists = |c: &Option<String>| c.as_ref().is_some_and(|c| view.columns.contains(c));
    if exists(&recipe.text_column) && exists(&recipe.label_column) {
        return None;
    }
    match &view.guess {
        Err(reason) => Some(format!("No guess: {reason}. Pick the columns below.")),
        Ok(_) => None,
    }
}

fn column_pickers(ui: &mut egui::Ui, recipe: &mut TrainConfig, view: &ColumnsView) {
    if let Some(warning) = column_warning(recipe, view) {
        ui.label(RichText::new(warning).color(ui.visuals().warn_fg_color));
    }
    let guess = egui::Grid::new("data-columns")
        .num_columns(2)
        .show(ui, |ui| {
            for (title, field, optional) in [
                ("Text column", &mut recipe.text_column, false),
                ("Text pair column", &mut recipe.text_pair_column, true),
                ("Label column", &mut recipe.label_column, false),
            ] {
                let label = ui.label(title);
                let shown = field.clone().unwrap_or_else(|| "(none)".to_string());
                egui::ComboBox::from_id_salt(title)
                    .selected_text(shown)
                    .show_ui(ui, |ui| {
                        if optional {
                            ui.selectable_value(field, None, "(none)");
                        }
                        for column in &view.columns {
                            ui.selectable_value(field, Some(column.clone()), column);
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.end_row();
            }
            // Once a frame, for the picker and the line below (it reads the columns' types).
            let guess = view.task_guess(recipe);
            task_picker(ui, recipe, guess.as_ref());
            guess
        })
        .inner;
    task_guess_line(ui, recipe, guess);
    ui.label(widgets::muted(
        ui,
        format!("{} rows · columns: {}", view.rows, view.columns.join(", ")),
    ));
}

/// What the picker shows for "no task in the recipe".
pub const AUTO_TASK: &str = "auto (from the data)";

/// The task (`recipe.task`: unset follows the data) and, for token classification, whether
/// later pieces of a word are trained on; two rows of the columns grid.
fn task_picker(
    ui: &mut egui::Ui,
    recipe: &mut TrainConfig,
    guess: Option<&Result<crate::data::TaskGuess, String>>,
) {
    let label = ui.label("Task").on_hover_text(
        "What the model learns: the head, the loss and the metrics follow it. Auto reads it \
         off the columns' types; the Train form's `task` is the same setting.",
    );
    egui::ComboBox::from_id_salt("data-task")
        .selected_text(recipe.task.map_or(AUTO_TASK, ModelTask::title))
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut recipe.task, None, AUTO_TASK);
            for task in ModelTask::ALL {
                ui.selectable_value(&mut recipe.task, Some(task), task.title());
            }
        })
        .response
        .labelled_by(label.id);
    ui.end_row();
    let effective = recipe
        .task
        .or_else(|| guess.and_then(|g| g.as_ref().ok()).map(|g| g.task));
    if effective == Some(ModelTask::TokenClassification) {
        ui.label("Word pieces");
        ui.checkbox(&mut recipe.label_all_tokens, "Label every piece")
            .on_hover_text(
                "label_all_tokens: later pieces of a word get its label (B- becomes I-) \
                 instead of -100, which the loss skips",
            );
        ui.end_row();
    } else if effective.is_some() {
        // Hidden for the other tasks, where left on it would still change the cache key and
        // the export.
        recipe.label_all_tokens = false;
    }
}

/// The data's guess and its reason, and how the recipe's choice relates to it.
fn task_guess_line(
    ui: &mut egui::Ui,
    recipe: &TrainConfig,
    guess: Option<Result<crate::data::TaskGuess, String>>,
) {
    let guess = match guess {
        None => return,
        Some(Err(reason)) => {
            ui.label(
                RichText::new(format!("No task guess: {reason}")).color(ui.visuals().warn_fg_color),
            );
            return;
        }
        Some(Ok(guess)) => guess,
    };
    let (text, warn) = match recipe.task {
        None => (
            format!("The data reads as {}: {}", guess.task.title(), guess.reason),
            false,
        ),
        Some(task) if task == guess.task => (
            format!(
                "Set to {} (the data agrees: {})",
                task.title(),
                guess.reason
            ),
            false,
        ),
        Some(task) => (
            format!(
                "Set to {}; the data reads as {}: {}",
                task.title(),
                guess.task.title(),
                guess.reason
            ),
            true,
        ),
    };
    let text = RichText::new(text);
    ui.add(
        egui::Label::new(if warn {
            text.color(ui.visuals().warn_fg_color)
        } else {
            text
        })
        .wrap(),
    );
}

/// The rows' tokens as columns of piece, id, mask and type, at the monospace body size. One
/// horizontal scroll area moves all rows together (tokens stay aligned with their
/// neighbours'); its bar takes room of its own under the last row instead of covering it.
fn token_grid(ui: &mut egui::Ui, rows: &[RowView]) {
    let dark = ui.visuals().dark_mode;
    let pad_fill = if dark {
        Color32::from_gray(48)
    } else {
        Color32::from_gray(222)
    };
    let weak = ui.visuals().weak_text_color();
    ui.scope(|ui| {
        ui.spacing_mut().scroll = egui::style::ScrollStyle::solid();
        egui::ScrollArea::horizontal()
            .id_salt("data-token-grid")
            .show(ui, |ui| {
                // Tokens never wrap: the rows scroll sideways instead.
                ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
                for row in rows {
                    ui.label(RichText::new(format!("row {} · {}", row.row, row.label)).strong());
                    let tagged = row.token_labels.is_some();
                    ui.horizontal_top(|ui| {
                        ui.spacing_mut().item_spacing = egui::vec2(3.0, 0.0);
                        ui.vertical(|ui| {
                            ui.label(RichText::new("piece").monospace().color(weak));
                            if tagged {
                                ui.label(RichText::new("label").monospace().color(weak))
                                    .on_hover_text(
                                        "The label each sub-token is trained on: the first \
                                         piece of a word gets the word's tag; -100 is not \
                                         trained on",
                                    );
                            }
                            for name in ["id", "mask", "type"] {
                                ui.label(RichText::new(name).monospace().color(weak));
                            }
                        });
                        let shown = row.ids.len().min(GRID_TOKENS);
                        for t in 0..shown {
                            let pad = row.attention_mask[t] == 0;
                            let fill = if pad { pad_fill } else { Color32::TRANSPARENT };
                            egui::Frame::new()
                                .fill(fill)
                                .inner_margin(egui::Margin::symmetric(2, 0))
                                .show(ui, |ui| {
                                    ui.vertical(|ui| {
                                        let color =
                                            if pad { weak } else { ui.visuals().text_color() };
                                        ui.label(
                                            RichText::new(&row.pieces[t]).monospace().color(color),
                                        );
                                        if tagged {
                                            token_label_cell(ui, row, t, weak);
                                        }
                                        for text in [
                                            row.ids[t].to_string(),
                                            row.attention_mask[t].to_string(),
                                            row.type_ids[t].to_string(),
                                        ] {
                                            ui.label(RichText::new(text).monospace().color(color));
                                        }
                                    });
                                });
                        }
                        if row.ids.len() > shown {
                            ui.label(widgets::muted(
                                ui,
                                format!("… {} more", row.ids.len() - shown),
                            ));
                        }
                    });
                    ui.add_space(6.0);
                }
            });
    });
}

/// Token `t`'s aligned label: its tag (entities stand out), or a muted -100 that says why
/// the loss skips it.
fn token_label_cell(ui: &mut egui::Ui, row: &RowView, t: usize, weak: Color32) {
    let tag = row
        .token_labels
        .as_ref()
        .and_then(|labels| labels.get(t).cloned().flatten());
    match tag {
        Some(tag) if tag == "O" => {
            ui.label(RichText::new(tag).monospace());
        }
        Some(tag) => {
            let accent = widgets::accent(ui.visuals().dark_mode);
            ui.label(RichText::new(tag).monospace().strong().color(accent));
        }
        None => {
            let why = row.ignored_because(t).unwrap_or("-100: not trained on");
            ui.label(RichText::new("-100").monospace().color(weak))
                .on_hover_text(why);
        }
    }
}

fn histogram_ui(ui: &mut egui::Ui, report: &Report) {
    ui.strong("Token lengths");
    let s = &report.summary;
    ui.label(widgets::muted(
        ui,
        format!(
            "min {} · median {} · p95 {} · max {} · {} rows reach max_length ({})",
            s.min, s.median, s.p95, s.max, s.truncated_rows, report.max_length
        ),
    ));
    let bars: Vec<Bar> = report
        .histogram
        .iter()
        .map(|b| {
            Bar::new((b.from + b.to) as f64 / 2.0 - 0.5, b.rows as f64)
                .width((b.to - b.from) as f64 * 0.9)
                .name(format!("{}-{} tokens", b.from, b.to.saturating_sub(1)))
        })
        .collect();
    let longest = report.histogram.last().map_or(0, |b| b.to);
    // Show the cut when it is near the data; far beyond it nothing is truncated anyway.
    let show_cut = report.max_length <= longest.saturating_mul(2).max(16);
    Plot::new("data-length-histogram")
        .height(180.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .x_axis_label("tokens")
        .y_axis_label("rows")
        .include_y(0.0)
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("rows", bars));
            if show_cut {
                plot.vline(
                    VLine::new("max_length", report.max_length as f64)
                        .color(Color32::from_rgb(220, 80, 60)),
                );
            }
        });
    if !show_cut {
        ui.label(widgets::muted(
            ui,
            format!(
                "max_length ({}) is far past the longest row ({}): nothing is cut.",
                report.max_length, s.max
            ),
        ));
    }
}

fn balance_ui(ui: &mut egui::Ui, report: &Report, recipe: &mut TrainConfig) {
    let balance = &report.balance;
    match &balance.detail {
        TaskBalance::Classes => {
            ui.strong("Class balance");
            count_bars(ui, "data-balance", &balance.classes, balance.rows, "rows");
        }
        TaskBalance::LabelSets {
            rows_without_labels,
            mean_labels_per_row,
        } => {
            ui.strong("Rows per label");
            ui.label(widgets::muted(
                ui,
                format!(
                    "a row can have several labels: {mean_labels_per_row:.2} per row on average"
                ),
            ));
            let mut rows = balance.classes.clone();
            rows.push(("(no label)".into(), *rows_without_labels));
            count_bars(ui, "data-balance", &rows, balance.rows, "rows");
        }
        TaskBalance::Entities {
            per_type,
            rows_without_entities,
        } => {
            let entities: usize = per_type.iter().map(|(_, n)| n).sum();
            ui.strong("Entities per type");
            ui.label(widgets::muted(
                ui,
                format!(
                    "{entities} entities in {} rows; {rows_without_entities} rows have none",
                    balance.rows
                ),
            ));
            count_bars(ui, "data-entities", per_type, entities, "entities");
            ui.add_space(6.0);
            ui.strong("Tags (tokens trained on)");
            let tokens: usize = balance.classes.iter().map(|(_, n)| n).sum();
            count_bars(ui, "data-balance", &balance.classes, tokens, "tokens");
        }
        TaskBalance::Scores(scores) => {
            ui.strong("Scores");
            ui.label(widgets::muted(
                ui,
                format!(
                    "min {:.3} · mean {:.3} · max {:.3} over {} rows",
                    scores.min, scores.mean, scores.max, balance.rows
                ),
            ));
            let bars: Vec<Bar> = scores
                .histogram
                .iter()
                .map(|b| {
                    let width = (b.to - b.from).max(1e-6);
                    Bar::new((b.from + b.to) / 2.0, b.rows as f64)
                        .width(width * 0.9)
                        .name(format!("{:.3}-{:.3}", b.from, b.to))
                })
                .collect();
            Plot::new("data-score-histogram")
                .height(160.0)
                .allow_scroll(false)
                .allow_zoom(false)
                .x_axis_label("score")
                .y_axis_label("rows")
                .include_y(0.0)
                .show(ui, |plot| plot.bar_chart(BarChart::new("rows", bars)));
        }
    }
    class_weights_offer(ui, balance, recipe);
}

/// One bar per name: its count and share of `total`.
fn count_bars(ui: &mut egui::Ui, id: &str, counts: &[(String, usize)], total: usize, unit: &str) {
    let total = total.max(1);
    egui::Grid::new(id).num_columns(2).show(ui, |ui| {
        for (name, n) in counts {
            ui.label(name);
            let fraction = *n as f32 / total as f32;
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(220.0)
                    .text(format!("{n} {unit} ({:.1}%)", fraction * 100.0)),
            );
            ui.end_row();
        }
    });
}

/// The button that weighs the classes by their counts.
pub const WEIGHT_CLASSES: &str = "Weight the classes (class_weights = balanced)";
/// The button that takes the weights back.
pub const UNWEIGHTED: &str = "Unweighted";

/// Skewed classes: say so and offer `class_weights = "balanced"` (with a way back); weights
/// the task cannot use: say so and offer to drop them.
fn class_weights_offer(ui: &mut egui::Ui, balance: &Balance, recipe: &mut TrainConfig) {
    let warn = ui.visuals().warn_fg_color;
    let weights_text = |weights: &[f32]| {
        balance
            .classes
            .iter()
            .zip(weights)
            .map(|((name, _), w)| format!("{name} {w:.2}"))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    ui.add_space(4.0);
    if !balance.task.uses_cross_entropy() {
        if recipe.class_weights != ClassWeights::None {
            ui.horizontal_wrapped(|ui| {
                ui.label(
                    RichText::new(format!(
                        "class_weights apply to single-label and token classification, not to {}.",
                        balance.task.title()
                    ))
                    .color(warn),
                );
                if ui
                    .button(UNWEIGHTED)
                    .on_hover_text("Sets class_weights = \"none\"")
                    .clicked()
                {
                    recipe.class_weights = ClassWeights::None;
                }
            });
        }
        return;
    }
    let skew = balance.skew();
    match (&recipe.class_weights, skew) {
        (ClassWeights::None, None) => {}
        (ClassWeights::None, Some(skew)) => {
            ui.add(
                egui::Label::new(
                    RichText::new(format!(
                        "The classes are skewed: {}. Weighing each class by the inverse of its \
                         count makes the rare ones count as much in the loss.",
                        skew.describe(balance.unit())
                    ))
                    .color(warn),
                )
                .wrap(),
            );
            // Its own row: a column's justified layout would stretch the button.
            ui.horizontal_wrapped(|ui| {
                if ui
                    .button(WEIGHT_CLASSES)
                    .on_hover_text(format!(
                        "Sets class_weights = \"balanced\" (sklearn's n_samples / (n_classes \
                         * count)); on this split: {}",
                        weights_text(&balance.balanced_weights())
                    ))
                    .clicked()
                {
                    recipe.class_weights = ClassWeights::Balanced;
                }
            });
        }
        (weights, _) => {
            let shown = match weights {
                ClassWeights::Given(given) => {
                    let given: Vec<f32> = given.iter().map(|&w| w as f32).collect();
                    format!("class_weights as given: {}", weights_text(&given))
                }
                _ => format!(
                    "class_weights = balanced: {}",
                    weights_text(&balance.balanced_weights())
                ),
            };
            ui.add(egui::Label::new(shown).wrap());
            ui.horizontal_wrapped(|ui| {
                if ui
                    .button(UNWEIGHTED)
                    .on_hover_text("Sets class_weights = \"none\": every class weighs 1")
                    .clicked()
                {
                    recipe.class_weights = ClassWeights::None;
                }
            });
        }
    }
}

fn padding_ui(ui: &mut egui::Ui, report: &Report) {
    ui.add(
        egui::Label::new(
            RichText::new(format!(
                "Padding over one shuffled epoch (batch size {})",
                report.batch_size
            ))
            .strong(),
        )
        .wrap(),
    );
    for (name, stats) in [
        ("dynamic", report.padding.dynamic),
        ("max_length", report.padding.max_length),
        ("grouped by length", report.padding.grouped),
    ] {
        let waste = stats.waste() as f32;
        // The figures wrap in a label; the bar carries only what fits in it.
        ui.add(
            egui::Label::new(format!(
                "{name}: {:.1}% padding ({} pad of {} tokens)",
                waste * 100.0,
                stats.pad_tokens,
                stats.real_tokens + stats.pad_tokens
            ))
            .wrap(),
        );
        ui.add(
            egui::ProgressBar::new(waste)
                .desired_width(ui.available_width().min(320.0))
                .text(format!("{:.1}%", waste * 100.0)),
        );
        ui.add_space(2.0);
    }
}

/// The preview's progress as the task's, for the status bar and the Tokenize bar.
fn progress_of(reporter: &jobs::Reporter) -> Progress {
    let reporter = reporter.clone();
    Arc::new(move |detail, done, total| reporter.progress(done, total, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_no_guess_warning_goes_once_the_columns_are_picked() {
        let view = ColumnsView {
            columns: vec!["id".into(), "body".into(), "stars".into()],
            guess: Err("no text column among id, body, stars".into()),
            rows: 3,
            shape: None,
        };
        let mut recipe = TrainConfig::default();
        let warning = column_warning(&recipe, &view).expect("a warning before picking");
        assert!(warning.contains("no text column"), "{warning}");
        recipe.text_column = Some("body".into());
        assert!(
            column_warning(&recipe, &view).is_some(),
            "the label is still missing"
        );
        recipe.label_column = Some("stars".into());
        assert_eq!(column_warning(&recipe, &view), None);
        recipe.label_column = Some("gone".into());
        assert!(
            column_warning(&recipe, &view).is_some(),
            "a column that is not there"
        );
    }

    fn view(columns: &[&str], guess: ColumnMapping) -> ColumnsView {
        ColumnsView {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            guess: Ok(guess),
            rows: 3,
            shape: None,
        }
    }

    #[test]
    fn guesses_fill_unset_or_missing_columns_and_keep_valid_choices() {
        let guess = ColumnMapping {
            text: "sentence1".into(),
            text_pair: Some("sentence2".into()),
            label: "label".into(),
        };
        let columns = ["sentence1", "sentence2", "label", "idx"];
        let mut recipe = TrainConfig::default();
        adopt_guesses(&mut recipe, &view(&columns, guess.clone()));
        assert_eq!(recipe.text_column.as_deref(), Some("sentence1"));
        assert_eq!(recipe.text_pair_column.as_deref(), Some("sentence2"));
        assert_eq!(recipe.label_column.as_deref(), Some("label"));

        // A user's valid choice (no pair) stays; a column that does not exist is replaced.
        recipe.text_column = Some("sentence2".into());
        recipe.text_pair_column = None;
        recipe.label_column = Some("gone".into());
        adopt_guesses(&mut recipe, &view(&columns, guess));
        assert_eq!(recipe.text_column.as_deref(), Some("sentence2"));
        assert_eq!(recipe.text_pair_column, None);
        assert_eq!(recipe.label_column.as_deref(), Some("label"));
    }
}
