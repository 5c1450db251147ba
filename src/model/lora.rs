//! LoRA as peft's `LoraConfig` builds it: on each target linear layer `W x + s * B A dropout(x)`
//! with `s = alpha / r` (rsLoRA: `alpha / sqrt(r)`), `A` drawn like peft's
//! `kaiming_uniform_(a=sqrt(5))` and `B` zero, so training starts from the base model. Only
//! the adapters and `modules_to_save` are `Var`s; the base stays plain tensors whose linear
//! layers pass gradients to their inputs only (`frozen_linear`), so backward computes no
//! weight gradient for them and AdamW keeps no state for them.
//!
//! Names follow peft: a module is targeted when its name equals a target or ends with
//! `.<target>`; a parameter is saved when a module above it ends with a `modules_to_save`
//! entry (peft's plain `endswith`, so `classifier` also saves DistilBERT's `pre_classifier`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CudaStorage, DType, Layout, MetalStorage, Shape, Tensor, Var};

use super::classifier::{Classifier, param_specs};
use super::config::{Architecture, ModelConfig};
use super::dropout::Dropout;
use super::error::{ModelError, Result};
use super::params::{Init, Initializer, ParamSpec};

/// The adapter settings, with peft's names (`LoraConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// `r`: the rank of `B A`.
    pub r: usize,
    pub lora_alpha: f64,
    /// Dropout on the adapter's input, in `[0, 1)`.
    pub lora_dropout: f64,
    /// Module names (peft's matching); empty = the architecture's default.
    pub target_modules: Vec<String>,
    /// Scale `alpha / sqrt(r)` instead of `alpha / r`.
    pub use_rslora: bool,
    /// Modules trained in full and saved with the adapter (peft's sequence and token
    /// classification add `classifier` and `score`).
    pub modules_to_save: Vec<String>,
    /// The base model's Hub id or folder, written into `adapter_config.json`.
    pub base_model_name_or_path: Option<String>,
}

impl Default for LoraConfig {
    /// peft's `LoraConfig` defaults (r 8, alpha 8, no dropout) with the classification head
    /// saved, as `task_type="SEQ_CLS"` / `"TOKEN_CLS"` does.
    fn default() -> Self {
        Self {
            r: 8,
            lora_alpha: 8.0,
            lora_dropout: 0.0,
            target_modules: Vec::new(),
            use_rslora: false,
            modules_to_save: default_modules_to_save(),
            base_model_name_or_path: None,
        }
    }
}

/// What peft's `PeftModelForSequenceClassification` / `...TokenClassification` save.
pub(crate) fn default_modules_to_save() -> Vec<String> {
    vec!["classifier".into(), "score".into()]
}

/// peft's default targets per architecture (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`
/// where it has one; DistilBERT's and ModernBERT's attention projections otherwise).
pub fn default_target_modules(arch: Architecture) -> &'static [&'static str] {
    match arch {
        Architecture::Bert | Architecture::Roberta | Architecture::XlmRoberta => {
            &["query", "value"]
        }
        Architecture::DistilBert => &["q_lin", "v_lin"],
        Architecture::ModernBert => &["Wqkv"],
        Architecture::DebertaV2 => &["query_proj", "value_proj"],
    }
}

impl LoraConfig {
    /// `alpha / r`, or `alpha / sqrt(r)` with rsLoRA.
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// The targets as given, or the architecture's default when none are.
    pub fn targets_for(&self, arch: Architecture) -> Vec<String> {
        if self.target_modules.is_empty() {
            default_target_modules(arch)
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            self.target_modules.clone()
        }
    }

    fn check(&self) -> Result<()> {
        if self.r == 0 {
            return Err(ModelError::Lora("r must be at least 1".into()));
        }
        if !(self.lora_alpha.is_finite() && self.lora_alpha > 0.0) {
            return Err(ModelError::Lora(format!(
                "lora_alpha must be positive, got {}",
                self.lora_alpha
            )));
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(ModelError::Lora(format!(
                "lora_dropout must be in [0, 1), got {}",
                self.lora_dropout
            )));
        }
        Ok(())
    }
}

/// peft's target rule for a list: the module's name is a target or ends with `.<target>`.
pub(crate) fn is_target(module: &str, targets: &[String]) -> bool {
    targets
        .iter()
        .any(|t| module == t || module.ends_with(&format!(".{t}")))
}

/// peft never puts an adapter on or inside a module to save.
fn inside_saved_module(module: &str, modules_to_save: &[String]) -> bool {
    modules_to_save.iter().any(|m| {
        module == m
            || module.starts_with(&format!("{m}."))
            || module.ends_with(&format!(".{m}"))
            || module.contains(&format!(".{m}."))
    })
}

/// peft's `modules_to_save` rule: some module above the parameter ends with an entry.
pub fn is_saved(param: &str, modules_to_save: &[String]) -> bool {
    let parts: Vec<&str> = param.split('.').collect();
    (1..parts.len()).any(|n| {
        let module = parts[..n].join(".");
        modules_to_save.iter().any(|m| module.ends_with(m.as_str()))
    })
}

fn module_of(weight: &str) -> &str {
    weight.strip_suffix(".weight").unwrap_or(weight)
}

/// The adapter parameter names of a target module, as peft saves them (less the
/// `base_model.model.` prefix and the adapter name).
pub(crate) fn adapter_names(module: &str) -> (String, String) {
    (
        format!("{module}.lora_A.weight"),
        format!("{module}.lora_B.weight"),
    )
}

/// The last name part of every linear layer, for messages and the form.
fn short_names(modules: &[String]) -> String {
    distinct_short_names(modules).join(", ")
}

fn distinct_short_names(modules: &[String]) -> Vec<String> {
    let names: BTreeSet<&str> = modules
        .iter()
        .map(|m| m.rsplit('.').next().unwrap_or(m))
        .collect();
    names.into_iter().map(str::to_string).collect()
}

/// The names `lora_target_modules` can take for a model with `config`: the last name part of
/// each linear layer of its encoder (the head is `modules_to_save`'s), for the Train form.
pub fn target_module_names(config: &ModelConfig) -> Result<Vec<String>> {
    let modules: Vec<String> = param_specs(config, 2)?
        .iter()
        .filter(|s| s.linear)
        .map(|s| module_of(&s.name).to_string())
        .filter(|m| !is_saved(&format!("{m}.weight"), &default_modules_to_save()))
        .collect();
    Ok(distinct_short_names(&modules))
}

/// The LoRA part of a `Classifier`.
#[derive(Debug, Clone)]
pub(crate) struct LoraState {
    pub config: LoraConfig,
    /// Full module names carrying an adapter, in state-dict order.
    pub targets: Vec<String>,
    dropout: LoraDropout,
}

impl LoraState {
    /// Each target's adapter, wired to its `A` and `B` among `params`.
    pub fn adapters(&self, params: &[(String, Var)]) -> Result<HashMap<String, LoraAdapter>> {
        let by_name: HashMap<&str, &Var> = params.iter().map(|(n, v)| (n.as_str(), v)).collect();
        self.targets
            .iter()
            .map(|module| {
                let (a, b) = adapter_names(module);
                let get = |name: &str| {
                    by_name
                        .get(name)
                        .map(|v| v.as_tensor().clone())
                        .ok_or_else(|| ModelError::Lora(format!("internal: no parameter {name}")))
                };
                Ok((
                    module.clone(),
                    LoraAdapter {
                        a: get(&a)?,
                        b: get(&b)?,
                        scale: self.config.scale(),
                        dropout_p: self.config.lora_dropout,
                        dropout: self.dropout.clone(),
                    },
                ))
            })
            .collect()
    }
}

/// The adapters' dropout stream for the forward pass under way. `Linear::forward` takes no
/// `Dropout`, so `Classifier::forward` lends one here for its duration
/// ([`LoraDropoutScope`]), forked from the caller's: masks stay a function of
/// `(seed, step)`. Clones of a model share the cell; the stream belongs to the thread that
/// lent it, so an evaluation on another thread meanwhile draws no masks from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoraDropout(Arc<Mutex<Option<(ThreadId, Dropout)>>>);

impl LoraDropout {
    fn lock(&self) -> MutexGuard<'_, Option<(ThreadId, Dropout)>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn apply(&self, xs: &Tensor, p: f64) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(xs.clone());
        }
        match self.lock().as_mut() {
            Some((owner, dropout)) if *owner == std::thread::current().id() => dropout.apply(xs, p),
            _ => Ok(xs.clone()),
        }
    }
}

/// Lends the adapters a dropout stream while it lives (training with `lora_dropout > 0`).
pub(crate) struct LoraDropoutScope(Option<LoraDropout>);

impl LoraDropoutScope {
    pub fn enter(lora: Option<&LoraState>, dropout: &mut Dropout) -> Self {
        match lora {
            Some(state) if state.config.lora_dropout > 0.0 && dropout.is_on() => {
                *state.dropout.lock() = Some((std::thread::current().id(), dropout.fork()));
                Self(Some(state.dropout.clone()))
            }
            _ => Self(None),
        }
    }
}

impl Drop for LoraDropoutScope {
    fn drop(&mut self) {
        if let Some(cell) = &self.0 {
            *cell.lock() = None;
        }
    }
}

/// `s * B A dropout(x)` on `[rows, in]` inputs, in the input's dtype (bf16 casts the f32
/// masters per call, like the base layers).
#[derive(Debug, Clone)]
pub(crate) struct LoraAdapter {
    a: Tensor,
    b: Tensor,
    scale: f64,
    dropout_p: f64,
    dropout: LoraDropout,
}

impl LoraAdapter {
    /// This adapter on tensors detached from autograd (sharing their storage).
    pub fn detached(&self) -> Self {
        Self {
            a: self.a.detach(),
            b: self.b.detach(),
            ..self.clone()
        }
    }

    pub fn forward(&self, flat: &Tensor) -> Result<Tensor> {
        let dtype = flat.dtype();
        let xs = self.dropout.apply(flat, self.dropout_p)?;
        let down = xs.matmul(&self.a.to_dtype(dtype)?.t()?)?;
        let up = down.matmul(&self.b.to_dtype(dtype)?.t()?)?;
        Ok((up * self.scale)?)
    }
}

/// `x W^T + b` for a frozen layer: the value is computed outside autograd and handed on by
/// an op whose backward gives only the input's gradient (`grad W`). candle's matmul backward
/// would also compute (and keep until the backward ends) a weight-sized gradient for `W`
/// even when `W` is a plain tensor; this skips it.
pub(crate) fn frozen_linear(
    flat: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    let dtype = flat.dtype();
    let weight = weight.to_dtype(dtype)?;
    let mut value = flat.detach().matmul(&weight.t()?)?;
    if let Some(bias) = bias {
        value = if bias.dtype() == dtype {
            value.broadcast_add(bias)?
        } else {
            // As in `Linear`: the bias is added in f32.
            value
                .to_dtype(DType::F32)?
                .broadcast_add(bias)?
                .to_dtype(dtype)?
        };
    }
    if !flat.track_op() {
        return Ok(value);
    }
    let value = value.contiguous()?;
    Ok(flat.apply_op2(&value, InputGradient { weight })?)
}

/// Returns its second argument (the precomputed value); backward: `grad W` for the first.
struct InputGradient {
    weight: Tensor,
}

fn fresh_copy<S: BackendStorage>(storage: &S, layout: &Layout) -> candle_core::Result<(S, Shape)> {
    if layout.start_offset() != 0 || !layout.is_contiguous() {
        candle_core::bail!("frozen linear: the value must be a fresh contiguous tensor");
    }
    Ok((storage.try_clone(layout)?, layout.shape().clone()))
}

impl candle_core::CustomOp2 for InputGradient {
    fn name(&self) -> &'static str {
        "wick-frozen-linear"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        value: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        fresh_copy(value, layout)
    }

    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        value: &CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        fresh_copy(value, layout)
    }

    fn metal_fwd(
        &self,
        _: &MetalStorage,
        _: &Layout,
        value: &MetalStorage,
        layout: &Layout,
    ) -> candle_core::Result<(MetalStorage, Shape)> {
        fresh_copy(value, layout)
    }

    fn bwd(
        &self,
        _input: &Tensor,
        _value: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.matmul(&self.weight)?), None))
    }
}

impl Classifier {
    /// The linear layers' module names, in state-dict order.
    pub fn linear_modules(&self) -> Result<Vec<String>> {
        Ok(self
            .specs()?
            .iter()
            .filter(|s| s.linear)
            .map(|s| module_of(&s.name).to_string())
            .collect())
    }

    /// This model with LoRA adapters on `config`'s targets: the adapters (`A` drawn from
    /// `seed`, `B` zero) and the parameters of `modules_to_save` train, the rest is frozen.
    /// Compute dtype and class weights carry over.
    pub fn with_lora(self, config: &LoraConfig, seed: u64) -> Result<Self> {
        config.check()?;
        if self.lora().is_some() {
            return Err(ModelError::Lora("this model already has adapters".into()));
        }
        let arch = self.config().architecture;
        let targets_given = config.targets_for(arch);
        let specs = self.specs()?;
        let linear = self.linear_modules()?;
        let candidates: Vec<&String> = linear
            .iter()
            .filter(|m| !inside_saved_module(m, &config.modules_to_save))
            .collect();
        for target in &targets_given {
            let one = std::slice::from_ref(target);
            if !candidates.iter().any(|m| is_target(m, one)) {
                return Err(ModelError::Lora(format!(
                    "lora_target_modules: {target:?} names no linear layer of this {arch:?} model \
                     (outside modules_to_save); its linear layers are {}",
                    short_names(&linear)
                )));
            }
        }
        let targets: Vec<String> = candidates
            .into_iter()
            .filter(|m| is_target(m, &targets_given))
            .cloned()
            .collect();
        // peft's head names (`score` is a decoder's) may match nothing; a name given on
        // purpose must match something.
        let defaults = default_modules_to_save();
        for module in &config.modules_to_save {
            let one = std::slice::from_ref(module);
            if !defaults.contains(module) && !specs.iter().any(|s| is_saved(&s.name, one)) {
                return Err(ModelError::Lora(format!(
                    "modules_to_save: {module:?} names no module of this {arch:?} model"
                )));
            }
        }

        let values: HashMap<String, Var> = self.params().iter().cloned().collect();
        let mut init = Initializer::new(seed, self.config().initializer_range);
        let device = self.device().clone();
        let mut trainable = Vec::new();
        let mut frozen = Vec::new();
        for spec in &specs {
            let var = values
                .get(&spec.name)
                .ok_or_else(|| ModelError::Lora(format!("internal: no parameter {}", spec.name)))?;
            if is_saved(&spec.name, &config.modules_to_save) {
                // A copy: training it must not move the model this one was made from.
                let own = Var::from_tensor(&var.as_tensor().copy()?)?;
                trainable.push((spec.name.clone(), own));
            } else {
                frozen.push((spec.name.clone(), var.as_tensor().detach()));
            }
            let module = module_of(&spec.name);
            if spec.linear && targets.iter().any(|t| t == module) {
                let (out, inp) = (spec.shape[0], spec.shape[1]);
                let (a, b) = adapter_names(module);
                let a_spec = adapter_spec(
                    a,
                    vec![config.r, inp],
                    Init::Uniform {
                        bound: 1.0 / (inp as f64).sqrt(),
                    },
                );
                let b_spec = adapter_spec(b, vec![out, config.r], Init::Zeros);
                for spec in [a_spec, b_spec] {
                    let value = init.tensor(&spec, &device)?;
                    trainable.push((spec.name, Var::from_tensor(&value)?));
                }
            }
        }
        let state = LoraState {
            config: LoraConfig {
                target_modules: targets_given,
                ..config.clone()
            },
            targets,
            dropout: LoraDropout::default(),
        };
        let compute = self.compute_dtype();
        let class_weights = self.class_weights()?;
        let mut model = Self::assemble_parts(
            self.config().clone(),
            self.labels().to_vec(),
            trainable,
            frozen,
            Some(state),
            &device,
        )?;
        model.set_compute_dtype(compute)?;
        model.set_class_weights(class_weights.as_deref())?;
        Ok(model)
    }

    /// The plain model this one merges into (peft's `merge_and_unload`): each target's
    /// weight becomes `W + s * B A`, every parameter trainable again. Without LoRA, a copy.
    pub fn merged(&self) -> Result<Self> {
        let mut values: HashMap<&str, Tensor> = self
            .params()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_tensor().clone()))
            .chain(
                self.frozen_params()
                    .iter()
                    .map(|(n, t)| (n.as_str(), t.clone())),
            )
            .collect();
        let scale = self.lora().map_or(1.0, LoraConfig::scale);
        let mut params = Vec::new();
        for spec in self.specs()? {
            let mut value = values
                .remove(spec.name.as_str())
                .ok_or_else(|| ModelError::Lora(format!("internal: no parameter {}", spec.name)))?;
            let module = module_of(&spec.name);
            if spec.linear && self.lora_targets().iter().any(|t| t == module) {
                let (a, b) = adapter_names(module);
                let (a, b) = (&values[a.as_str()], &values[b.as_str()]);
                value = (value + (b.matmul(a)? * scale)?)?;
            }
            // A copy, so training the merged model leaves this one alone.
            params.push((spec.name, Var::from_tensor(&value.copy()?)?));
        }
        let mut model = Self::assemble_parts(
            self.config().clone(),
            self.labels().to_vec(),
            params,
            Vec::new(),
            None,
            self.device(),
        )?;
        model.set_compute_dtype(self.compute_dtype())?;
        model.set_class_weights(self.class_weights()?.as_deref())?;
        Ok(model)
    }
}

fn adapter_spec(name: String, shape: Vec<usize>, init: Init) -> ParamSpec {
    ParamSpec {
        name,
        shape,
        init,
        head: false,
        linear: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn targets_match_whole_name_parts_as_peft_does() {
        let targets = strings(&["query", "value"]);
        assert!(is_target(
            "bert.encoder.layer.0.attention.self.query",
            &targets
        ));
        assert!(is_target("query", &targets));
        assert!(!is_target(
            "bert.encoder.layer.0.attention.self.query_proj",
            &targets
        ));
        assert!(!is_target(
            "bert.encoder.layer.0.attention.self.key",
            &targets
        ));
        // A dotted target matches the end of the name.
        assert!(is_target(
            "bert.encoder.layer.0.attention.output.dense",
            &strings(&["output.dense"])
        ));
    }

    #[test]
    fn saved_modules_match_any_module_above_by_plain_suffix() {
        let save = default_modules_to_save();
        assert!(is_saved("classifier.weight", &save));
        assert!(is_saved("classifier.dense.bias", &save));
        // peft's `endswith` takes DistilBERT's pre_classifier too.
        assert!(is_saved("pre_classifier.weight", &save));
        assert!(!is_saved("bert.pooler.dense.weight", &save));
        assert!(!is_saved("pooler.dense.weight", &save));
        assert!(inside_saved_module("classifier.dense", &save));
        assert!(!inside_saved_module(
            "bert.encoder.layer.0.output.dense",
            &save
        ));
    }

    #[test]
    fn the_form_lists_each_architectures_linear_layers_outside_the_head() {
        let distilbert = ModelConfig::from_json(serde_json::json!({
            "model_type": "distilbert", "vocab_size": 100, "dim": 8, "n_layers": 2,
            "n_heads": 2, "hidden_dim": 16, "max_position_embeddings": 32
        }))
        .unwrap();
        // pre_classifier and classifier are the head's (modules_to_save), not targets.
        assert_eq!(
            target_module_names(&distilbert).unwrap(),
            ["k_lin", "lin1", "lin2", "out_lin", "q_lin", "v_lin"]
        );
        let modernbert = ModelConfig::from_json(serde_json::json!({
            "model_type": "modernbert", "vocab_size": 100, "hidden_size": 8,
            "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2,
            "pad_token_id": 3
        }))
        .unwrap();
        let names = target_module_names(&modernbert).unwrap();
        for name in ["Wqkv", "Wo", "Wi"] {
            assert!(names.contains(&name.to_string()), "{names:?}");
        }
        for default in default_target_modules(Architecture::ModernBert) {
            assert!(names.contains(&default.to_string()));
        }
    }

    #[test]
    fn scale_is_alpha_over_r_or_its_root() {
        let mut c = LoraConfig {
            r: 4,
            lora_alpha: 8.0,
            ..LoraConfig::default()
        };
        assert_eq!(c.scale(), 2.0);
        c.use_rslora = true;
        assert_eq!(c.scale(), 4.0);
        c.r = 0;
        assert!(c.check().is_err());
    }
}
