"""`python -m fer_app export`: .keras -> ONNX beside it, checked for agreement on real faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_app.errors import ModelError
from fer_app.preprocess import INPUT_SIZE, to_model_input

MAX_ABS_DIFF = 1e-4


def load_keras(path: str | Path):
    import keras

    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for a bad file
        raise ModelError(f"{path}: cannot load the Keras model ({e})") from None


def export_onnx(keras_path: str | Path, faces: np.ndarray, onnx_path: str | Path | None = None) -> dict:
    """Write the ONNX model (default: beside the .keras file) and compare both on `faces` (N,48,48 uint8).

    Raises ModelError when the two disagree by more than MAX_ABS_DIFF.
    """
    import tensorflow as tf

    from fer_app.classify import EmotionClassifier

    keras_path = Path(keras_path)
    onnx_path = Path(onnx_path) if onnx_path else keras_path.with_suffix(".onnx")
    model = load_keras(keras_path)
    signature = [tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 1], tf.float32, name="face")]
    model.export(str(onnx_path), format="onnx", input_signature=signature, verbose=False)
    expected = model.predict(to_model_input(faces), batch_size=256, verbose=0)
    got = EmotionClassifier(onnx_path, threads=2).predict(faces)
    diff = float(np.max(np.abs(expected - got)))
    report = {"onnx": str(onnx_path), "faces_compared": len(faces), "max_abs_diff": diff,
              "argmax_agreement": float(np.mean(expected.argmax(1) == got.argmax(1)))}
    if diff > MAX_ABS_DIFF:
        raise ModelError(f"{onnx_path}: ONNX and Keras disagree by {diff:.2e} (> {MAX_ABS_DIFF:g})")
    return report


def save_slim(keras_path: str | Path, out_path: str | Path) -> None:
    """Copy a checkpoint without its optimizer state (a third of the size) for shipping."""
    load_keras(keras_path).save(out_path, include_optimizer=False)
