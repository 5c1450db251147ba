//! Dataset cards: the YAML front matter of README.md with `configs:`
//! (data_files per split), `dataset_info` (features, ClassLabel names, split
//! sizes) and `license`. Read for local dataset folders, by the Hub client, and
//! by the loopback mirror.

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;
use std::path::Path;

use super::error::{DataError, Result};

/// The card of a dataset folder (`README.md`). A folder without a card, or a card
/// without a header, gives an empty card; a header that is not valid YAML is an error.
pub fn read_dir(dir: &Path) -> Result<CardData> {
    let path = dir.join("README.md");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(CardData::default()),
        Err(err) => return Err(DataError::io(path, err)),
    };
    match front_matter(&text) {
        Some(yaml) => Ok(CardData::from_yaml(&yaml)),
        None if text.trim_start_matches('\u{feff}').starts_with("---") => Err(DataError::Layout {
            path,
            message: "the card's YAML header does not parse".into(),
        }),
        None => Ok(CardData::default()),
    }
}

/// The YAML between the leading `---` lines of a card, if any.
pub fn front_matter(readme: &str) -> Option<Value> {
    let text = readme.strip_prefix('\u{feff}').unwrap_or(readme);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let end = rest
        .lines()
        .scan(0usize, |offset, line| {
            let start = *offset;
            *offset += line.len() + 1;
            Some((start, line))
        })
        .find(|(_, line)| line.trim_end() == "---")
        .map(|(start, _)| start)?;
    serde_yaml_ng::from_str(&rest[..end]).ok()
}

/// One entry of the card's `configs:` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardConfig {
    pub name: String,
    pub default: bool,
    /// `(split, glob patterns)` in card order.
    pub data_files: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    /// `string`, `int32`, ... or `class_label`, `sequence`, `struct`.
    pub dtype: String,
    /// ClassLabel names in label order; empty for other dtypes.
    pub class_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitInfo {
    pub name: String,
    pub num_examples: Option<u64>,
    pub num_bytes: Option<u64>,
}

/// One `dataset_info` entry (one per config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigInfo {
    pub config_name: String,
    pub features: Vec<Feature>,
    pub splits: Vec<SplitInfo>,
}

/// What Wick reads from a dataset card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardData {
    pub license: Option<String>,
    pub configs: Vec<CardConfig>,
    pub dataset_info: Vec<ConfigInfo>,
}

impl CardData {
    /// Read from card YAML (as parsed YAML, or the Hub API's `cardData` JSON).
    pub fn from_yaml(card: &Value) -> Self {
        let license = match card.get("license") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Sequence(items)) => {
                let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                (!names.is_empty()).then(|| names.join(", "))
            }
            _ => None,
        };
        let configs = as_list(card.get("configs"))
            .iter()
            .filter_map(parse_config)
            .collect();
        let dataset_info = as_list(card.get("dataset_info"))
            .iter()
            .map(parse_info)
            .collect();
        Self {
            license,
            configs,
            dataset_info,
        }
    }

    pub fn from_json(card: &serde_json::Value) -> Self {
        // JSON is a subset of YAML's data model, so one parser serves both.
        serde_yaml_ng::to_value(card)
            .map(|v| Self::from_yaml(&v))
            .unwrap_or_default()
    }

    /// The named config; without a name, the one marked `default` or the
    /// only one. With several and no default the caller must choose, as in
    /// `datasets.load_dataset`.
    pub fn config(&self, name: Option<&str>) -> Option<&CardConfig> {
        match name {
            Some(name) => self.configs.iter().find(|c| c.name == name),
            None => {
                let only = match self.configs.as_slice() {
                    [only] => Some(only),
                    _ => None,
                };
                self.configs.iter().find(|c| c.default).or(only)
            }
        }
    }

    pub fn info(&self, config: &str) -> Option<&ConfigInfo> {
        self.dataset_info.iter().find(|i| i.config_name == config)
    }

    /// The features of a config; a card with one unnamed `dataset_info` serves every config.
    pub fn features_of(&self, config: &str) -> Option<&[Feature]> {
        self.info(config)
            .or(match self.dataset_info.as_slice() {
                [only] if only.config_name == "default" => Some(only),
                _ => None,
            })
            .map(|info| info.features.as_slice())
    }
}

/// `dataset_info` and `configs` may be one mapping or a list of them.
fn as_list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Sequence(items)) => items.clone(),
        Some(v @ Value::Mapping(_)) => vec![v.clone()],
        _ => Vec::new(),
    }
}

fn str_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_config(entry: &Value) -> Option<CardConfig> {
    let name = str_of(entry.get("config_name")).unwrap_or_else(|| "default".to_string());
    let default = entry
        .get("default")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let data_files = match entry.get("data_files") {
        Some(Value::String(pattern)) => vec![("train".to_string(), vec![pattern.clone()])],
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(pattern) => Some(("train".to_string(), vec![pattern.clone()])),
                _ => {
                    let split = str_of(item.get("split")).unwrap_or_else(|| "train".to_string());
                    let paths = match item.get("path") {
                        Some(Value::String(p)) => vec![p.clone()],
                        Some(Value::Sequence(ps)) => {
                            ps.iter().filter_map(|p| str_of(Some(p))).collect()
                        }
                        _ => return None,
                    };
                    Some((split, paths))
                }
            })
            .collect(),
        Some(Value::Mapping(map)) => map
            .iter()
            .filter_map(|(split, paths)| {
                let paths = match paths {
                    Value::String(p) => vec![p.clone()],
                    Value::Sequence(ps) => ps.iter().filter_map(|p| str_of(Some(p))).collect(),
                    _ => return None,
                };
                Some((str_of(Some(split))?, paths))
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(CardConfig {
        name,
        default,
        data_files,
    })
}

fn parse_info(entry: &Value) -> ConfigInfo {
    let config_name = str_of(entry.get("config_name")).unwrap_or_else(|| "default".to_string());
    let features = as_list(entry.get("features"))
        .iter()
        .filter_map(parse_feature)
        .collect();
    let splits = as_list(entry.get("splits"))
        .iter()
        .filter_map(|s| {
            Some(SplitInfo {
                name: str_of(s.get("name"))?,
                num_examples: s.get("num_examples").and_then(Value::as_u64),
                num_bytes: s.get("num_bytes").and_then(Value::as_u64),
            })
        })
        .collect();
    ConfigInfo {
        config_name,
        features,
        splits,
    }
}

fn parse_feature(entry: &Value) -> Option<Feature> {
    let name = str_of(entry.get("name"))?;
    let (dtype, class_names) = match entry.get("dtype") {
        Some(Value::String(dtype)) => (dtype.clone(), Vec::new()),
        Some(Value::Mapping(map)) => match map.get("class_label") {
            Some(label) => ("class_label".to_string(), class_names(label.get("names"))),
            None => (
                map.keys()
                    .next()
                    .and_then(|k| str_of(Some(k)))
                    .unwrap_or_else(|| "struct".to_string()),
                Vec::new(),
            ),
        },
        // `sequence: class_label: names: [...]` (or `list:`, datasets 5): tags per word or a
        // set of labels per row.
        _ if entry
            .get("sequence")
            .or_else(|| entry.get("list"))
            .is_some() =>
        {
            let items = entry.get("sequence").or_else(|| entry.get("list"));
            let names = items
                .and_then(|items| items.get("class_label"))
                .map(|label| class_names(label.get("names")))
                .unwrap_or_default();
            ("sequence".to_string(), names)
        }
        _ if entry.get("struct").is_some() => ("struct".to_string(), Vec::new()),
        _ => ("unknown".to_string(), Vec::new()),
    };
    Some(Feature {
        name,
        dtype,
        class_names,
    })
}

/// ClassLabel names come as `{'0': a, '1': b}` or as a list.
fn class_names(names: Option<&Value>) -> Vec<String> {
    match names {
        Some(Value::Sequence(items)) => items.iter().filter_map(|v| str_of(Some(v))).collect(),
        Some(Value::Mapping(map)) => {
            let mut pairs: Vec<(u64, String)> = map
                .iter()
                .filter_map(|(k, v)| {
                    let index = str_of(Some(k))?.parse().ok()?;
                    Some((index, str_of(Some(v))?))
                })
                .collect();
            pairs.sort();
            pairs.into_iter().map(|(_, name)| name).collect()
        }
        _ => Vec::new(),
    }
}

/// Whether `path` matches a data_files glob (`*` stays within one segment, `**` spans).
pub fn matches_pattern(pattern: &str, path: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    glob::Pattern::new(pattern).is_ok_and(|p| p.matches_with(path, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "---\nlicense: other\nconfigs:\n- config_name: mrpc\n  data_files:\n  - split: train\n    path: mrpc/train-*\n  - split: validation\n    path: mrpc/validation-*\ndataset_info:\n- config_name: mrpc\n  features:\n  - name: sentence1\n    dtype: string\n  - name: label\n    dtype:\n      class_label:\n        names:\n          '0': not_equivalent\n          '1': equivalent\n  splits:\n  - name: train\n    num_examples: 3668\n---\n# body\n---\n";

    #[test]
    fn reads_configs_features_and_splits() {
        let card = CardData::from_yaml(&front_matter(CARD).unwrap());
        assert_eq!(card.license.as_deref(), Some("other"));
        let config = card.config(None).unwrap();
        assert_eq!(config.name, "mrpc");
        assert_eq!(
            config.data_files,
            vec![
                ("train".to_string(), vec!["mrpc/train-*".to_string()]),
                (
                    "validation".to_string(),
                    vec!["mrpc/validation-*".to_string()]
                ),
            ]
        );
        let info = card.info("mrpc").unwrap();
        assert_eq!(info.features[1].dtype, "class_label");
        assert_eq!(
            info.features[1].class_names,
            ["not_equivalent", "equivalent"]
        );
        assert_eq!(info.splits[0].num_examples, Some(3668));
        // The JSON route (the API's cardData) gives the same answer.
        let json = serde_json::to_value(front_matter(CARD).unwrap()).unwrap();
        assert_eq!(CardData::from_json(&json), card);
    }

    #[test]
    fn tolerates_cards_without_front_matter() {
        assert!(front_matter("# just a title").is_none());
        assert!(front_matter("---\nno end").is_none());
        assert_eq!(CardData::from_yaml(&Value::Null), CardData::default());
        let two = "---\nconfigs:\n- config_name: a\n  data_files: a/*\n- config_name: b\n  data_files: b/*\n---\n";
        let card = CardData::from_yaml(&front_matter(two).unwrap());
        assert!(
            card.config(None).is_none(),
            "two configs, no default: must choose"
        );
        assert_eq!(card.config(Some("b")).unwrap().data_files[0].1, ["b/*"]);
    }

    #[test]
    fn data_file_globs() {
        assert!(matches_pattern(
            "mrpc/train-*",
            "mrpc/train-00000-of-00001.parquet"
        ));
        assert!(!matches_pattern(
            "mrpc/train-*",
            "mrpc/validation-0.parquet"
        ));
        assert!(!matches_pattern("*.parquet", "mrpc/x.parquet"));
        assert!(matches_pattern("**/*.parquet", "mrpc/x.parquet"));
    }
}
