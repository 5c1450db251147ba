//! "Use for training": which splits of a dataset train and evaluate (as the course picks
//! them), downloading a Hub dataset's, and checking that local data reads as a dataset.

use std::path::Path;

use super::error::HubError;
use super::local::local_split;
use super::progress::EventSink;
use super::settings::HubSettings;
use crate::data::DataError;

/// Splits tried, in order, as the evaluation split.
const EVAL_SPLITS: &[&str] = &["validation", "valid", "dev", "test"];

/// What "Use for training" puts in the recipe for a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetChoice {
    pub dataset: String,
    pub config: Option<String>,
    pub train_split: String,
    pub eval_split: Option<String>,
}

/// `train` when there is one (or no split is named), else the first split.
pub fn train_split_of(names: &[String]) -> String {
    if names.iter().any(|n| n == "train") || names.is_empty() {
        "train".to_string()
    } else {
        names[0].clone()
    }
}

/// The first of validation, valid, dev and test that is not `train`.
pub fn eval_split_of(names: &[String], train: &str) -> Option<String> {
    EVAL_SPLITS
        .iter()
        .find(|e| **e != train && names.iter().any(|n| n == *e))
        .map(|e| e.to_string())
}

/// Downloads a Hub dataset's training split (and its evaluation split when there is one)
/// among the split `names` it lists.
pub fn download_dataset(
    settings: &HubSettings,
    id: &str,
    config: Option<String>,
    names: &[String],
    sink: Option<EventSink>,
) -> Result<DatasetChoice, HubError> {
    let train_split = train_split_of(names);
    let eval_split = eval_split_of(names, &train_split);
    let local = local_split(settings, id, config.as_deref(), &train_split, sink.clone())?;
    if let Some(eval) = &eval_split {
        local_split(settings, id, config.as_deref(), eval, sink)?;
    }
    Ok(DatasetChoice {
        dataset: id.to_string(),
        config: local.config.or(config),
        train_split,
        eval_split,
    })
}

/// Checks that a local file or folder can be read as a dataset, and picks its splits.
pub fn check_local_data(path: &Path) -> Result<DatasetChoice, DataError> {
    let unusable = |message: &str| DataError::Layout {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    if !path.exists() {
        return Err(unusable("no such file or folder"));
    }
    let data = path.display().to_string();
    if path.is_dir() {
        let configs = crate::data::list_configs(path)?;
        let Some((config, splits)) = configs.first() else {
            return Err(unusable(
                "no dataset card configs and no {config}/{split}-* or data/{split}-* files",
            ));
        };
        let train_split = train_split_of(splits);
        let source = crate::data::resolve_split(&data, Some(config), &train_split)?;
        crate::data::read_split(&source)?;
        return Ok(DatasetChoice {
            dataset: data,
            config: (configs.len() > 1).then(|| config.clone()),
            eval_split: eval_split_of(splits, &train_split),
            train_split,
        });
    }
    // A single file is the training split; reading it whole is the honest check.
    let source = crate::data::resolve_split(&data, None, "train")?;
    let raw = crate::data::read_split(&source)?;
    if raw.num_rows() == 0 {
        return Err(unusable("the file has no rows"));
    }
    Ok(DatasetChoice {
        dataset: data,
        config: None,
        train_split: "train".into(),
        eval_split: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_chosen_like_the_course() {
        let names: Vec<String> = ["test", "train", "validation"].map(String::from).to_vec();
        assert_eq!(train_split_of(&names), "train");
        assert_eq!(
            eval_split_of(&names, "train").as_deref(),
            Some("validation")
        );
        let only_test: Vec<String> = ["train", "test"].map(String::from).to_vec();
        assert_eq!(eval_split_of(&only_test, "train").as_deref(), Some("test"));
        let odd: Vec<String> = ["full"].map(String::from).to_vec();
        assert_eq!(train_split_of(&odd), "full");
        assert_eq!(eval_split_of(&odd, "full"), None);
    }

    #[test]
    fn a_missing_or_unreadable_local_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        let err = check_local_data(&missing).unwrap_err().to_string();
        assert!(err.contains("nope.csv"), "{err}");
        let bad = dir.path().join("bad.parquet");
        std::fs::write(&bad, b"not parquet at all").unwrap();
        let err = check_local_data(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.parquet"), "{err}");
        let good = dir.path().join("good.csv");
        std::fs::write(&good, "text,label\nhello,pos\nbye,neg\n").unwrap();
        let choice = check_local_data(&good).unwrap();
        assert_eq!(choice.train_split, "train");
        assert_eq!(choice.eval_split, None);
    }
}
