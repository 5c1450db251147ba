//! `config.json` of a Hugging Face encoder, normalised across BERT, DistilBERT and RoBERTa.
//!
//! The raw JSON is kept so that saving rewrites only the label fields and `architectures`,
//! leaving every key we do not interpret untouched.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::{ModelError, Result};
use super::modernbert_config::ModernBertSettings;
use crate::task::Task;

/// The model families Wick can fine-tune, chosen from `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Bert,
    DistilBert,
    Roberta,
    XlmRoberta,
    ModernBert,
    /// DeBERTa-v2 and DeBERTa-v3 (both `model_type = "deberta-v2"`).
    DebertaV2,
}

const SUPPORTED: &str = "bert, distilbert, roberta, xlm-roberta, modernbert, deberta-v2";

impl Architecture {
    pub fn from_model_type(model_type: &str) -> Result<Self> {
        match model_type {
            "bert" => Ok(Self::Bert),
            "distilbert" => Ok(Self::DistilBert),
            "roberta" => Ok(Self::Roberta),
            "xlm-roberta" => Ok(Self::XlmRoberta),
            "modernbert" => Ok(Self::ModernBert),
            "deberta-v2" => Ok(Self::DebertaV2),
            other => Err(ModelError::UnsupportedModelType {
                found: other.to_string(),
                supported: SUPPORTED.to_string(),
            }),
        }
    }

    /// Prefix of encoder tensors inside a `*ForSequenceClassification` checkpoint.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Bert => "bert.",
            Self::DistilBert => "distilbert.",
            Self::Roberta | Self::XlmRoberta => "roberta.",
            Self::ModernBert => "model.",
            Self::DebertaV2 => "deberta.",
        }
    }

    /// Class name transformers instantiates for `task`.
    pub fn hf_class_name(self, task: Task) -> String {
        let family = match self {
            Self::Bert => "Bert",
            Self::DistilBert => "DistilBert",
            Self::Roberta => "Roberta",
            Self::XlmRoberta => "XLMRoberta",
            Self::ModernBert => "ModernBert",
            Self::DebertaV2 => "DebertaV2",
        };
        let head = if task.per_token() {
            "ForTokenClassification"
        } else {
            "ForSequenceClassification"
        };
        format!("{family}{head}")
    }
}

/// Hidden activation of the feed-forward block (HF `ACT2FN` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact erf GELU (`gelu`).
    Gelu,
    /// Tanh approximation (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    GeluTanh,
    Relu,
    Silu,
}

impl Activation {
    pub(crate) fn parse(name: &str) -> Result<Self> {
        match name {
            "gelu" => Ok(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Self::GeluTanh),
            "relu" => Ok(Self::Relu),
            "silu" | "swish" => Ok(Self::Silu),
            other => Err(ModelError::Config(format!(
                "unsupported hidden activation {other:?}; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu"
            ))),
        }
    }
}

/// Normalised hyper-parameters of an encoder (DistilBERT's `dim`, `n_layers`, ... are mapped to
/// the BERT names).
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub model_type: String,
    pub architecture: Architecture,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    /// Dropout before the classification layer (`classifier_dropout`, or DistilBERT's
    /// `seq_classif_dropout`); `None` means "use `hidden_dropout_prob`".
    pub classifier_dropout: Option<f64>,
    pub layer_norm_eps: f64,
    pub max_position_embeddings: usize,
    /// 0 for DistilBERT, which has no token types.
    pub type_vocab_size: usize,
    pub pad_token_id: Option<u32>,
    pub initializer_range: f64,
    /// Labels ordered by id, from `id2label` (empty if the config has none).
    pub id2label: Vec<String>,
    /// What the head is for: `problem_type`, or token classification when `architectures`
    /// names a `*ForTokenClassification` class; single-label otherwise. The trainer sets it
    /// from the recipe before building a model.
    pub task: Task,
    raw: Map<String, Value>,
}

impl ModelConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(value).map_err(|e| match e {
            ModelError::Config(msg) => ModelError::Config(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    pub fn from_json(value: Value) -> Result<Self> {
        let Value::Object(raw) = value else {
            return Err(ModelError::Config(
                "config.json is not a JSON object".into(),
            ));
        };
        let r = Reader(&raw);
        let model_type = r.string("model_type")?;
        let architecture = Architecture::from_model_type(&model_type)?;
        let config = match architecture {
            Architecture::DistilBert => {
                if r.opt_bool("sinusoidal_pos_embds")?.unwrap_or(false) {
                    return Err(ModelError::Config(
                        "DistilBERT with sinusoidal_pos_embds=true is not supported".into(),
                    ));
                }
                Self {
                    vocab_size: r.usize("vocab_size")?,
                    hidden_size: r.usize("dim")?,
                    num_hidden_layers: r.usize("n_layers")?,
                    num_attention_heads: r.usize("n_heads")?,
                    intermediate_size: r.usize("hidden_dim")?,
                    hidden_act: Activation::parse(
                        &r.opt_string("activation")?.unwrap_or("gelu".into()),
                    )?,
                    hidden_dropout_prob: r.prob("dropout", 0.1)?,
                    attention_probs_dropout_prob: r.prob("attention_dropout", 0.1)?,
                    classifier_dropout: Some(r.prob("seq_classif_dropout", 0.2)?),
                    // DistilBERT hard-codes its LayerNorm epsilon.
                    layer_norm_eps: 1e-12,
                    max_position_embeddings: r.usize("max_position_embeddings")?,
                    type_vocab_size: 0,
                    pad_token_id: r.opt_u32("pad_token_id")?.or(Some(0)),
                    initializer_range: r.opt_f64("initializer_range")?.unwrap_or(0.02),
                    id2label: r.id2label()?,
                    task: r.task()?,
                    model_type,
                    architecture,
                    raw: raw.clone(),
                }
            }
            // ModernBERT's own keys (rotary, window, biases, head) are read by
            // `ModernBertSettings` from the raw JSON; HF's defaults fill gaps.
            Architecture::ModernBert => Self {
                vocab_size: r.opt_usize("vocab_size")?.unwrap_or(50368),
                hidden_size: r.opt_usize("hidden_size")?.unwrap_or(768),
                num_hidden_layers: r.opt_usize("num_hidden_layers")?.unwrap_or(22),
                num_attention_heads: r.opt_usize("num_attention_heads")?.unwrap_or(12),
                intermediate_size: r.opt_usize("intermediate_size")?.unwrap_or(1152),
                hidden_act: Activation::parse(
                    &r.opt_string("hidden_activation")?.unwrap_or("gelu".into()),
                )?,
                hidden_dropout_prob: r.prob("mlp_dropout", 0.0)?,
                attention_probs_dropout_prob: r.prob("attention_dropout", 0.0)?,
                classifier_dropout: Some(r.prob("classifier_dropout", 0.0)?),
                layer_norm_eps: r.opt_f64("norm_eps")?.unwrap_or(1e-5),
                max_position_embeddings: r.opt_usize("max_position_embeddings")?.unwrap_or(8192),
                type_vocab_size: 0,
                pad_token_id: r.opt_u32("pad_token_id")?.or(Some(50283)),
                initializer_range: r.opt_f64("initializer_range")?.unwrap_or(0.02),
                id2label: r.id2label()?,
                task: r.task()?,
                model_type,
                architecture,
                raw: raw.clone(),
            },
            // Every gap gets DebertaV2Config's default; the DeBERTa-only keys are read and
            // checked by `deberta::DebertaOptions`.
            Architecture::DebertaV2 => {
                let config = Self {
                    vocab_size: r.opt_usize("vocab_size")?.unwrap_or(128_100),
                    hidden_size: r.opt_usize("hidden_size")?.unwrap_or(1536),
                    num_hidden_layers: r.opt_usize("num_hidden_layers")?.unwrap_or(24),
                    num_attention_heads: r.opt_usize("num_attention_heads")?.unwrap_or(24),
                    intermediate_size: r.opt_usize("intermediate_size")?.unwrap_or(6144),
                    hidden_act: Activation::parse(
                        &r.opt_string("hidden_act")?.unwrap_or("gelu".into()),
                    )?,
                    hidden_dropout_prob: r.prob("hidden_dropout_prob", 0.1)?,
                    attention_probs_dropout_prob: r.prob("attention_probs_dropout_prob", 0.1)?,
                    classifier_dropout: match r.0.get("cls_dropout") {
                        None | Some(Value::Null) => None,
                        Some(_) => Some(r.prob("cls_dropout", 0.0)?),
                    },
                    layer_norm_eps: r.opt_f64("layer_norm_eps")?.unwrap_or(1e-7),
                    max_position_embeddings: r.opt_usize("max_position_embeddings")?.unwrap_or(512),
                    type_vocab_size: r.opt_usize("type_vocab_size")?.unwrap_or(0),
                    // A missing key means 0, an explicit null means no padding row.
                    pad_token_id: match r.0.get("pad_token_id") {
                        None => Some(0),
                        Some(_) => r.opt_u32("pad_token_id")?,
                    },
                    initializer_range: r.opt_f64("initializer_range")?.unwrap_or(0.02),
                    id2label: r.id2label()?,
                    task: r.task()?,
                    model_type,
                    architecture,
                    raw: raw.clone(),
                };
                super::deberta::DebertaOptions::read(&r, &config)?;
                config
            }
            _ => Self {
                vocab_size: r.usize("vocab_size")?,
                hidden_size: r.usize("hidden_size")?,
                num_hidden_layers: r.usize("num_hidden_layers")?,
                num_attention_heads: r.usize("num_attention_heads")?,
                intermediate_size: r.usize("intermediate_size")?,
                hidden_act: Activation::parse(
                    &r.opt_string("hidden_act")?.unwrap_or("gelu".into()),
                )?,
                hidden_dropout_prob: r.prob("hidden_dropout_prob", 0.1)?,
                attention_probs_dropout_prob: r.prob("attention_probs_dropout_prob", 0.1)?,
                classifier_dropout: match r.0.get("classifier_dropout") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(r.prob("classifier_dropout", 0.0)?),
                },
                layer_norm_eps: r.opt_f64("layer_norm_eps")?.unwrap_or(1e-12),
                max_position_embeddings: r.usize("max_position_embeddings")?,
                type_vocab_size: r.opt_usize("type_vocab_size")?.unwrap_or(2),
                pad_token_id: r.opt_u32("pad_token_id")?,
                initializer_range: r.opt_f64("initializer_range")?.unwrap_or(0.02),
                id2label: r.id2label()?,
                task: r.task()?,
                model_type,
                architecture,
                raw: raw.clone(),
            },
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ModelError::Config(format!("{key} must be positive")));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(ModelError::Config(format!(
                "hidden size {} is not a multiple of the number of attention heads {}",
                self.hidden_size, self.num_attention_heads
            )));
        }
        let has_token_types = !matches!(
            self.architecture,
            Architecture::DistilBert | Architecture::ModernBert | Architecture::DebertaV2
        );
        if has_token_types && self.type_vocab_size == 0 {
            return Err(ModelError::Config(
                "type_vocab_size must be positive".into(),
            ));
        }
        if let Some(pad) = self.pad_token_id
            && pad as usize >= self.vocab_size
        {
            return Err(ModelError::Config(format!(
                "pad_token_id {pad} is outside the vocabulary of {}",
                self.vocab_size
            )));
        }
        if self.is_roberta() {
            let pad = self.roberta_padding_idx()?;
            if pad as usize + 2 > self.max_position_embeddings {
                return Err(ModelError::Config(format!(
                    "max_position_embeddings {} leaves no room after padding_idx {pad}",
                    self.max_position_embeddings
                )));
            }
        }
        if self.architecture == Architecture::ModernBert {
            ModernBertSettings::from_config(self)?;
        }
        // Written so that NaN fails too.
        let valid = self.layer_norm_eps > 0.0 && self.initializer_range >= 0.0;
        if !valid {
            return Err(ModelError::Config(
                "layer_norm_eps must be positive and initializer_range non-negative".into(),
            ));
        }
        Ok(())
    }

    pub fn is_roberta(&self) -> bool {
        matches!(
            self.architecture,
            Architecture::Roberta | Architecture::XlmRoberta
        )
    }

    /// RoBERTa's position embeddings are offset by its padding index (HF `padding_idx`).
    pub(crate) fn roberta_padding_idx(&self) -> Result<u32> {
        self.pad_token_id
            .ok_or_else(|| ModelError::Config("RoBERTa config needs pad_token_id".into()))
    }

    /// Dropout applied right before the classification layer.
    pub fn head_dropout(&self) -> f64 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }

    /// The config.json object as read, for architecture-specific keys.
    pub(crate) fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// Dropout before a token-classification layer: DistilBERT's token head uses its
    /// `dropout`, not `seq_classif_dropout`, and DeBERTa's its `hidden_dropout_prob`, not
    /// `cls_dropout`.
    pub fn token_head_dropout(&self) -> f64 {
        match self.architecture {
            Architecture::DistilBert | Architecture::DebertaV2 => self.hidden_dropout_prob,
            _ => self.head_dropout(),
        }
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The config as JSON with `labels` written as `id2label`/`label2id`/`num_labels`,
    /// `architectures` set to the class for the task, and `problem_type` for sequence tasks
    /// (so that `AutoModelForSequenceClassification` reloads it with the right loss).
    pub fn to_json_with_labels(&self, labels: &[String]) -> Value {
        let mut raw = self.raw.clone();
        match self.task.problem_type() {
            Some(problem_type) => raw.insert("problem_type".into(), Value::from(problem_type)),
            None => raw.remove("problem_type"),
        };
        let id2label: Map<String, Value> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), Value::from(l.clone())))
            .collect();
        let label2id: Map<String, Value> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), Value::from(i)))
            .collect();
        raw.insert("id2label".into(), Value::Object(id2label));
        raw.insert("label2id".into(), Value::Object(label2id));
        raw.insert("num_labels".into(), Value::from(labels.len()));
        raw.insert(
            "architectures".into(),
            Value::from(vec![self.architecture.hf_class_name(self.task)]),
        );
        Value::Object(raw)
    }
}

/// Typed access to config keys with errors that name the key.
pub(crate) struct Reader<'a>(pub(crate) &'a Map<String, Value>);

impl Reader<'_> {
    pub(crate) fn bad(key: &str, want: &str, v: &Value) -> ModelError {
        ModelError::Config(format!("{key} should be {want}, found {v}"))
    }

    fn missing(key: &str) -> ModelError {
        ModelError::Config(format!("missing key {key:?}"))
    }

    fn string(&self, key: &str) -> Result<String> {
        self.opt_string(key)?.ok_or_else(|| Self::missing(key))
    }

    pub(crate) fn opt_string(&self, key: &str) -> Result<Option<String>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(Self::bad(key, "a string", v)),
        }
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(Self::bad(key, "a boolean", v)),
        }
    }

    fn task(&self) -> Result<Task> {
        if let Some(problem_type) = self.opt_string("problem_type")? {
            // HF's problem types are the sequence tasks; token classification is a class.
            let sequence_task =
                Task::from_name(&problem_type).filter(|t| t.problem_type().is_some());
            return sequence_task.ok_or_else(|| {
                ModelError::Config(format!(
                    "problem_type {problem_type:?} is not one of single_label_classification, \
                     multi_label_classification, regression"
                ))
            });
        }
        let token_class = self
            .0
            .get("architectures")
            .and_then(Value::as_array)
            .is_some_and(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|name| name.ends_with("ForTokenClassification"))
            });
        Ok(if token_class {
            Task::TokenClassification
        } else {
            Task::SingleLabelClassification
        })
    }

    fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?.ok_or_else(|| Self::missing(key))
    }

    pub(crate) fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| Self::bad(key, "a non-negative integer", v)),
        }
    }

    fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        match self.opt_usize(key)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| ModelError::Config(format!("{key} is too large: {n}"))),
        }
    }

    pub(crate) fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| Self::bad(key, "a number", v)),
        }
    }

    pub(crate) fn prob(&self, key: &str, default: f64) -> Result<f64> {
        let p = self.opt_f64(key)?.unwrap_or(default);
        if (0.0..1.0).contains(&p) {
            Ok(p)
        } else {
            Err(ModelError::Config(format!(
                "{key} must be a probability in [0, 1), found {p}"
            )))
        }
    }

    /// `id2label` as a list ordered by id; ids must be exactly 0..n.
    fn id2label(&self) -> Result<Vec<String>> {
        let map = match self.0.get("id2label") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Object(map)) => map,
            Some(v) => return Err(Self::bad("id2label", "an object", v)),
        };
        let mut labels = vec![None; map.len()];
        for (id, label) in map {
            let index: usize = id.parse().ok().filter(|i| *i < map.len()).ok_or_else(|| {
                ModelError::Config(format!(
                    "id2label key {id:?} is not an id in 0..{}",
                    map.len()
                ))
            })?;
            let label = label
                .as_str()
                .ok_or_else(|| Self::bad("id2label value", "a string", label))?;
            labels[index] = Some(label.to_string());
        }
        // Keys are distinct and in range, so every slot is filled.
        Ok(labels.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bert_json() -> Value {
        json!({
            "model_type": "bert", "vocab_size": 100, "hidden_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
            "max_position_embeddings": 32, "id2label": {"1": "b", "0": "a"}
        })
    }

    #[test]
    fn parses_bert_with_defaults() {
        let c = ModelConfig::from_json(bert_json()).unwrap();
        assert_eq!(c.architecture, Architecture::Bert);
        assert_eq!(c.id2label, vec!["a", "b"]);
        assert_eq!(c.type_vocab_size, 2);
        assert_eq!(c.hidden_act, Activation::Gelu);
        assert_eq!(c.head_dropout(), 0.1);
    }

    #[test]
    fn parses_distilbert_names() {
        let c = ModelConfig::from_json(json!({
            "model_type": "distilbert", "vocab_size": 100, "dim": 8, "n_layers": 2,
            "n_heads": 2, "hidden_dim": 16, "max_position_embeddings": 32,
            "seq_classif_dropout": 0.3
        }))
        .unwrap();
        assert_eq!(c.hidden_size, 8);
        assert_eq!(c.num_hidden_layers, 2);
        assert_eq!(c.intermediate_size, 16);
        assert_eq!(c.head_dropout(), 0.3);
        assert_eq!(c.type_vocab_size, 0);
    }

    #[test]
    fn unknown_model_type_lists_supported() {
        let mut v = bert_json();
        v["model_type"] = json!("gpt2");
        let err = ModelConfig::from_json(v).unwrap_err().to_string();
        assert!(
            err.contains("gpt2") && err.contains("distilbert") && err.contains("xlm-roberta"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut v = bert_json();
        v["hidden_size"] = json!("big");
        let err = ModelConfig::from_json(v).unwrap_err().to_string();
        assert!(err.contains("hidden_size"), "{err}");

        let mut v = bert_json();
        v["hidden_size"] = json!(9);
        assert!(ModelConfig::from_json(v).is_err());

        let mut v = bert_json();
        v["hidden_dropout_prob"] = json!(1.5);
        let err = ModelConfig::from_json(v).unwrap_err().to_string();
        assert!(err.contains("hidden_dropout_prob"), "{err}");

        let mut v = bert_json();
        v["id2label"] = json!({"0": "a", "5": "b"});
        assert!(ModelConfig::from_json(v).is_err());
    }

    #[test]
    fn rewrites_labels_and_keeps_unknown_keys() {
        let mut v = bert_json();
        v["custom_key"] = json!(7);
        let c = ModelConfig::from_json(v).unwrap();
        let out = c.to_json_with_labels(&["x".into(), "y".into(), "z".into()]);
        assert_eq!(out["custom_key"], json!(7));
        assert_eq!(out["id2label"]["2"], json!("z"));
        assert_eq!(out["label2id"]["y"], json!(1));
        assert_eq!(out["num_labels"], json!(3));
        assert_eq!(
            out["architectures"][0],
            json!("BertForSequenceClassification")
        );
        let back = ModelConfig::from_json(out).unwrap();
        assert_eq!(back.id2label, vec!["x", "y", "z"]);
    }

    #[test]
    fn the_task_comes_from_problem_type_or_the_class_and_is_written_back() {
        let c = ModelConfig::from_json(bert_json()).unwrap();
        assert_eq!(c.task, Task::SingleLabelClassification);

        let mut v = bert_json();
        v["architectures"] = json!(["BertForTokenClassification"]);
        let mut c = ModelConfig::from_json(v).unwrap();
        assert_eq!(c.task, Task::TokenClassification);
        c.task = Task::MultiLabelClassification;
        let out = c.to_json_with_labels(&["x".into(), "y".into()]);
        assert_eq!(out["problem_type"], json!("multi_label_classification"));
        assert_eq!(
            out["architectures"][0],
            json!("BertForSequenceClassification")
        );
        let back = ModelConfig::from_json(out).unwrap();
        assert_eq!(back.task, Task::MultiLabelClassification);

        let mut token = back.clone();
        token.task = Task::TokenClassification;
        let out = token.to_json_with_labels(&["O".into(), "B-PER".into()]);
        assert!(out.get("problem_type").is_none(), "{out}");
        assert_eq!(out["architectures"][0], json!("BertForTokenClassification"));

        let mut v = bert_json();
        v["problem_type"] = json!("ranking");
        let err = ModelConfig::from_json(v).unwrap_err().to_string();
        assert!(
            err.contains("problem_type") && err.contains("ranking"),
            "{err}"
        );
    }
}
