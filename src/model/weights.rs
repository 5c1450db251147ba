//! Reading and writing HF weight files: single or sharded safetensors, name normalisation
//! (with/without the encoder prefix, legacy LayerNorm `gamma`/`beta`), atomic saves.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use super::config::Architecture;
use super::error::{ModelError, Result};

pub(crate) const CONFIG_FILE: &str = "config.json";
pub(crate) const WEIGHTS_FILE: &str = "model.safetensors";
const INDEX_FILE: &str = "model.safetensors.index.json";

/// Every tensor of the checkpoint in `dir`, keyed by its name in the file.
pub(crate) fn read_weights(dir: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let single = dir.join(WEIGHTS_FILE);
    if single.is_file() {
        return read_file(&single, device);
    }
    let index = dir.join(INDEX_FILE);
    if index.is_file() {
        let mut all = HashMap::new();
        for shard in shard_files(&index)? {
            all.extend(read_file(&dir.join(shard), device)?);
        }
        return Ok(all);
    }
    if dir.join("pytorch_model.bin").is_file() || dir.join("pytorch_model.bin.index.json").is_file()
    {
        return Err(ModelError::PickleWeights {
            dir: dir.to_path_buf(),
        });
    }
    Err(ModelError::NoWeights {
        dir: dir.to_path_buf(),
    })
}

fn read_file(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    if !path.is_file() {
        return Err(ModelError::Safetensors {
            path: path.to_path_buf(),
            message: "file not found".into(),
        });
    }
    candle_core::safetensors::load(path, device).map_err(|e| ModelError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Distinct shard file names listed in `weight_map` of a sharded checkpoint index.
fn shard_files(index: &Path) -> Result<BTreeSet<String>> {
    let text = std::fs::read_to_string(index).map_err(|source| ModelError::Io {
        path: index.to_path_buf(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: index.to_path_buf(),
            source,
        })?;
    let map = value
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| ModelError::Safetensors {
            path: index.to_path_buf(),
            message: "no weight_map object".into(),
        })?;
    map.values()
        .map(|v| {
            v.as_str()
                .filter(|f| !f.contains('/') && !f.contains('\\'))
                .map(str::to_string)
                .ok_or_else(|| ModelError::Safetensors {
                    path: index.to_path_buf(),
                    message: format!("bad shard file name {v}"),
                })
        })
        .collect()
}

/// Buffers that checkpoints carry but that are not parameters.
fn is_buffer(name: &str) -> bool {
    name.ends_with("embeddings.position_ids") || name.ends_with("embeddings.token_type_ids")
}

/// The parameter name a checkpoint tensor stands for, or `None` for a known buffer.
pub(crate) fn canonical_name(file_name: &str, arch: Architecture) -> Option<String> {
    if is_buffer(file_name) {
        return None;
    }
    let mut name = file_name.to_string();
    // Old TF-converted checkpoints call LayerNorm parameters gamma/beta.
    if let Some(stem) = name.strip_suffix(".gamma") {
        name = format!("{stem}.weight");
    } else if let Some(stem) = name.strip_suffix(".beta") {
        name = format!("{stem}.bias");
    }
    let prefix = arch.prefix();
    let is_head_root = name.starts_with("classifier.") || name.starts_with("pre_classifier.");
    // ModernBERT's head (and the MLM checkpoints' `head.` + `decoder.`) sits beside `model.`.
    let is_head_root = is_head_root
        || (arch == Architecture::ModernBert
            && (name.starts_with("head.") || name.starts_with("decoder.")));
    // DeBERTa's ContextPooler sits beside `deberta.`, not inside it.
    let is_head_root =
        is_head_root || (arch == Architecture::DebertaV2 && name.starts_with("pooler."));
    if name.starts_with(prefix) || is_head_root {
        Some(name)
    } else {
        Some(format!("{prefix}{name}"))
    }
}

/// Checkpoint tensors keyed by the parameter name they map to, with the original file name.
pub(crate) fn by_canonical_name(
    tensors: HashMap<String, Tensor>,
    arch: Architecture,
) -> Result<HashMap<String, (String, Tensor)>> {
    let mut out: HashMap<String, (String, Tensor)> = HashMap::new();
    // Sorted so that the duplicate error is deterministic.
    let mut names: Vec<_> = tensors.into_iter().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (file_name, tensor) in names {
        let Some(canonical) = canonical_name(&file_name, arch) else {
            continue;
        };
        if let Some((first, _)) = out.get(&canonical) {
            return Err(ModelError::DuplicateTensor {
                name: canonical,
                first: first.clone(),
                second: file_name,
            });
        }
        out.insert(canonical, (file_name, tensor));
    }
    Ok(out)
}

/// Checks shape and converts a checkpoint tensor to an f32 parameter value.
pub(crate) fn checked_f32(name: &str, tensor: &Tensor, expected: &[usize]) -> Result<Tensor> {
    if tensor.dims() != expected {
        return Err(ModelError::ShapeMismatch {
            name: name.to_string(),
            expected: expected.to_vec(),
            found: tensor.dims().to_vec(),
        });
    }
    if !tensor.dtype().is_float() {
        return Err(ModelError::Input(format!(
            "tensor {name} has dtype {:?}, expected a floating-point type",
            tensor.dtype()
        )));
    }
    Ok(tensor.to_dtype(DType::F32)?)
}

/// Writes `bytes` next to `path` under a temporary name, then renames it into place, so a
/// reader never sees a half-written file.
pub(crate) fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Saves named tensors as f32 safetensors with `format: pt` metadata (transformers checks it).
pub(crate) fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| {
            Ok((
                n.clone(),
                t.to_dtype(DType::F32)?
                    .to_device(&Device::Cpu)?
                    .contiguous()?,
            ))
        })
        .collect::<Result<_>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_atomically(path, |tmp| {
        safetensors::serialize_to_file(
            cpu.iter().map(|(n, t)| (n.as_str(), t)),
            Some(metadata),
            tmp,
        )
        .map_err(|e| ModelError::Safetensors {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    })
}

pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomically(path, |tmp| {
        std::fs::write(tmp, text + "\n").map_err(|source| ModelError::Io {
            path: tmp.to_path_buf(),
            source,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        let bert = Architecture::Bert;
        assert_eq!(
            canonical_name("embeddings.LayerNorm.gamma", bert).unwrap(),
            "bert.embeddings.LayerNorm.weight"
        );
        assert_eq!(
            canonical_name("bert.encoder.layer.0.output.LayerNorm.beta", bert).unwrap(),
            "bert.encoder.layer.0.output.LayerNorm.bias"
        );
        assert_eq!(
            canonical_name("classifier.weight", bert).unwrap(),
            "classifier.weight"
        );
        assert_eq!(canonical_name("embeddings.position_ids", bert), None);
        assert_eq!(
            canonical_name(
                "encoder.layer.0.attention.self.query.weight",
                Architecture::Roberta
            )
            .unwrap(),
            "roberta.encoder.layer.0.attention.self.query.weight"
        );
    }
}
