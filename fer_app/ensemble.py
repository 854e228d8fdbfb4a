"""Accurate mode: several exported models and test-time augmentation (TTA), probabilities averaged.

Slower than the live model by the number of models times the number of views,
so it is meant for photos and videos. `models/accurate/ensemble.json` names
the members, the TTA mode and the temperature fitted on validation data.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from fer_app.classify import MODELS_DIR, EmotionClassifier
from fer_app.errors import ModelError
from fer_app.labels import NUM_CLASSES
from fer_app.preprocess import INPUT_SIZE

ACCURATE_MANIFEST = MODELS_DIR / "accurate" / "ensemble.json"
TTA_MODES = ("none", "flip", "tencrop")
TENCROP_SIZE = 44  # crops of 44 px (92%), resized back to the 48 px input


def tta_views(faces: np.ndarray, mode: str) -> list[np.ndarray]:
    """The batches whose predictions are averaged for a test-time augmentation mode."""
    if mode == "none":
        return [faces]
    flipped = faces[:, :, ::-1]
    if mode == "flip":
        return [faces, flipped]
    if mode != "tencrop":
        raise ValueError(f"unknown TTA mode {mode!r}")
    return five_crops(faces) + five_crops(flipped)


def five_crops(faces: np.ndarray, size: int = TENCROP_SIZE) -> list[np.ndarray]:
    """Square crops of `size` px at the top-left, top-right, bottom-left, bottom-right and centre, resized to the input."""
    m = INPUT_SIZE - size
    return [np.stack([cv2.resize(c, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
                      for c in faces[:, y : y + size, x : x + size]])
            for y, x in ((0, 0), (0, m), (m, 0), (m, m), (m // 2, m // 2))]


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax(log p / T): T > 1 softens over-confident probabilities, T < 1 sharpens them."""
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class EnsembleClassifier:
    """Same interface as EmotionClassifier: (N, 48, 48) uint8 faces -> (N, 7) probabilities."""

    def __init__(self, model_paths: list[str | Path], tta: str = "flip", temperature: float = 1.0, threads: int = 1):
        if not model_paths:
            raise ModelError("an ensemble needs at least one model")
        if tta not in TTA_MODES:
            raise ModelError(f"unknown TTA mode {tta!r}: choose from {', '.join(TTA_MODES)}")
        self.members = [EmotionClassifier(p, threads=threads) for p in model_paths]
        self.tta = tta
        self.temperature = temperature

    def predict(self, faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, NUM_CLASSES), dtype=np.float32)
        views = tta_views(np.ascontiguousarray(np.asarray(faces)), self.tta)
        total = np.zeros((len(faces), NUM_CLASSES), dtype=np.float64)
        for member in self.members:
            for view in views:
                total += member.predict(np.ascontiguousarray(view))
        return apply_temperature((total / (len(self.members) * len(views))).astype(np.float32), self.temperature)


def accurate_classifier(manifest: str | Path = ACCURATE_MANIFEST, threads: int = 1,
                        tta: str | None = None, temperature: float | None = None) -> EnsembleClassifier:
    """The shipped accurate mode, as described by its manifest; `tta` and `temperature` override the manifest's."""
    manifest = Path(manifest)
    if not manifest.exists():
        raise ModelError(f"{manifest}: the accurate mode's manifest is missing")
    spec = json.loads(manifest.read_text())
    paths = [manifest.parent / name for name in spec["models"]]
    return EnsembleClassifier(paths, tta=tta or spec.get("tta", "none"),
                              temperature=spec.get("temperature", 1.0) if temperature is None else temperature, threads=threads)


def fit_temperature(labels: np.ndarray, probs: np.ndarray) -> float:
    """The temperature minimising negative log-likelihood on (labels, probs), by a 1-D grid search."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(4.0), 241))
    nll = [-np.mean(np.log(np.clip(apply_temperature(probs, t)[np.arange(len(labels)), labels], 1e-12, 1))) for t in grid]
    return float(grid[int(np.argmin(nll))])
