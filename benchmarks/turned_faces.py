"""Does the fast model read turned faces worse? The FER2013 validation faces, each given to BlazeFace's
full-range model (enlarged to 96 px on a 192 px canvas with a replicated border), binned by how far the
head is turned by the model's key points, with the fast model's accuracy on the 48 px faces per bin
(docs/detectors.md, "Faces the classifier was not trained for").

The turn: with a and b the horizontal distances from each eye to the ear on its side, (a - b) / (a + b):
0 for a frontal face, towards +-1 as one ear hides behind the face (a profile).

    python benchmarks/turned_faces.py [--data ../shared/datasets/fer2013/val] [--model models/default.onnx]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.small_faces import load  # noqa: E402
from fer_app import blazeface  # noqa: E402
from fer_app.classify import EmotionClassifier  # noqa: E402

BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.01)


def turn(model, anchors: np.ndarray, face: np.ndarray) -> float:
    """The turn of the face BlazeFace scores highest (NaN when none scores 0.5)."""
    big = cv2.resize(face, (96, 96), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.cvtColor(cv2.copyMakeBorder(big, 48, 48, 48, 48, cv2.BORDER_REPLICATE), cv2.COLOR_GRAY2RGB)
    raw_boxes, raw_scores = model.raw(canvas)
    best = int(np.argmax(raw_scores.reshape(-1)))
    if raw_scores.reshape(-1)[best] < 0.0:  # the logit of 0.5
        return float("nan")
    right_eye, left_eye, _, _, right_ear, left_ear = anchors[best] + raw_boxes.reshape(-1, 16)[best, 4:16].reshape(6, 2)
    a, b = abs(right_eye[0] - right_ear[0]), abs(left_eye[0] - left_ear[0])
    return float((a - b) / max(a + b, 1e-6))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared/datasets/fer2013/val"))
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    faces, labels = load(Path(args.data))
    model = blazeface.shared_interpreter(blazeface.FULL_RANGE, ("turned-faces",))
    anchors = blazeface.anchor_centres(blazeface.FULL_RANGE)
    turns = np.array([turn(model, anchors, f) for f in faces])
    right = EmotionClassifier(args.model, threads=1).predict(faces).argmax(axis=1) == labels
    found = ~np.isnan(turns)
    print(f"{len(faces)} faces; BlazeFace found {found.sum()}; accuracy on those {right[found].mean():.3f}, on the rest {right[~found].mean():.3f}")
    print("| turn | faces | accuracy |\n|---|---|---|")
    for lo, hi in zip(BINS, BINS[1:]):
        m = found & (np.abs(turns) >= lo) & (np.abs(turns) < hi)
        print(f"| {lo:.1f}-{min(hi, 1.0):.1f} | {m.sum()} | {right[m].mean():.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
