//! The list of trainable tensors an architecture expects, and HF-style initialisation.

use std::collections::HashMap;

use candle_core::{Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::{ModelError, Result};
use super::lora::LoraAdapter;

/// How transformers' `_init_weights` fills a tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Init {
    /// normal(0, initializer_range)
    Normal,
    /// normal(0, initializer_range) with the padding row zeroed (embeddings with `padding_idx`)
    NormalZeroRow(u32),
    Zeros,
    Ones,
    /// normal(0, std) redrawn outside ±cutoff·std (ModernBERT's `trunc_normal_`, whose std
    /// differs per module)
    TruncNormal {
        std: f64,
        cutoff: f64,
    },
    /// uniform(-bound, bound): torch's `kaiming_uniform_(a=sqrt(5))` with
    /// `bound = 1/sqrt(fan_in)`, how peft draws `lora_A`
    Uniform {
        bound: f64,
    },
}

/// One trainable tensor: its HF name in a `*ForSequenceClassification` checkpoint, its shape,
/// its initialiser, and whether it belongs to the task head (which may be absent from a
/// pretrained checkpoint and is then freshly initialised).
#[derive(Debug, Clone)]
pub(crate) struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    pub head: bool,
    /// The weight of a linear layer (`nn.Linear`), which LoRA can target.
    pub linear: bool,
}

/// Collects specs in the order modules are declared, which fixes `Classifier::params` order.
pub(crate) struct SpecList {
    pub specs: Vec<ParamSpec>,
    head: bool,
}

impl SpecList {
    pub fn new() -> Self {
        Self {
            specs: Vec::new(),
            head: false,
        }
    }

    /// Following specs belong to the task head.
    pub fn start_head(&mut self) {
        self.head = true;
    }

    fn push(&mut self, name: String, shape: Vec<usize>, init: Init) {
        let head = self.head;
        self.specs.push(ParamSpec {
            name,
            shape,
            init,
            head,
            linear: false,
        });
    }

    /// The last spec pushed is a linear layer's weight.
    fn mark_linear(&mut self) {
        if let Some(spec) = self.specs.last_mut() {
            spec.linear = true;
        }
    }

    pub fn linear(&mut self, name: &str, inp: usize, out: usize) {
        self.push(format!("{name}.weight"), vec![out, inp], Init::Normal);
        self.mark_linear();
        self.push(format!("{name}.bias"), vec![out], Init::Zeros);
    }

    pub fn layer_norm(&mut self, name: &str, dim: usize) {
        self.push(format!("{name}.weight"), vec![dim], Init::Ones);
        self.push(format!("{name}.bias"), vec![dim], Init::Zeros);
    }

    /// A linear layer whose bias exists only when `has_bias` (`nn.Linear(.., bias=...)`),
    /// its weight drawn by `weight_init`.
    pub fn linear_with_bias(
        &mut self,
        name: &str,
        inp: usize,
        out: usize,
        has_bias: bool,
        weight_init: Init,
    ) {
        self.push(format!("{name}.weight"), vec![out, inp], weight_init);
        self.mark_linear();
        if has_bias {
            self.push(format!("{name}.bias"), vec![out], Init::Zeros);
        }
    }

    /// A LayerNorm whose bias exists only when `has_bias` (`nn.LayerNorm(.., bias=...)`).
    pub fn layer_norm_with_bias(&mut self, name: &str, dim: usize, has_bias: bool) {
        self.push(format!("{name}.weight"), vec![dim], Init::Ones);
        if has_bias {
            self.push(format!("{name}.bias"), vec![dim], Init::Zeros);
        }
    }

    /// An embedding table drawn by `init`, whatever its padding index.
    pub fn embedding_with_init(&mut self, name: &str, rows: usize, dim: usize, init: Init) {
        self.push(format!("{name}.weight"), vec![rows, dim], init);
    }

    pub fn embedding(&mut self, name: &str, rows: usize, dim: usize, padding_idx: Option<u32>) {
        let init = match padding_idx {
            Some(p) => Init::NormalZeroRow(p),
            None => Init::Normal,
        };
        self.push(format!("{name}.weight"), vec![rows, dim], init);
    }
}

/// Draws initial values; one RNG stream walks the specs in order, so a seed fixes them all.
pub(crate) struct Initializer {
    rng: ChaCha8Rng,
    std: f64,
}

impl Initializer {
    pub fn new(seed: u64, std: f64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            std,
        }
    }

    pub fn tensor(&mut self, spec: &ParamSpec, device: &Device) -> Result<Tensor> {
        let n: usize = spec.shape.iter().product();
        let values: Vec<f32> = match spec.init {
            Init::Zeros => vec![0.0; n],
            Init::Uniform { bound } => (0..n)
                .map(|_| ((2.0 * self.rng.random::<f64>() - 1.0) * bound) as f32)
                .collect(),
            Init::Ones => vec![1.0; n],
            Init::TruncNormal { std, cutoff } => (0..n)
                .map(|_| {
                    loop {
                        let z = self.standard_normal();
                        if z.abs() <= cutoff {
                            break (z * std) as f32;
                        }
                    }
                })
                .collect(),
            Init::Normal | Init::NormalZeroRow(_) => {
                let mut v: Vec<f32> = (0..n).map(|_| self.normal()).collect();
                if let Init::NormalZeroRow(row) = spec.init {
                    let width = spec.shape.get(1).copied().unwrap_or(1);
                    let start = row as usize * width;
                    if let Some(r) = v.get_mut(start..start + width) {
                        r.fill(0.0);
                    }
                }
                v
            }
        };
        Ok(Tensor::from_vec(values, spec.shape.as_slice(), device)?)
    }

    /// Box-Muller; `1 - u` keeps the log argument in (0, 1].
    fn normal(&mut self) -> f32 {
        (self.standard_normal() * self.std) as f32
    }

    fn standard_normal(&mut self) -> f64 {
        let u1: f64 = 1.0 - self.rng.random::<f64>();
        let u2: f64 = self.rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Name → tensor view of the variables, used to wire up modules; under LoRA also the frozen
/// base tensors (plain tensors, outside autograd) and the adapters by module name.
pub(crate) struct ParamTable {
    tensors: HashMap<String, Tensor>,
    adapters: HashMap<String, LoraAdapter>,
}

impl ParamTable {
    /// Trainable `params`, `frozen` tensors and LoRA `adapters` keyed by module name.
    pub fn with_frozen(
        params: &[(String, Var)],
        frozen: &[(String, Tensor)],
        adapters: HashMap<String, LoraAdapter>,
    ) -> Self {
        let tensors = params
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .chain(frozen.iter().cloned())
            .collect();
        Self { tensors, adapters }
    }

    /// The same table with every tensor and adapter detached from autograd (they share the
    /// variables' storage, so they see every update): for inference.
    pub fn detached(&self) -> Self {
        Self {
            tensors: self
                .tensors
                .iter()
                .map(|(name, t)| (name.clone(), t.detach()))
                .collect(),
            adapters: self
                .adapters
                .iter()
                .map(|(name, a)| (name.clone(), a.detached()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Result<Tensor> {
        self.tensors
            .get(name)
            .cloned()
            .ok_or_else(|| ModelError::Config(format!("internal: no parameter named {name}")))
    }

    /// The LoRA adapter on the linear layer `module`, if it has one.
    pub fn adapter(&self, module: &str) -> Option<LoraAdapter> {
        self.adapters.get(module).cloned()
    }
}
