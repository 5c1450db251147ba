"""The DeBERTa-v3 SentencePiece fixture and the ids Wick's conversion must give.

    ${WICK_PYTHON:-python3} scripts/deberta_spm_fixture.py [--train]

Needs sentencepiece, transformers (5.x) and tokenizers, and ../shared (MRPC) beside the checkout.

--train  trains a small Unigram model on MRPC train the way microsoft/deberta-v3-* was set up
         ([PAD]=0, [CLS]=1, [SEP]=2, [UNK]=3, nmt_nfkc, dummy prefix) into
         tests/fixtures/deberta-v3-spm/ with the repo's tokenizer_config.json,
         special_tokens_map.json and added_tokens.json ([MASK] after the last piece).
Always   writes tests/fixtures/deberta-v3-spm-expected.json: for the adversarial texts below and
         the first 200 MRPC validation pairs (text not copied: the test reads the parquet), the
         ids and token type ids of three tokenizers:
           converter:     transformers' DebertaV2Converter (what a converted tokenizer.json holds;
                          Wick's target),
           transformers:  DebertaV2Tokenizer.from_pretrained on the folder (transformers 5),
                          called batched as datasets.map does,
           sentencepiece: the original (transformers 4's slow DebertaV2Tokenizer): special tokens
                          split out, every other chunk through SentencePieceProcessor.encode.
         "transformers" and "sentencepiece" are stored only where they differ from "converter".
         Also the MRPC pairs truncated to 32 (converter and transformers), and the converter's
         ids with do_lower_case and split_by_punct on the adversarial texts.
"""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import sentencepiece as spm
from tokenizers import AddedToken
from transformers import DebertaV2Tokenizer
from transformers.convert_slow_tokenizer import DebertaV2Converter

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests/fixtures/deberta-v3-spm"
EXPECTED = ROOT / "tests/fixtures/deberta-v3-spm-expected.json"
MRPC = ROOT / "../shared/hub/datasets/nyu-mll/glue/mrpc"
VOCAB_SIZE = 800
SPECIAL = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]

ADVERSARIAL = [
    ("empty", "", None),
    ("empty pair", "", ""),
    ("plain", "The company said it expects revenue to rise.", None),
    ("pair", "He said yes.", "She said no, twice."),
    ("accents", "Café naïve résumé Ångström façade Zoë", None),
    ("decomposed accents", "Cafe\u0301 nai\u0308ve", None),
    ("cjk", "東京は日本の首都です。中文测试", None),
    ("emoji", "Great job 👍🏽 🎉🎉 ❤️ 👨‍👩‍👧", None),
    ("multiple spaces", "two  spaces   three    four", None),
    ("tabs and newlines", "tab\there\nnew line\r\nwindows\t\tdouble", None),
    ("leading and trailing spaces", "   padded both sides   ", None),
    ("only spaces", "     ", None),
    ("only whitespace", " \t\n ", "\n"),
    ("unknown characters", "ʘ‿ʘ ∮ ⊗ ☃ ᚠᛇᚻ ꙮ", None),
    ("very long word", "supercalifragilisticexpialidocious" * 6, None),
    ("long number", "1234567890" * 8, None),
    ("special literals", "[CLS] hello [SEP] world [MASK] [PAD] [UNK]", None),
    ("special literals glued", "a[MASK]b[SEP]c", "[CLS]"),
    ("special literal lowercase", "[mask] [cls]", None),
    ("numbers", "3.14159 1,000,000 -42 +7 1e-9 2024-05-17 $5.99 50%", None),
    ("punctuation runs", "!!!??? ... --- ''' \"\"\" ((( ))) ;;; ::", None),
    ("fullwidth", "ＡＢＣ１２３ ｶﾀｶﾅ", None),
    ("ligatures and compat", "ﬁnance ﬂow ½ ² ℃ Ⅻ", None),
    ("no-break and odd spaces", "a\u00a0b\u2003c\u3000d\u200be", None),
    ("control characters", "bell\u0007 null\u0000 esc\u001b del\u007f", None),
    ("combining marks alone", "\u0301\u0308 x", None),
    ("mixed scripts", "Москва Αθήνα القاهرة तिब्बत", None),
    ("uppercase", "NASDAQ NYSE S&P 500 U.S.A.", None),
    ("apostrophes and quotes", "don't ‘quoted’ “double” «guillemets»", None),
    ("leading underscore marker", "▁already ▁marked", None),
    ("pair with spaces", "  first  ", "  second  "),
    ("pair with specials", "[CLS]", "[SEP] [SEP]"),
]


def train():
    table = pq.read_table(MRPC / "train-00000-of-00001.parquet")
    sentences = table.column("sentence1").to_pylist() + table.column("sentence2").to_pylist()
    FIXTURE.mkdir(parents=True, exist_ok=True)
    text = FIXTURE / "train.txt"
    text.write_text("\n".join(sentences) + "\n")
    try:
        spm.SentencePieceTrainer.train(
            input=str(text), model_prefix=str(FIXTURE / "spm"), vocab_size=VOCAB_SIZE,
            model_type="unigram", character_coverage=0.9995, num_threads=2, minloglevel=2,
            pad_id=0, pad_piece="[PAD]", bos_id=1, bos_piece="[CLS]",
            eos_id=2, eos_piece="[SEP]", unk_id=3, unk_piece="[UNK]",
        )
    finally:
        text.unlink()
        (FIXTURE / "spm.vocab").unlink(missing_ok=True)
    # What microsoft/deberta-v3-base ships beside spm.model.
    write_json(FIXTURE / "tokenizer_config.json", {"do_lower_case": False, "vocab_type": "spm"})
    write_json(FIXTURE / "added_tokens.json", {"[MASK]": VOCAB_SIZE})
    write_json(FIXTURE / "special_tokens_map.json", {
        "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]", "sep_token": "[SEP]",
        "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
    })


def write_json(path, value):
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def write_rows(path, header, groups):
    """One case per line, so that the file stays small and diffs stay readable."""
    lines = [json.dumps(header, ensure_ascii=False)[:-1] + ","]
    for i, (name, rows) in enumerate(groups.items()):
        body = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in rows)
        lines.append(f'"{name}": [\n{body}\n]' + ("," if i + 1 < len(groups) else ""))
    path.write_text("\n".join(lines) + "}\n")


def converted(flags=False):
    """DebertaV2Converter on a stand-in for transformers 4's slow tokenizer, then the special
    tokens PreTrainedTokenizerFast adds from special_tokens_map.json. `flags`: with
    do_lower_case and split_by_punct (tokenizer_config.json), which DeBERTa-v3 leaves off."""
    processor = spm.SentencePieceProcessor(model_file=str(FIXTURE / "spm.model"))
    original = SimpleNamespace(
        vocab_file=str(FIXTURE / "spm.model"), split_by_punct=flags, do_lower_case=flags,
        add_prefix_space=True, convert_tokens_to_ids=processor.piece_to_id,
    )
    tokenizer = DebertaV2Converter(original).converted()
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL])
    assert tokenizer.token_to_id("[MASK]") == VOCAB_SIZE
    return tokenizer


class SentencePieceReference:
    """transformers 4's slow DebertaV2Tokenizer: split out special tokens, encode the rest."""

    def __init__(self):
        self.processor = spm.SentencePieceProcessor(model_file=str(FIXTURE / "spm.model"))
        self.special = {t: (VOCAB_SIZE if t == "[MASK]" else self.processor.piece_to_id(t)) for t in SPECIAL}

    def pieces(self, text):
        ids, rest = [], text
        while rest:
            found = [(rest.find(t), t) for t in SPECIAL if t in rest]
            if not found:
                ids += self.processor.encode(rest)
                break
            at, token = min(found)
            ids += self.processor.encode(rest[:at]) + [self.special[token]]
            rest = rest[at + len(token):]
        return ids

    def encode(self, first, second):
        cls, sep = self.special["[CLS]"], self.special["[SEP]"]
        ids = [cls] + self.pieces(first) + [sep]
        types = [0] * len(ids)
        if second is not None:
            tail = self.pieces(second) + [sep]
            ids, types = ids + tail, types + [1] * len(tail)
        return ids, types


def main():
    if "--train" in sys.argv:
        train()
    converter = converted()
    hf = DebertaV2Tokenizer.from_pretrained(str(FIXTURE))
    reference = SentencePieceReference()

    def case(name, first, second, include_text=True, max_length=None):
        args = (first,) if second is None else (first, second)
        truncation = {} if max_length is None else {"truncation": True, "max_length": max_length}
        encoding = converter.encode(*args)
        row = {"name": name}
        if include_text:
            row["first"], row["second"] = first, second
        row["ids"], row["type_ids"] = encoding.ids, encoding.type_ids
        # Batched, as datasets.map calls it (a single call takes text_pair="" for no pair).
        out = hf(*([a] for a in args), **truncation)
        theirs = (out["input_ids"][0], out["token_type_ids"][0])
        if theirs != (row["ids"], row["type_ids"]):
            row["transformers"] = {"ids": theirs[0], "type_ids": theirs[1]}
        theirs = reference.encode(first, second)
        if max_length is None and theirs != (row["ids"], row["type_ids"]):
            row["sentencepiece"] = {"ids": theirs[0], "type_ids": theirs[1]}
        return row

    cases = [case(*c) for c in ADVERSARIAL]
    validation = pq.read_table(MRPC / "validation-00000-of-00001.parquet")
    pairs = list(zip(validation.column("sentence1").to_pylist()[:200], validation.column("sentence2").to_pylist()[:200]))
    mrpc = [case(f"mrpc validation {i}", a, b, include_text=False) for i, (a, b) in enumerate(pairs)]
    header = {
        "generated_by": "scripts/deberta_spm_fixture.py",
        "versions": {"transformers": __import__("transformers").__version__,
                     "tokenizers": __import__("tokenizers").__version__,
                     "sentencepiece": spm.__version__},
    }
    # truncation=True, max_length=32 (longest first), as Wick's tokenize truncates every row;
    # SentencePiece has no truncation of its own, so only the other two are compared.
    converter.enable_truncation(32, strategy="longest_first")
    truncated = [case(f"mrpc validation {i}", a, b, include_text=False, max_length=32) for i, (a, b) in enumerate(pairs)]
    converter.no_truncation()
    flagged = converted(flags=True)
    lower_punct = [
        {"name": name, "first": first, "second": second,
         "ids": (e := flagged.encode(*([first] if second is None else [first, second]))).ids,
         "type_ids": e.type_ids}
        for name, first, second in ADVERSARIAL
    ]
    write_rows(EXPECTED, header, {
        "adversarial": cases,
        "mrpc_validation_first_200": mrpc,
        "mrpc_validation_first_200_max_length_32": truncated,
        "adversarial_do_lower_case_split_by_punct": lower_punct,
    })
    json.loads(EXPECTED.read_text())
    for group, rows in [("adversarial", cases), ("mrpc", mrpc), ("mrpc max_length 32", truncated)]:
        for other in ["transformers", "sentencepiece"]:
            differ = [r["name"] for r in rows if other in r]
            print(f"{group}: {other} differs from converter on {len(differ)}/{len(rows)}: {differ}")


if __name__ == "__main__":
    main()
