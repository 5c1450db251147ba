//! Driving the real app with egui_kittest: an app whose files live in a temp dir, pointed
//! at a loopback mirror, and a wait loop for background work.

use std::path::Path;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use wick::app::{AppOptions, WickApp};
use wick::hub::HubSettings;

/// The app as `wick` opens it, with its data folder in `data_dir` and `hub` as the
/// environment's Hub settings.
pub fn harness(data_dir: &Path, hub: HubSettings) -> Harness<'static, WickApp> {
    let options = AppOptions {
        data_dir: data_dir.to_path_buf(),
        env_hub: hub,
        devices: vec!["cpu".into()],
    };
    Harness::builder()
        .with_size([1280.0, 820.0])
        .build_eframe(move |cc| WickApp::new(&cc.egui_ctx, options, None))
}

/// Steps the app until `done` holds; background threads keep working meanwhile.
/// Panics naming `what` after about three minutes.
pub fn wait_for(
    harness: &mut Harness<'static, WickApp>,
    what: &str,
    mut done: impl FnMut(&mut Harness<'static, WickApp>) -> bool,
) {
    for _ in 0..9_000 {
        harness.step();
        if done(harness) {
            harness.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

/// Whether a node with this exact label exists now.
pub fn has_label(harness: &Harness<'static, WickApp>, label: &str) -> bool {
    harness.query_all_by_label(label).next().is_some()
}

/// Whether some node's label contains `text`.
pub fn has_label_containing(harness: &Harness<'static, WickApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// Adds a trainable tiny BERT (`acme/tiny-bert-real`) and a small 3-class pair dataset
/// (`acme/reviews`, csv) to a Hub-layout folder.
pub fn add_trainable_repos(hub_root: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let model = super::tiny::tiny_model(scratch.path());
    let data = super::tiny::tiny_dataset(scratch.path());
    copy_dir(&model, &hub_root.join("models/acme/tiny-bert-real"));
    copy_dir(&data, &hub_root.join("datasets/acme/reviews"));
    super::write(
        &hub_root.join("models/acme/tiny-bert-real/.mirror.json"),
        r#"{"downloads": 42, "likes": 3, "tags": ["text-classification"], "pipeline_tag": "text-classification"}"#,
    );
    // The Hub infers csv splits from file names and serves them converted to parquet; the
    // mirror does neither, so the card names the files.
    super::write(
        &hub_root.join("datasets/acme/reviews/README.md"),
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train.csv\n  - split: validation\n    path: data/validation.csv\n---\n# reviews\n",
    );
    super::write(
        &hub_root.join("datasets/acme/reviews/.mirror.json"),
        r#"{"downloads": 77, "likes": 5, "tags": ["task_categories:text-classification"]}"#,
    );
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Lays the app out at Wick's smallest window ([`wick::app::MIN_WINDOW_SIZE`]) and lists the
/// widgets it cuts: any node that starts inside the window and ends past its right or bottom
/// edge. Content a scroll area moves wholly out of view is not cut, so it is not listed;
/// a node straddling the edge is what a person sees clipped. Bottoms are not checked:
/// every panel scrolls vertically.
pub fn cut_at_smallest_window(harness: &mut Harness<'static, WickApp>) -> Vec<String> {
    let size = wick::app::MIN_WINDOW_SIZE;
    harness.set_size(size);
    for _ in 0..4 {
        harness.step();
    }
    let mut cut = Vec::new();
    for node in harness.query_all(egui_kittest::kittest::by()) {
        // Containers without a rect of their own have no bounding box.
        let Some(bounds) = node.accesskit_node().bounding_box() else {
            continue;
        };
        let rect = egui::Rect::from_min_max(
            egui::pos2(bounds.x0 as f32, bounds.y0 as f32),
            egui::pos2(bounds.x1 as f32, bounds.y1 as f32),
        ) / harness.ctx.pixels_per_point();
        let label = node.accesskit_node().label().unwrap_or_default();
        let value = node.accesskit_node().value().unwrap_or_default();
        // A label's text run repeats the label.
        if node.accesskit_node().role() == egui::accesskit::Role::TextRun {
            continue;
        }
        let starts_inside = rect.min.x < size.x && rect.min.y < size.y;
        let reaches_out = rect.max.x > size.x + 0.5;
        if starts_inside && reaches_out && rect.width() > 0.0 {
            cut.push(format!(
                "{:?} {label:?} {value:?} at x {:.0}..{:.0}, y {:.0}..{:.0}",
                node.accesskit_node().role(),
                rect.min.x,
                rect.max.x,
                rect.min.y,
                rect.max.y
            ));
        }
    }
    cut
}
