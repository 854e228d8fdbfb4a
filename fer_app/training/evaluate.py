"""`python -m fer_app evaluate`: accuracy, macro-F1, per-class figures, confusion matrix.

Models are .onnx (ONNX Runtime, no TensorFlow needed) or .keras files;
several models average their probabilities. The interface is stable: outside
evaluations on held-out data call exactly this command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from fer_app.ensemble import tta_views
from fer_app.labels import EMOTIONS, NUM_CLASSES
from fer_app.preprocess import to_model_input

Predictor = Callable[[np.ndarray], np.ndarray]


def load_predictor(path: str | Path, threads: int = 2) -> Predictor:
    """(N,48,48) uint8 -> (N,7) probabilities for an .onnx or .keras model file."""
    path = Path(path)
    if path.suffix == ".keras":
        from fer_app.training.export import load_keras

        model = load_keras(path)
        return lambda faces: model.predict(to_model_input(faces), batch_size=256, verbose=0)
    from fer_app.classify import EmotionClassifier

    return batched(EmotionClassifier(path, threads=threads))


def batched(classifier, size: int = 256) -> Predictor:
    """A predictor that feeds a classifier (anything with .predict(faces)) `size` faces at a time."""

    def predict(faces: np.ndarray) -> np.ndarray:
        return np.concatenate([classifier.predict(faces[i : i + size]) for i in range(0, len(faces), size)])

    return predict


def predict_probabilities(predictors: list[Predictor], faces: np.ndarray, tta: str = "none") -> np.ndarray:
    """Mean probabilities over models and TTA views."""
    views = tta_views(np.ascontiguousarray(faces), tta)
    total = np.zeros((len(faces), NUM_CLASSES), dtype=np.float64)
    for predict in predictors:
        for view in views:
            total += predict(np.ascontiguousarray(view))
    return (total / (len(predictors) * len(views))).astype(np.float32)


def metrics(labels: np.ndarray, probs: np.ndarray, bins: int = 15) -> dict:
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for i, name in enumerate(EMOTIONS):
        tp = confusion[i, i]
        support, predicted_n = confusion[i].sum(), confusion[:, i].sum()
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(support)}
    present = [c for c in per_class.values() if c["support"]]
    return {
        "n": int(len(labels)),
        "accuracy": float((predicted == labels).mean()),
        "macro_f1": float(np.mean([c["f1"] for c in present])),
        "ece": expected_calibration_error(labels, probs, bins),
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
    }


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def format_report(result: dict) -> str:
    lines = [
        f"data: {result['data']}  models: {', '.join(result['models'])}  tta: {result['tta']}",
        *([f"left out {result['excluded']} images identical to one in {result['excluded_seen_in']}"] if "excluded" in result else []),
        f"n = {result['n']}   accuracy = {result['accuracy']:.4f}   macro-F1 = {result['macro_f1']:.4f}   ECE = {result['ece']:.4f}",
        "",
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for name, c in result["per_class"].items():
        lines.append(f"{name:<10}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}{c['support']:>10d}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)", " " * 10 + "".join(f"{n[:7]:>8}" for n in EMOTIONS)]
    for name, row in zip(EMOTIONS, result["confusion_matrix"]):
        lines.append(f"{name:<10}" + "".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)
