"""Quantize ONNX models to int8 (static, per-channel, QDQ) with ONNX Runtime, calibrated on real training faces.

    python scripts/quantize.py SRC.onnx OUT.onnx [SRC.onnx OUT.onnx ...]

A quarter of the size and about 3.5x faster on one CPU thread (VNNI); each model
loses about 0.3 points of validation accuracy alone (measure: `fer_app evaluate`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_app.preprocess import to_model_input  # noqa: E402
from fer_app.training import data  # noqa: E402

CALIBRATION_FACES = 512
TRAIN = "../shared/datasets/fer2013/train"


def quantize(src: str, out: str, faces: np.ndarray) -> None:
    import tempfile

    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self, input_name: str):
            self.batches = iter([{input_name: faces[i : i + 32]} for i in range(0, len(faces), 32)])

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        prepared = str(Path(tmp) / "prepared.onnx")
        quant_pre_process(src, prepared, skip_symbolic_shape=True)
        input_name = ort.InferenceSession(prepared, providers=["CPUExecutionProvider"]).get_inputs()[0].name
        quantize_static(prepared, out, Batches(input_name), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    print(f"{out}: {Path(out).stat().st_size / 1e6:.1f} MB (from {Path(src).stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    pairs = sys.argv[1:]
    if not pairs or len(pairs) % 2:
        sys.exit(__doc__)
    train = data.load(TRAIN)
    picked = np.random.default_rng(0).permutation(len(train))[:CALIBRATION_FACES]
    faces = to_model_input(train.images[picked])
    for src, out in zip(pairs[::2], pairs[1::2]):
        quantize(src, out, faces)


if __name__ == "__main__":
    main()
