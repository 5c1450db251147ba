//! `Classifier`: an encoder plus the head its task needs (`*ForSequenceClassification` for
//! single-label, multi-label and regression, `*ForTokenClassification` for tokens), with
//! HF-compatible parameter names, loading and saving.

use std::collections::HashSet;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};

use super::bert::{self, BertEncoder, BertHead, check_token_types};
use super::config::{Architecture, ModelConfig};
use super::deberta::{self, DebertaEncoder, DebertaHead};
use super::distilbert::{self, DistilBertEncoder, DistilBertHead};
use super::dropout::Dropout;
use super::error::{ModelError, Result};
use super::layers::{Rows, additive_mask};
use super::lora::{LoraConfig, LoraDropoutScope, LoraState};
use super::loss::task_loss;
use super::modernbert::{self, ModernBertEncoder, ModernBertHead};
use super::packing::Packing;
use super::params::{Initializer, ParamSpec, ParamTable, SpecList};
use super::roberta::{self, RobertaHead};
use super::token_head::{self, TokenHead};
use super::weights::{self, CONFIG_FILE, WEIGHTS_FILE};
use crate::task::Task;

/// What `Classifier::load` did with the checkpoint's tensors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Head parameters absent from the checkpoint, initialised like HF.
    pub newly_initialized: Vec<String>,
    /// Checkpoint tensors (file names) that the model does not use, sorted.
    pub unused: Vec<String>,
}

/// Encoder outputs, as `BertModel` returns them.
#[derive(Debug, Clone)]
pub struct EncoderOutput {
    /// `[batch, seq, hidden]`
    pub last_hidden_state: Tensor,
    /// `tanh(dense(h[CLS]))` `[batch, hidden]`; only BERT has a pooler.
    pub pooler_output: Option<Tensor>,
}

#[derive(Debug, Clone)]
enum Encoder {
    /// BERT, RoBERTa and XLM-R share one encoder (RoBERTa's positions skip padding).
    Bert(BertEncoder),
    DistilBert(DistilBertEncoder),
    ModernBert(ModernBertEncoder),
    DebertaV2(DebertaEncoder),
}

#[derive(Debug, Clone)]
enum Head {
    Bert(BertHead),
    Roberta(RobertaHead),
    DistilBert(DistilBertHead),
    /// BERT, RoBERTa and DistilBERT's token classifier: dropout + linear per token.
    Tokens(TokenHead),
    /// ModernBERT's head (dense, activation, norm, dropout, classifier) serves both tasks:
    /// pooled for a sequence, on every token for token classification.
    ModernBert(ModernBertHead),
    /// DeBERTa's ContextPooler + classifier (sequence tasks).
    DebertaV2(DebertaHead),
}

/// An encoder with a task head (`config().task`). Cloning is shallow: clones share the
/// parameter variables, so an optimizer step on one is seen by all.
#[derive(Debug, Clone)]
pub struct Classifier {
    config: ModelConfig,
    labels: Vec<String>,
    params: Vec<(String, Var)>,
    encoder: Encoder,
    head: Head,
    device: Device,
    /// The dtype of matmuls and activations: F32, or BF16 for mixed precision.
    compute_dtype: DType,
    /// Cross-entropy class weights (`class_weights`), f32 `[num_labels]` on the device.
    class_weights: Option<Tensor>,
    /// Under LoRA: the base tensors that are not trained, kept outside autograd.
    frozen: Vec<(String, Tensor)>,
    /// Under LoRA: its settings, target modules and the adapters' dropout.
    lora: Option<LoraState>,
    /// Compute every row of the last layer even when the head reads only the first token
    /// (`set_full_last_layer`; parity tests and A/B runs).
    full_last_layer: bool,
    /// Run first-token heads' encoders on padded batches as they are (`set_unpadded`).
    keep_padding: bool,
}

/// Seed for freshly initialised head weights when the caller gives none.
pub const DEFAULT_HEAD_SEED: u64 = 42;

pub(super) fn param_specs(config: &ModelConfig, num_labels: usize) -> Result<Vec<ParamSpec>> {
    let mut list = SpecList::new();
    match config.architecture {
        Architecture::Bert | Architecture::Roberta | Architecture::XlmRoberta => {
            bert::encoder_specs(config, &mut list)
        }
        Architecture::DistilBert => distilbert::encoder_specs(config, &mut list),
        Architecture::ModernBert => modernbert::encoder_specs(config, &mut list)?,
        Architecture::DebertaV2 => deberta::encoder_specs(config, &mut list)?,
    }
    match (config.task.per_token(), config.architecture) {
        (_, Architecture::ModernBert) => modernbert::head_specs(config, num_labels, &mut list)?,
        (true, _) => token_head::head_specs(config, num_labels, &mut list),
        (false, Architecture::Bert) => bert::head_specs(config, num_labels, &mut list),
        (false, Architecture::Roberta | Architecture::XlmRoberta) => {
            roberta::head_specs(config, num_labels, &mut list)
        }
        (false, Architecture::DistilBert) => distilbert::head_specs(config, num_labels, &mut list),
        (false, Architecture::DebertaV2) => deberta::head_specs(config, num_labels, &mut list),
    }
    Ok(list.specs)
}

/// Regression has one output; the other tasks one per label.
fn check_labels_for(task: Task, labels: &[String]) -> Result<()> {
    if task == Task::Regression && labels.len() != 1 {
        return Err(ModelError::Labels(format!(
            "a regression head has one output, but {} labels were given",
            labels.len()
        )));
    }
    check_labels(labels)
}

fn check_labels(labels: &[String]) -> Result<()> {
    if labels.is_empty() {
        return Err(ModelError::Labels(
            "a classifier needs at least one label".into(),
        ));
    }
    let mut seen = HashSet::new();
    for label in labels {
        if !seen.insert(label) {
            return Err(ModelError::Labels(format!("label {label:?} appears twice")));
        }
    }
    Ok(())
}

/// A saved output layer sized for another number of labels is a label problem (string
/// labels, a stray value in the label column, another dataset), so say it in labels rather
/// than as a tensor shape.
fn check_head_size(
    dir: &Path,
    config: &ModelConfig,
    labels: &[String],
    labels_from: &'static str,
    spec: &ParamSpec,
    saved: &Tensor,
) -> Result<()> {
    let dims = saved.dims();
    let is_output_layer = spec.shape.first() == Some(&labels.len());
    let other_label_count = dims.len() == spec.shape.len()
        && dims.first() != spec.shape.first()
        && dims[1..] == spec.shape[1..];
    if !(is_output_layer && other_label_count) {
        return Ok(());
    }
    let head_labels = dims[0];
    let head_names = (config.id2label.len() == head_labels).then(|| config.id2label.clone());
    Err(ModelError::HeadLabelCount {
        dir: dir.to_path_buf(),
        labels_from,
        labels: labels.len(),
        names: name_list(labels),
        head_labels,
        head_names: head_names
            .map(|n| format!(" ({})", name_list(&n)))
            .unwrap_or_default(),
    })
}

/// Up to ten names, comma-separated, then how many more.
fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut list = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    list
}

impl Classifier {
    /// Loads `config.json` + safetensors weights from `dir`. `labels` fixes the head size; when
    /// empty, the config's `id2label` is used. Missing head tensors are initialised from
    /// [`DEFAULT_HEAD_SEED`].
    /// The task is the config's (`problem_type`, or the head class in `architectures`).
    pub fn load(dir: &Path, labels: &[String], device: &Device) -> Result<(Self, LoadReport)> {
        Self::load_with_seed(dir, labels, DEFAULT_HEAD_SEED, device)
    }

    /// [`Classifier::load`] with the seed for freshly initialised head tensors.
    pub fn load_with_seed(
        dir: &Path,
        labels: &[String],
        head_seed: u64,
        device: &Device,
    ) -> Result<(Self, LoadReport)> {
        Self::load_for(dir, None, labels, head_seed, device)
    }

    /// [`Classifier::load_with_seed`] with the head for `task` when given (a pre-trained
    /// checkpoint fine-tuned for another task keeps its encoder and gets a new head).
    pub fn load_for(
        dir: &Path,
        task: Option<Task>,
        labels: &[String],
        head_seed: u64,
        device: &Device,
    ) -> Result<(Self, LoadReport)> {
        let mut config = ModelConfig::from_file(&dir.join(CONFIG_FILE))?;
        if let Some(task) = task {
            config.task = task;
        }
        let (labels, labels_from) = if labels.is_empty() {
            (config.id2label.clone(), "config.json's id2label")
        } else {
            (labels.to_vec(), "the data")
        };
        check_labels_for(config.task, &labels)?;
        let tensors = weights::read_weights(dir, device)?;
        let mut available = weights::by_canonical_name(tensors, config.architecture)?;
        let mut init = Initializer::new(head_seed, config.initializer_range);
        let mut report = LoadReport::default();
        let mut params = Vec::new();
        for spec in param_specs(&config, labels.len())? {
            let value = match available.remove(&spec.name) {
                Some((file_name, tensor)) => {
                    if spec.head {
                        check_head_size(dir, &config, &labels, labels_from, &spec, &tensor)?;
                    }
                    weights::checked_f32(&file_name, &tensor, &spec.shape)?
                }
                None if spec.head => {
                    report.newly_initialized.push(spec.name.clone());
                    init.tensor(&spec, device)?
                }
                None => {
                    return Err(ModelError::MissingTensor {
                        name: spec.name,
                        dir: dir.to_path_buf(),
                    });
                }
            };
            params.push((spec.name, Var::from_tensor(&value)?));
        }
        report.unused = available
            .into_values()
            .map(|(file_name, _)| file_name)
            .collect();
        report.unused.sort();
        let model = Self::assemble(config, labels, params, device)?;
        Ok((model, report))
    }

    /// A randomly initialised model for `config.task`, as transformers' `_init_weights` would
    /// build it. Labels come from the config's `id2label` when it has `num_labels` entries,
    /// otherwise they are `LABEL_0`, `LABEL_1`, ... like HF.
    pub fn from_config_random(
        config: ModelConfig,
        num_labels: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let labels = if config.id2label.len() == num_labels {
            config.id2label.clone()
        } else {
            (0..num_labels).map(|i| format!("LABEL_{i}")).collect()
        };
        check_labels_for(config.task, &labels)?;
        let mut init = Initializer::new(seed, config.initializer_range);
        let params = param_specs(&config, num_labels)?
            .into_iter()
            .map(|spec| {
                Ok((
                    spec.name.clone(),
                    Var::from_tensor(&init.tensor(&spec, device)?)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::assemble(config, labels, params, device)
    }

    fn assemble(
        config: ModelConfig,
        labels: Vec<String>,
        params: Vec<(String, Var)>,
        device: &Device,
    ) -> Result<Self> {
        Self::assemble_parts(config, labels, params, Vec::new(), None, device)
    }

    /// [`Classifier::assemble`] with frozen base tensors and LoRA adapters (`lora.rs`).
    pub(super) fn assemble_parts(
        config: ModelConfig,
        labels: Vec<String>,
        params: Vec<(String, Var)>,
        frozen: Vec<(String, Tensor)>,
        lora: Option<LoraState>,
        device: &Device,
    ) -> Result<Self> {
        let table = param_table(&params, &frozen, lora.as_ref())?;
        let (encoder, head) = Self::modules(&config, &table)?;
        Ok(Self {
            config,
            labels,
            params,
            encoder,
            head,
            device: device.clone(),
            compute_dtype: DType::F32,
            class_weights: None,
            frozen,
            lora,
            full_last_layer: false,
            keep_padding: false,
        })
    }

    /// The encoder and head of `config`'s architecture and task, wired to `table`.
    fn modules(config: &ModelConfig, table: &ParamTable) -> Result<(Encoder, Head)> {
        let encoder = match config.architecture {
            Architecture::Bert | Architecture::Roberta | Architecture::XlmRoberta => {
                Encoder::Bert(BertEncoder::new(config, table)?)
            }
            Architecture::DistilBert => Encoder::DistilBert(DistilBertEncoder::new(config, table)?),
            Architecture::ModernBert => Encoder::ModernBert(ModernBertEncoder::new(config, table)?),
            Architecture::DebertaV2 => Encoder::DebertaV2(DebertaEncoder::new(config, table)?),
        };
        let head = match (config.task.per_token(), config.architecture) {
            (_, Architecture::ModernBert) => Head::ModernBert(ModernBertHead::new(config, table)?),
            (true, _) => Head::Tokens(TokenHead::new(config, table)?),
            (false, Architecture::Bert) => Head::Bert(BertHead::new(config, table)?),
            (false, Architecture::Roberta | Architecture::XlmRoberta) => {
                Head::Roberta(RobertaHead::new(config, table)?)
            }
            (false, Architecture::DistilBert) => {
                Head::DistilBert(DistilBertHead::new(config, table)?)
            }
            (false, Architecture::DebertaV2) => Head::DebertaV2(DebertaHead::new(config, table)?),
        };
        Ok((encoder, head))
    }

    /// This model for evaluation and prediction: the same weights (shared storage, so it sees
    /// every later update) detached from autograd, so its forward records no graph and keeps
    /// no intermediate for a backward that never comes. Its outputs cannot be differentiated.
    pub fn for_inference(&self) -> Result<Self> {
        let table = param_table(&self.params, &self.frozen, self.lora.as_ref())?.detached();
        let (encoder, head) = Self::modules(&self.config, &table)?;
        Ok(Self {
            encoder,
            head,
            ..self.clone()
        })
    }

    fn check_inputs(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        mask: &Tensor,
    ) -> Result<()> {
        let dims = input_ids.dims();
        if dims.len() != 2 || dims[0] == 0 || dims[1] == 0 {
            return Err(ModelError::Input(format!(
                "input_ids must be a non-empty [batch, seq] tensor, got {dims:?}"
            )));
        }
        for (name, t) in [
            ("input_ids", input_ids),
            ("token_type_ids", token_type_ids),
            ("attention_mask", mask),
        ] {
            if t.dtype() != DType::U32 {
                return Err(ModelError::Input(format!(
                    "{name} must be u32, got {:?}",
                    t.dtype()
                )));
            }
            if t.dims() != dims {
                return Err(ModelError::Input(format!(
                    "{name} has shape {:?}, input_ids has {dims:?}",
                    t.dims()
                )));
            }
            if !t.device().same_device(&self.device) {
                return Err(ModelError::Input(format!(
                    "{name} is not on the model's device"
                )));
            }
        }
        Ok(())
    }

    /// The encoder's last hidden state `[batch, seq, hidden]` (`[batch, 1, hidden]` for
    /// `Rows::FirstOnly`, on the encoders that support it), after checking the inputs.
    fn last_hidden_state(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        dropout: &mut Dropout,
        head_shortcuts: bool,
    ) -> Result<Tensor> {
        self.check_inputs(input_ids, token_type_ids, attention_mask)?;
        // What the head reads decides the shortcuts (`head_rows`, `packing`); the encoder's
        // whole output (`forward_encoder`) takes none.
        let (rows, packing) = if head_shortcuts {
            (self.head_rows(), self.packing(attention_mask)?)
        } else {
            (Rows::All, None)
        };
        let packing = packing.as_ref();
        let compute = self.compute_dtype;
        let mask = additive_mask(attention_mask, compute)?;
        match &self.encoder {
            Encoder::Bert(encoder) => {
                check_token_types(token_type_ids, self.config.type_vocab_size)?;
                encoder.forward(
                    input_ids,
                    token_type_ids,
                    &mask,
                    dropout,
                    compute,
                    rows,
                    packing,
                )
            }
            // DistilBERT has no token types.
            Encoder::DistilBert(encoder) => {
                encoder.forward(input_ids, &mask, dropout, compute, rows, packing)
            }
            // ModernBERT has no token types either; it builds its own (windowed) masks.
            Encoder::ModernBert(encoder) => {
                encoder.forward(input_ids, attention_mask, dropout, compute)
            }
            // Without token types (`type_vocab_size = 0`, DeBERTa-v3) the ids are ignored.
            Encoder::DebertaV2(encoder) => {
                if self.config.type_vocab_size > 0 {
                    check_token_types(token_type_ids, self.config.type_vocab_size)?;
                }
                encoder.forward(
                    input_ids,
                    token_type_ids,
                    attention_mask,
                    &mask,
                    dropout,
                    compute,
                )
            }
        }
    }

    /// Encoder outputs (hidden states and, for BERT, the pooler output).
    pub fn forward_encoder(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        dropout: &mut Dropout,
    ) -> Result<EncoderOutput> {
        let _lora_dropout = LoraDropoutScope::enter(self.lora.as_ref(), dropout);
        let hidden =
            self.last_hidden_state(input_ids, token_type_ids, attention_mask, dropout, false)?;
        let pooler_output = match &self.head {
            Head::Bert(head) => Some(
                head.pool(&hidden.to_dtype(self.compute_dtype)?)?
                    .to_dtype(DType::F32)?,
            ),
            Head::Roberta(_)
            | Head::DistilBert(_)
            | Head::Tokens(_)
            | Head::ModernBert(_)
            | Head::DebertaV2(_) => None,
        };
        Ok(EncoderOutput {
            last_hidden_state: hidden,
            pooler_output,
        })
    }

    /// f32 logits `[batch, num_labels]`, or `[batch, seq, num_labels]` for token
    /// classification. Inputs are u32 `[batch, seq]` on the model's device; `attention_mask`
    /// is 1 for real tokens. DistilBERT ignores `token_type_ids`.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        dropout: &mut Dropout,
    ) -> Result<Tensor> {
        let _lora_dropout = LoraDropoutScope::enter(self.lora.as_ref(), dropout);
        let hidden =
            self.last_hidden_state(input_ids, token_type_ids, attention_mask, dropout, true)?;
        // The head runs in the compute dtype (its linears follow their input); logits are f32.
        let hidden = hidden.to_dtype(self.compute_dtype)?;
        let logits = match &self.head {
            Head::Bert(head) => head.forward(&hidden, dropout)?,
            Head::Roberta(head) => head.forward(&hidden, dropout)?,
            Head::DistilBert(head) => head.forward(&hidden, dropout)?,
            Head::Tokens(head) => head.forward(&hidden, dropout)?,
            Head::ModernBert(head) if self.config.task.per_token() => {
                head.classify(&hidden, dropout)?
            }
            Head::ModernBert(head) => head.forward(&hidden, attention_mask, dropout)?,
            Head::DebertaV2(head) => head.forward(&hidden, dropout)?,
        };
        Ok(logits.to_dtype(DType::F32)?)
    }

    /// The rows of the last layer the head reads: the first token's for the sequence heads
    /// of BERT, RoBERTa/XLM-R and DistilBERT (pooler, `classifier.dense`, `pre_classifier`
    /// on [CLS]/`<s>`), every row for token heads, ModernBERT's mean pooling and DeBERTa.
    fn head_rows(&self) -> Rows {
        if self.reads_first_token() && !self.full_last_layer {
            Rows::FirstOnly
        } else {
            Rows::All
        }
    }

    /// A sequence head of BERT, RoBERTa/XLM-R or DistilBERT: it reads the first token only.
    fn reads_first_token(&self) -> bool {
        matches!(
            self.head,
            Head::Bert(_) | Head::Roberta(_) | Head::DistilBert(_)
        )
    }

    /// Unpadding (`packing.rs`) for the heads that read only the first token, whose
    /// encoders (BERT, RoBERTa/XLM-R, DistilBERT) then run on the real tokens only (attention
    /// too where it is fused); `None` for the other heads, and where `Packing` declines.
    fn packing(&self, attention_mask: &Tensor) -> Result<Option<Packing>> {
        if self.reads_first_token() && !self.keep_padding {
            Packing::new(attention_mask)
        } else {
            Ok(None)
        }
    }

    /// `false` runs the encoder on the padded batch as it is, where first-token heads
    /// otherwise run every layer on the real tokens only (the default; the
    /// logits are the same up to float rounding). For parity tests and A/B measurements.
    pub fn set_unpadded(&mut self, unpadded: bool) {
        self.keep_padding = !unpadded;
    }

    /// `true` computes every row of the last encoder layer even where the head reads only
    /// the first token (the default computes that row alone; the logits are the same up to
    /// float rounding). For parity tests and A/B measurements.
    pub fn set_full_last_layer(&mut self, full: bool) {
        self.full_last_layer = full;
    }

    /// Mixed precision: `DType::BF16` (or F16) runs matmuls, attention and activations in that
    /// dtype while the parameters stay f32 masters (cast per forward; the casts' backward
    /// returns f32 gradients, so AdamW and its moments stay f32). LayerNorm, softmax
    /// statistics and the loss stay f32. `DType::F32` (the default) is the plain f32 path.
    pub fn set_compute_dtype(&mut self, dtype: DType) -> Result<()> {
        if !matches!(dtype, DType::F32 | DType::BF16 | DType::F16) {
            return Err(ModelError::Input(format!(
                "compute dtype must be f32, bf16 or f16, got {dtype:?}"
            )));
        }
        self.compute_dtype = dtype;
        Ok(())
    }

    pub fn compute_dtype(&self) -> DType {
        self.compute_dtype
    }

    /// Weights the classes in the cross-entropy loss of single-label and token
    /// classification, one per label; `None` weighs them all 1.
    pub fn set_class_weights(&mut self, weights: Option<&[f32]>) -> Result<()> {
        self.class_weights = match weights {
            None => None,
            Some(weights) => {
                if !self.config.task.uses_cross_entropy() {
                    return Err(ModelError::Input(format!(
                        "class weights apply to cross-entropy tasks, not to {}",
                        self.config.task.title()
                    )));
                }
                if weights.len() != self.labels.len() {
                    return Err(ModelError::Labels(format!(
                        "class_weights has {} weights for {} labels ({})",
                        weights.len(),
                        self.labels.len(),
                        name_list(&self.labels)
                    )));
                }
                Some(Tensor::from_slice(weights, weights.len(), &self.device)?)
            }
        };
        Ok(())
    }

    /// The class weights set with [`Classifier::set_class_weights`].
    pub fn class_weights(&self) -> Result<Option<Vec<f32>>> {
        Ok(self
            .class_weights
            .as_ref()
            .map(Tensor::to_vec1::<f32>)
            .transpose()?)
    }

    /// The mean training loss of `logits` against a batch's `labels` for this model's task
    /// (with its class weights), as the `*For...` classes compute it.
    pub fn loss(&self, logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
        task_loss(
            self.config.task,
            logits,
            labels,
            self.class_weights.as_ref(),
        )
    }

    /// Every trainable tensor with its HF name, in state-dict order. Under LoRA these are the
    /// adapters (`<module>.lora_A.weight`, `<module>.lora_B.weight`) and `modules_to_save`.
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// The base tensors that are not trained (LoRA), in state-dict order; empty otherwise.
    pub fn frozen_params(&self) -> &[(String, Tensor)] {
        &self.frozen
    }

    /// The LoRA settings when this model carries adapters.
    pub fn lora(&self) -> Option<&LoraConfig> {
        self.lora.as_ref().map(|state| &state.config)
    }

    /// The module names LoRA adapts (empty without LoRA).
    pub fn lora_targets(&self) -> &[String] {
        self.lora.as_ref().map_or(&[], |state| &state.targets)
    }

    /// This model's tensors as its config lays them out (names, shapes, linear layers).
    pub(super) fn specs(&self) -> Result<Vec<ParamSpec>> {
        param_specs(&self.config, self.labels.len())
    }

    /// Writes `config.json` (with this model's labels) and `model.safetensors` into `dir`,
    /// each through a temporary file and a rename.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if self.lora.is_some() {
            // A LoRA model saves as the plain model it merges into.
            return self.merged()?.save(dir);
        }
        let tensors: Vec<(String, Tensor)> = self
            .params
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        weights::write_safetensors(&dir.join(WEIGHTS_FILE), &tensors)?;
        self.save_config(dir)
    }

    /// Writes `config.json` alone (architecture, task, labels), atomically.
    pub fn save_config(&self, dir: &Path) -> Result<()> {
        weights::write_json(
            &dir.join(CONFIG_FILE),
            &self.config.to_json_with_labels(&self.labels),
        )
    }

    /// Every parameter, trained or frozen (LoRA adapters included), as peft counts "all".
    pub fn num_parameters(&self) -> usize {
        self.num_trainable_parameters()
            + self
                .frozen
                .iter()
                .map(|(_, t)| t.elem_count())
                .sum::<usize>()
    }

    /// The parameters that get gradients and optimizer state.
    pub fn num_trainable_parameters(&self) -> usize {
        self.params.iter().map(|(_, v)| v.elem_count()).sum()
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn task(&self) -> Task {
        self.config.task
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn num_labels(&self) -> usize {
        self.labels.len()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// The name → tensor table the modules are wired to: the trainable `params`, the `frozen`
/// base tensors and, under LoRA, the adapters.
fn param_table(
    params: &[(String, Var)],
    frozen: &[(String, Tensor)],
    lora: Option<&LoraState>,
) -> Result<ParamTable> {
    let adapters = lora
        .map(|state| state.adapters(params))
        .transpose()?
        .unwrap_or_default();
    Ok(ParamTable::with_frozen(params, frozen, adapters))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(model_type: &str, task: Task) -> Classifier {
        let mut config = ModelConfig::from_json(serde_json::json!({
            "model_type": model_type, "vocab_size": 30, "hidden_size": 8, "dim": 8,
            "num_hidden_layers": 2, "n_layers": 2, "num_attention_heads": 2, "n_heads": 2,
            "intermediate_size": 16, "hidden_dim": 16, "max_position_embeddings": 20,
            "type_vocab_size": 1, "pad_token_id": 1
        }))
        .unwrap();
        config.task = task;
        let labels = if task == Task::Regression { 1 } else { 2 };
        Classifier::from_config_random(config, labels, 0, &Device::Cpu).unwrap()
    }

    /// The rows the last layer computes under `forward`, read off the hidden state's shape.
    fn last_layer_rows(model: &Classifier) -> usize {
        let ids = Tensor::new(&[[0u32, 5, 6, 2, 1], [0, 7, 2, 1, 1]], &Device::Cpu).unwrap();
        let mask = ids.ne(1u32).unwrap().to_dtype(DType::U32).unwrap();
        let hidden = model
            .last_hidden_state(
                &ids,
                &ids.zeros_like().unwrap(),
                &mask,
                &mut Dropout::off(),
                true,
            )
            .unwrap();
        hidden.dim(1).unwrap()
    }

    #[test]
    fn first_token_heads_compute_one_row_of_the_last_layer() {
        for model_type in ["bert", "roberta", "distilbert"] {
            for task in [
                Task::SingleLabelClassification,
                Task::MultiLabelClassification,
                Task::Regression,
            ] {
                let mut model = tiny(model_type, task);
                assert_eq!(last_layer_rows(&model), 1, "{model_type} {task}");
                model.set_full_last_layer(true);
                assert_eq!(last_layer_rows(&model), 5, "{model_type} {task} (full)");
            }
            let model = tiny(model_type, Task::TokenClassification);
            assert_eq!(
                last_layer_rows(&model),
                5,
                "{model_type} token classification"
            );
        }
    }

    /// Unpadding is taken where it applies (else the parity tests would compare the padded
    /// path with itself): first-token heads on a padded batch, not token heads, not when
    /// switched off, not without padding.
    #[test]
    fn first_token_heads_pack_padded_batches() {
        let padded = Tensor::new(&[[1u32, 1, 1, 0], [1, 1, 0, 0]], &Device::Cpu).unwrap();
        let full = Tensor::new(&[[1u32, 1, 1, 1], [1, 1, 1, 1]], &Device::Cpu).unwrap();
        for model_type in ["bert", "roberta", "distilbert"] {
            let mut model = tiny(model_type, Task::SingleLabelClassification);
            assert!(model.packing(&padded).unwrap().is_some(), "{model_type}");
            assert!(model.packing(&full).unwrap().is_none(), "{model_type}");
            model.set_unpadded(false);
            assert!(model.packing(&padded).unwrap().is_none(), "{model_type}");
            let tokens = tiny(model_type, Task::TokenClassification);
            assert!(tokens.packing(&padded).unwrap().is_none(), "{model_type}");
        }
    }
}
