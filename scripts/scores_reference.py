#!/usr/bin/env python3
"""Expected values for Wick's scores (src/train/scores), from seqeval, scikit-learn and scipy.

    scores_reference.py evaluate IN.json OUT.json
        Read cases (as src/train/scores/python_check.rs writes them) and write them back with
        an "expected" object in each, computed by the Python libraries.
    scores_reference.py fixture OUT.json [--seed N]
        Generate seeded cases here and evaluate them: this is how
        tests/fixtures/scores/reference.json was made (seed 2026), so the comparison also runs
        where Python is missing.

Needs seqeval (1.2.2), scikit-learn and scipy. Exits with status 3 and a line starting with
"missing:" when one is not importable. Run it with the interpreter of your choice
(the Rust test uses $WICK_PYTHON, else python3).

Wick's own rules, applied here too because the libraries have no answer:
- a correlation of fewer than two values, or of a constant input, is null (scipy: error/NaN);
- a class with no rows gets weight 1.0 in balanced class weights (sklearn: error), and the
  other classes are weighted over the classes that occur;
- tuned thresholds: the grid k/20 (k = 1..19) in float32, the best F1 per label, ties to the
  threshold closest to 0.5, then the lower.
"""

import importlib.metadata as metadata
import json
import sys
import warnings

try:
    import numpy as np
    import scipy.stats
    import seqeval.metrics
    import seqeval.metrics.sequence_labeling
    import seqeval.metrics.v1
    import seqeval.scheme
    import sklearn.metrics
    from sklearn.utils.class_weight import compute_class_weight
except ImportError as error:
    print(f"missing: {error.name} ({error})", file=sys.stderr)
    sys.exit(3)

warnings.filterwarnings("ignore")  # zero-division and constant-input warnings are expected

SCHEMES = {"Iob1": seqeval.scheme.IOB1, "Iob2": seqeval.scheme.IOB2, "Iobes": seqeval.scheme.IOBES}


def expected_entities(case):
    gold, predicted = case["gold"], case["predicted"]
    if case["strict"]:
        scheme = SCHEMES[case["scheme"]]
        kwargs = {"mode": "strict", "scheme": scheme}
        names = seqeval.metrics.v1.unique_labels(gold, predicted, scheme)
        p, r, f, s = seqeval.metrics.v1.precision_recall_fscore_support(
            gold, predicted, average=None, zero_division=0, scheme=scheme
        )
    else:
        kwargs = {}
        get_entities = seqeval.metrics.sequence_labeling.get_entities
        names = sorted({e[0] for e in get_entities(gold)} | {e[0] for e in get_entities(predicted)})
        p, r, f, s = seqeval.metrics.sequence_labeling.precision_recall_fscore_support(
            gold, predicted, average=None, zero_division=0
        )
    spans = lambda rows: [  # noqa: E731
        [[kind, start, end] for kind, start, end in seqeval.metrics.sequence_labeling.get_entities(row)]
        for row in rows
    ]
    return {
        "precision": float(seqeval.metrics.precision_score(gold, predicted, **kwargs)),
        "recall": float(seqeval.metrics.recall_score(gold, predicted, **kwargs)),
        "f1": float(seqeval.metrics.f1_score(gold, predicted, **kwargs)),
        "token_accuracy": float(seqeval.metrics.accuracy_score(gold, predicted)),
        "per_type": {
            name: [float(p[i]), float(r[i]), float(f[i]), int(s[i])] for i, name in enumerate(names)
        },
        "gold_spans": spans(gold),
        "predicted_spans": spans(predicted),
    }


GRID = [np.float32(k) / np.float32(20) for k in sorted(range(1, 20), key=lambda k: (abs(k - 10), k))]


def expected_multilabel(case):
    probabilities = np.asarray(case["probabilities"], dtype=np.float32)
    targets = np.asarray(case["targets"], dtype=bool).astype(int)
    thresholds = np.asarray(case["thresholds"], dtype=np.float32)
    predicted = (probabilities >= thresholds[None, :]).astype(int)
    m = sklearn.metrics
    # sklearn reads a one-column indicator matrix as binary targets; score its positive class.
    y, y_hat, only = (targets, predicted, {}) if targets.shape[1] > 1 else (targets[:, 0], predicted[:, 0], {"labels": [1]})
    p, r, f, s = m.precision_recall_fscore_support(y, y_hat, average=None, zero_division=0, **only)
    tuned = []
    for label in range(targets.shape[1]):
        best_f1, best = -1.0, None
        for threshold in GRID:
            f1 = m.f1_score(targets[:, label], (probabilities[:, label] >= threshold).astype(int), zero_division=0)
            if f1 > best_f1:
                best_f1, best = f1, threshold
        tuned.append(float(best))
    return {
        "micro_f1": float(m.f1_score(y, y_hat, average="micro", zero_division=0, **only)),
        "macro_f1": float(m.f1_score(y, y_hat, average="macro", zero_division=0, **only)),
        "micro_precision": float(m.precision_score(y, y_hat, average="micro", zero_division=0, **only)),
        "micro_recall": float(m.recall_score(y, y_hat, average="micro", zero_division=0, **only)),
        "subset_accuracy": float(m.accuracy_score(y, y_hat)),
        "hamming_loss": float(m.hamming_loss(y, y_hat)),
        "per_label": [[float(p[i]), float(r[i]), float(f[i]), int(s[i])] for i in range(len(p))],
        "tuned": tuned,
    }


def correlation(function, x, y):
    if len(x) < 2:
        return None
    value = float(function(x, y).statistic)
    return None if np.isnan(value) else value


def expected_regression(case):
    x = np.asarray(case["predictions"], dtype=np.float32).astype(np.float64)
    y = np.asarray(case["targets"], dtype=np.float32).astype(np.float64)
    m = sklearn.metrics
    return {
        "pearson": correlation(scipy.stats.pearsonr, x, y),
        "spearman": correlation(scipy.stats.spearmanr, x, y),
        "mse": float(m.mean_squared_error(y, x)),
        "rmse": float(m.root_mean_squared_error(y, x)),
        "mae": float(m.mean_absolute_error(y, x)),
    }


def expected_classes(case):
    predictions, labels, n = case["predictions"], case["labels"], case["num_labels"]
    m = sklearn.metrics
    p, r, f, s = m.precision_recall_fscore_support(
        labels, predictions, labels=list(range(n)), average=None, zero_division=0
    )
    present = np.unique(labels)
    balanced = compute_class_weight("balanced", classes=present, y=labels)
    weights = [1.0] * n
    for k, w in zip(present, balanced):
        weights[int(k)] = float(w)
    return {
        "per_class": [[float(p[i]), float(r[i]), float(f[i]), int(s[i])] for i in range(n)],
        "macro_f1": float(m.f1_score(labels, predictions, average="macro", zero_division=0)),
        "weights": weights,
    }


EVALUATORS = {
    "entities": expected_entities,
    "multilabel": expected_multilabel,
    "regression": expected_regression,
    "classes": expected_classes,
}


def evaluate(cases):
    for kind, evaluator in EVALUATORS.items():
        for case in cases.get(kind, []):
            case["expected"] = evaluator(case)
    return cases


# ---- seeded cases for the committed fixture ----

TYPES = ["PER", "LOC", "ORG", "MISC"]
PREFIXES = {"Iob1": "BI", "Iob2": "BI", "Iobes": "BIES"}
ODD_TAGS = ["B", "I", "E-", "X-PER", ".-LOC", "S", "I-B-PER", "MISC", "X", "O-PER"]


def random_tag(rng, scheme, odd):
    if odd and rng.random() < 0.1:
        return ODD_TAGS[rng.integers(len(ODD_TAGS))]
    if rng.random() < 0.4:
        return "O"
    prefixes = PREFIXES[scheme]
    return f"{prefixes[rng.integers(len(prefixes))]}-{TYPES[rng.integers(len(TYPES))]}"


def well_formed_row(rng, scheme, length):
    row, last_type = [], None
    while len(row) < length:
        if rng.random() < 0.35:
            kind = TYPES[rng.integers(len(TYPES))]
            size = int(min(rng.integers(1, 4), length - len(row)))
            if scheme == "Iob2":
                tags = ["B-"] + ["I-"] * (size - 1)
            elif scheme == "Iobes":
                tags = ["S-"] if size == 1 else ["B-"] + ["I-"] * (size - 2) + ["E-"]
            else:
                tags = ["B-" if last_type == kind else "I-"] + ["I-"] * (size - 1)
            row += [t + kind for t in tags]
            last_type = kind
        else:
            row.append("O")
            last_type = None
    return row


def entity_case(rng):
    scheme = ["Iob1", "Iob2", "Iobes"][rng.integers(3)]
    strict = bool(rng.random() < 0.4)
    lengths = [int(rng.integers(0, 13)) for _ in range(int(rng.integers(1, 7)))]
    lengths[0] = max(lengths[0], 1)
    messy = rng.random() < 0.3
    gold, predicted = [], []
    for length in lengths:
        if messy:
            row = [random_tag(rng, scheme, not strict) for _ in range(length)]
        else:
            row = well_formed_row(rng, scheme, length)
        gold.append(row)
        noise = rng.random() * 0.4
        predicted.append([random_tag(rng, scheme, not strict) if rng.random() < noise else t for t in row])
    return {"gold": gold, "predicted": predicted, "scheme": scheme, "strict": strict}


def exact_f32(values):
    return [float(v) for v in np.asarray(values, dtype=np.float32)]


def multilabel_case(rng):
    rows, labels = int(rng.integers(1, 41)), int(rng.integers(1, 9))
    rates = rng.choice([0.0, 0.1, 0.3, 0.6], size=labels)
    targets = rng.random((rows, labels)) < rates[None, :]
    signal = rng.random()
    probabilities = np.clip(signal * targets + (1 - signal) * rng.random((rows, labels)), 0, 1)
    if rng.random() < 0.5:  # values on the grid, to test `>=` at the threshold
        probabilities = np.round(probabilities * 20) / 20
    choice = rng.random()
    if choice < 0.4:
        thresholds = [0.5] * labels
    elif choice < 0.7:
        thresholds = [float(GRID[i]) for i in rng.integers(0, 19, size=labels)]
    else:
        thresholds = list(rng.random(labels))
    return {
        "probabilities": [exact_f32(row) for row in probabilities],
        "targets": targets.tolist(),
        "thresholds": exact_f32(thresholds),
    }


def regression_case(rng):
    n = int(rng.integers(2, 51))
    targets = rng.random(n) * 5
    if rng.random() < 0.4:
        targets = np.round(targets, 1)
    predictions = targets + rng.normal(0, rng.random() * 2, n)
    if rng.random() < 0.3:
        predictions = np.round(predictions)  # ties in ranks
    if rng.random() < 0.05:
        predictions = np.full(n, 2.5)
    if rng.random() < 0.05:
        targets = np.full(n, 1.0)
    return {"predictions": exact_f32(predictions), "targets": exact_f32(targets)}


def classes_case(rng):
    n, k = int(rng.integers(1, 61)), int(rng.integers(2, 7))
    weights = rng.random(k) ** 3 + 1e-3
    labels = rng.choice(k, size=n, p=weights / weights.sum())
    predictions = np.where(rng.random(n) < 0.6, labels, rng.integers(0, k, size=n))
    return {"predictions": predictions.tolist(), "labels": labels.tolist(), "num_labels": k}


def fixture(seed):
    rng = np.random.default_rng(seed)
    return {
        "entities": [entity_case(rng) for _ in range(60)],
        "multilabel": [multilabel_case(rng) for _ in range(40)],
        "regression": [regression_case(rng) for _ in range(40)],
        "classes": [classes_case(rng) for _ in range(40)],
    }


def main(argv):
    if len(argv) == 3 and argv[0] == "evaluate":
        with open(argv[1]) as f:
            cases = json.load(f)
        out = argv[2]
    elif len(argv) in (2, 4) and argv[0] == "fixture":
        seed = int(argv[3]) if len(argv) == 4 and argv[2] == "--seed" else 2026
        cases = fixture(seed)
        out = argv[1]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    cases = evaluate(cases)
    cases["versions"] = {name: metadata.version(name) for name in ["seqeval", "scikit-learn", "scipy", "numpy"]}
    with open(out, "w") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
