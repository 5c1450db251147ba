//! Reading a SentencePiece model file (`spm.model`, a `ModelProto` protobuf) without a protobuf
//! library: only the fields a conversion to the `tokenizers` crate needs are kept, every other
//! field is skipped by its wire type. Field numbers are those of sentencepiece's
//! `sentencepiece_model.proto`.

/// A piece's kind (`SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PieceKind {
    Normal,
    Unknown,
    /// `<s>`, `[CLS]`, ...: never produced from text.
    Control,
    /// Always one piece, never split.
    UserDefined,
    Unused,
    Byte,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Piece {
    pub text: String,
    pub score: f32,
    pub kind: PieceKind,
}

/// `TrainerSpec.model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ModelType {
    Unigram,
    Bpe,
    Word,
    Char,
}

/// The parts of a `ModelProto` that a tokenizer conversion reads; defaults as in the proto.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SentencePieceModel {
    pub pieces: Vec<Piece>,
    pub model_type: ModelType,
    pub unk_id: i32,
    pub byte_fallback: bool,
    /// `NormalizerSpec.precompiled_charsmap`: the compiled normalization rules (e.g. nmt_nfkc).
    pub precompiled_charsmap: Vec<u8>,
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
}

impl SentencePieceModel {
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut model = SentencePieceModel {
            pieces: Vec::new(),
            model_type: ModelType::Unigram,
            unk_id: 0,
            byte_fallback: false,
            precompiled_charsmap: Vec::new(),
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
        };
        for field in Fields(Reader::new(bytes)) {
            match field? {
                (1, Value::Bytes(piece)) => model.pieces.push(parse_piece(piece)?),
                (2, Value::Bytes(trainer)) => parse_trainer_spec(trainer, &mut model)?,
                (3, Value::Bytes(normalizer)) => parse_normalizer_spec(normalizer, &mut model)?,
                _ => {}
            }
        }
        if model.pieces.is_empty() {
            return Err("no pieces (is this a SentencePiece model file?)".into());
        }
        Ok(model)
    }
}

fn parse_piece(bytes: &[u8]) -> std::result::Result<Piece, String> {
    let mut piece = Piece {
        text: String::new(),
        score: 0.0,
        kind: PieceKind::Normal,
    };
    for field in Fields(Reader::new(bytes)) {
        match field? {
            (1, Value::Bytes(text)) => {
                piece.text = String::from_utf8(text.to_vec())
                    .map_err(|_| "a piece is not valid UTF-8".to_string())?;
            }
            (2, Value::Fixed32(bits)) => piece.score = f32::from_bits(bits),
            (3, Value::Varint(kind)) => {
                piece.kind = match kind {
                    1 => PieceKind::Normal,
                    2 => PieceKind::Unknown,
                    3 => PieceKind::Control,
                    4 => PieceKind::UserDefined,
                    5 => PieceKind::Unused,
                    6 => PieceKind::Byte,
                    other => return Err(format!("piece type {other} is unknown")),
                }
            }
            _ => {}
        }
    }
    Ok(piece)
}

fn parse_trainer_spec(
    bytes: &[u8],
    model: &mut SentencePieceModel,
) -> std::result::Result<(), String> {
    for field in Fields(Reader::new(bytes)) {
        match field? {
            (3, Value::Varint(kind)) => {
                model.model_type = match kind {
                    1 => ModelType::Unigram,
                    2 => ModelType::Bpe,
                    3 => ModelType::Word,
                    4 => ModelType::Char,
                    other => return Err(format!("model type {other} is unknown")),
                }
            }
            (35, Value::Varint(flag)) => model.byte_fallback = flag != 0,
            // int32: negative values come as ten-byte varints of the sign-extended value.
            (40, Value::Varint(id)) => model.unk_id = id as i64 as i32,
            _ => {}
        }
    }
    Ok(())
}

fn parse_normalizer_spec(
    bytes: &[u8],
    model: &mut SentencePieceModel,
) -> std::result::Result<(), String> {
    for field in Fields(Reader::new(bytes)) {
        match field? {
            (2, Value::Bytes(charsmap)) => model.precompiled_charsmap = charsmap.to_vec(),
            (3, Value::Varint(flag)) => model.add_dummy_prefix = flag != 0,
            (4, Value::Varint(flag)) => model.remove_extra_whitespaces = flag != 0,
            _ => {}
        }
    }
    Ok(())
}

/// One protobuf field's payload, by wire type.
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.at)
                .ok_or("the file ends inside a number")?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!(
            "a number longer than ten bytes at byte {}",
            self.at
        ))
    }

    fn take(&mut self, len: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("a field at byte {} runs past the end", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn field(&mut self) -> std::result::Result<(u64, Value<'a>), String> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                let bytes = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            wire => {
                return Err(format!(
                    "wire type {wire} at byte {} (not a protobuf message?)",
                    self.at
                ));
            }
        };
        Ok((key >> 3, value))
    }
}

/// The fields of one message, in file order; stops after the first error.
struct Fields<'a>(Reader<'a>);

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<(u64, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.at >= self.0.bytes.len() {
            return None;
        }
        let field = self.0.field();
        if field.is_err() {
            self.0.at = self.0.bytes.len();
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/deberta-v3-spm/spm.model")
    }

    #[test]
    fn reads_the_fixture_as_sentencepiece_wrote_it() {
        let model = SentencePieceModel::parse(&std::fs::read(fixture()).unwrap()).unwrap();
        // Values from sentencepiece's own protobuf classes (scripts/deberta_spm_fixture.py
        // trained it with these settings).
        assert_eq!(model.pieces.len(), 800);
        assert_eq!(model.model_type, ModelType::Unigram);
        assert_eq!(model.unk_id, 3);
        assert!(!model.byte_fallback);
        assert!(model.add_dummy_prefix && model.remove_extra_whitespaces);
        assert_eq!(model.precompiled_charsmap.len(), 240_007);
        let first: Vec<(&str, PieceKind)> = model.pieces[..5]
            .iter()
            .map(|p| (p.text.as_str(), p.kind))
            .collect();
        assert_eq!(
            first,
            [
                ("[PAD]", PieceKind::Control),
                ("[CLS]", PieceKind::Control),
                ("[SEP]", PieceKind::Control),
                ("[UNK]", PieceKind::Unknown),
                ("s", PieceKind::Normal),
            ]
        );
        assert_eq!(model.pieces[4].score, -3.037_210_5);
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let bytes = std::fs::read(fixture()).unwrap();
        let cut = SentencePieceModel::parse(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(cut.contains("runs past the end"), "{cut}");
        assert!(
            SentencePieceModel::parse(b"")
                .unwrap_err()
                .contains("no pieces")
        );
        let text = SentencePieceModel::parse(b"{\"model\": 1}").unwrap_err();
        assert!(text.contains("wire type"), "{text}");
    }

    #[test]
    fn negative_ids_and_unknown_fields_are_read() {
        // pieces { piece: "a" score: -1.5 }, trainer_spec { unk_id: -1, vocab_size: 7 },
        // an unknown fixed64 field 9.
        let mut bytes = vec![0x0a, 8, 0x0a, 1, b'a', 0x15];
        bytes.extend_from_slice(&(-1.5f32).to_le_bytes());
        bytes.extend_from_slice(&[0x12, 14, 0x20, 7, 0xc0, 0x02]);
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        bytes.push(0x49);
        bytes.extend_from_slice(&[0; 8]);
        let model = SentencePieceModel::parse(&bytes).unwrap();
        assert_eq!(model.unk_id, -1);
        assert_eq!(model.pieces[0].text, "a");
        assert_eq!(model.pieces[0].score, -1.5);
    }
}
