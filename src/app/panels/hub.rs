//! Hub: search datasets and models on the Hub (or a mirror), look inside one (a dataset's
//! configs, splits, features with ClassLabel names, sizes and first rows; a model's files,
//! size, pipeline tag and weight format), and "Use for training", which downloads it and puts
//! it in the recipe. Local data comes in through a path field or the file dialog.
//!
//! Every Hub call runs on a task with the same library functions `wick hub search/info/
//! download` call; the panel owns each task and polls it every frame, and a newer request
//! replaces an older one of its kind, whose result is discarded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::jobs::{self, JobId, Task};
use crate::app::widgets::{self, Alert};
use crate::app::{Action, Cx, Tab};
use crate::data::DataError;
use crate::hub::{
    self, DatasetChoice, DatasetDetails, FirstRows, HubError, HubSettings, ModelDetails,
    RepoDetails, RepoKind, RepoSummary, RowsSource, SearchQuery, SortKey,
};
use crate::recipe::TrainConfig;
use crate::recipe::presets::Preset;

/// Results asked for per page ("Load more" asks for this many more).
const PAGE: usize = 20;
/// Rows shown in a dataset's preview.
const PREVIEW_ROWS: usize = 8;
/// Task tags offered by the filter (datasets are filtered by `task_categories:<task>`).
pub const TASKS: &[&str] = hub::TASKS;
/// The results column's width when the details stand beside it.
const RESULTS_WIDTH: f32 = 460.0;
/// Below this width the details stand under the results: beside them they would get less
/// than a readable column (a model's files with their sizes, a dataset's features).
const SIDE_BY_SIDE_WIDTH: f32 = RESULTS_WIDTH + 360.0;
/// What "Use for training" or "Use local path" made ready, or why it could not.
#[derive(Debug)]
enum Prepared {
    /// A Hub dataset's training (and evaluation) splits were downloaded.
    HubDataset(Result<DatasetChoice, HubError>),
    /// A local file or folder reads as a dataset.
    LocalData(Result<DatasetChoice, DataError>),
    /// A model was downloaded; the id.
    Model(Result<String, HubError>),
}

/// How the file dialog ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogOutcome {
    Picked(PathBuf),
    Cancelled,
    /// No portal and no zenity: rfd returns at once with nothing (it only logs why).
    Unavailable,
}

/// Faster than any person cancels: the dialog never showed.
const NO_DIALOG_WITHIN: std::time::Duration = std::time::Duration::from_millis(300);

/// rfd says only "no file"; one that comes back this fast had no dialog to show.
pub fn dialog_outcome(picked: Option<PathBuf>, took: std::time::Duration) -> DialogOutcome {
    match picked {
        Some(path) => DialogOutcome::Picked(path),
        None if took < NO_DIALOG_WITHIN => DialogOutcome::Unavailable,
        None => DialogOutcome::Cancelled,
    }
}

/// The selected repo's details, shared with each frame's drawing.
#[derive(Debug, Clone)]
pub enum Details {
    Dataset(Arc<DatasetDetails>),
    Model(Arc<ModelDetails>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SearchKind {
    #[default]
    Datasets,
    Models,
}

impl SearchKind {
    fn repo_kind(self) -> RepoKind {
        match self {
            SearchKind::Datasets => RepoKind::Dataset,
            SearchKind::Models => RepoKind::Model,
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HubPanel {
    pub query: String,
    pub kind: SearchKind,
    pub sort: SortKey,
    /// A task tag, empty for any task.
    pub task: String,
    /// The last local data path typed or picked.
    pub local_path: String,
    /// What lives only while the app runs (not persisted).
    #[serde(skip)]
    runtime: HubRuntime,
}

/// HubPanel's state that lives only while the app runs.
#[derive(Default)]
struct HubRuntime {
    results: Vec<RepoSummary>,
    results_kind: Option<SearchKind>,
    /// How many results the last search asked for.
    limit: usize,
    searched: bool,
    /// The running search; a newer one replaces it.
    search_task: Option<Task<Result<Vec<RepoSummary>, HubError>>>,
    selected: Option<(SearchKind, String)>,
    details: Option<Details>,
    /// Reading the selected repo; selecting another replaces it.
    details_task: Option<Task<Result<Details, HubError>>>,
    /// The download behind "Use for training" (or the local path check): one at a time.
    use_task: Option<Task<Prepared>>,
    /// The open file dialog.
    dialog_task: Option<Task<DialogOutcome>>,
    alert: Option<Alert>,
}

impl HubPanel {
    /// Searches for `query` as the search box does (for the screenshot tour).
    pub fn search_for(&mut self, cx: &mut Cx, kind: SearchKind, query: &str) {
        self.kind = kind;
        self.query = query.to_string();
        self.search(cx, PAGE);
    }

    /// Selects the first result, as a click on it does; false when there is none yet.
    pub fn select_first_result(&mut self, cx: &mut Cx) -> bool {
        if self.runtime.selected.is_some() {
            return true;
        }
        let Some(first) = self.runtime.results.first() else {
            return false;
        };
        let id = first.id.clone();
        self.select(cx, self.kind, id, None);
        true
    }

    /// Whether the selected repository's details are shown.
    pub fn has_details(&self) -> bool {
        self.runtime.details.is_some()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        widgets::panel_header(
            ui,
            "Hub",
            "Find a dataset and a model to fine-tune, or use a local data file.",
        );
        endpoint_line(ui, cx.hub);
        if cx.hub.offline {
            offline_banner(ui, cx);
        }
        widgets::alert(ui, &mut self.runtime.alert);
        self.search_bar(ui, cx);
        self.local_bar(ui, cx);
        if let Some(task) = &self.runtime.use_task {
            progress_line(ui, cx, task.job(), "Downloading for training…");
        }
        ui.separator();

        if ui.available_width() >= SIDE_BY_SIDE_WIDTH {
            egui::Panel::left("hub-results")
                .resizable(true)
                .default_size(RESULTS_WIDTH)
                .min_size(320.0)
                .show(ui, |ui| self.results_ui(ui, cx));
        } else {
            // Too narrow for two readable columns: the details go under the results.
            let height = (ui.available_height() * 0.4).max(120.0);
            egui::Panel::top("hub-results-stacked")
                .resizable(true)
                .default_size(height)
                .min_size(100.0)
                .show(ui, |ui| self.results_ui(ui, cx));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("hub-details")
                .auto_shrink([false, false])
                .show(ui, |ui| self.details_ui(ui, cx));
        });
    }

    /// Takes the results of finished tasks (every frame, whichever tab shows).
    pub fn poll(&mut self, cx: &mut Cx) {
        if let Some(result) = jobs::poll_slot(&mut self.runtime.search_task) {
            self.runtime.searched = true;
            match result {
                Ok(Ok(results)) => self.runtime.results = results,
                Ok(Err(err)) => self.search_failed(cx, err.to_string()),
                Err(err) => self.search_failed(cx, err.to_string()),
            }
        }
        match jobs::poll_slot(&mut self.runtime.details_task) {
            Some(Ok(Ok(details))) => self.runtime.details = Some(details),
            Some(Ok(Err(err))) => self.details_failed(cx, err.to_string()),
            Some(Err(err)) => self.details_failed(cx, err.to_string()),
            None => {}
        }
        match jobs::poll_slot(&mut self.runtime.use_task) {
            Some(Ok(Prepared::HubDataset(Ok(choice)) | Prepared::LocalData(Ok(choice)))) => {
                self.dataset_ready(cx, &choice)
            }
            Some(Ok(Prepared::HubDataset(Err(err)))) => {
                self.fail(cx, "Could not use this dataset", err.to_string())
            }
            Some(Ok(Prepared::LocalData(Err(err)))) => {
                self.fail(cx, "Could not use this dataset", err.to_string())
            }
            Some(Ok(Prepared::Model(Ok(id)))) => self.model_ready(cx, &id),
            Some(Ok(Prepared::Model(Err(err)))) => {
                self.fail(cx, "Could not use this model", err.to_string())
            }
            // A bug in the work (TaskError says so); which kind it was is not known.
            Some(Err(err)) => self.fail(cx, "Could not use it for training", err.to_string()),
            None => {}
        }
        match jobs::poll_slot(&mut self.runtime.dialog_task) {
            Some(Ok(outcome)) => self.dialog_closed(cx, outcome),
            Some(Err(err)) => cx.toasts.error("The file dialog failed", err.to_string()),
            None => {}
        }
    }

    fn search_failed(&mut self, cx: &mut Cx, detail: String) {
        self.runtime.results.clear();
        self.fail(cx, "Search failed", detail);
    }

    fn details_failed(&mut self, cx: &mut Cx, detail: String) {
        self.runtime.details = None;
        self.fail(cx, "Could not read the repo", detail);
    }

    fn dataset_ready(&mut self, cx: &mut Cx, choice: &DatasetChoice) {
        use_dataset_in_recipe(cx.recipe, choice);
        self.runtime.alert = None;
        let config = choice
            .config
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        match &choice.eval_split {
            Some(eval) => cx.toasts.success(format!(
                "Dataset {}{config}: training on {}, evaluating on {eval}",
                choice.dataset, choice.train_split
            )),
            None => cx.toasts.warning(
                format!("Dataset {}{config} has no evaluation split", choice.dataset),
                "Data offers to hold out a share of train to evaluate on; or set \
                 eval_strategy to \"no\" in Train.",
            ),
        }
        cx.actions.push(Action::Navigate(Tab::Data));
    }

    fn model_ready(&mut self, cx: &mut Cx, id: &str) {
        use_model_in_recipe(cx.recipe, id);
        self.runtime.alert = None;
        cx.toasts
            .success(format!("Model {id} is the recipe's model and tokenizer"));
        cx.actions.push(Action::Navigate(Tab::Data));
    }

    /// A file dialog's answer: a picked file is checked as "Use local path" does.
    fn dialog_closed(&mut self, cx: &mut Cx, outcome: DialogOutcome) {
        match outcome {
            DialogOutcome::Picked(path) => {
                self.local_path = path.display().to_string();
                // One "Use for training" at a time: a download started meanwhile goes on,
                // and the picked path waits in the field for "Use local path".
                if self.runtime.use_task.is_none() {
                    self.use_local_path(cx);
                }
            }
            DialogOutcome::Cancelled => {}
            DialogOutcome::Unavailable => cx.toasts.warning(
                "No file dialog is available here",
                "Neither a desktop portal nor zenity answered. Type or paste the file's path \
                 in \"Local data path\" above and press \"Use local path\".",
            ),
        }
    }

    fn fail(&mut self, cx: &mut Cx, title: &str, detail: String) {
        cx.toasts.error(title, detail.clone());
        self.runtime.alert = Some(Alert::error(title, detail));
    }

    /// Kind, query, sort and task on one row that wraps, each label before its control.
    fn search_bar(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let mut search = false;
        ui.horizontal_wrapped(|ui| {
            let before = self.kind;
            widgets::keep_together(ui, "hub-kind", |ui| {
                ui.selectable_value(&mut self.kind, SearchKind::Datasets, "Datasets");
                ui.selectable_value(&mut self.kind, SearchKind::Models, "Models");
                ui.separator();
            });
            if before != self.kind {
                search = true;
            }
            widgets::keep_together(ui, "hub-query", |ui| {
                let label = ui.label("Search the Hub");
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.query)
                            .hint_text("e.g. glue, imdb, bert")
                            .desired_width(200.0),
                    )
                    .labelled_by(label.id);
                if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    search = true;
                }
            });
            let sort_before = self.sort;
            widgets::keep_together(ui, "hub-sort", |ui| {
                let label = ui.label("Sort by");
                egui::ComboBox::from_id_salt("hub-sort")
                    .selected_text(sort_name(self.sort))
                    .show_ui(ui, |ui| {
                        for key in [SortKey::Downloads, SortKey::Likes, SortKey::Modified] {
                            ui.selectable_value(&mut self.sort, key, sort_name(key));
                        }
                    })
                    .response
                    .labelled_by(label.id);
            });
            let task_before = self.task.clone();
            widgets::keep_together(ui, "hub-task", |ui| {
                let label = ui.label("Task");
                egui::ComboBox::from_id_salt("hub-task")
                    .selected_text(if self.task.is_empty() {
                        "any task"
                    } else {
                        self.task.as_str()
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.task, String::new(), "any task");
                        for task in TASKS {
                            ui.selectable_value(&mut self.task, task.to_string(), *task);
                        }
                    })
                    .response
                    .labelled_by(label.id);
            });
            if (sort_before != self.sort || task_before != self.task) && self.runtime.searched {
                search = true;
            }
            let busy = self.runtime.search_task.is_some();
            // A newer search replaces a running one (its result is discarded).
            if ui
                .button("Search")
                .on_hover_text("Search names on the Hub (or the mirror in Settings)")
                .clicked()
            {
                search = true;
            }
            if busy {
                ui.spinner();
            }
        });
        if search {
            self.search(cx, PAGE);
        }
    }

    fn local_bar(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        ui.horizontal_wrapped(|ui| {
            let mut enter = false;
            widgets::keep_together(ui, "hub-local-path", |ui| {
                let label = ui.label("Local data path");
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.local_path)
                            .hint_text("a csv, tsv, jsonl or parquet file, or a dataset folder")
                            .desired_width(320.0),
                    )
                    .labelled_by(label.id);
                enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            });
            let busy = self.runtime.use_task.is_some();
            if (ui
                .add_enabled(
                    !busy && !self.local_path.trim().is_empty(),
                    egui::Button::new("Use local path"),
                )
                .clicked()
                || enter)
                && !busy
                && !self.local_path.trim().is_empty()
            {
                self.use_local_path(cx);
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Open local file…"))
                .on_hover_text("Pick a csv, tsv, jsonl or parquet file")
                .clicked()
            {
                self.runtime.dialog_task =
                    Some(cx.jobs.task("file-dialog", "choosing a data file", |_| {
                        // rfd blocks until the dialog closes: never on the UI thread.
                        let opened = std::time::Instant::now();
                        let picked = rfd::FileDialog::new()
                            .add_filter("Data files", &["csv", "tsv", "jsonl", "json", "parquet"])
                            .pick_file();
                        dialog_outcome(picked, opened.elapsed())
                    }));
            }
        });
    }

    /// Starts a search asking for `limit` results (a new search or "Load more").
    fn search(&mut self, cx: &mut Cx, limit: usize) {
        self.runtime.alert = None;
        if cx.hub.offline {
            self.runtime.results.clear();
            self.runtime.searched = true;
            self.runtime.alert = Some(Alert::warning(
                "Offline mode is on: searching the Hub is disabled",
                "Turn offline mode off in Settings to search. Cached datasets and models can \
                 still be used by id, and local files work.",
            ));
            // A search still running would otherwise fill the list after all.
            self.runtime.search_task = None;
            return;
        }
        self.runtime.limit = limit;
        self.runtime.results_kind = Some(self.kind);
        let mut query = SearchQuery::new(self.kind.repo_kind(), self.query.trim());
        query.sort = self.sort;
        query.limit = limit;
        if !self.task.is_empty() {
            query.filter.push(match self.kind {
                SearchKind::Datasets => format!("task_categories:{}", self.task),
                SearchKind::Models => self.task.clone(),
            });
        }
        let settings = cx.hub.clone();
        let what = if self.query.trim().is_empty() {
            format!("searching {}", query.kind.plural())
        } else {
            format!(
                "searching {} for {:?}",
                query.kind.plural(),
                self.query.trim()
            )
        };
        self.runtime.search_task = Some(
            cx.jobs
                .task("hub-search", what, move |_| hub::search(&settings, &query)),
        );
    }

    fn select(&mut self, cx: &mut Cx, kind: SearchKind, id: String, config: Option<String>) {
        self.runtime.selected = Some((kind, id.clone()));
        if self
            .runtime
            .details
            .as_ref()
            .is_some_and(|d| details_id(d) != id.as_str())
        {
            self.runtime.details = None;
        }
        let settings = cx.hub.clone();
        self.runtime.details_task =
            Some(cx.jobs.task("hub-info", format!("reading {id}"), move |r| {
                match kind {
                    SearchKind::Datasets => hub::dataset_details(
                        &settings,
                        &id,
                        config,
                        PREVIEW_ROWS,
                        Some(r.hub_sink()),
                    )
                    .map(|d| Details::Dataset(Arc::new(d))),
                    SearchKind::Models => {
                        hub::model_details(&settings, &id).map(|d| Details::Model(Arc::new(d)))
                    }
                }
            }));
    }

    fn use_local_path(&mut self, cx: &mut Cx) {
        let path = self.local_path.trim().to_string();
        self.runtime.use_task = Some(cx.jobs.task(
            "local-data",
            format!("reading {path}"),
            move |_| Prepared::LocalData(hub::check_local_data(Path::new(&path))),
        ));
    }

    fn use_dataset(&mut self, cx: &mut Cx, details: &DatasetDetails) {
        let settings = cx.hub.clone();
        let id = details.repo.id.clone();
        let config = details.config.clone();
        let names: Vec<String> = details.splits.iter().map(|s| s.name.clone()).collect();
        self.runtime.use_task = Some(cx.jobs.task(
            "hub-download",
            format!("downloading {id}"),
            move |r| {
                Prepared::HubDataset(hub::download_dataset(
                    &settings,
                    &id,
                    config,
                    &names,
                    Some(r.hub_sink()),
                ))
            },
        ));
    }

    fn use_model(&mut self, cx: &mut Cx, id: String) {
        let settings = cx.hub.clone();
        self.runtime.use_task = Some(cx.jobs.task(
            "hub-download",
            format!("downloading {id}"),
            move |r| {
                Prepared::Model(hub::local_model(&settings, &id, Some(r.hub_sink())).map(|_| id))
            },
        ));
    }

    fn results_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        if self.runtime.results.is_empty() {
            let busy = self.runtime.search_task.is_some();
            if busy {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Searching…");
                });
            } else if self.runtime.searched && !cx.hub.offline {
                widgets::empty_state(
                    ui,
                    "Nothing matches. Try a shorter name, another task, or the other kind.",
                );
            } else {
                widgets::empty_state(
                    ui,
                    "Search for a dataset (e.g. glue) or a model (e.g. MiniLM), or press Search \
                     to list the most downloaded.",
                );
            }
            return;
        }
        let kind = self.runtime.results_kind.unwrap_or(self.kind);
        let mut clicked = None;
        let selected_id = self.runtime.selected.as_ref().map(|(_, id)| id.clone());
        let more = self.runtime.results.len() >= self.runtime.limit;
        let height = (ui.available_height() - if more { 36.0 } else { 4.0 }).max(120.0);
        TableBuilder::new(ui)
            .id_salt("hub-results-table")
            .striped(true)
            .resizable(true)
            .max_scroll_height(height)
            .column(Column::remainder().at_least(160.0).clip(true))
            .column(Column::initial(80.0).at_least(50.0))
            .column(Column::initial(50.0).at_least(40.0))
            .column(Column::initial(86.0).at_least(60.0))
            .column(Column::initial(50.0).at_least(40.0))
            .header(20.0, |mut header| {
                for title in ["id", "downloads", "likes", "updated", "gated"] {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|mut body| {
                for hit in &self.runtime.results {
                    body.row(20.0, |mut row| {
                        let is_selected = selected_id.as_deref() == Some(hit.id.as_str());
                        row.set_selected(is_selected);
                        row.col(|ui| {
                            // Long ids end in "…"; the whole id shows on hover.
                            if ui
                                .add(
                                    egui::Button::selectable(is_selected, hit.id.as_str())
                                        .truncate(),
                                )
                                .on_hover_text(&hit.id)
                                .clicked()
                            {
                                clicked = Some(hit.id.clone());
                            }
                        });
                        row.col(|ui| {
                            ui.label(widgets::compact_count(hit.downloads));
                        });
                        row.col(|ui| {
                            ui.label(hit.likes.to_string());
                        });
                        row.col(|ui| {
                            ui.label(short_date(hit.last_modified.as_deref()));
                        });
                        row.col(|ui| {
                            if hit.gated {
                                ui.label("gated").on_hover_text(
                                    "Needs a token with access (Settings); accept the terms on \
                                     the Hub first",
                                );
                            }
                        });
                    });
                }
            });
        if more {
            ui.add_space(4.0);
            let busy = self.runtime.search_task.is_some();
            if ui
                .add_enabled(!busy, egui::Button::new("Load more"))
                .clicked()
            {
                let limit = self.runtime.limit + PAGE;
                self.search(cx, limit);
            }
        }
        if let Some(id) = clicked {
            self.select(cx, kind, id, None);
        }
    }

    fn details_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx) {
        let loading = self.runtime.details_task.is_some();
        let Some(details) = self.runtime.details.clone() else {
            if loading {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading the repo…");
                });
            } else {
                widgets::empty_state(
                    ui,
                    "Select a result to see its configs, splits, features and first rows \
                     (datasets) or its files (models).",
                );
            }
            return;
        };
        if loading {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Refreshing…");
            });
        }
        let busy = self.runtime.use_task.is_some();
        match details {
            Details::Dataset(d) => self.dataset_ui(ui, cx, &d, busy),
            Details::Model(m) => self.model_ui(ui, cx, &m, busy),
        }
    }

    fn dataset_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx, d: &DatasetDetails, busy: bool) {
        details_heading(ui, &format!("Dataset {}", d.repo.id), &d.repo);
        ui.label(widgets::muted(
            ui,
            format!(
                "licence: {} · {} downloads · {} likes",
                d.repo.card.license.as_deref().unwrap_or("not stated"),
                widgets::compact_count(d.repo.downloads),
                d.repo.likes
            ),
        ));
        ui.add_space(4.0);
        let mut reload = None;
        ui.horizontal_wrapped(|ui| {
            if d.configs.len() > 1 {
                let mut config = d.config.clone().unwrap_or_default();
                widgets::keep_together(ui, "hub-config", |ui| {
                    let label = ui.label("Config");
                    egui::ComboBox::from_id_salt("hub-config")
                        .selected_text(config.clone())
                        .show_ui(ui, |ui| {
                            for name in &d.configs {
                                ui.selectable_value(&mut config, name.clone(), name);
                            }
                        })
                        .response
                        .labelled_by(label.id);
                });
                if Some(&config) != d.config.as_ref() {
                    reload = Some(config);
                }
            } else if let Some(config) = &d.config {
                ui.label(format!("config: {config}"));
            }
            ui.add_space(12.0);
            if ui
                .add_enabled(!busy, egui::Button::new("Use for training"))
                .on_hover_text(
                    "Download the training and evaluation splits and make this the recipe's \
                     dataset",
                )
                .clicked()
            {
                self.use_dataset(cx, d);
            }
        });
        if let Some(config) = reload {
            self.select(cx, SearchKind::Datasets, d.repo.id.clone(), Some(config));
        }

        ui.add_space(6.0);
        ui.strong("Splits");
        if d.splits.is_empty() {
            ui.label(widgets::muted(ui, "No splits are listed for this config."));
        } else {
            egui::Grid::new("hub-splits").striped(true).show(ui, |ui| {
                for split in &d.splits {
                    ui.label(&split.name);
                    ui.label(match split.rows {
                        Some(n) => format!("{} rows", widgets::compact_count(n)),
                        None => "rows unknown".into(),
                    });
                    ui.label(split.bytes.map(widgets::bytes).unwrap_or_default());
                    ui.end_row();
                }
            });
        }

        ui.add_space(6.0);
        ui.strong("Features");
        if d.features.is_empty() {
            let columns = d
                .rows
                .as_ref()
                .map(|r| r.columns.join(", "))
                .unwrap_or_default();
            ui.label(widgets::muted(
                ui,
                if columns.is_empty() {
                    "The card and the viewer describe no features.".to_string()
                } else {
                    format!("Not described by the card; columns: {columns}")
                },
            ));
        } else {
            // A table, not a grid: its last column takes what is left, and long label lists
            // end in "…" with the whole list on hover.
            ui.push_id("hub-features", |ui| {
                TableBuilder::new(ui)
                    .striped(true)
                    .vscroll(false)
                    .column(Column::auto())
                    .column(Column::auto())
                    .column(Column::remainder().clip(true))
                    .body(|mut body| {
                        for f in &d.features {
                            body.row(20.0, |mut row| {
                                row.col(|ui| {
                                    ui.label(RichText::new(&f.name).monospace());
                                });
                                row.col(|ui| {
                                    ui.label(&f.dtype);
                                });
                                row.col(|ui| {
                                    if !f.class_names.is_empty() {
                                        let names = f.class_names.join(", ");
                                        ui.add(
                                            egui::Label::new(format!("labels: {names}")).truncate(),
                                        );
                                    }
                                });
                            });
                        }
                    });
            });
        }

        ui.add_space(6.0);
        match &d.rows {
            Ok(rows) => {
                let source = match &rows.source {
                    RowsSource::Viewer => "from the dataset viewer".to_string(),
                    RowsSource::Parquet { .. } => "from the downloaded file".to_string(),
                };
                ui.strong(format!("First rows of {} ({source})", rows.split));
                if let RowsSource::Parquet { reason, .. } = &rows.source {
                    ui.label(widgets::muted(ui, format!("viewer unavailable: {reason}")));
                }
                rows_table(ui, rows);
            }
            Err(err) => {
                ui.strong(format!("First rows of {}", d.preview_split));
                ui.label(widgets::muted(ui, format!("Could not read them: {err}")));
            }
        }
    }

    fn model_ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx, m: &ModelDetails, busy: bool) {
        details_heading(ui, &format!("Model {}", m.repo.id), &m.repo);
        ui.label(widgets::muted(
            ui,
            format!(
                "licence: {} · {} downloads · {} likes",
                m.repo.card.license.as_deref().unwrap_or("not stated"),
                widgets::compact_count(m.repo.downloads),
                m.repo.likes
            ),
        ));
        egui::Grid::new("hub-model-facts").show(ui, |ui| {
            ui.label("pipeline tag");
            ui.label(m.pipeline_tag.as_deref().unwrap_or("none"));
            ui.end_row();
            ui.label("weights");
            if m.safetensors {
                ui.label("safetensors");
            } else {
                ui.label(
                    RichText::new("no safetensors (Wick does not load pickle weights)")
                        .color(ui.visuals().warn_fg_color),
                );
            }
            ui.end_row();
            ui.label("size");
            ui.label(widgets::bytes(m.total_bytes));
            ui.end_row();
        });
        ui.add_space(4.0);
        if ui
            .add_enabled(!busy, egui::Button::new("Use for training"))
            .on_hover_text(
                "Download config, tokenizer and safetensors weights and make this the recipe's \
                 model",
            )
            .clicked()
        {
            self.use_model(cx, m.repo.id.clone());
        }
        ui.add_space(6.0);
        ui.strong("Files");
        // The paths take what the sizes leave; a long one ends in "…", whole on hover.
        ui.push_id("hub-model-files", |ui| {
            TableBuilder::new(ui)
                .striped(true)
                .vscroll(false)
                .column(Column::remainder().clip(true))
                .column(Column::exact(80.0))
                .body(|mut body| {
                    for file in &m.repo.files {
                        body.row(20.0, |mut row| {
                            row.col(|ui| {
                                ui.add(
                                    egui::Label::new(RichText::new(&file.path).monospace())
                                        .truncate(),
                                );
                            });
                            row.col(|ui| {
                                ui.label(file.size.map(widgets::bytes).unwrap_or_default());
                            });
                        });
                    }
                });
        });
    }
}

/// Which Hub the searches and downloads go to, and where first rows come from.
fn endpoint_line(ui: &mut egui::Ui, hub: &HubSettings) {
    let viewer = if hub.viewer_url.is_empty() {
        "no dataset viewer: first rows come from the data files".to_string()
    } else {
        format!("dataset viewer {}", hub.viewer_url)
    };
    ui.label(widgets::muted(
        ui,
        format!(
            "Endpoint: {} ({viewer}). Change it in Settings.",
            hub.endpoint
        ),
    ));
}

fn offline_banner(ui: &mut egui::Ui, cx: &mut Cx) {
    let color = ui.visuals().warn_fg_color;
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.0, color))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal_wrapped(|ui| {
                ui.label(
                    RichText::new(
                        "⚠ Offline mode: searching the Hub is off. Cached repos still work by \
                         id, and so do local files.",
                    )
                    .color(color),
                );
                if ui.small_button("Open settings").clicked() {
                    cx.actions.push(Action::OpenSettings);
                }
            });
        });
}

fn progress_line(ui: &mut egui::Ui, cx: &Cx, job: JobId, text: &str) {
    let status = cx.jobs.status(job);
    let fraction = status.and_then(|s| s.fraction());
    let detail = status.map(|s| s.detail.clone()).unwrap_or_default();
    ui.horizontal(|ui| {
        let bar = egui::ProgressBar::new(fraction.unwrap_or(0.0))
            .desired_width(260.0)
            .animate(fraction.is_none())
            .text(if detail.is_empty() {
                text.to_string()
            } else {
                detail
            });
        ui.add(bar);
    });
}

/// "Dataset owner/name" and its badges; a long id wraps rather than running off.
fn details_heading(ui: &mut egui::Ui, title: &str, repo: &RepoDetails) {
    ui.horizontal_wrapped(|ui| {
        ui.heading(title);
        repo_badges(ui, repo);
    });
}

fn repo_badges(ui: &mut egui::Ui, repo: &RepoDetails) {
    if repo.gated {
        ui.label(RichText::new("gated").color(ui.visuals().warn_fg_color))
            .on_hover_text("Needs a token with access (Settings)");
    }
    if repo.private {
        ui.label("private");
    }
    if repo.from_cache {
        ui.label(widgets::muted(ui, "from the local cache"));
    }
}

fn rows_table(ui: &mut egui::Ui, rows: &FirstRows) {
    if rows.rows.is_empty() || rows.columns.is_empty() {
        ui.label(widgets::muted(ui, "The split is empty."));
        return;
    }
    // Columns share the width down to a readable minimum; past that the table scrolls.
    let spacing = ui.spacing().item_spacing.x;
    let column_width =
        (ui.available_width() / rows.columns.len() as f32 - spacing).clamp(80.0, 180.0);
    ui.push_id("hub-rows", |ui| {
        egui::ScrollArea::horizontal().show(ui, |ui| {
            TableBuilder::new(ui)
                .id_salt("hub-rows-table")
                .striped(true)
                .resizable(true)
                .vscroll(false)
                .columns(
                    Column::initial(column_width).at_least(50.0).clip(true),
                    rows.columns.len(),
                )
                .header(20.0, |mut header| {
                    for name in &rows.columns {
                        header.col(|ui| {
                            ui.strong(name);
                        });
                    }
                })
                .body(|mut body| {
                    for row in &rows.rows {
                        body.row(20.0, |mut table_row| {
                            for name in &rows.columns {
                                table_row.col(|ui| {
                                    // Truncated cells show their full text on hover.
                                    ui.label(cell_text(row.get(name)));
                                });
                            }
                        });
                    }
                });
        });
    });
}

fn cell_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn sort_name(key: SortKey) -> &'static str {
    match key {
        SortKey::Downloads => "downloads",
        SortKey::Likes => "likes",
        SortKey::Trending => "trending",
        SortKey::Modified => "last modified",
    }
}

fn short_date(value: Option<&str>) -> String {
    value
        .map(|v| v.chars().take(10).collect())
        .unwrap_or_default()
}

fn details_id(details: &Details) -> &str {
    match details {
        Details::Dataset(d) => &d.repo.id,
        Details::Model(m) => &m.repo.id,
    }
}

/// "Use for training" on a dataset: the demo's recipe gives way to the course preset; a
/// different dataset drops what belonged to the previous one (columns, run name, output).
pub fn use_dataset_in_recipe(recipe: &mut TrainConfig, choice: &DatasetChoice) {
    let from_demo = crate::demo::is_demo_recipe(recipe);
    if from_demo {
        // A model the user picked stays; the demo's random one gives way to the course's.
        let model = if crate::demo::is_demo_model(&recipe.model) {
            ""
        } else {
            &recipe.model
        };
        let mut fresh = course_recipe_with_model(&recipe.device, model);
        // The preset filled in the course's dataset; the chosen one replaces it below.
        fresh.dataset_config = None;
        *recipe = fresh;
    } else if recipe.dataset != choice.dataset || recipe.dataset_config != choice.config {
        forget_previous_data(recipe);
    }
    recipe.dataset = choice.dataset.clone();
    recipe.dataset_config = choice.config.clone();
    recipe.train_split = choice.train_split.clone();
    recipe.eval_split = choice.eval_split.clone();
    // A held-out share belonged to the previous data; Data offers one again when needed.
    recipe.validation_split_percentage = None;
}

/// "Use for training" on a model: it replaces the model; leaving the demo starts the
/// course preset (its dataset too, until the user picks one).
pub fn use_model_in_recipe(recipe: &mut TrainConfig, id: &str) {
    if crate::demo::is_demo_recipe(recipe) {
        *recipe = course_recipe_with_model(&recipe.device, id);
    } else {
        recipe.model = id.to_string();
    }
}

/// The course preset on `device` (what a new recipe starts from, rather than the offline
/// demo's values), with `model` unless it is empty.
fn course_recipe_with_model(device: &str, model: &str) -> TrainConfig {
    let mut recipe = TrainConfig {
        device: device.to_string(),
        model: model.to_string(),
        ..TrainConfig::default()
    };
    Preset::CourseRecipe.apply(&mut recipe);
    recipe
}

/// Keys that belonged to the previous dataset or run: its columns would not exist in
/// another dataset, and its run name and output folder name another run.
fn forget_previous_data(recipe: &mut TrainConfig) {
    recipe.text_column = None;
    recipe.text_pair_column = None;
    recipe.label_column = None;
    recipe.run_name = None;
    recipe.output_dir = None;
    recipe.resume_from_checkpoint = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_recipe() -> TrainConfig {
        let files = crate::demo::DemoFiles {
            model_dir: "/data/demo/tiny-bert-random".into(),
            dataset_dir: "/data/demo/synthetic-reviews".into(),
        };
        TrainConfig {
            device: "cuda:0".into(),
            ..crate::demo::config(&files)
        }
    }

    fn local_csv(path: &str) -> DatasetChoice {
        DatasetChoice {
            dataset: path.into(),
            config: None,
            train_split: "train".into(),
            eval_split: None,
        }
    }

    #[test]
    fn a_dataset_after_the_demo_starts_from_the_course_preset() {
        let mut recipe = demo_recipe();
        use_dataset_in_recipe(&mut recipe, &local_csv("/home/me/reviews.csv"));
        let mut expected = TrainConfig {
            device: "cuda:0".into(),
            ..TrainConfig::default()
        };
        Preset::CourseRecipe.apply(&mut expected);
        expected.dataset = "/home/me/reviews.csv".into();
        expected.dataset_config = None;
        expected.eval_split = None;
        assert_eq!(recipe, expected);
        assert_eq!(recipe.run_name, None, "not the demo's run name");
        assert_eq!(recipe.model, crate::recipe::presets::COURSE_MODEL);
    }

    #[test]
    fn a_model_after_the_demo_replaces_the_random_one_and_the_demo_values() {
        let mut recipe = demo_recipe();
        use_model_in_recipe(&mut recipe, "acme/tiny-bert-real");
        assert_eq!(recipe.model, "acme/tiny-bert-real");
        assert_eq!(recipe.run_name, None);
        assert_eq!(recipe.learning_rate, TrainConfig::default().learning_rate);
        assert_eq!(recipe.device, "cuda:0");
        assert!(!crate::demo::is_demo_recipe(&recipe));
        // The picked model stays when a dataset follows.
        use_dataset_in_recipe(&mut recipe, &local_csv("/home/me/reviews.csv"));
        assert_eq!(recipe.model, "acme/tiny-bert-real");
    }

    #[test]
    fn another_dataset_drops_the_previous_columns_and_run_name() {
        let mut recipe = TrainConfig {
            model: "acme/tiny-bert-real".into(),
            dataset: "nyu-mll/glue".into(),
            dataset_config: Some("mrpc".into()),
            text_column: Some("sentence1".into()),
            text_pair_column: Some("sentence2".into()),
            label_column: Some("label".into()),
            run_name: Some("mrpc-lr2e-5".into()),
            learning_rate: 2e-5,
            ..TrainConfig::default()
        };
        use_dataset_in_recipe(&mut recipe, &local_csv("/home/me/reviews.csv"));
        assert_eq!(recipe.dataset_config, None);
        assert_eq!(recipe.text_column, None);
        assert_eq!(recipe.text_pair_column, None);
        assert_eq!(recipe.label_column, None);
        assert_eq!(recipe.run_name, None);
        assert_eq!(
            recipe.learning_rate, 2e-5,
            "the user's hyperparameters stay"
        );
        assert_eq!(recipe.model, "acme/tiny-bert-real");

        // The same dataset again keeps what the user chose for it.
        recipe.text_column = Some("review".into());
        recipe.run_name = Some("mine".into());
        use_dataset_in_recipe(&mut recipe, &local_csv("/home/me/reviews.csv"));
        assert_eq!(recipe.text_column.as_deref(), Some("review"));
        assert_eq!(recipe.run_name.as_deref(), Some("mine"));
    }

    #[test]
    fn a_dialog_that_returns_at_once_with_nothing_was_not_shown() {
        use std::time::Duration;
        assert_eq!(
            dialog_outcome(None, Duration::from_millis(5)),
            DialogOutcome::Unavailable
        );
        assert_eq!(
            dialog_outcome(None, Duration::from_secs(4)),
            DialogOutcome::Cancelled
        );
        assert_eq!(
            dialog_outcome(Some("a.csv".into()), Duration::from_millis(5)),
            DialogOutcome::Picked("a.csv".into())
        );
    }

    #[test]
    fn no_file_dialog_says_so_in_a_toast_pointing_to_the_path_field() {
        let mut jobs = crate::app::jobs::Jobs::new(|| {});
        let mut toasts = crate::app::toasts::Toasts::default();
        let hub = HubSettings::with_home(Path::new("/h"));
        let mut recipe = TrainConfig::default();
        let mut actions = Vec::new();
        let mut cx = Cx {
            jobs: &mut jobs,
            toasts: &mut toasts,
            hub: &hub,
            recipe: &mut recipe,
            runs_root: Path::new("/runs"),
            devices: &[],
            actions: &mut actions,
        };
        let mut panel = HubPanel::default();
        panel.dialog_closed(&mut cx, DialogOutcome::Cancelled);
        assert!(cx.toasts.items().is_empty(), "a cancel says nothing");
        panel.dialog_closed(&mut cx, DialogOutcome::Unavailable);
        let toast = &cx.toasts.items()[0];
        assert_eq!(toast.title, "No file dialog is available here");
        assert!(
            toast.detail.contains("\"Local data path\""),
            "{}",
            toast.detail
        );
    }

    /// What a `Cx` borrows, for tests that lend it more than once.
    #[derive(Default)]
    struct CxParts {
        jobs: Option<crate::app::jobs::Jobs>,
        toasts: crate::app::toasts::Toasts,
        recipe: TrainConfig,
        actions: Vec<Action>,
    }

    impl CxParts {
        fn cx<'a>(&'a mut self, hub: &'a HubSettings) -> Cx<'a> {
            Cx {
                jobs: self
                    .jobs
                    .get_or_insert_with(|| crate::app::jobs::Jobs::new(|| {})),
                toasts: &mut self.toasts,
                hub,
                recipe: &mut self.recipe,
                runs_root: Path::new("/runs"),
                devices: &[],
                actions: &mut self.actions,
            }
        }
    }

    #[test]
    fn going_offline_drops_a_search_still_running() {
        let home = tempfile::tempdir().unwrap();
        // Nothing listens on the discard port: the search fails at once with "Search failed".
        let online = HubSettings::with_home(home.path()).with_endpoint("http://127.0.0.1:9");
        let offline = online.clone().with_offline(true);
        let mut parts = CxParts::default();
        let mut panel = HubPanel::default();
        panel.search_for(&mut parts.cx(&online), SearchKind::Datasets, "glue");
        assert!(panel.runtime.search_task.is_some());
        panel.search_for(&mut parts.cx(&offline), SearchKind::Datasets, "glue");
        for _ in 0..1000 {
            let cx = &mut parts.cx(&offline);
            cx.jobs.update();
            panel.poll(cx);
            if cx.jobs.running().next().is_none() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            parts.toasts.items().is_empty(),
            "the dropped search says nothing"
        );
        let alert = panel.runtime.alert.as_ref().expect("the offline alert");
        assert!(
            alert.title.starts_with("Offline mode is on"),
            "{}",
            alert.title
        );
    }

    #[test]
    fn dates_are_shortened_and_missing_cells_blank() {
        assert_eq!(short_date(Some("2025-03-01T00:00:00.000Z")), "2025-03-01");
        assert_eq!(short_date(None), "");
        assert_eq!(cell_text(Some(&Value::Null)), "");
        assert_eq!(cell_text(Some(&serde_json::json!(3))), "3");
        assert_eq!(cell_text(Some(&serde_json::json!("a"))), "a");
    }
}
