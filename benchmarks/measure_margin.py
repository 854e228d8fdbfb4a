"""Measure the margin that maps a Haar box to FER2013 framing.

FER2013 faces are registered 48x48 crops. Each validation face is upscaled
(48 -> 192 px) and padded so the cascade sees it as a face in a larger
picture; where the cascade finds exactly one face, the framing of the
original crop (the 192 px square) is compared with the Haar box:

    margin = (192 / box_side - 1) / 2

which is what `preprocess.crop_face` adds on each side (as a fraction of the
box side) to turn that box back into the FER2013 crop. The median over the
detected faces is the value for `preprocess.FACE_MARGIN`.

Run: python -m fer_app margin [--limit N] [--json]   (all 3,589 validation images unless --limit)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("FER2013_DIR", REPO.parent / "shared" / "datasets" / "fer2013"))
UPSCALED = 192
PAD = 96


def _canvas(face: np.ndarray) -> np.ndarray:
    """A 48x48 FER2013 face upscaled and padded with its median grey, as the cascade sees it."""
    big = cv2.resize(face, (UPSCALED, UPSCALED), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=int(np.median(face)))


def detect_val_faces(data: Path, limit: int = 0, seed: int = 0) -> tuple[int, dict, list]:
    """Run the cascade on every sampled validation face.

    Returns (images, {0|1|2: how many had no / one / several boxes}, [(face48, class, box)] for the
    faces with exactly one box).
    """
    from fer_app.detect import HaarDetector
    from fer_app.errors import DatasetError

    val = data / "val"
    files = sorted(val.glob("*/*.png")) + sorted(val.glob("*/*.jpg"))
    if not files:
        raise DatasetError(f"{val}: no validation images (<class>/*.png) found")
    rng = np.random.default_rng(seed)
    if limit and limit < len(files):
        files = [files[i] for i in sorted(rng.choice(len(files), size=limit, replace=False))]
    # The live and photo detectors share the cascade; a fine scale step and no
    # downscaling measure its box convention without quantisation.
    detector = HaarDetector(scale_factor=1.05, min_neighbors=5, min_face=UPSCALED // 3, detect_width=0)
    counts, found = {0: 0, 1: 0, 2: 0}, []
    for path in files:
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if face is None:
            continue
        boxes = detector.detect(_canvas(face))
        counts[min(len(boxes), 2)] += 1
        if len(boxes) == 1:
            found.append((face, path.parent.name, boxes[0]))
    if not found:
        raise DatasetError("the detector found no face in the sampled validation images")
    return len(files), counts, found


def measure(data: Path, limit: int = 0, seed: int = 0) -> dict:
    images, counts, found = detect_val_faces(data, limit, seed)
    margins, dx, dy = [], [], []
    for _, _, (x, y, w, h) in found:
        side = max(w, h)
        margins.append((UPSCALED / side - 1.0) / 2.0)
        # Where the FER2013 centre lies relative to the box centre, in box sides.
        dx.append((PAD + UPSCALED / 2 - (x + w / 2)) / side)
        dy.append((PAD + UPSCALED / 2 - (y + h / 2)) / side)
    m = np.array(margins)
    return {
        "images": images,
        "one_face": counts[1],
        "no_face": counts[0],
        "several_faces": counts[2],
        "margin_median": round(float(np.median(m)), 3),
        "margin_p25": round(float(np.percentile(m, 25)), 3),
        "margin_p75": round(float(np.percentile(m, 75)), 3),
        "centre_dx_median": round(float(np.median(dx)), 3),
        "centre_dy_median": round(float(np.median(dy)), 3),
        "box_side_median_px": round(float(np.median(UPSCALED / (1 + 2 * m))), 1),
        "setup": f"val faces 48->{UPSCALED} px (bicubic), {PAD} px border of the face's median grey, "
        "Haar frontalface_default scaleFactor 1.05 minNeighbors 5",
        "_found": found,
    }


MARGINS_TRIED = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.25)


def accuracy_by_margin(found: list, model: str | Path | None = None, margins=MARGINS_TRIED) -> dict:
    """The model's accuracy on the detected faces, cropped from the Haar box with each margin,
    next to its accuracy on the original 48x48 crops (the framing it was trained on)."""
    from fer_app.classify import EmotionClassifier
    from fer_app.labels import EMOTIONS
    from fer_app.preprocess import FACE_MARGIN, crop_face

    classifier = EmotionClassifier(model)
    labels = np.array([EMOTIONS.index(name) for _, name, _ in found])

    def accuracy(faces) -> float:
        predictions = np.concatenate([classifier.predict(faces[i : i + 256]).argmax(1) for i in range(0, len(faces), 256)])
        return round(float((predictions == labels).mean()), 4)

    rows = {"original_crops": accuracy(np.stack([face for face, _, _ in found]))}
    for margin in sorted({*margins, FACE_MARGIN}):
        crops = np.stack([crop_face(_canvas(face), box, margin=margin) for face, _, box in found])
        rows[f"{margin:+.3f}"] = accuracy(crops)
    return rows


def main(data: str | Path | None = None, limit: int = 0, as_json: bool = False, accuracy_model: str | None = None) -> int:
    from fer_app.errors import DatasetError
    from fer_app.preprocess import FACE_MARGIN

    data = Path(data) if data else DEFAULT_DATA
    if not data.is_dir():
        raise DatasetError(f"{data}: FER2013 folder not found (give --data)")
    figures = measure(data, limit)
    found = figures.pop("_found")
    figures["face_margin_in_use"] = FACE_MARGIN
    if accuracy_model is not None:
        figures["accuracy_by_margin"] = accuracy_by_margin(found, accuracy_model or None)
    if as_json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"FER2013 validation images sampled: {figures['images']}")
    print(f"  exactly one face found: {figures['one_face']}, none: {figures['no_face']}, several: {figures['several_faces']}")
    print(
        f"margin per side (fraction of the Haar box): median {figures['margin_median']:.3f} "
        f"(IQR {figures['margin_p25']:.3f} .. {figures['margin_p75']:.3f})"
    )
    print(
        f"FER2013 crop centre vs box centre (box sides): dx {figures['centre_dx_median']:+.3f}, dy {figures['centre_dy_median']:+.3f}"
    )
    print(f"preprocess.FACE_MARGIN in use: {FACE_MARGIN}")
    print(f"setup: {figures['setup']}")
    if "accuracy_by_margin" in figures:
        rows = figures["accuracy_by_margin"]
        print(f"model accuracy on these faces: original 48x48 crops {rows['original_crops']:.3f}; Haar box + margin:")
        print("  " + ", ".join(f"{k} {v:.3f}" for k, v in rows.items() if k != "original_crops"))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(limit=int(sys.argv[1]) if len(sys.argv) > 1 else 0))
