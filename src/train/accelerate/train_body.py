
# ---------------------------------------------------------------------------------------------
# The recipe. Everything above is data; nothing below needs editing to change a setting.
# ---------------------------------------------------------------------------------------------

import numpy as np
from datasets import ClassLabel, load_dataset
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    set_seed,
)

# Wick's default truncation length when max_length is unset, before the model's own limit.
DEFAULT_MAX_LENGTH = 512


def resolve_columns(columns):
    """The text, text-pair and label columns: WICK's overrides, else Wick's guesses."""
    text, pair, label = WICK["text_column"], WICK["text_pair_column"], WICK["label_column"]
    for name in (text, pair, label):
        if name is not None and name not in columns:
            raise SystemExit(f"column {name!r} not found; columns: {', '.join(columns)}")
    if text is None:
        if pair is not None:
            raise SystemExit(f"text_pair_column {pair!r} is set but text_column is not")
        guessed = next(((a, b) for a, b in GUESSED_TEXT_PAIRS if a in columns and b in columns), None)
        if guessed is not None:
            text, pair = guessed
        else:
            text = next((c for c in GUESSED_TEXT_COLUMNS if c in columns), None)
            if text is None:
                raise SystemExit(f"cannot guess the text column; set text_column. Columns: {', '.join(columns)}")
    if label is None:
        label = next((c for c in GUESSED_LABEL_COLUMNS if c in columns), None)
        if label is None:
            raise SystemExit(f"cannot guess the label column; set label_column. Columns: {', '.join(columns)}")
    return text, pair, label


def label_names(train, label):
    """ClassLabel names, else sorted distinct strings, else 0..=max (as Wick decides)."""
    feature = train.features[label]
    if isinstance(feature, ClassLabel):
        return list(feature.names)
    values = train.unique(label)
    if all(isinstance(v, str) for v in values):
        return sorted(values)
    return [str(i) for i in range(max(int(v) for v in values) + 1)]


def to_label_ids(split, label, names, feature_is_class_label):
    """The label column as ids named "labels" (what the model's forward takes)."""
    if feature_is_class_label:
        return split.rename_column(label, "labels") if label != "labels" else split
    index = {name: i for i, name in enumerate(names)}

    def encode(batch):
        ids = []
        for value in batch[label]:
            key = value if isinstance(value, str) else str(int(value))
            if key not in index:
                raise ValueError(f"label {value!r} is not one of the training labels {names}")
            ids.append(index[key])
        return {"labels": ids}

    return split.map(encode, batched=True)


def max_length_for(tokenizer, model_config):
    """max_length (else 512), capped by the tokenizer's and the position embeddings' limits."""
    positions = getattr(model_config, "max_position_embeddings", None) or DEFAULT_MAX_LENGTH
    if model_config.model_type in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # two positions are reserved for the padding offset
    wanted = WICK["max_length"] or DEFAULT_MAX_LENGTH
    return max(1, min(wanted, tokenizer.model_max_length, positions))


def compute_metrics(eval_pred):
    """Accuracy, F1/precision/recall (binary for 2 labels, else macro over the labels present),
    Matthews correlation: the same numbers Wick logs (sklearn's definitions, zero_division=0)."""
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    predictions = np.argmax(logits, axis=-1)
    labels = np.asarray(labels)
    num_labels = int(max(logits.shape[-1], predictions.max() + 1, labels.max() + 1))
    confusion = np.zeros((num_labels, num_labels), dtype=np.float64)
    np.add.at(confusion, (labels, predictions), 1)

    true_counts = confusion.sum(axis=1)
    pred_counts = confusion.sum(axis=0)
    tp = np.diag(confusion)

    def ratio(num, den):
        return np.divide(num, den, out=np.zeros_like(num), where=den != 0)

    precision = ratio(tp, pred_counts)
    recall = ratio(tp, true_counts)
    f1 = ratio(2 * tp, pred_counts + true_counts)
    if num_labels == 2:
        p, r, f = precision[1], recall[1], f1[1]
    else:
        present = (pred_counts + true_counts) > 0
        p, r, f = precision[present].mean(), recall[present].mean(), f1[present].mean()

    samples = confusion.sum()
    cov_ytyp = tp.sum() * samples - true_counts @ pred_counts
    cov_ypyp = samples * samples - pred_counts @ pred_counts
    cov_ytyt = samples * samples - true_counts @ true_counts
    mcc = 0.0 if cov_ypyp * cov_ytyt == 0 else cov_ytyp / np.sqrt(cov_ytyt * cov_ypyp)
    return {
        "accuracy": float(tp.sum() / samples),
        "f1": float(f),
        "precision": float(p),
        "recall": float(r),
        "matthews_correlation": float(mcc),
    }


def main():
    args = TrainingArguments(**TRAINING_ARGUMENTS)
    raw = load_dataset(**LOAD_DATASET)
    for split in (WICK["train_split"], WICK["eval_split"]):
        if split is not None and split not in raw:
            raise SystemExit(f"split {split!r} not found; splits: {', '.join(raw.keys())}")
    train = raw[WICK["train_split"]]
    evaluation = raw[WICK["eval_split"]] if WICK["eval_split"] is not None else None
    # Columns and label names come from the whole training split, before any hold-out, as
    # Wick takes them: a class whose rows all land in the held-out share keeps its id.
    text, pair, label = resolve_columns(train.column_names)
    names = label_names(train, label)
    is_class_label = isinstance(train.features[label], ClassLabel)
    if evaluation is None and WICK["validation_split_percentage"] is not None:
        seed = args.data_seed if args.data_seed is not None else args.seed
        held = train.train_test_split(test_size=WICK["validation_split_percentage"] / 100, seed=seed)
        train, evaluation = held["train"], held["test"]

    tokenizer = AutoTokenizer.from_pretrained(WICK["model"])
    model_config = AutoConfig.from_pretrained(
        WICK["model"],
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
    )
    max_length = max_length_for(tokenizer, model_config)

    def tokenize(batch):
        # Truncate only; DataCollatorWithPadding pads each batch (dynamic padding).
        second = batch[pair] if pair is not None else None
        return tokenizer(batch[text], second, truncation=True, max_length=max_length)

    def prepare(split):
        split = to_label_ids(split, label, names, is_class_label)
        keep = {"labels"}
        return split.map(
            tokenize,
            batched=True,
            num_proc=WICK["tokenize_threads"],
            remove_columns=[c for c in split.column_names if c not in keep],
        )

    with args.main_process_first(desc="tokenize"):
        train = prepare(train)
        evaluation = prepare(evaluation) if evaluation is not None else None

    # The classifier head is initialized here, before Trainer seeds anything: seed it, as Wick
    # does, so two runs of the script start from the same weights.
    set_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(WICK["model"], config=model_config)
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=WICK["pad_to_multiple_of"])
    callbacks = [EarlyStoppingCallback(**EARLY_STOPPING)] if EARLY_STOPPING is not None else []
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics if evaluation is not None else None,
        callbacks=callbacks,
    )
    if trainer.is_world_process_zero():
        print(
            f"{len(train)} train rows, {len(evaluation) if evaluation is not None else 0} eval rows, "
            f"labels {names}, columns text={text!r} text_pair={pair!r} label={label!r}, "
            f"max_length {max_length}, {args.world_size} process(es)"
        )
    result = trainer.train(**TRAIN_KWARGS)
    trainer.save_model()
    if trainer.is_world_process_zero():
        print(f"train: global step {result.global_step}, loss {result.training_loss:.4f}")
        evals = [entry for entry in trainer.state.log_history if "eval_loss" in entry]
        if evals:
            last = evals[-1]
            shown = ", ".join(f"{k} {v:.4f}" for k, v in last.items() if k.startswith("eval_") and isinstance(v, float))
            print(f"eval @ step {last.get('step')}: {shown}")


if __name__ == "__main__":
    main()
