"""Write the accurate mode's manifest: its members, its test-time augmentation and a fitted temperature.

    python scripts/make_ensemble.py --tta flip models/accurate/a.onnx models/accurate/b.onnx ...

The temperature minimises the negative log-likelihood of the ensemble's
probabilities on FER2013 validation; accuracy does not change with it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_app.ensemble import ACCURATE_MANIFEST, EnsembleClassifier, apply_temperature, fit_temperature  # noqa: E402
from fer_app.training import data, evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help=".onnx members, in the manifest's folder")
    parser.add_argument("--tta", default="flip", choices=("none", "flip", "tencrop"))
    parser.add_argument("--val", default="../shared/datasets/fer2013/val")
    parser.add_argument("--out", default=str(ACCURATE_MANIFEST))
    args = parser.parse_args()
    out = Path(args.out)
    val = data.load(args.val)
    probs = evaluate.batched(EnsembleClassifier(args.models, tta=args.tta, threads=2))(val.images)
    temperature = fit_temperature(val.labels, probs)
    before, after = evaluate.metrics(val.labels, probs), evaluate.metrics(val.labels, apply_temperature(probs, temperature))
    manifest = {
        "models": [os.path.relpath(Path(m).resolve(), out.parent.resolve()) for m in args.models],
        "tta": args.tta,
        "temperature": round(temperature, 3),
        "validation": {"split": "FER2013 PublicTest (3,589 images)", "accuracy": round(after["accuracy"], 4),
                       "macro_f1": round(after["macro_f1"], 4), "ece_before_temperature": round(before["ece"], 4),
                       "ece_after_temperature": round(after["ece"], 4),
                       "command": "python -m fer_app evaluate --data ../shared/datasets/fer2013/val --accurate"},
    }
    out.write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
