//! The Hub and Data panels driven like a user: search the loopback mirror, look inside a
//! dataset, "Use for training" a dataset and a model, then Tokenize (cache miss, then hit)
//! and step through the epoch's batches. Bad local paths show an alert and a toast.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable, by};
use wick::app::{Tab, WickApp};
use wick::hub::HubSettings;
use wick::hub::mirror::{Mirror, MirrorOptions};

use crate::support;
use support::app::{
    add_trainable_repos, cut_at_smallest_window, harness, has_label, has_label_containing, wait_for,
};

/// The tiny Hub plus the trainable repos, served by a loopback mirror.
fn trainable_hub() -> support::Hub {
    let dir = tempfile::tempdir().unwrap();
    support::tiny_hub(dir.path());
    add_trainable_repos(dir.path());
    let mirror = Mirror::start(
        dir.path(),
        MirrorOptions {
            token: Some(support::TOKEN.to_string()),
            page_size: 3,
            ..MirrorOptions::default()
        },
    )
    .unwrap();
    support::Hub {
        dir,
        home: tempfile::tempdir().unwrap(),
        mirror,
    }
}

/// The app past its welcome view, on the Hub panel.
fn app(data_dir: &std::path::Path, hub: HubSettings) -> Harness<'static, WickApp> {
    let mut harness = harness(data_dir, hub);
    harness.state_mut().state.welcome_dismissed = true;
    harness.run_steps(2);
    harness.get_by_label(&Tab::Hub.nav_label()).click();
    harness.run_steps(2);
    harness
}

fn type_into(harness: &mut Harness<'static, WickApp>, label: &str, text: &str) {
    let field = harness.get_by_label(label);
    field.focus();
    field.type_text(text);
    harness.run_steps(2);
}

fn click(harness: &mut Harness<'static, WickApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
}

fn search(harness: &mut Harness<'static, WickApp>, query: &str) {
    type_into(harness, "Search the Hub", query);
    click(harness, "Search");
}

/// Selects a search hit and uses it for training; returns when the app moved to Data.
fn use_for_training(harness: &mut Harness<'static, WickApp>, id: &str, heading: &str) {
    wait_for(harness, &format!("{id} in the results"), |h| {
        has_label(h, id)
    });
    click(harness, id);
    wait_for(harness, &format!("the details of {id}"), |h| {
        has_label(h, heading)
    });
    click(harness, "Use for training");
    wait_for(
        harness,
        &format!("{id} to be downloaded and the Data tab"),
        |h| h.state().state.tab == Tab::Data,
    );
}

/// Tokenize, then wait for a report that is newer than `previous` rows/hit pair.
fn tokenize(harness: &mut Harness<'static, WickApp>, expect_hit: bool) {
    click(harness, "Tokenize");
    let want = if expect_hit {
        "cache hit"
    } else {
        "cache miss"
    };
    wait_for(harness, want, |h| {
        h.state()
            .state
            .data
            .report()
            .is_some_and(|r| r.cache_hit == expect_hit)
            && has_label(h, want)
    });
}

#[test]
fn search_pick_tokenize_and_step_through_batches() {
    let hub = trainable_hub();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), hub.settings());

    // A dataset with a card: features with ClassLabel names and first rows.
    search(&mut harness, "acme");
    wait_for(&mut harness, "acme/pairs in the results", |h| {
        has_label(h, "acme/pairs")
    });
    assert!(has_label(&harness, "acme/reviews"));
    click(&mut harness, "acme/pairs");
    wait_for(&mut harness, "features and first rows of acme/pairs", |h| {
        has_label(h, "labels: negative, positive") && has_label(h, "good")
    });
    assert!(has_label_containing(&harness, "First rows of train"));

    // The trainable csv dataset: first rows come from the downloaded file.
    use_for_training(&mut harness, "acme/reviews", "Dataset acme/reviews");
    let recipe = &harness.state().state.recipe;
    assert_eq!(recipe.dataset, "acme/reviews");
    assert_eq!(recipe.dataset_config.as_deref(), Some("default"));
    assert_eq!(recipe.train_split, "train");
    assert_eq!(recipe.eval_split.as_deref(), Some("validation"));

    // The model, the same way.
    click(&mut harness, &Tab::Hub.nav_label());
    click(&mut harness, "Models");
    use_for_training(
        &mut harness,
        "acme/tiny-bert-real",
        "Model acme/tiny-bert-real",
    );
    assert_eq!(harness.state().state.recipe.model, "acme/tiny-bert-real");

    // Data: the guessed columns land in the recipe.
    wait_for(&mut harness, "the guessed columns", |h| {
        h.state().state.recipe.label_column.is_some()
    });
    let recipe = &harness.state().state.recipe;
    assert_eq!(recipe.text_column.as_deref(), Some("sentence1"));
    assert_eq!(recipe.text_pair_column.as_deref(), Some("sentence2"));
    assert_eq!(recipe.label_column.as_deref(), Some("label"));
    assert!(has_label(&harness, "Text column"));

    tokenize(&mut harness, false);
    let report = harness.state().state.data.report().unwrap().clone();
    assert_eq!(report.rows, 40);
    let names: Vec<&str> = report
        .balance
        .classes
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["neg", "neu", "pos"]);
    assert_eq!(
        report.balance.classes.iter().map(|(_, n)| n).sum::<usize>(),
        40
    );
    assert!(report.padding.grouped.pad_tokens <= report.padding.dynamic.pad_tokens);
    assert!(report.padding.dynamic.pad_tokens < report.padding.max_length.pad_tokens);

    let first = harness.state().state.data.batch_view().unwrap().clone();
    assert_eq!(first.index, 0);
    assert_eq!(first.rows.len(), 8, "the default batch size");
    assert_eq!(first.total, 5);
    assert!(has_label(&harness, "Batch 1 of 5"));
    // The grid: every row is [CLS] ... [SEP] ... [SEP], padding has mask 0.
    for row in &first.rows {
        assert_eq!(row.pieces[0], "[CLS]");
        let real = row.attention_mask.iter().filter(|&&m| m == 1).count();
        assert!(row.attention_mask[real..].iter().all(|&m| m == 0));
        assert!(row.ids[real..].iter().all(|&id| id == 0), "pad id 0");
    }

    click(&mut harness, "Next batch");
    wait_for(&mut harness, "batch 2", |h| {
        h.state()
            .state
            .data
            .batch_view()
            .is_some_and(|b| b.index == 1)
    });
    let second = harness.state().state.data.batch_view().unwrap().clone();
    assert_ne!(
        first.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
        second.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
        "Next batch shows other rows"
    );
    assert!(has_label(&harness, "Batch 2 of 5"));
    click(&mut harness, "Prev batch");
    wait_for(&mut harness, "batch 1 again", |h| {
        h.state()
            .state
            .data
            .batch_view()
            .is_some_and(|b| b.index == 0)
    });
    assert_eq!(harness.state().state.data.batch_view().unwrap(), &first);

    // The second Tokenize reads the cache, and the batches are the same.
    tokenize(&mut harness, true);
    assert_eq!(harness.state().state.data.batch_view().unwrap(), &first);
}

/// Where a node is, in points.
fn rect_of(harness: &Harness<'static, WickApp>, node: &egui_kittest::Node<'_>) -> egui::Rect {
    let bounds = node
        .accesskit_node()
        .bounding_box()
        .expect("the node is laid out");
    egui::Rect::from_min_max(
        egui::pos2(bounds.x0 as f32, bounds.y0 as f32),
        egui::pos2(bounds.x1 as f32, bounds.y1 as f32),
    ) / harness.ctx.pixels_per_point()
}

/// At 800x600 the search and local-path rows wrap, each label before its control on the
/// same line, and the fields keep a width one can type in.
#[test]
fn the_search_rows_wrap_with_labels_first_at_the_smallest_window() {
    let hub = trainable_hub();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), hub.settings());
    harness.set_size(wick::app::MIN_WINDOW_SIZE);
    harness.run_steps(4);
    for label in ["Search the Hub", "Sort by", "Task", "Local data path"] {
        let control = rect_of(&harness, &harness.get_by_label(label));
        let text = rect_of(&harness, &harness.get(by().role(Role::Label).value(label)));
        assert!(
            text.max.x <= control.min.x && (text.center().y - control.center().y).abs() < 4.0,
            "{label} stands before its control: {text:?}, {control:?}"
        );
        assert!(
            control.max.x <= wick::app::MIN_WINDOW_SIZE.x,
            "{label}: {control:?}"
        );
    }
    for (label, at_least) in [("Search the Hub", 150.0), ("Local data path", 250.0)] {
        let width = rect_of(&harness, &harness.get_by_label(label)).width();
        assert!(width >= at_least, "the {label} field is {width} wide");
    }
}

/// The toast "Use for training" leaves, long as real ones are, once read "…evaluating on
/// validat" at 800x600: it wraps inside the window instead.
#[test]
fn a_long_toast_wraps_inside_the_smallest_window() {
    let hub = trainable_hub();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), hub.settings());
    search(&mut harness, "acme");
    use_for_training(&mut harness, "acme/reviews", "Dataset acme/reviews");
    let title = "Dataset acme/reviews (default): training on train, evaluating on validation";
    assert!(
        harness
            .state()
            .toasts()
            .items()
            .iter()
            .any(|t| t.title == title),
        "the toast is up"
    );

    let cut = cut_at_smallest_window(&mut harness);
    assert!(
        !cut.iter().any(|c| c.contains("evaluating on")),
        "the toast is cut: {cut:?}"
    );
    let node = harness.get_by_label(title);
    let bounds = node
        .accesskit_node()
        .bounding_box()
        .expect("the toast is laid out");
    let scale = f64::from(harness.ctx.pixels_per_point());
    let window = wick::app::MIN_WINDOW_SIZE;
    assert!(
        bounds.x0 / scale >= 0.0 && bounds.x1 / scale <= f64::from(window.x),
        "the toast's title stays in the window: {bounds:?}"
    );
    let line = f64::from(harness.ctx.global_style().text_styles[&egui::TextStyle::Body].size);
    assert!(
        (bounds.y1 - bounds.y0) / scale > 1.5 * line,
        "the title wraps onto a second line: {bounds:?}"
    );
}

/// The row headers the batch inspector shows now ("row 12 · label 1 = neu").
fn shown_rows(harness: &Harness<'static, WickApp>) -> usize {
    harness.query_all_by_label_contains(" · label ").count()
}

#[test]
fn the_batch_inspector_pages_a_batch_eight_rows_at_a_time() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let hub = HubSettings::with_home(&scratch.path().join("hf")).with_offline(true);
    let mut harness = harness(data_dir.path(), hub);
    harness.state_mut().state.welcome_dismissed = true;
    harness.state_mut().state.recipe = wick::train::TrainConfig {
        model: support::tiny::tiny_model(scratch.path())
            .display()
            .to_string(),
        dataset: support::tiny::tiny_dataset(scratch.path())
            .display()
            .to_string(),
        per_device_train_batch_size: 20,
        ..Default::default()
    };
    harness.state_mut().state.tab = Tab::Data;
    wait_for(&mut harness, "the columns", |h| {
        has_label(h, "Text column") && !h.state().is_busy()
    });
    tokenize(&mut harness, false);
    assert_eq!(
        harness.state().state.data.batch_view().unwrap().rows.len(),
        20
    );

    assert!(has_label(&harness, "Rows 1–8 of 20 in this batch"));
    assert_eq!(shown_rows(&harness), 8);
    // Tokens at the monospace body size (they were drawn small and hard to read).
    let piece = harness
        .query_all_by_label("[CLS]")
        .next()
        .expect("a [CLS] piece");
    let height = piece.accesskit_node().bounding_box().unwrap().height();
    assert!(height >= 14.0, "a token is {height} points high");
    // The padding figures are in a label that wraps, not cut inside a bar.
    assert!(has_label_containing(&harness, "dynamic: "));
    assert!(has_label_containing(&harness, "% padding ("));
    assert!(
        harness
            .get_by_label("Previous 8 rows")
            .accesskit_node()
            .is_disabled()
    );
    click(&mut harness, "Next 8 rows");
    assert!(has_label(&harness, "Rows 9–16 of 20 in this batch"));
    assert_eq!(shown_rows(&harness), 8);
    click(&mut harness, "Next 8 rows");
    assert!(has_label(&harness, "Rows 17–20 of 20 in this batch"));
    assert_eq!(shown_rows(&harness), 4);
    assert!(
        harness
            .get_by_label("Next 8 rows")
            .accesskit_node()
            .is_disabled()
    );
    click(&mut harness, "Previous 8 rows");
    assert!(has_label(&harness, "Rows 9–16 of 20 in this batch"));

    // Paging stays within the batch; the next batch starts at its first rows.
    assert!(has_label(&harness, "Batch 1 of 2"));
    click(&mut harness, "Next batch");
    wait_for(&mut harness, "batch 2", |h| has_label(h, "Batch 2 of 2"));
    assert!(has_label(&harness, "Rows 1–8 of 20 in this batch"));
}

#[test]
fn a_missing_or_unreadable_local_file_shows_an_alert_and_a_toast() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = app(
        dir.path(),
        HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
    );
    let missing = dir.path().join("missing.csv");
    type_into(
        &mut harness,
        "Local data path",
        &missing.display().to_string(),
    );
    click(&mut harness, "Use local path");
    wait_for(&mut harness, "the alert about the missing file", |h| {
        has_label_containing(h, "no such file or folder")
    });
    assert!(has_label(&harness, "⚠ Could not use this dataset"));
    assert!(
        harness
            .state()
            .toasts()
            .items()
            .iter()
            .any(|t| t.title == "Could not use this dataset" && t.detail.contains("missing.csv"))
    );

    let bad = dir.path().join("broken.parquet");
    std::fs::write(&bad, b"this is not parquet").unwrap();
    harness.state_mut().state.hub.local_path = bad.display().to_string();
    wait_for(&mut harness, "the previous check to end", |h| {
        !h.state().is_busy()
    });
    click(&mut harness, "Use local path");
    wait_for(&mut harness, "the alert about the broken file", |h| {
        has_label_containing(h, "broken.parquet") && has_label(h, "⚠ Could not use this dataset")
    });
    assert_eq!(harness.state().state.recipe.dataset, "");

    // A good file becomes the recipe's dataset.
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "text,label\ngreat film,pos\ndull plot,neg\n").unwrap();
    harness.state_mut().state.hub.local_path = good.display().to_string();
    // The button stays disabled until the previous check's job has ended.
    wait_for(&mut harness, "the previous check to end", |h| {
        !h.state().is_busy()
    });
    click(&mut harness, "Use local path");
    wait_for(&mut harness, "the local file in the recipe", |h| {
        h.state().state.tab == Tab::Data
    });
    assert_eq!(
        harness.state().state.recipe.dataset,
        good.display().to_string()
    );
}

#[test]
fn offline_mode_says_why_search_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = app(
        dir.path(),
        HubSettings::with_home(&dir.path().join("hf")).with_offline(true),
    );
    assert!(has_label_containing(
        &harness,
        "Offline mode: searching the Hub is off"
    ));
    search(&mut harness, "glue");
    assert!(has_label_containing(
        &harness,
        "Offline mode is on: searching the Hub is disabled"
    ));
}

#[test]
fn mrpc_and_minilm_from_a_mirror_of_the_shared_hub() {
    let Some(shared) = support::shared_hub() else {
        return;
    };
    let mirror = Mirror::start(&shared, MirrorOptions::default()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let settings = HubSettings::with_home(home.path())
        .with_endpoint(&mirror.url())
        .with_viewer_url(&mirror.viewer_url());
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(data_dir.path(), settings);

    search(&mut harness, "glue");
    wait_for(&mut harness, "nyu-mll/glue in the results", |h| {
        has_label(h, "nyu-mll/glue")
    });
    click(&mut harness, "nyu-mll/glue");
    wait_for(&mut harness, "MRPC's features and first rows", |h| {
        has_label(h, "labels: not_equivalent, equivalent") && has_label_containing(h, "Amrozi")
    });
    assert!(has_label(&harness, "3.7k rows"));
    use_for_training(&mut harness, "nyu-mll/glue", "Dataset nyu-mll/glue");
    let recipe = &harness.state().state.recipe;
    assert_eq!(recipe.dataset_config.as_deref(), Some("mrpc"));
    assert_eq!(recipe.eval_split.as_deref(), Some("validation"));

    click(&mut harness, &Tab::Hub.nav_label());
    click(&mut harness, "Models");
    harness.state_mut().state.hub.query.clear();
    search(&mut harness, "MiniLM");
    use_for_training(
        &mut harness,
        "sentence-transformers/all-MiniLM-L6-v2",
        "Model sentence-transformers/all-MiniLM-L6-v2",
    );
    wait_for(&mut harness, "the guessed columns", |h| {
        h.state().state.recipe.label_column.is_some()
    });
    tokenize(&mut harness, false);
    let report = harness.state().state.data.report().unwrap().clone();
    assert_eq!(report.rows, 3668);
    assert_eq!(
        report.balance.classes,
        vec![
            ("not_equivalent".to_string(), 1194),
            ("equivalent".to_string(), 2474)
        ]
    );
    let first = harness.state().state.data.batch_view().unwrap().clone();
    click(&mut harness, "Next batch");
    wait_for(&mut harness, "batch 2", |h| {
        h.state()
            .state
            .data
            .batch_view()
            .is_some_and(|b| b.index == 1)
    });
    assert_ne!(harness.state().state.data.batch_view().unwrap(), &first);
    tokenize(&mut harness, true);
}

#[test]
fn local_data_without_an_eval_split_is_offered_a_held_out_share() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut harness = app(
        data_dir.path(),
        HubSettings::with_home(&scratch.path().join("hf")).with_offline(true),
    );
    let recipe = &mut harness.state_mut().state.recipe;
    recipe.model = support::tiny::tiny_model(scratch.path())
        .display()
        .to_string();
    recipe.dataset = support::tiny::tiny_dataset(scratch.path())
        .join("data/train.csv")
        .display()
        .to_string();
    recipe.eval_split = None;
    recipe.eval_strategy = wick::train::config::IntervalStrategy::No;
    click(&mut harness, &Tab::Data.nav_label());
    assert!(has_label_containing(&harness, "no evaluation split"));
    click(&mut harness, "Hold out 10% of train for evaluation");
    let recipe = &harness.state().state.recipe;
    assert_eq!(recipe.validation_split_percentage, Some(10));
    assert_eq!(
        recipe.eval_strategy,
        wick::train::config::IntervalStrategy::Epoch,
        "holding out rows to evaluate on turns evaluation on"
    );
    assert!(recipe.validate().is_ok(), "{:?}", recipe.validate());
    assert!(has_label_containing(
        &harness,
        "evaluate on 10% of it held out (seed 42)"
    ));
    click(&mut harness, "Train on all of train");
    assert_eq!(
        harness.state().state.recipe.validation_split_percentage,
        None
    );
    let recipe = &harness.state().state.recipe;
    assert!(
        recipe.validate().is_ok(),
        "taking the offer back leaves a recipe that starts: {:?}",
        recipe.validate()
    );
    assert!(has_label_containing(&harness, "no evaluation split"));
}
