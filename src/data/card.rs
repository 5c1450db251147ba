//! The YAML header of a Hub dataset card (`README.md`): which files make which split, and the
//! features (with `ClassLabel` names) of each config.

use serde_yaml_ng::Value;
use std::path::Path;

use super::error::{DataError, Result};

/// One entry of the card's `configs:` list.
#[derive(Debug, Clone, PartialEq)]
pub struct CardConfig {
    pub name: String,
    pub default: bool,
    /// `(split, glob patterns relative to the dataset folder)`, in card order.
    pub data_files: Vec<(String, Vec<String>)>,
}

/// A feature from `dataset_info.features`.
#[derive(Debug, Clone, PartialEq)]
pub struct CardFeature {
    pub name: String,
    /// The `dtype` when it is a plain value type (`string`, `int64`, ...).
    pub dtype: Option<String>,
    /// Names of a `class_label` feature, in id order.
    pub class_names: Option<Vec<String>>,
}

/// What Wick reads from a dataset card.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetCard {
    pub configs: Vec<CardConfig>,
    /// `(config name, features)`; the name is `default` when the card gives none.
    pub features: Vec<(String, Vec<CardFeature>)>,
    /// `(config name, split, num_examples)`.
    pub split_sizes: Vec<(String, String, u64)>,
    pub license: Option<String>,
}

impl DatasetCard {
    /// Reads `README.md` in `dir`. A folder without a card, or a card without a YAML header,
    /// gives an empty card; a header that is not valid YAML is an error.
    pub fn read_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("README.md");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|message| DataError::Layout { path, message }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(DataError::io(path, err)),
        }
    }

    /// Parses the front matter of a card's markdown text.
    pub fn parse(markdown: &str) -> std::result::Result<Self, String> {
        let Some(yaml) = front_matter(markdown) else {
            return Ok(Self::default());
        };
        let root: Value = serde_yaml_ng::from_str(yaml)
            .map_err(|err| format!("the card's YAML header does not parse: {err}"))?;
        let mut card = DatasetCard {
            license: root.get("license").and_then(scalar_or_first),
            ..Self::default()
        };
        if let Some(configs) = root.get("configs").and_then(Value::as_sequence) {
            for config in configs {
                card.configs.push(parse_config(config)?);
            }
        }
        match root.get("dataset_info") {
            Some(Value::Sequence(infos)) => {
                for info in infos {
                    card.add_info(info)?;
                }
            }
            Some(info @ Value::Mapping(_)) => card.add_info(info)?,
            _ => {}
        }
        Ok(card)
    }

    pub fn config(&self, name: &str) -> Option<&CardConfig> {
        self.configs.iter().find(|c| c.name == name)
    }

    /// The features of a config; a card with a single unnamed `dataset_info` serves every config.
    pub fn features_of(&self, config: &str) -> Option<&[CardFeature]> {
        self.features
            .iter()
            .find(|(name, _)| name == config)
            .or_else(|| match self.features.as_slice() {
                [only] if only.0 == "default" => Some(only),
                _ => None,
            })
            .map(|(_, features)| features.as_slice())
    }

    fn add_info(&mut self, info: &Value) -> std::result::Result<(), String> {
        let config = info
            .get("config_name")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        if let Some(features) = info.get("features").and_then(Value::as_sequence) {
            let parsed = features
                .iter()
                .map(parse_feature)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            self.features.push((config.clone(), parsed));
        }
        if let Some(splits) = info.get("splits").and_then(Value::as_sequence) {
            for split in splits {
                if let (Some(name), Some(n)) = (
                    split.get("name").and_then(Value::as_str),
                    split.get("num_examples").and_then(Value::as_u64),
                ) {
                    self.split_sizes.push((config.clone(), name.to_string(), n));
                }
            }
        }
        Ok(())
    }
}

/// The text between the leading `---` line and the next `---` line.
fn front_matter(markdown: &str) -> Option<&str> {
    let rest = markdown
        .strip_prefix("\u{feff}")
        .unwrap_or(markdown)
        .strip_prefix("---")?;
    let rest = rest.strip_prefix('\r').unwrap_or(rest).strip_prefix('\n')?;
    let end = rest.find("\n---")?;
    Some(&rest[..end])
}

fn scalar_or_first(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Sequence(items) => items.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Sequence(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn parse_config(value: &Value) -> std::result::Result<CardConfig, String> {
    let name = value
        .get("config_name")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let default = value
        .get("default")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let bad = || format!("config '{name}': `data_files` has a form Wick does not understand");
    let data_files = match value.get("data_files") {
        None => Vec::new(),
        // `data_files: train.csv` or a list of patterns: everything is the train split.
        Some(v @ (Value::String(_) | Value::Sequence(_))) if string_list(v).is_some() => {
            vec![("train".to_string(), string_list(v).unwrap_or_default())]
        }
        Some(Value::Sequence(entries)) => entries
            .iter()
            .map(|entry| {
                let split = entry.get("split").and_then(Value::as_str);
                let paths = entry.get("path").and_then(string_list);
                match (split, paths) {
                    (Some(split), Some(paths)) => Ok((split.to_string(), paths)),
                    _ => Err(bad()),
                }
            })
            .collect::<std::result::Result<_, _>>()?,
        Some(Value::Mapping(map)) => map
            .iter()
            .map(
                |(split, paths)| match (split.as_str(), string_list(paths)) {
                    (Some(split), Some(paths)) => Ok((split.to_string(), paths)),
                    _ => Err(bad()),
                },
            )
            .collect::<std::result::Result<_, _>>()?,
        Some(_) => return Err(bad()),
    };
    Ok(CardConfig {
        name,
        default,
        data_files,
    })
}

fn parse_feature(value: &Value) -> std::result::Result<CardFeature, String> {
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a feature in `dataset_info` has no name")?
        .to_string();
    let (dtype, class_label) = match value.get("dtype") {
        Some(Value::String(s)) => (Some(s.clone()), None),
        Some(other) => (None, other.get("class_label")),
        None => (None, value.get("class_label")),
    };
    let class_names = class_label
        .and_then(|c| c.get("names"))
        .map(|names| class_names(names).ok_or(format!("feature '{name}': unreadable class names")))
        .transpose()?;
    Ok(CardFeature {
        name,
        dtype,
        class_names,
    })
}

/// Class names come as a list, or as a map from id (`'0'`) to name.
fn class_names(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Sequence(_) => string_list(value),
        Value::Mapping(map) => {
            let mut pairs = map
                .iter()
                .map(|(k, v)| {
                    let id = match k {
                        Value::Number(n) => n.as_u64(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }?;
                    Some((id, v.as_str()?.to_string()))
                })
                .collect::<Option<Vec<_>>>()?;
            pairs.sort_by_key(|(id, _)| *id);
            // Ids must be exactly 0..n, or the names would shift.
            pairs
                .iter()
                .enumerate()
                .all(|(i, (id, _))| *id == i as u64)
                .then(|| pairs.into_iter().map(|(_, name)| name).collect())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLUE_CARD: &str = "---\nconfigs:\n- config_name: mrpc\n  data_files:\n  - split: train\n    path: mrpc/train-*\n  - split: validation\n    path: mrpc/validation-*\ndataset_info:\n- config_name: mrpc\n  features:\n  - name: sentence1\n    dtype: string\n  - name: label\n    dtype:\n      class_label:\n        names:\n          '0': not_equivalent\n          '1': equivalent\n  splits:\n  - name: train\n    num_examples: 3668\nlicense: other\n---\n# Card\n";

    #[test]
    fn reads_configs_features_and_splits() {
        let card = DatasetCard::parse(GLUE_CARD).unwrap();
        let mrpc = card.config("mrpc").unwrap();
        assert_eq!(
            mrpc.data_files,
            vec![
                ("train".into(), vec!["mrpc/train-*".into()]),
                ("validation".into(), vec!["mrpc/validation-*".into()])
            ]
        );
        let label = &card.features_of("mrpc").unwrap()[1];
        assert_eq!(
            label.class_names.as_deref(),
            Some(&["not_equivalent".to_string(), "equivalent".to_string()][..])
        );
        assert_eq!(
            card.split_sizes,
            vec![("mrpc".into(), "train".into(), 3668)]
        );
        assert_eq!(card.license.as_deref(), Some("other"));
    }

    #[test]
    fn accepts_the_short_data_files_forms() {
        let card = DatasetCard::parse(
            "---\nconfigs:\n- config_name: a\n  data_files: x.csv\n- config_name: b\n  data_files:\n    train: t.csv\n    test: [u.csv, v.csv]\n---\n",
        )
        .unwrap();
        assert_eq!(
            card.configs[0].data_files,
            vec![("train".into(), vec!["x.csv".into()])]
        );
        assert_eq!(
            card.configs[1].data_files[1].1,
            vec!["u.csv".to_string(), "v.csv".into()]
        );
    }

    #[test]
    fn no_header_is_an_empty_card_and_bad_yaml_is_an_error() {
        assert_eq!(
            DatasetCard::parse("# just text").unwrap(),
            DatasetCard::default()
        );
        assert!(DatasetCard::parse("---\nconfigs: [\n---\n").is_err());
    }
}
