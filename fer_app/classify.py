"""EmotionClassifier: the exported model under ONNX Runtime. No TensorFlow import."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_app.errors import ModelError
from fer_app.labels import NUM_CLASSES
from fer_app.preprocess import to_model_input

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODELS_DIR / "default.onnx"


class EmotionClassifier:
    """Probabilities over the 7 FER2013 classes for a batch of 48x48 grey faces, in one runtime call."""

    def __init__(self, model_path: str | Path | None = None, threads: int = 1):
        import onnxruntime as ort

        self.model_path = Path(model_path or DEFAULT_MODEL)
        if not self.model_path.exists():
            raise ModelError(f"{self.model_path}: model file not found")
        options = ort.SessionOptions()
        # Sessions share the machine: one thread each unless asked otherwise.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise ModelError(f"{self.model_path}: cannot load the model ({e})") from None
        self._input = self._session.get_inputs()[0].name

    def predict(self, faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """(N, 48, 48) uint8 faces -> (N, 7) float32 probabilities. N may be 0."""
        if len(faces) == 0:
            return np.zeros((0, NUM_CLASSES), dtype=np.float32)
        (probs,) = self._session.run(None, {self._input: to_model_input(faces)})
        return probs


def median_predict_ms(classifier: EmotionClassifier, faces: np.ndarray, repeats: int) -> float:
    """Median wall time of one `predict` call on `faces`, in ms, after one warm-up call."""
    import statistics
    import time

    classifier.predict(faces)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        classifier.predict(faces)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
