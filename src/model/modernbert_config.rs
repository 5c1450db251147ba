//! ModernBERT's own `config.json` keys: which layers attend globally or in a window, the two
//! rotary bases, which linears and norms carry a bias, and the classification head's
//! activation and pooling. Missing keys get `ModernBertConfig`'s defaults (transformers 5).

use serde_json::{Map, Value};

use super::config::{Activation, ModelConfig, Reader};
use super::error::{ModelError, Result};

/// HF `default_theta`.
const GLOBAL_ROPE_THETA: f64 = 160_000.0;
const LOCAL_ROPE_THETA: f64 = 10_000.0;
/// HF's default when `layer_types` is absent: every third layer is global.
const GLOBAL_ATTN_EVERY_N_LAYERS: usize = 3;
const LOCAL_ATTENTION: usize = 128;

/// How a layer attends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttentionKind {
    /// `full_attention`: every token, rotary base `global_rope_theta`.
    Global,
    /// `sliding_attention`: keys with `|i - j| <= local_attention / 2`, base `local_rope_theta`.
    Local,
}

/// `classifier_pooling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pooling {
    /// The first token.
    Cls,
    /// The mean over the tokens the attention mask keeps.
    Mean,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModernBertSettings {
    pub layer_kinds: Vec<AttentionKind>,
    pub global_rope_theta: f64,
    pub local_rope_theta: f64,
    /// `local_attention / 2`: the largest |query - key| distance a local layer sees.
    pub half_window: usize,
    pub attention_bias: bool,
    pub mlp_bias: bool,
    pub norm_bias: bool,
    pub classifier_bias: bool,
    pub classifier_activation: Activation,
    pub pooling: Pooling,
    pub embedding_dropout: f64,
    /// `initializer_cutoff_factor`: initial weights are truncated at ± this many stds.
    pub init_cutoff: f64,
}

impl ModernBertSettings {
    pub fn from_config(config: &ModelConfig) -> Result<Self> {
        Self::parse(config.raw(), config.num_hidden_layers)
    }

    fn parse(raw: &Map<String, Value>, num_layers: usize) -> Result<Self> {
        let (global_rope_theta, local_rope_theta) = rope_thetas(raw)?;
        let local_attention = Reader(raw)
            .opt_usize("local_attention")?
            .unwrap_or(LOCAL_ATTENTION);
        let pooling = match Reader(raw)
            .opt_string("classifier_pooling")?
            .as_deref()
            .unwrap_or("cls")
        {
            "cls" => Pooling::Cls,
            "mean" => Pooling::Mean,
            other => {
                return Err(ModelError::Config(format!(
                    "classifier_pooling should be \"cls\" or \"mean\", found {other:?}"
                )));
            }
        };
        Ok(Self {
            layer_kinds: layer_kinds(raw, num_layers)?,
            global_rope_theta,
            local_rope_theta,
            half_window: local_attention / 2,
            attention_bias: Reader(raw).opt_bool("attention_bias")?.unwrap_or(false),
            mlp_bias: Reader(raw).opt_bool("mlp_bias")?.unwrap_or(false),
            norm_bias: Reader(raw).opt_bool("norm_bias")?.unwrap_or(false),
            classifier_bias: Reader(raw).opt_bool("classifier_bias")?.unwrap_or(false),
            classifier_activation: Activation::parse(
                Reader(raw)
                    .opt_string("classifier_activation")?
                    .as_deref()
                    .unwrap_or("gelu"),
            )?,
            pooling,
            embedding_dropout: Reader(raw).prob("embedding_dropout", 0.0)?,
            // HF: 2.0 by default, 3 when the config holds null.
            init_cutoff: match raw.get("initializer_cutoff_factor") {
                None => 2.0,
                Some(Value::Null) => 3.0,
                Some(_) => Reader(raw)
                    .opt_f64("initializer_cutoff_factor")?
                    .filter(|c| *c > 0.0)
                    .ok_or_else(|| {
                        ModelError::Config("initializer_cutoff_factor must be positive".into())
                    })?,
            },
        })
    }
}

/// `layer_types` when given (transformers 5), else HF's rule from `global_attn_every_n_layers`:
/// layer `i` is global when `i % n == 0`.
fn layer_kinds(raw: &Map<String, Value>, num_layers: usize) -> Result<Vec<AttentionKind>> {
    match raw.get("layer_types") {
        None | Some(Value::Null) => {
            let every = Reader(raw)
                .opt_usize("global_attn_every_n_layers")?
                .unwrap_or(GLOBAL_ATTN_EVERY_N_LAYERS);
            if every == 0 {
                return Err(ModelError::Config(
                    "global_attn_every_n_layers must be positive".into(),
                ));
            }
            Ok((0..num_layers)
                .map(|i| {
                    if i.is_multiple_of(every) {
                        AttentionKind::Global
                    } else {
                        AttentionKind::Local
                    }
                })
                .collect())
        }
        Some(Value::Array(items)) => {
            if items.len() != num_layers {
                return Err(ModelError::Config(format!(
                    "layer_types lists {} layers but num_hidden_layers is {num_layers}",
                    items.len()
                )));
            }
            items
                .iter()
                .map(|item| match item.as_str() {
                    Some("full_attention") => Ok(AttentionKind::Global),
                    Some("sliding_attention") => Ok(AttentionKind::Local),
                    _ => Err(ModelError::Config(format!(
                        "layer_types entries should be \"full_attention\" or \"sliding_attention\", found {item}"
                    ))),
                })
                .collect()
        }
        Some(v) => Err(Reader::bad("layer_types", "a list", v)),
    }
}

/// The rotary bases, as HF's `convert_rope_params_to_dict` resolves them: `rope_parameters`
/// {full_attention, sliding_attention} first, then the Hub configs' `global_rope_theta` /
/// `local_rope_theta`, then the defaults. Only the plain ("default") rotary type is supported.
fn rope_thetas(raw: &Map<String, Value>) -> Result<(f64, f64)> {
    if !matches!(raw.get("rope_scaling"), None | Some(Value::Null)) {
        return Err(ModelError::Config(
            "rope_scaling is not supported for ModernBERT".into(),
        ));
    }
    let parameters = match raw.get("rope_parameters") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map),
        Some(v) => return Err(Reader::bad("rope_parameters", "an object", v)),
    };
    let theta = |layer_type: &str, legacy_key: &str, default: f64| -> Result<f64> {
        let key = format!("rope_parameters.{layer_type}");
        let entry = match parameters.and_then(|p| p.get(layer_type)) {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(v) => return Err(Reader::bad(&key, "an object", v)),
        };
        if let Some(entry) = entry {
            match Reader(entry).opt_string("rope_type")?.as_deref() {
                None | Some("default") => {}
                Some(other) => {
                    return Err(ModelError::Config(format!(
                        "{key}.rope_type {other:?} is not supported; only \"default\" is"
                    )));
                }
            }
        }
        let value = match entry
            .map(|e| Reader(e).opt_f64("rope_theta"))
            .transpose()?
            .flatten()
        {
            Some(v) => v,
            None => Reader(raw).opt_f64(legacy_key)?.unwrap_or(default),
        };
        // Written so that NaN fails too.
        if !(value > 0.0 && value.is_finite()) {
            return Err(ModelError::Config(format!(
                "the {layer_type} rope_theta must be a positive number, found {value}"
            )));
        }
        Ok(value)
    };
    Ok((
        theta("full_attention", "global_rope_theta", GLOBAL_ROPE_THETA)?,
        theta("sliding_attention", "local_rope_theta", LOCAL_ROPE_THETA)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ModernBertSettings> {
        let Value::Object(map) = v else { panic!() };
        ModernBertSettings::parse(&map, 4)
    }

    #[test]
    fn defaults_are_hfs() {
        let s = parse(json!({})).unwrap();
        use AttentionKind::{Global, Local};
        assert_eq!(s.layer_kinds, [Global, Local, Local, Global]);
        assert_eq!(
            (s.global_rope_theta, s.local_rope_theta),
            (160_000.0, 10_000.0)
        );
        assert_eq!(s.half_window, 64);
        assert!(!s.attention_bias && !s.mlp_bias && !s.norm_bias && !s.classifier_bias);
        assert_eq!(s.classifier_activation, Activation::Gelu);
        assert_eq!(s.pooling, Pooling::Cls);
    }

    #[test]
    fn hub_and_transformers5_spellings_agree() {
        // answerdotai/ModernBERT-base's config.json spelling ...
        let hub = parse(json!({
            "global_attn_every_n_layers": 2, "global_rope_theta": 50000.0,
            "local_rope_theta": 5000.0, "local_attention": 16, "classifier_pooling": "mean"
        }))
        .unwrap();
        // ... and what transformers 5 writes for the same model.
        let v5 = parse(json!({
            "layer_types": ["full_attention", "sliding_attention", "full_attention", "sliding_attention"],
            "rope_parameters": {
                "full_attention": {"rope_theta": 50000.0, "rope_type": "default"},
                "sliding_attention": {"rope_theta": 5000.0, "rope_type": "default"}
            },
            "local_attention": 16, "classifier_pooling": "mean"
        }))
        .unwrap();
        assert_eq!(hub, v5);
        assert_eq!(hub.half_window, 8);
        assert_eq!(hub.pooling, Pooling::Mean);
        // rope_parameters wins over the legacy keys, as in HF.
        let both = parse(json!({
            "global_rope_theta": 1.0,
            "rope_parameters": {"full_attention": {"rope_theta": 7.0}}
        }))
        .unwrap();
        assert_eq!(
            (both.global_rope_theta, both.local_rope_theta),
            (7.0, 10_000.0)
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        for (v, key) in [
            (json!({"layer_types": ["full_attention"]}), "layer_types"),
            (
                json!({"layer_types": ["full_attention", "x", "full_attention", "full_attention"]}),
                "layer_types",
            ),
            (json!({"classifier_pooling": "max"}), "classifier_pooling"),
            (
                json!({"rope_parameters": {"full_attention": {"rope_type": "yarn"}}}),
                "rope_type",
            ),
            (json!({"rope_scaling": {"type": "linear"}}), "rope_scaling"),
            (json!({"global_rope_theta": -1.0}), "rope_theta"),
            (
                json!({"global_attn_every_n_layers": 0}),
                "global_attn_every_n_layers",
            ),
            (json!({"mlp_bias": "yes"}), "mlp_bias"),
            (json!({"classifier_activation": "tanhh"}), "tanhh"),
            (json!({"embedding_dropout": 1.0}), "embedding_dropout"),
            (
                json!({"initializer_cutoff_factor": 0.0}),
                "initializer_cutoff_factor",
            ),
        ] {
            let err = parse(v).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }
}
