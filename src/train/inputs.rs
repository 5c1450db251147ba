//! What a recipe ([`TrainConfig`]) turns into before the first step: the model folder and its
//! tokenizer, the effective `max_length`, the tokenized splits, the collator and the batch
//! order. The trainer and the app's Data panel both go through here, so the preview shows
//! exactly what training will see.

use std::path::PathBuf;

use super::train_error::TrainError;
use crate::data::{
    self, Collator, ColumnOverrides, DatasetCache, Order, SplitRequest, TextTokenizer,
    TokenizeOptions, TokenizedSplit,
};
use crate::hub::{self, EventSink, HubSettings};
use crate::recipe::TrainConfig;

/// The recipe's model folder (downloaded when it is a Hub id), tokenizer and `max_length`.
pub struct RecipeInputs {
    pub model_dir: PathBuf,
    pub tokenizer: TextTokenizer,
    /// `max_length` capped by the tokenizer's `model_max_length` and the model's positions.
    pub max_length: usize,
    /// What the user should hear once before training (e.g. that `max_length` was capped);
    /// the trainer sends each as an [`Event::Warning`](super::Event::Warning).
    pub warnings: Vec<String>,
}

impl RecipeInputs {
    /// Resolves `cfg.model` (downloading with `sink` as progress) and loads its tokenizer.
    pub fn load(
        cfg: &TrainConfig,
        hub_settings: &HubSettings,
        sink: Option<EventSink>,
    ) -> Result<Self, TrainError> {
        let model_dir = hub::local_model(hub_settings, &cfg.model, sink)?;
        if !model_dir.join("config.json").is_file() {
            return Err(TrainError::Invalid(format!(
                "model = \"{}\": {} has no config.json",
                cfg.model,
                model_dir.display()
            )));
        }
        let tokenizer = TextTokenizer::load(&model_dir)?;
        let model_config = crate::model::ModelConfig::from_file(&model_dir.join("config.json"))?;
        let position_limit = model_config
            .max_position_embeddings
            .saturating_sub(if model_config.is_roberta() { 2 } else { 0 });
        let limit = tokenizer.model_max_length().min(position_limit);
        let max_length = cfg.resolved_max_length(Some(limit));
        let warnings = capped_max_length_warning(cfg, limit, position_limit)
            .into_iter()
            .collect();
        Ok(Self {
            model_dir,
            tokenizer,
            max_length,
            warnings,
        })
    }

    pub fn tokenize_options(&self, cfg: &TrainConfig) -> TokenizeOptions {
        TokenizeOptions {
            max_length: Some(self.max_length),
            threads: cfg.tokenize_threads.unwrap_or(0) as usize,
            ..TokenizeOptions::default()
        }
    }

    /// Downloads (when a Hub id) and tokenizes `split` of `cfg.dataset` with the recipe's
    /// columns, through `cache` when given. `labels` fixes the label names (evaluation
    /// splits reuse the training split's). `progress(done, total)` counts tokenized rows.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare_split(
        &self,
        cfg: &TrainConfig,
        hub_settings: &HubSettings,
        split: &str,
        labels: Option<Vec<String>>,
        cache: Option<&DatasetCache>,
        sink: Option<EventSink>,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<TokenizedSplit, TrainError> {
        let request = split_request(cfg, hub_settings, split, labels, sink)?;
        Ok(data::prepare_split(
            &request,
            &self.tokenizer,
            &self.tokenize_options(cfg),
            cache,
            progress,
        )?)
    }

    /// The collator training uses (dynamic padding, `pad_to_multiple_of` from the recipe).
    pub fn collator(&self, cfg: &TrainConfig) -> Collator {
        Collator {
            pad_to_multiple_of: cfg.pad_to_multiple_of.map(|m| m as usize),
            ..Collator::new(&self.tokenizer, self.max_length)
        }
    }
}

/// Says so when the recipe's own `max_length` is above what the model or tokenizer allows;
/// the default (unset) is capped without a word.
fn capped_max_length_warning(
    cfg: &TrainConfig,
    limit: usize,
    position_limit: usize,
) -> Option<String> {
    let wanted = cfg.max_length? as usize;
    if wanted <= limit {
        return None;
    }
    let why = if limit == position_limit {
        format!("the model has {position_limit} positions")
    } else {
        format!("the tokenizer's model_max_length is {limit}")
    };
    Some(format!(
        "max_length = {wanted} is more than this model can take; {why}, so texts are truncated to {limit} tokens"
    ))
}

/// The split's local files and the recipe's column choices, downloading a Hub split first.
pub fn split_request(
    cfg: &TrainConfig,
    hub_settings: &HubSettings,
    split: &str,
    labels: Option<Vec<String>>,
    sink: Option<EventSink>,
) -> Result<SplitRequest, TrainError> {
    let local = hub::local_split(
        hub_settings,
        &cfg.dataset,
        cfg.dataset_config.as_deref(),
        split,
        sink,
    )?;
    Ok(SplitRequest {
        data: local.data,
        config: local.config,
        files: local.files,
        split: split.to_string(),
        columns: ColumnOverrides {
            text: cfg.text_column.clone(),
            text_pair: cfg.text_pair_column.clone(),
            label: cfg.label_column.clone(),
        },
        labels,
        task: cfg.task,
        label_all_tokens: cfg.label_all_tokens,
    })
}

/// The order training batches come in (`group_by_length`, shuffled by `data_seed`).
pub fn train_order(cfg: &TrainConfig, data_seed: u64) -> Order {
    if cfg.group_by_length {
        Order::GroupedByLength { seed: data_seed }
    } else {
        Order::Shuffled { seed: data_seed }
    }
}

/// The rows of the training split that train: all of it, or what is left once the recipe's
/// `validation_split_percentage` is held out (the trainer's draw). For the preflight and the
/// Data preview, which have no use for the held-out part.
pub fn rows_that_train(
    cfg: &TrainConfig,
    split: TokenizedSplit,
) -> Result<TokenizedSplit, TrainError> {
    let Some(percent) = cfg.holdout_percentage() else {
        return Ok(split);
    };
    let rows = data::holdout_rows(split.len(), percent, cfg.resolved_data_seed())?;
    Ok(split.select(&rows.train, &split.meta.split)?)
}
