//! Whether a run trains LoRA adapters, with which settings, and how big the adapter of its
//! newest complete checkpoint is: what the Runs panel's badge and `wick runs` show.
//!
//! ```text
//! checkpoint-459/adapter/adapter_config.json        peft's LoraConfig (resolved targets)
//! checkpoint-459/adapter/adapter_model.safetensors  the adapters and saved modules
//! ```

use std::path::Path;

use super::{CONFIG_FILE, Checkpoints, RunsError};
use crate::recipe::TrainConfig;

/// The folder of a LoRA checkpoint that holds the adapter in peft's layout (the trainer
/// writes it, the Runs panel reads it).
pub const ADAPTER_DIR: &str = "adapter";
/// peft's weights file inside [`ADAPTER_DIR`] (`model::peft` writes it under this name).
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// peft's config file inside [`ADAPTER_DIR`].
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";

/// A LoRA run's settings and its newest adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLora {
    pub r: u32,
    pub alpha: f64,
    pub use_rslora: bool,
    /// The recipe's `lora_target_modules`; when it names none (the architecture's
    /// default), the names the newest adapter was trained on; empty when neither says.
    pub target_modules: Vec<String>,
    /// The adapter of the newest complete checkpoint; `None` before the first checkpoint.
    pub adapter: Option<AdapterFile>,
}

/// A checkpoint's adapter weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterFile {
    /// The checkpoint's folder name, e.g. `checkpoint-1377`.
    pub checkpoint: String,
    pub step: u64,
    /// Size of `adapter_model.safetensors`.
    pub bytes: u64,
}

impl RunLora {
    /// `LoRA r=8, α=16 on query, value` (rsLoRA says so; unnamed targets are the model's
    /// default ones).
    pub fn settings_label(&self) -> String {
        let targets = if self.target_modules.is_empty() {
            "the model's default modules".to_string()
        } else {
            self.target_modules.join(", ")
        };
        format!(
            "{} r={}, α={} on {targets}",
            if self.use_rslora { "rsLoRA" } else { "LoRA" },
            self.r,
            self.alpha
        )
    }

    /// The settings and the adapter, `LoRA r=8, α=16 on query, value · adapter 1.2 MiB
    /// (checkpoint-1377)`, with sizes in the front end's words (`bytes`).
    pub fn label(&self, bytes: impl Fn(u64) -> String) -> String {
        let adapter = match &self.adapter {
            Some(a) => format!("adapter {} ({})", bytes(a.bytes), a.checkpoint),
            None => "no checkpoint yet".to_string(),
        };
        format!("{} · {adapter}", self.settings_label())
    }
}

/// The LoRA settings of the run in `run_dir` (its `config.toml`) and the adapter of its
/// newest complete checkpoint; `None` for a full fine-tuning run. An unreadable config is
/// an error naming the file.
pub fn read_run_lora(run_dir: &Path) -> Result<Option<RunLora>, RunsError> {
    let config = TrainConfig::read_unvalidated(&run_dir.join(CONFIG_FILE))?;
    if !config.use_lora {
        return Ok(None);
    }
    let newest = Checkpoints::open(run_dir)?.latest()?;
    let adapter_dir = newest.as_ref().map(|c| c.path.join(ADAPTER_DIR));
    let adapter = match &newest {
        Some(checkpoint) => {
            let path = checkpoint.path.join(ADAPTER_DIR).join(ADAPTER_WEIGHTS_FILE);
            let bytes = std::fs::metadata(&path)
                .map_err(RunsError::io(&path))?
                .len();
            Some(AdapterFile {
                checkpoint: super::checkpoints::checkpoint_name(checkpoint.step),
                step: checkpoint.step,
                bytes,
            })
        }
        None => None,
    };
    let target_modules = if config.lora_target_modules.is_empty() {
        adapter_dir
            .map(|dir| adapter_targets(&dir.join(ADAPTER_CONFIG_FILE)))
            .unwrap_or_default()
    } else {
        config.lora_target_modules
    };
    Ok(Some(RunLora {
        r: config.lora_r,
        alpha: config.lora_alpha,
        use_rslora: config.use_rslora,
        target_modules,
        adapter,
    }))
}

/// `target_modules` of peft's `adapter_config.json` (a list of names); empty when the file
/// cannot say (the label then names the model's defaults).
fn adapter_targets(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    value["target_modules"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::checkpoints::REQUIRED_CHECKPOINT_FILES;
    use std::fs;
    use std::path::PathBuf;

    const TRAINER_STATE: &str = r#"{"global_step": 12, "epoch": 1.0, "log_history": []}"#;

    fn run_with_config(extra: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        fs::create_dir(&run).unwrap();
        let text = format!("model = \"m\"\ndataset = \"d\"\n{extra}");
        fs::write(run.join(CONFIG_FILE), text).unwrap();
        (dir, run)
    }

    /// A complete `checkpoint-STEP` with an adapter of `adapter_bytes` bytes (none when 0).
    fn checkpoint(run: &Path, step: u64, adapter_bytes: usize, targets: &str) {
        let dir = run.join(format!("checkpoint-{step}"));
        fs::create_dir_all(dir.join(ADAPTER_DIR)).unwrap();
        for name in REQUIRED_CHECKPOINT_FILES {
            let text = if *name == super::super::checkpoints::TRAINER_STATE_FILE {
                TRAINER_STATE
            } else {
                "x"
            };
            fs::write(dir.join(name), text).unwrap();
        }
        if adapter_bytes > 0 {
            let adapter = dir.join(ADAPTER_DIR);
            fs::write(adapter.join(ADAPTER_WEIGHTS_FILE), vec![0u8; adapter_bytes]).unwrap();
            fs::write(
                adapter.join(ADAPTER_CONFIG_FILE),
                format!(r#"{{"r": 8, "target_modules": {targets}}}"#),
            )
            .unwrap();
        }
    }

    #[test]
    fn a_lora_run_names_its_settings_and_the_newest_complete_adapter() {
        let (_dir, run) = run_with_config(
            "use_lora = true\nlora_r = 8\nlora_alpha = 16\nlora_target_modules = \"query, value\"\n",
        );
        checkpoint(&run, 459, 1000, r#"["query", "value"]"#);
        checkpoint(&run, 1377, 2345, r#"["query", "value"]"#);
        // A later checkpoint without its required files is not the run's newest.
        fs::create_dir(run.join("checkpoint-2000")).unwrap();
        let lora = read_run_lora(&run).unwrap().expect("a LoRA run");
        assert_eq!(lora.r, 8);
        assert_eq!(lora.alpha, 16.0);
        assert_eq!(lora.target_modules, ["query", "value"]);
        assert_eq!(
            lora.adapter,
            Some(AdapterFile {
                checkpoint: "checkpoint-1377".into(),
                step: 1377,
                bytes: 2345
            })
        );
        assert_eq!(
            lora.label(|b| format!("{b} B")),
            "LoRA r=8, α=16 on query, value · adapter 2345 B (checkpoint-1377)"
        );
    }

    #[test]
    fn default_targets_are_read_from_the_adapter_and_a_run_without_checkpoint_has_no_adapter() {
        let (_dir, run) = run_with_config("use_lora = true\nuse_rslora = true\n");
        let before = read_run_lora(&run).unwrap().expect("a LoRA run");
        assert_eq!(before.adapter, None);
        assert!(before.target_modules.is_empty());
        assert_eq!(
            before.settings_label(),
            "rsLoRA r=8, α=8 on the model's default modules"
        );
        assert!(
            before
                .label(|b| b.to_string())
                .ends_with(" · no checkpoint yet")
        );
        checkpoint(&run, 5, 10, r#"["Wqkv"]"#);
        let after = read_run_lora(&run).unwrap().unwrap();
        assert_eq!(after.target_modules, ["Wqkv"]);
        assert_eq!(after.adapter.map(|a| a.bytes), Some(10));
    }

    #[test]
    fn a_full_fine_tuning_run_has_no_lora() {
        let (_dir, run) = run_with_config("");
        checkpoint(&run, 3, 0, "[]");
        assert_eq!(read_run_lora(&run).unwrap(), None);
    }

    #[test]
    fn an_unreadable_config_is_an_error_naming_it() {
        let (_dir, run) = run_with_config("use_lora = \"maybe\"\n");
        let err = read_run_lora(&run).unwrap_err().to_string();
        assert!(err.contains(CONFIG_FILE), "{err}");
        fs::remove_file(run.join(CONFIG_FILE)).unwrap();
        let err = read_run_lora(&run).unwrap_err().to_string();
        assert!(err.contains(CONFIG_FILE), "{err}");
    }

    #[test]
    fn a_lora_checkpoint_without_its_adapter_is_an_error_naming_the_file() {
        let (_dir, run) = run_with_config("use_lora = true\n");
        checkpoint(&run, 7, 0, "[]");
        let err = read_run_lora(&run).unwrap_err().to_string();
        assert!(err.contains(ADAPTER_WEIGHTS_FILE), "{err}");
    }
}
