#!/usr/bin/env python3
"""Checks Wick's two LoRA export forms in Python against Wick's own logits.

    check_peft_export.py BASE_DIR ADAPTER_DIR MERGED_DIR EXPECTED.safetensors

- ADAPTER_DIR (adapter_config.json + adapter_model.safetensors) must load onto BASE_DIR
  with `PeftModel.from_pretrained`, every saved tensor used (no missing or unexpected keys);
- MERGED_DIR must load with `AutoModelForSequenceClassification.from_pretrained` (or the
  token-classification class its config names);
- both must give EXPECTED's `logits` for its `input_ids`, `token_type_ids` and
  `attention_mask` within 1e-4 relative (entries below 1% of the largest judged against
  that floor, as Wick's parity tests do).

Prints one line per form with the worst relative error; exits 1 on a mismatch.
"""

import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoConfig

RTOL = 1e-4
FLOOR_FRACTION = 1e-2


def model_class(path):
    config = AutoConfig.from_pretrained(path)
    if any(a.endswith("ForTokenClassification") for a in config.architectures or []):
        return AutoModelForTokenClassification
    return AutoModelForSequenceClassification


def worst_relative_error(got, want):
    scale = want.abs().max().item()
    floor = max(FLOOR_FRACTION * scale, 1e-30)
    return ((got - want).abs() / want.abs().clamp(min=floor)).max().item()


def main():
    base_dir, adapter_dir, merged_dir, expected_path = sys.argv[1:5]
    expected = load_file(expected_path)
    inputs = {
        "input_ids": expected["input_ids"].long(),
        "token_type_ids": expected["token_type_ids"].long(),
        "attention_mask": expected["attention_mask"].long(),
    }
    want = expected["logits"].float()
    failed = False

    cls = model_class(merged_dir)
    base = cls.from_pretrained(base_dir)
    peft_model = PeftModel.from_pretrained(base, adapter_dir)
    peft_model.eval()
    # Every tensor of the file went somewhere: a key peft did not expect would be ignored.
    loaded = load_file(f"{adapter_dir}/adapter_model.safetensors")
    state = peft_model.state_dict()
    names = {k.replace(".default", "").replace(".modules_to_save", "") for k in state}
    unused = sorted(k for k in loaded if k not in names)
    if unused:
        print(f"adapter: tensors peft did not use: {unused}")
        failed = True
    with torch.no_grad():
        got = peft_model(**inputs).logits
    error = worst_relative_error(got, want)
    print(f"adapter (PeftModel.from_pretrained): worst relative error {error:.3e}")
    failed |= not error <= RTOL

    merged = cls.from_pretrained(merged_dir)
    merged.eval()
    with torch.no_grad():
        got = merged(**inputs).logits
    error = worst_relative_error(got, want)
    print(f"merged ({cls.__name__}): worst relative error {error:.3e}")
    failed |= not error <= RTOL
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
