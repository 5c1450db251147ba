//! A `tokenizers` tokenizer built from a SentencePiece Unigram model, for model folders that ship
//! `spm.model` and no `tokenizer.json` (`microsoft/deberta-v3-*`): the pipeline of transformers'
//! `DebertaV2Converter` (convert_slow_tokenizer.py), which is what a converted `tokenizer.json`
//! of such a model holds, and which gives SentencePiece's own ids:
//!
//! - model: Unigram with the pieces' scores and the model's unk id (no byte fallback, as the
//!   converter);
//! - normalizer: [`Lowercase`] when `do_lower_case`, [`Strip`] both sides, the model's
//!   precompiled charsmap ([`Precompiled`], SentencePiece's nmt_nfkc rules), runs of spaces to one;
//! - pre-tokenizer: [`Punctuation`] when `split_by_punct`, then [`Metaspace`] with "▁" and the
//!   prepend scheme of `add_prefix_space` / `legacy` ("always" by default);
//! - post-processor: `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1`; decoder: Metaspace;
//! - added tokens: the model's control pieces (special) and user-defined pieces, then
//!   `added_tokens_decoder` (tokenizer_config.json) and `added_tokens.json` at their ids, then
//!   the special tokens (special_tokens_map.json, tokenizer_config.json, DebertaV2Tokenizer's
//!   defaults), all matched on the raw text.

use serde_json::Value;
use std::path::Path;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{
    Lowercase, NormalizerWrapper, Precompiled, Replace, Sequence, Strip,
};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::punctuation::Punctuation;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use super::error::{DataError, Result};
use super::sentencepiece::{ModelType, PieceKind, SentencePieceModel};
use super::tokenize::token_content;

/// The SentencePiece file a DeBERTa-v2/v3 model folder ships instead of `tokenizer.json`.
pub const SPM_FILE: &str = "spm.model";

/// Files beside `spm.model` that name special and added tokens.
const SIDE_FILES: [&str; 3] = [
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
];

/// `DebertaV2Tokenizer`'s special tokens and their defaults.
const SPECIAL_TOKENS: [(&str, &str); 7] = [
    ("bos_token", "[CLS]"),
    ("eos_token", "[SEP]"),
    ("unk_token", "[UNK]"),
    ("sep_token", "[SEP]"),
    ("pad_token", "[PAD]"),
    ("cls_token", "[CLS]"),
    ("mask_token", "[MASK]"),
];

/// The tokenizer for `spm` (in `dir`, with `tokenizer_config.json` already read as `config`),
/// and a hash of every file it was built from.
pub(super) fn load(spm: &Path, dir: &Path, config: Option<&Value>) -> Result<(Tokenizer, String)> {
    let bytes = std::fs::read(spm).map_err(|e| DataError::io(spm, e))?;
    let model = SentencePieceModel::parse(&bytes).map_err(|message| DataError::Corrupt {
        path: spm.to_path_buf(),
        format: "SentencePiece model",
        message,
    })?;
    let mut hash = blake3::Hasher::new();
    hash.update(&bytes);
    for name in SIDE_FILES {
        if let Ok(side) = std::fs::read(dir.join(name)) {
            hash.update(name.as_bytes()).update(&side);
        }
    }
    let special_map = read_json(&dir.join("special_tokens_map.json"))?;
    let added_file = read_json(&dir.join("added_tokens.json"))?;
    let sources = Sources {
        config,
        special_map: special_map.as_ref(),
        added_file: added_file.as_ref(),
    };
    let tokenizer = convert(&model, &sources).map_err(|message| DataError::Tokenizer {
        path: spm.to_path_buf(),
        message,
    })?;
    Ok((tokenizer, hash.finalize().to_hex().to_string()))
}

/// The JSON files that shape the conversion, each optional.
#[derive(Default, Clone, Copy)]
pub(super) struct Sources<'a> {
    pub config: Option<&'a Value>,
    pub special_map: Option<&'a Value>,
    pub added_file: Option<&'a Value>,
}

impl Sources<'_> {
    fn flag(&self, key: &str, default: bool) -> bool {
        self.config
            .and_then(|c| c.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    /// A special token's text: special_tokens_map.json, else tokenizer_config.json, else the
    /// default.
    fn special(&self, key: &str, default: &str) -> String {
        [self.special_map, self.config]
            .iter()
            .flatten()
            .find_map(|file| file.get(key).and_then(token_content))
            .unwrap_or_else(|| default.to_string())
    }
}

/// `DebertaV2Converter`'s tokenizer for `model`.
pub(super) fn convert(
    model: &SentencePieceModel,
    sources: &Sources,
) -> std::result::Result<Tokenizer, String> {
    let unsupported = match model.model_type {
        ModelType::Unigram => None,
        ModelType::Bpe => Some("BPE"),
        ModelType::Word => Some("word"),
        ModelType::Char => Some("char"),
    };
    if let Some(kind) = unsupported {
        return Err(format!(
            "a {kind} SentencePiece model is not supported; Wick converts Unigram models (as \
             DeBERTa-v3's)"
        ));
    }
    let unk_id = usize::try_from(model.unk_id)
        .ok()
        .filter(|&id| id < model.pieces.len())
        .ok_or_else(|| format!("unk id {} is not a piece of the model", model.unk_id))?;
    let vocab = model
        .pieces
        .iter()
        .map(|p| (p.text.clone(), f64::from(p.score)))
        .collect();
    let unigram = Unigram::from(vocab, Some(unk_id), false).map_err(|e| e.to_string())?;
    let mut tokenizer = Tokenizer::new(unigram);

    let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
    if sources.flag("do_lower_case", false) {
        normalizers.push(Lowercase.into());
    }
    normalizers.push(Strip::new(true, true).into());
    if !model.precompiled_charsmap.is_empty() {
        let precompiled = Precompiled::from(&model.precompiled_charsmap)
            .map_err(|e| format!("the precompiled charsmap does not load: {e}"))?;
        normalizers.push(precompiled.into());
    }
    let spaces =
        Replace::new(ReplacePattern::Regex(" {2,}".into()), " ").map_err(|e| e.to_string())?;
    normalizers.push(spaces.into());
    tokenizer
        .with_normalizer(Some(Sequence::new(normalizers)))
        .map_err(|e| e.to_string())?;

    // transformers' `_get_prepend_scheme`.
    let prepend = match (
        sources.flag("add_prefix_space", true),
        sources.flag("legacy", true),
    ) {
        (false, _) => PrependScheme::Never,
        (true, true) => PrependScheme::Always,
        (true, false) => PrependScheme::First,
    };
    let mut pre_tokenizers: Vec<PreTokenizerWrapper> = Vec::new();
    if sources.flag("split_by_punct", false) {
        pre_tokenizers.push(Punctuation::new(SplitDelimiterBehavior::Isolated).into());
    }
    pre_tokenizers.push(Metaspace::new('▁', prepend, true).into());
    tokenizer.with_pre_tokenizer(Some(PreTokenizerSequence::new(pre_tokenizers)));
    tokenizer.with_decoder(Some(DecoderWrapper::Metaspace(Metaspace::new(
        '▁', prepend, true,
    ))));

    add_tokens(&mut tokenizer, model, sources)?;

    let cls = sources.special("cls_token", "[CLS]");
    let sep = sources.special("sep_token", "[SEP]");
    let id = |token: &str| {
        tokenizer
            .token_to_id(token)
            .ok_or_else(|| format!("the template's {token} is neither a piece nor an added token"))
    };
    let template = TemplateProcessing::builder()
        .try_single(format!("{cls}:0 $A:0 {sep}:0"))
        .and_then(|b| b.try_pair(format!("{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1")))
        .map_err(|e| format!("the [CLS]/[SEP] template: {e}"))?
        .special_tokens(vec![(cls.as_str(), id(&cls)?), (sep.as_str(), id(&sep)?)])
        .build()
        .map_err(|e| format!("the [CLS]/[SEP] template: {e}"))?;
    tokenizer.with_post_processor(Some(template));
    Ok(tokenizer)
}

/// The added tokens, in the order transformers adds them; a token with a stated id must land on
/// it.
fn add_tokens(
    tokenizer: &mut Tokenizer,
    model: &SentencePieceModel,
    sources: &Sources,
) -> std::result::Result<(), String> {
    let pieces: Vec<AddedToken> = model
        .pieces
        .iter()
        .filter(|p| matches!(p.kind, PieceKind::Control | PieceKind::UserDefined))
        .map(|p| AddedToken::from(p.text.clone(), p.kind == PieceKind::Control).normalized(false))
        .collect();
    tokenizer.add_tokens(pieces).map_err(|e| e.to_string())?;

    let mut placed: Vec<(u32, AddedToken)> = Vec::new();
    if let Some(decoder) = sources
        .config
        .and_then(|c| c.get("added_tokens_decoder"))
        .and_then(Value::as_object)
    {
        for (id, token) in decoder {
            let id = id
                .parse()
                .map_err(|_| format!("added_tokens_decoder key {id:?} is not an id"))?;
            placed.push((id, added_token(token)?));
        }
    }
    if let Some(file) = sources.added_file.and_then(Value::as_object) {
        for (content, id) in file {
            let id = id
                .as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| format!("added_tokens.json: the id of {content:?} is not a u32"))?;
            if !placed.iter().any(|(_, t)| t.content == *content) {
                placed.push((
                    id,
                    AddedToken::from(content.clone(), true).normalized(false),
                ));
            }
        }
    }
    placed.sort_by_key(|(id, _)| *id);
    for (id, token) in placed {
        let content = token.content.clone();
        tokenizer.add_tokens([token]).map_err(|e| e.to_string())?;
        let got = tokenizer.token_to_id(&content);
        if got != Some(id) {
            return Err(format!(
                "the added token {content:?} should have id {id} but got {got:?} (the model has {} \
                 pieces)",
                model.pieces.len()
            ));
        }
    }

    let mut specials: Vec<String> = SPECIAL_TOKENS
        .iter()
        .map(|(key, default)| sources.special(key, default))
        .collect();
    for file in [sources.special_map, sources.config].iter().flatten() {
        if let Some(extra) = file
            .get("additional_special_tokens")
            .and_then(Value::as_array)
        {
            specials.extend(extra.iter().filter_map(token_content));
        }
    }
    let mut seen = std::collections::HashSet::new();
    specials.retain(|token| seen.insert(token.clone()));
    tokenizer
        .add_special_tokens(
            specials
                .into_iter()
                .map(|token| AddedToken::from(token, true).normalized(false)),
        )
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// `{"content": ..., "special": ..., "lstrip": ..., ...}` as transformers writes it.
fn added_token(value: &Value) -> std::result::Result<AddedToken, String> {
    let content = value
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("added token without content: {value}"))?;
    let flag =
        |key: &str, default: bool| value.get(key).and_then(Value::as_bool).unwrap_or(default);
    let special = flag("special", false);
    Ok(AddedToken::from(content, special)
        .normalized(flag("normalized", !special))
        .lstrip(flag("lstrip", false))
        .rstrip(flag("rstrip", false))
        .single_word(flag("single_word", false)))
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DataError::Tokenizer {
                path: path.to_path_buf(),
                message: format!("does not parse: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DataError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> SentencePieceModel {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/deberta-v3-spm")
            .join(SPM_FILE);
        SentencePieceModel::parse(&std::fs::read(path).unwrap()).unwrap()
    }

    fn ids(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
        tokenizer.encode(text, true).unwrap().get_ids().to_vec()
    }

    #[test]
    fn only_unigram_models_with_an_unk_piece_convert() {
        let mut model = fixture();
        model.model_type = ModelType::Bpe;
        let err = convert(&model, &Sources::default()).unwrap_err();
        assert!(
            err.contains("BPE SentencePiece model is not supported"),
            "{err}"
        );
        let mut model = fixture();
        model.unk_id = 800;
        let err = convert(&model, &Sources::default()).unwrap_err();
        assert!(err.contains("unk id 800"), "{err}");
    }

    #[test]
    fn the_decoder_undoes_the_metaspace() {
        let tokenizer = convert(&fixture(), &Sources::default()).unwrap();
        let text = "The company said it expects revenue to rise.";
        let ids = ids(&tokenizer, text);
        assert_eq!(tokenizer.decode(&ids, true).unwrap(), text);
    }
}
