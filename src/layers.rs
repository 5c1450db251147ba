//! Who may import whom. A module may use only the modules listed for it (and itself);
//! the test reads every `crate::<module>` path in the source and fails on any other, so an
//! upward import or a circle cannot land unnoticed. The same table is drawn in
//! ARCHITECTURE.md.

/// Each top-level module and the modules it may import, lowest first.
const ALLOWED: &[(&str, &[&str])] = &[
    ("fault", &[]),
    ("panics", &[]),
    ("task", &[]),
    ("recipe", &["task"]),
    ("model", &["task"]),
    ("data", &["task", "fault"]),
    ("hub", &["data", "fault"]),
    ("runs", &["recipe", "task", "fault"]),
    ("demo", &["model", "recipe"]),
    (
        "train",
        &[
            "task", "recipe", "data", "hub", "model", "runs", "fault", "panics",
        ],
    ),
    (
        "app",
        &[
            "task", "recipe", "data", "hub", "model", "runs", "train", "demo", "fault", "panics",
        ],
    ),
    (
        "cli",
        &[
            "task", "recipe", "data", "hub", "model", "runs", "train", "demo", "fault", "panics",
            "app",
        ],
    ),
];

/// Modules that must not draw: only the app (and `cli`'s UI bench) touch egui.
const NO_EGUI: &[&str] = &[
    "task", "fault", "recipe", "model", "data", "hub", "runs", "demo", "train",
];

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/train/trainer.rs` → `train`; `src/demo.rs` → `demo`; `src/lib.rs` → None.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    ALLOWED
        .iter()
        .any(|(module, _)| *module == name)
        .then(|| name.to_string())
}

/// The top-level modules a source text names as `crate::<module>` (also `crate::{a, b}`).
fn imported_modules(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => top_level_items(group)
                .into_iter()
                .map(|item| item.trim().split("::").next().unwrap_or(""))
                .collect(),
            None => vec![
                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or(""),
            ],
        };
        found.extend(names.into_iter().map(str::to_string));
    }
    found
}

/// The comma-separated items of a `{...}` group up to its closing brace, nested groups
/// kept whole: `data::{A, B}, runs::C}` → [`data::{A, B}`, ` runs::C`].
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..at]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let allowed = ALLOWED.iter().find(|(m, _)| *m == module).unwrap().1;
        let text = std::fs::read_to_string(file).unwrap();
        for imported in imported_modules(&text) {
            let known = ALLOWED.iter().any(|(m, _)| *m == imported);
            if known && imported != module && !allowed.contains(&imported.as_str()) {
                wrong.push(format!("{} uses crate::{imported}", file.display()));
            }
        }
        if NO_EGUI.contains(&module.as_str()) && text.contains("egui") {
            wrong.push(format!("{} mentions egui", file.display()));
        }
        if module == "app" && text.contains("candle") {
            wrong.push(format!("{} does tensor math (candle)", file.display()));
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_plain_and_grouped_paths() {
    let text = "use crate::runs::RunDir;\nuse crate::{app::Tab, data};\nlet x = crate::hub::f();";
    assert_eq!(imported_modules(text), ["runs", "app", "data", "hub"]);
    let nested = "use crate::{data::{A, B}, runs::C};";
    assert_eq!(imported_modules(nested), ["data", "runs"]);
}
