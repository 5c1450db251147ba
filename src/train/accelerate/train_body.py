
# ---------------------------------------------------------------------------------------------
# The recipe. Everything above is data; nothing below needs editing to change a setting.
# ---------------------------------------------------------------------------------------------

import numpy as np
import torch
from datasets import ClassLabel, Value, load_dataset
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    set_seed,
)

# Wick's default truncation length when max_length is unset, before the model's own limit.
DEFAULT_MAX_LENGTH = 512
# Model types whose tokenizers are byte-level BPE.
BYTE_LEVEL_MODELS = ("roberta", "modernbert")
# LoRA's target modules when the recipe names none: Wick's defaults per model type
# (src/model/lora.rs default_target_modules; peft's own mapping where it has one).
LORA_DEFAULT_TARGETS = {
    "bert": ["query", "value"],
    "roberta": ["query", "value"],
    "xlm-roberta": ["query", "value"],
    "distilbert": ["q_lin", "v_lin"],
    "modernbert": ["Wqkv"],
    "deberta-v2": ["query_proj", "value_proj"],
}

# The tasks, in HF's problem_type spelling (WICK["task"] takes these names).
SINGLE_LABEL = "single_label_classification"
MULTI_LABEL = "multi_label_classification"
REGRESSION = "regression"
TOKEN_CLASSIFICATION = "token_classification"
TASKS = (SINGLE_LABEL, MULTI_LABEL, REGRESSION, TOKEN_CLASSIFICATION)

# Labels at these positions are not trained on (special tokens, later pieces of a word).
IGNORED = -100


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


def is_list_feature(feature):
    """A list per row: Sequence (datasets 2-4), List/LargeList (datasets 5) or a plain [feature]."""
    return isinstance(feature, list) or type(feature).__name__ in ("Sequence", "List", "LargeList")


def item_feature(feature):
    """The feature of a list column's items."""
    return feature[0] if isinstance(feature, list) else feature.feature


def decide_task(train, text, label):
    """WICK["task"], else read off the column types as Wick does (src/data/task_labels.rs):
    a float label is regression, a list of classes beside a word list token classification,
    a list of classes per row multi-label, anything else one class per row."""
    if WICK["task"] is not None:
        if WICK["task"] not in TASKS:
            raise SystemExit(f"task {WICK['task']!r} is not one of {', '.join(TASKS)}")
        return WICK["task"], "set by the recipe's task"
    feature = train.features[label]
    if isinstance(feature, Value) and feature.dtype.startswith("float"):
        return REGRESSION, f"`{label}` holds a number ({feature.dtype}) per row"
    if is_list_feature(feature) and is_list_feature(train.features[text]):
        return TOKEN_CLASSIFICATION, f"`{label}` holds a class per word of the word list `{text}`"
    if is_list_feature(feature):
        return MULTI_LABEL, f"`{label}` holds a list of classes per row"
    return SINGLE_LABEL, f"`{label}` holds one class per row"


def label_names(train, label, task):
    """ClassLabel names, else sorted distinct strings, else 0..=max (as Wick decides); the
    items' names for a list column; regression's one output is named after the column."""
    feature = train.features[label]
    if task == REGRESSION or (isinstance(feature, Value) and feature.dtype.startswith("float")):
        return [label]
    if is_list_feature(feature):
        feature = item_feature(feature)
        values = {value for row in train[label] for value in row if value is not None}
    else:
        values = set(train.unique(label))
    if isinstance(feature, ClassLabel):
        return list(feature.names)
    if all(isinstance(v, str) for v in values):
        return sorted(values)
    return [str(i) for i in range(max((int(v) for v in values), default=0) + 1)]


def class_ids(names, given_as_ids):
    """A function from a label value to its class id: ClassLabel values are ids already, other
    values are names (strings, or integers written as names 0..=max). Unknown labels fail."""
    index = {name: i for i, name in enumerate(names)}

    def class_id(value):
        if given_as_ids:
            if not 0 <= int(value) < len(names):
                raise ValueError(f"label id {value!r} is out of range for the labels {names}")
            return int(value)
        key = value if isinstance(value, str) else str(int(value))
        if key not in index:
            raise ValueError(f"label {value!r} is not one of the training labels {names}")
        return index[key]

    return class_id


def to_labels(split, label, names, task):
    """The label column as "labels" (what the model's forward takes) in the task's form: a class
    id, a float, a multi-hot float vector, or a class id per word (aligned to the pieces when
    tokenizing)."""
    feature = split.features[label]
    if is_list_feature(feature):
        feature = item_feature(feature)
    class_id = class_ids(names, isinstance(feature, ClassLabel))

    def encode(batch):
        values = batch[label]
        if task == REGRESSION:
            labels = [float(v.strip()) if isinstance(v, str) else float(v) for v in values]
        elif task == MULTI_LABEL:
            labels = []
            for row in values:
                hot = [0.0] * len(names)
                for value in row:
                    hot[class_id(value)] = 1.0
                labels.append(hot)
        elif task == TOKEN_CLASSIFICATION:
            labels = [[class_id(v) for v in row] for row in values]
        else:
            labels = [class_id(v) for v in values]
        return {"wick_labels": labels}

    # Written under a new name and renamed: a map that returns "labels" over a column of that
    # name would cast the new values to the old feature (multi-hot floats to ClassLabel ids).
    split = split.map(encode, batched=True, remove_columns=[label])
    return split.rename_column("wick_labels", "labels")


def inside_tags(names):
    """Each tag's id, except that a B- tag maps to its I- tag when there is one (run_ner.py's
    b_to_i_label; Wick's data::inside_tags)."""
    inside = []
    for i, name in enumerate(names):
        partner = "I-" + name[2:] if name.startswith("B-") else None
        inside.append(names.index(partner) if partner in names else i)
    return inside


def align_labels_with_tokens(tags, word_ids, inside):
    """The course's chapter 7 alignment: special tokens get -100, a word's first piece its tag,
    later pieces -100 (or, with label_all_tokens, the tag's I- form)."""
    labels, previous = [], None
    for word in word_ids:
        if word is None:
            labels.append(IGNORED)
        elif word != previous:
            labels.append(tags[word] if word < len(tags) else IGNORED)
        elif WICK["label_all_tokens"]:
            labels.append(inside[tags[word]] if word < len(tags) else IGNORED)
        else:
            labels.append(IGNORED)
        previous = word
    return labels


def class_weights_for(train, names, task):
    """WICK["class_weights"] as one weight per class, or None. "balanced" is sklearn's
    n_samples / (n_present_classes * count) over the tokenized training split (trained token
    labels for token classification); a class without rows weighs 1 (Wick's
    train::scores::balanced_class_weights)."""
    setting = WICK["class_weights"]
    if setting is None or setting == "none":
        return None
    if task not in (SINGLE_LABEL, TOKEN_CLASSIFICATION):
        raise SystemExit(
            f"class_weights: the data reads as {task}; class weights apply to single-label "
            "and token classification"
        )
    if setting == "balanced":
        labels = np.asarray([l for row in train["labels"] for l in (row if isinstance(row, list) else [row])])
        labels = labels[labels != IGNORED]
        counts = np.bincount(labels, minlength=len(names)).astype(np.float64)
        present = np.count_nonzero(counts)
        weights = np.where(counts > 0, counts.sum() / (present * np.maximum(counts, 1)), 1.0)
        return [float(w) for w in weights.astype(np.float32)]
    if len(setting) != len(names):
        raise SystemExit(f"class_weights: {len(setting)} weights for {len(names)} classes {names}")
    return [float(w) for w in setting]


class WeightedLossTrainer(Trainer):
    """Trainer with a class-weighted cross-entropy (torch's weighted mean over the trained
    positions, as Wick's loss)."""

    def __init__(self, *args, class_weights, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = torch.tensor(class_weights, dtype=torch.float32)
        # The loss below is a mean per micro-batch: let Trainer divide it by the accumulation
        # steps, as it does for models that take no loss kwargs.
        self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits.float()
        loss_fct = torch.nn.CrossEntropyLoss(
            weight=self.class_weights.to(logits.device), ignore_index=IGNORED
        )
        loss = loss_fct(logits.view(-1, logits.shape[-1]), labels.view(-1))
        return (loss, outputs) if return_outputs else loss


def max_length_for(tokenizer, model_config):
    """max_length (else 512), capped by the tokenizer's and the position embeddings' limits."""
    positions = getattr(model_config, "max_position_embeddings", None) or DEFAULT_MAX_LENGTH
    if model_config.model_type in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # two positions are reserved for the padding offset
    wanted = WICK["max_length"] or DEFAULT_MAX_LENGTH
    return max(1, min(wanted, tokenizer.model_max_length, positions))


def logits_of(eval_pred):
    logits = eval_pred.predictions
    if isinstance(logits, tuple):
        logits = logits[0]
    return np.asarray(logits), np.asarray(eval_pred.label_ids)


def ratio(num, den):
    """num / den, 0 where den is 0 (sklearn's and seqeval's zero_division=0)."""
    return float(num) / float(den) if den else 0.0


def single_label_metrics(eval_pred):
    """Accuracy, F1/precision/recall (binary for 2 labels, else macro over the labels present),
    Matthews correlation and the macro F1: the same numbers Wick logs (sklearn's definitions,
    zero_division=0)."""
    logits, labels = logits_of(eval_pred)
    predictions = np.argmax(logits, axis=-1)
    num_labels = int(max(logits.shape[-1], predictions.max() + 1, labels.max() + 1))
    confusion = np.zeros((num_labels, num_labels), dtype=np.float64)
    np.add.at(confusion, (labels, predictions), 1)

    true_counts = confusion.sum(axis=1)
    pred_counts = confusion.sum(axis=0)
    tp = np.diag(confusion)

    def ratios(num, den):
        return np.divide(num, den, out=np.zeros_like(num), where=den != 0)

    precision = ratios(tp, pred_counts)
    recall = ratios(tp, true_counts)
    f1 = ratios(2 * tp, pred_counts + true_counts)
    present = (pred_counts + true_counts) > 0
    macro_f1 = f1[present].mean() if present.any() else 0.0
    if num_labels == 2:
        p, r, f = precision[1], recall[1], f1[1]
    else:
        p, r, f = precision[present].mean(), recall[present].mean(), macro_f1

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
        "macro_f1": float(macro_f1),
    }


def entity_chunks(tags):
    """seqeval's lenient get_entities (the default mode, conlleval's): (type, first, last) of
    each entity, reading B-/I-/E-/S- prefixes of any scheme (Wick's train::scores::entity_spans)."""
    def parts(tag):
        if not tag:
            return "O", "_"
        rest = tag[1:]
        kind = rest.split("-", 1)[1] if "-" in rest else rest
        return tag[0], kind or "_"

    chunks, prev_tag, prev_type, begin = [], "O", "", 0
    for i, chunk in enumerate(list(tags) + ["O"]):
        tag, kind = parts(chunk)
        ends = (
            prev_tag in ("E", "S")
            or (prev_tag in ("B", "I") and tag in ("B", "S", "O"))
            or (prev_tag not in ("O", ".") and prev_type != kind)
        )
        if ends:
            chunks.append((prev_type, begin, i - 1))
        starts = (
            tag in ("B", "S")
            or (prev_tag in ("E", "S", "O") and tag in ("E", "I"))
            or (tag not in ("O", ".") and prev_type != kind)
        )
        if starts:
            begin = i
        prev_tag, prev_type = tag, kind
    return chunks


def make_token_metrics(names):
    """seqeval's overall (micro) entity precision/recall/F1 and the accuracy over the trained
    tokens, under the names of the course's chapter 7 compute_metrics (and Wick's)."""
    def token_metrics(eval_pred):
        logits, labels = logits_of(eval_pred)
        predictions = np.argmax(logits, axis=-1)
        gold, predicted = [], []
        for row_predictions, row_labels in zip(predictions, labels):
            keep = row_labels != IGNORED
            gold.append([names[l] for l in row_labels[keep]])
            predicted.append([names[p] for p in row_predictions[keep]])
        tokens = sum(len(row) for row in gold)
        correct = sum(g == p for g_row, p_row in zip(gold, predicted) for g, p in zip(g_row, p_row))

        # seqeval joins the rows with an O between them and reads one sequence.
        def entities(rows):
            joined = [tag for row in rows for tag in row + ["O"]]
            return set(entity_chunks(joined))

        gold_entities, predicted_entities = entities(gold), entities(predicted)
        found = len(gold_entities & predicted_entities)
        precision = ratio(found, len(predicted_entities))
        recall = ratio(found, len(gold_entities))
        return {
            "f1": ratio(2 * precision * recall, precision + recall),
            "precision": precision,
            "recall": recall,
            "accuracy": ratio(correct, tokens),
        }

    return token_metrics


def label_counts(predicted, targets):
    """Per label: true positives, false positives, false negatives."""
    tp = (predicted & targets).sum(axis=0)
    fp = (predicted & ~targets).sum(axis=0)
    fn = (~predicted & targets).sum(axis=0)
    return tp, fp, fn


def f1_of(tp, fp, fn):
    """2tp / (2tp + fp + fn), 0 where nothing is predicted or true (sklearn >= 1.3)."""
    tp, den = np.asarray(2.0 * tp, dtype=np.float64), np.asarray(2.0 * tp + fp + fn, dtype=np.float64)
    return np.divide(tp, den, out=np.zeros_like(tp), where=den != 0)


def tuned_thresholds(probabilities, targets):
    """Per label, the threshold of 0.05, 0.10, ..., 0.95 with the best F1 on this split; ties go
    to the one closest to 0.5, then the lower (Wick's train::scores::tune_thresholds)."""
    steps = sorted(range(1, 20), key=lambda k: (abs(k - 10), k))
    best_f1 = np.full(targets.shape[1], -np.inf)
    best = np.full(targets.shape[1], np.float32(0.5), dtype=np.float32)
    for k in steps:
        threshold = np.float32(k / 20)
        f1 = f1_of(*label_counts(probabilities >= threshold, targets))
        better = f1 > best_f1
        best_f1[better], best[better] = f1[better], threshold
    return best


def multi_label_metrics(eval_pred):
    """Micro/macro F1, micro precision/recall, subset accuracy and Hamming loss at 0.5, and the
    micro F1 with each label's threshold tuned on this split (Wick's names and definitions)."""
    logits, labels = logits_of(eval_pred)
    probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float32)))
    targets = labels > 0.5

    def scores(thresholds):
        predicted = probabilities >= thresholds
        tp, fp, fn = label_counts(predicted, targets)
        micro_tp, micro_fp, micro_fn = tp.sum(), fp.sum(), fn.sum()
        return {
            "micro_f1": float(f1_of(micro_tp, micro_fp, micro_fn)),
            "macro_f1": float(f1_of(tp, fp, fn).mean()),
            "micro_precision": ratio(micro_tp, micro_tp + micro_fp),
            "micro_recall": ratio(micro_tp, micro_tp + micro_fn),
            "subset_accuracy": float((predicted == targets).all(axis=1).mean()),
            "hamming_loss": float((micro_fp + micro_fn) / targets.size),
        }

    result = scores(np.float32(0.5))
    result["tuned_micro_f1"] = scores(tuned_thresholds(probabilities, targets))["micro_f1"]
    return result


def pearson(x, y):
    """scipy's pearsonr statistic; None for a constant input or fewer than two values."""
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return None
    xc, yc = x - x.mean(), y - y.mean()
    xc, yc = xc / np.abs(xc).max(), yc / np.abs(yc).max()
    r = float(np.dot(xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)))
    return max(-1.0, min(1.0, r))


def average_ranks(values):
    """1-based ranks, ties sharing their mean rank (scipy's rankdata(method="average"))."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and values[order[end]] == values[order[start]]:
            end += 1
        ranks[order[start:end]] = (start + 1 + end) / 2.0
        start = end
    return ranks


def regression_metrics(eval_pred):
    """Pearson and Spearman correlations (left out when undefined), RMSE, MSE, MAE."""
    logits, labels = logits_of(eval_pred)
    x = logits.reshape(-1).astype(np.float64)
    y = labels.reshape(-1).astype(np.float64)
    mse = float(np.mean((x - y) ** 2))
    result = {}
    for name, value in (("pearson", pearson(x, y)), ("spearman", pearson(average_ranks(x), average_ranks(y)))):
        if value is not None:
            result[name] = value
    result.update({"rmse": mse ** 0.5, "mse": mse, "mae": float(np.mean(np.abs(x - y)))})
    return result


def metrics_for(task, names):
    """The task's compute_metrics, with Wick's metric names."""
    if task == TOKEN_CLASSIFICATION:
        return make_token_metrics(names)
    if task == MULTI_LABEL:
        return multi_label_metrics
    if task == REGRESSION:
        return regression_metrics
    return single_label_metrics



def with_lora(model, model_type, task, missing_keys):
    """The model with peft's LoRA adapters, as Wick's use_lora trains it: only the adapters and
    the head (peft's SEQ_CLS / TOKEN_CLS save the classifier) train, and so do the other
    modules the checkpoint lacked (e.g. a new pooler), which peft would leave random."""
    from peft import LoraConfig, TaskType, get_peft_model

    modules_to_save = list(WICK["modules_to_save"])
    for key in missing_keys:
        module = key.rsplit(".", 1)[0]
        head = module.split(".")[0] in ("classifier", "score")
        if not head and not any(module.endswith(m) for m in modules_to_save):
            modules_to_save.append(module)

    targets = WICK["lora_target_modules"] or LORA_DEFAULT_TARGETS.get(model_type)
    if not targets:
        raise SystemExit(f"use_lora: no default LoRA targets for model type {model_type!r}; set lora_target_modules")
    config = LoraConfig(
        task_type=TaskType.TOKEN_CLS if task == TOKEN_CLASSIFICATION else TaskType.SEQ_CLS,
        r=WICK["lora_r"],
        lora_alpha=WICK["lora_alpha"],
        lora_dropout=WICK["lora_dropout"],
        target_modules=targets,
        use_rslora=WICK["use_rslora"],
        modules_to_save=modules_to_save or None,
    )
    model = get_peft_model(model, config)
    model.print_trainable_parameters()
    return model


def main():
    args = TrainingArguments(**TRAINING_ARGUMENTS)
    raw = load_dataset(**LOAD_DATASET)
    for split in (WICK["train_split"], WICK["eval_split"]):
        if split is not None and split not in raw:
            raise SystemExit(f"split {split!r} not found; splits: {', '.join(raw.keys())}")
    train = raw[WICK["train_split"]]
    evaluation = raw[WICK["eval_split"]] if WICK["eval_split"] is not None else None
    # Columns, task and label names come from the whole training split, before any hold-out,
    # as Wick takes them: a class whose rows all land in the held-out share keeps its id.
    text, pair, label = resolve_columns(train.column_names)
    task, reason = decide_task(train, text, label)
    names = label_names(train, label, task)
    if evaluation is None and WICK["validation_split_percentage"] is not None:
        seed = args.data_seed if args.data_seed is not None else args.seed
        held = train.train_test_split(test_size=WICK["validation_split_percentage"] / 100, seed=seed)
        train, evaluation = held["train"], held["test"]

    tokenizer_kwargs = {}
    if task == TOKEN_CLASSIFICATION and AutoConfig.from_pretrained(WICK["model"]).model_type in BYTE_LEVEL_MODELS:
        # Byte-level BPE reads pre-split words only with a leading space (Wick does the same).
        tokenizer_kwargs["add_prefix_space"] = True
    tokenizer = AutoTokenizer.from_pretrained(WICK["model"], **tokenizer_kwargs)
    config_kwargs = {
        "num_labels": len(names),
        "id2label": dict(enumerate(names)),
        "label2id": {name: i for i, name in enumerate(names)},
    }
    if task != TOKEN_CLASSIFICATION:
        config_kwargs["problem_type"] = task
    model_config = AutoConfig.from_pretrained(WICK["model"], **config_kwargs)
    max_length = max_length_for(tokenizer, model_config)
    inside = inside_tags(names)

    def tokenize(batch):
        # Truncate only; the collator pads each batch (dynamic padding).
        if task == TOKEN_CLASSIFICATION:
            encoded = tokenizer(batch[text], is_split_into_words=True, truncation=True, max_length=max_length)
            encoded["labels"] = [
                align_labels_with_tokens(tags, encoded.word_ids(i), inside)
                for i, tags in enumerate(batch["labels"])
            ]
            return encoded
        second = batch[pair] if pair is not None else None
        return tokenizer(batch[text], second, truncation=True, max_length=max_length)

    def prepare(split):
        split = to_labels(split, label, names, task)
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
    weights = class_weights_for(train, names, task)

    # The head is initialized here, before Trainer seeds anything: seed it, as Wick does, so
    # two runs of the script start from the same weights.
    set_seed(args.seed)
    if task == TOKEN_CLASSIFICATION:
        model, loading = AutoModelForTokenClassification.from_pretrained(
            WICK["model"], config=model_config, output_loading_info=True
        )
        collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=WICK["pad_to_multiple_of"])
    else:
        model, loading = AutoModelForSequenceClassification.from_pretrained(
            WICK["model"], config=model_config, output_loading_info=True
        )
        collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=WICK["pad_to_multiple_of"])
    if WICK["use_lora"]:
        model = with_lora(model, model_config.model_type, task, loading["missing_keys"])
    callbacks = [EarlyStoppingCallback(**EARLY_STOPPING)] if EARLY_STOPPING is not None else []
    trainer_class, extra = (Trainer, {}) if weights is None else (WeightedLossTrainer, {"class_weights": weights})
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=metrics_for(task, names) if evaluation is not None else None,
        callbacks=callbacks,
        **extra,
    )
    if trainer.is_world_process_zero():
        shown = names if len(names) <= 30 else names[:30] + [f"... {len(names) - 30} more"]
        print(
            f"task {task} ({reason}); "
            f"{len(train)} train rows, {len(evaluation) if evaluation is not None else 0} eval rows, "
            f"labels {shown}, columns text={text!r} text_pair={pair!r} label={label!r}, "
            f"max_length {max_length}, class weights {weights}, {args.world_size} process(es)"
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
