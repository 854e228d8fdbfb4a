"""What a small or edge-cut face costs the fast model: the FER2013 validation faces shrunk to N px and enlarged
back to 48 px (as a small detected face is), then with a share of their left side cut away and the rest
stretched back to 48 px (as a box clipped by the frame's edge is); accuracy and mean confidence for each
(docs/detectors.md, "Faces the classifier was not trained for").

    python benchmarks/small_faces.py [--data ../shared/datasets/fer2013/val] [--model models/default.onnx]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fer_app.classify import EmotionClassifier  # noqa: E402
from fer_app.labels import EMOTIONS  # noqa: E402

SIZES = (48, 40, 32, 28, 24, 20, 16)
CUTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def load(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    faces, labels = [], []
    for index, emotion in enumerate(EMOTIONS):
        for f in sorted((folder / emotion).glob("*.png")):
            faces.append(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE))
            labels.append(index)
    return np.stack(faces), np.array(labels)


def at_size(faces: np.ndarray, px: int) -> np.ndarray:
    if px == 48:
        return faces
    small = (cv2.resize(f, (px, px), interpolation=cv2.INTER_AREA) for f in faces)
    return np.stack([cv2.resize(f, (48, 48), interpolation=cv2.INTER_LINEAR) for f in small])


def cut(faces: np.ndarray, share: float) -> np.ndarray:
    keep = 48 - round(48 * share)
    if keep == 48:
        return faces
    return np.stack([cv2.resize(np.ascontiguousarray(f[:, 48 - keep :]), (48, 48), interpolation=cv2.INTER_LINEAR) for f in faces])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared/datasets/fer2013/val"))
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    faces, labels = load(Path(args.data))
    classifier = EmotionClassifier(args.model)
    print(f"{len(faces)} faces from {args.data}")

    def report(label: str, shown: np.ndarray) -> None:
        probs = np.concatenate([classifier.predict(shown[i : i + 256]) for i in range(0, len(shown), 256)])
        print(f"{label:>9} | {float((probs.argmax(1) == labels).mean()):.4f} | {float(probs.max(1).mean()):.3f}")

    print("  face px | accuracy | mean confidence")
    for px in SIZES:
        report(str(px), at_size(faces, px))
    print("side cut | accuracy | mean confidence")
    for share in CUTS:
        report(f"{share:.0%}", cut(faces, share))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
