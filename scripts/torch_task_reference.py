"""The torch Trainer on one of Wick's task examples, for the accuracy comparison.

    python scripts/torch_task_reference.py examples/conll2003-minilm.toml OUT_DIR [--max-steps N]

Reads the example's recipe (model, dataset, task, learning rate, batch sizes, epochs, weight
decay, seed, max_length) and trains the same model on the same files with transformers'
Trainer on the CPU (2 threads), as the course does it: chapter 7's `align_labels_with_tokens`
and `DataCollatorForTokenClassification` for named entities, float multi-hot labels with
`problem_type="multi_label_classification"` for multi-label, one output with
`problem_type="regression"` for scores. Metrics carry Wick's names (entity f1/precision/recall
from seqeval and token accuracy; micro_f1, macro_f1, subset_accuracy, hamming_loss; pearson,
spearman, rmse). Prints and writes OUT_DIR/reference.json with every evaluation and the
training throughput. Needs torch, transformers, datasets, accelerate, seqeval, scikit-learn
and scipy.
"""
import argparse
import glob
import json
import os
import tomllib

import numpy as np
import torch
from datasets import load_dataset
from transformers import (AutoModelForSequenceClassification, AutoModelForTokenClassification,
                          AutoTokenizer, DataCollatorForTokenClassification,
                          DataCollatorWithPadding, Trainer, TrainingArguments)

# The split files of each Hub-layout dataset folder and config, as the dataset cards say.
SPLIT_FILES = {
    ("eriktks/conll2003", None): "data/{split}-*.parquet",
    ("google-research-datasets/go_emotions", "simplified"): "simplified/{split}-*.parquet",
    ("nyu-mll/glue", "stsb"): "stsb/{split}-*.parquet",
    ("nyu-mll/glue", "mrpc"): "mrpc/{split}-*.parquet",
}


def recipe(path):
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    here = os.path.dirname(os.path.abspath(path))
    for key in ("model", "dataset"):
        cfg[key] = os.path.normpath(os.path.join(here, cfg[key]))
    return cfg


def data_files(cfg):
    dataset = cfg["dataset"]
    for (repo, config), pattern in SPLIT_FILES.items():
        if dataset.endswith(repo) and cfg.get("dataset_config") == config:
            return {
                split: sorted(glob.glob(os.path.join(dataset, pattern.format(split=split))))
                for split in ("train", "validation")
            }
    raise SystemExit(f"no split files known for {dataset} ({cfg.get('dataset_config')})")


def entity_metrics(label_names):
    from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

    def compute(eval_pred):
        logits, labels = eval_pred
        predictions = np.argmax(logits, axis=-1)
        gold = [[label_names[l] for l in row if l != -100] for row in labels]
        pred = [[label_names[p] for p, l in zip(prow, row) if l != -100]
                for prow, row in zip(predictions, labels)]
        return {"f1": f1_score(gold, pred), "precision": precision_score(gold, pred),
                "recall": recall_score(gold, pred), "accuracy": accuracy_score(gold, pred)}
    return compute


def multi_label_metrics(eval_pred):
    from sklearn.metrics import f1_score, hamming_loss, precision_score, recall_score
    logits, labels = eval_pred
    predicted = (1 / (1 + np.exp(-logits)) >= 0.5).astype(int)
    labels = labels.astype(int)
    return {
        "micro_f1": f1_score(labels, predicted, average="micro", zero_division=0),
        "macro_f1": f1_score(labels, predicted, average="macro", zero_division=0),
        "micro_precision": precision_score(labels, predicted, average="micro", zero_division=0),
        "micro_recall": recall_score(labels, predicted, average="micro", zero_division=0),
        "subset_accuracy": float((predicted == labels).all(axis=1).mean()),
        "hamming_loss": hamming_loss(labels, predicted),
        "tuned_micro_f1": tuned_micro_f1(1 / (1 + np.exp(-logits)), labels),
    }


def tuned_micro_f1(probabilities, labels):
    """Micro F1 with each label's threshold tuned on this split, as Wick's tune_thresholds:
    k/20 for k = 1..19, the best F1 per label, ties to the one nearest 0.5, then the lower."""
    from sklearn.metrics import f1_score
    grid = [np.float32(k) / np.float32(20) for k in range(1, 20)]
    order = sorted(grid, key=lambda t: (abs(float(t) - 0.5), float(t)))
    thresholds = []
    for j in range(labels.shape[1]):
        scores = [(f1_score(labels[:, j], probabilities[:, j] >= t, zero_division=0), t)
                  for t in order]
        best = max(s for s, _ in scores)
        thresholds.append(next(t for s, t in scores if s == best))
    predicted = (probabilities >= np.array(thresholds)).astype(int)
    return f1_score(labels, predicted, average="micro", zero_division=0)


def regression_metrics(eval_pred):
    from scipy.stats import pearsonr, spearmanr
    predictions, labels = eval_pred
    predictions = predictions.reshape(-1)
    return {"pearson": float(pearsonr(predictions, labels)[0]),
            "spearman": float(spearmanr(predictions, labels)[0]),
            "rmse": float(np.sqrt(((predictions - labels) ** 2).mean()))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("example")
    parser.add_argument("out")
    parser.add_argument("--max-steps", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    cfg = recipe(args.example)
    if args.max_steps is None:
        args.max_steps = cfg.get("max_steps", -1)
    task = cfg["task"]
    raw = load_dataset("parquet", data_files=data_files(cfg))
    tokenizer = AutoTokenizer.from_pretrained(cfg["model"])
    max_length = min(cfg.get("max_length", 512), tokenizer.model_max_length, 512)

    if task == "token_classification":
        names = raw["train"].features["ner_tags"].feature.names

        def tokenize(batch):
            enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True,
                            max_length=max_length)
            enc["labels"] = []
            for i, tags in enumerate(batch["ner_tags"]):
                previous, labels = None, []
                for word in enc.word_ids(i):
                    labels.append(-100 if word is None or word == previous else tags[word])
                    previous = word
                enc["labels"].append(labels)
            return enc
        columns = raw["train"].column_names
        model = AutoModelForTokenClassification.from_pretrained(
            cfg["model"], num_labels=len(names), id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)})
        collator = DataCollatorForTokenClassification(tokenizer)
        metrics = entity_metrics(names)
    elif task == "multi_label_classification":
        names = raw["train"].features["labels"].feature.names

        def tokenize(batch):
            enc = tokenizer(batch["text"], truncation=True, max_length=max_length)
            # Not "labels" yet: map would cast the floats back to the int64 of the dataset's
            # own `labels` column. Renamed below.
            enc["multi_hot"] = [[1.0 if k in row else 0.0 for k in range(len(names))]
                                for row in batch["labels"]]
            return enc
        columns = raw["train"].column_names
        model = AutoModelForSequenceClassification.from_pretrained(
            cfg["model"], num_labels=len(names), problem_type="multi_label_classification",
            id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
        collator = DataCollatorWithPadding(tokenizer)
        metrics = multi_label_metrics
    elif task == "regression":
        def tokenize(batch):
            enc = tokenizer(batch["sentence1"], batch["sentence2"], truncation=True,
                            max_length=max_length)
            enc["labels"] = [float(v) for v in batch["label"]]
            return enc
        columns = raw["train"].column_names
        model = AutoModelForSequenceClassification.from_pretrained(
            cfg["model"], num_labels=1, problem_type="regression")
        collator = DataCollatorWithPadding(tokenizer)
        metrics = regression_metrics
    else:
        raise SystemExit(f"task {task!r}: this script covers the three new tasks")

    tokenized = raw.map(tokenize, batched=True, remove_columns=columns)
    if "multi_hot" in tokenized["train"].column_names:
        tokenized = tokenized.rename_column("multi_hot", "labels")
    training_args = TrainingArguments(
        output_dir=args.out, learning_rate=cfg.get("learning_rate", 5e-5),
        per_device_train_batch_size=cfg.get("per_device_train_batch_size", 8),
        per_device_eval_batch_size=cfg.get("per_device_eval_batch_size", 8),
        num_train_epochs=cfg.get("num_train_epochs", 3), max_steps=args.max_steps,
        weight_decay=cfg.get("weight_decay", 0.0), seed=cfg.get("seed", 42),
        warmup_steps=cfg.get("warmup_steps", 0),
        lr_scheduler_type=cfg.get("lr_scheduler_type", "linear"),
        # Wick evaluates each epoch and, when max_steps cuts the run short, at its end: the
        # final `trainer.evaluate()` below stands in for that last one.
        eval_strategy="epoch" if args.max_steps < 0 else "no", save_strategy="no",
        logging_steps=cfg.get("logging_steps", 500), report_to=[], use_cpu=True,
        dataloader_num_workers=0)
    trainer = Trainer(model=model, args=training_args, train_dataset=tokenized["train"],
                      eval_dataset=tokenized["validation"], data_collator=collator,
                      processing_class=tokenizer, compute_metrics=metrics)
    train = trainer.train().metrics
    final = trainer.evaluate()
    out = {"example": args.example, "task": task,
           "train_samples_per_second": train["train_samples_per_second"],
           "train_runtime": train["train_runtime"], "final_eval": final,
           "evals": [e for e in trainer.state.log_history if "eval_loss" in e]}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
