"""Measure the margin that maps a detector's box to FER2013 framing, for each detector.

FER2013 faces are registered 48x48 crops. Each validation face is upscaled
(48 -> 192 px) and padded so the detector sees it as a face in a larger
picture; where the detector finds exactly one face, the framing of the
original crop (the 192 px square) is compared with its box:

    margin = (192 / box_side - 1) / 2

which is what `preprocess.crop_face` adds on each side (as a fraction of the
box side) to turn that box back into the FER2013 crop. The median over the
detected faces is the detector's margin (`preprocess.FACE_MARGIN` for the
default Haar cascade; `ALT2_MARGIN` and `DLIB_MARGIN` in fer_app/detect.py).

`--compare` then checks the classifier on the faces every detector found: its
accuracy on each detector's box cropped with that detector's margin, against
today's Haar box with FACE_MARGIN and against the original 48x48 crops.

Run: python -m fer_app margin [--detector NAME] [--limit N] [--accuracy [MODEL]] [--compare] [--json]
(all 3,589 validation images unless --limit)
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


def calibration_detector(name: str = "haar"):
    """The detector at a fine search and full resolution, to measure its box convention without
    quantisation (the live and photo settings share it: same cascade or model)."""
    from fer_app.detect import ALT2_CASCADE_FILE, DETECTORS, DlibHogDetector, HaarDetector, UnknownDetectorError

    if name == "haar":
        return HaarDetector(scale_factor=1.05, min_neighbors=5, min_face=UPSCALED // 3, detect_width=0)
    if name == "haar-alt2":
        return HaarDetector(scale_factor=1.05, min_neighbors=5, min_face=UPSCALED // 3, detect_width=0, cascade_file=ALT2_CASCADE_FILE)
    if name == "dlib-hog":
        return DlibHogDetector(min_face=UPSCALED // 2, detect_width=0)
    if name == "blazeface":
        from fer_app.blazeface import BlazeFaceDetector

        # The full-range model on the whole canvas (the face is half of it: no sweeps needed; their
        # short-range boxes frame faces the same, median side 0.885 of the upscaled face for both).
        return BlazeFaceDetector(threshold=0.5)
    raise UnknownDetectorError(f"unknown detector {name!r} (choose from {', '.join(DETECTORS)})")


def detect_val_faces(data: Path, limit: int = 0, seed: int = 0, detector: str = "haar") -> tuple[int, dict, list]:
    """Run the detector on every sampled validation face.

    Returns (images, {0|1|2: how many had no / one / several boxes}, [(face48, class, box, path)] for the
    faces with exactly one box).
    """
    from fer_app.errors import DatasetError

    val = data / "val"
    files = sorted(val.glob("*/*.png")) + sorted(val.glob("*/*.jpg"))
    if not files:
        raise DatasetError(f"{val}: no validation images (<class>/*.png) found")
    rng = np.random.default_rng(seed)
    if limit and limit < len(files):
        files = [files[i] for i in sorted(rng.choice(len(files), size=limit, replace=False))]
    det = calibration_detector(detector)
    counts, found = {0: 0, 1: 0, 2: 0}, []
    for path in files:
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if face is None:
            continue
        boxes = det.detect(_canvas(face))
        counts[min(len(boxes), 2)] += 1
        if len(boxes) == 1:
            found.append((face, path.parent.name, boxes[0], path.name))
    if not found:
        raise DatasetError("the detector found no face in the sampled validation images")
    return len(files), counts, found


def measure(data: Path, limit: int = 0, seed: int = 0, detector: str = "haar") -> dict:
    images, counts, found = detect_val_faces(data, limit, seed, detector)
    margins, dx, dy = [], [], []
    for _, _, (x, y, w, h), _ in found:
        side = max(w, h)
        margins.append((UPSCALED / side - 1.0) / 2.0)
        # Where the FER2013 centre lies relative to the box centre, in box sides.
        dx.append((PAD + UPSCALED / 2 - (x + w / 2)) / side)
        dy.append((PAD + UPSCALED / 2 - (y + h / 2)) / side)
    m = np.array(margins)
    return {
        "detector": detector,
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
        + {"dlib-hog": "dlib HOG at full resolution", "blazeface": "BlazeFace full range, threshold 0.5"}.get(
            detector, f"{detector} cascade scaleFactor 1.05 minNeighbors 5"
        ),
        "_found": found,
    }


MARGINS_TRIED = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.25)


def margin_in_use(detector: str) -> float:
    from fer_app.detect import make_detector
    from fer_app.preprocess import FACE_MARGIN

    margin = getattr(make_detector(detector, still=True), "margin", None)
    return FACE_MARGIN if margin is None else margin



def _accuracy_of(classifier, labels: np.ndarray, faces: np.ndarray) -> float:
    predictions = np.concatenate([classifier.predict(faces[i : i + 256]).argmax(1) for i in range(0, len(faces), 256)])
    return round(float((predictions == labels).mean()), 4)


def accuracy_by_margin(
    found: list,
    model: str | Path | None = None,
    margins=MARGINS_TRIED,
    in_use: float | None = None,
) -> dict:
    """The model's accuracy on the detected faces, cropped from the detector's box with each margin,
    next to its accuracy on the original 48x48 crops (the framing it was trained on)."""
    from fer_app.classify import EmotionClassifier
    from fer_app.labels import EMOTIONS
    from fer_app.preprocess import FACE_MARGIN, crop_face

    classifier = EmotionClassifier(model)
    labels = np.array([EMOTIONS.index(f[1]) for f in found])
    rows = {"original_crops": _accuracy_of(classifier, labels, np.stack([f[0] for f in found]))}
    for margin in sorted({*margins, FACE_MARGIN if in_use is None else in_use}):
        crops = np.stack([crop_face(_canvas(f[0]), f[2], margin=margin) for f in found])
        rows[f"{margin:+.3f}"] = _accuracy_of(classifier, labels, crops)
    return rows


def compare_detectors(data: Path, limit: int = 0, model: str | Path | None = None) -> dict:
    """On the validation faces that every installed detector finds (exactly one box each): the model's
    accuracy with each detector's box and its own margin, against today's Haar box + FACE_MARGIN."""
    from fer_app.classify import EmotionClassifier
    from fer_app.detect import detector_available, detector_names
    from fer_app.labels import EMOTIONS
    from fer_app.preprocess import crop_face

    names = [n for n in detector_names() if detector_available(n)]
    by_name = {}
    for name in names:
        _, _, found = detect_val_faces(data, limit, 0, name)
        by_name[name] = {f[3] + f[1]: f for f in found}
    common = sorted(set.intersection(*(set(v) for v in by_name.values())))
    classifier = EmotionClassifier(model)
    labels = np.array([EMOTIONS.index(by_name[names[0]][k][1]) for k in common])
    rows = {"faces_found_by_all": len(common), "original_crops": _accuracy_of(classifier, labels, np.stack([by_name[names[0]][k][0] for k in common]))}
    for name in names:
        margin = margin_in_use(name)
        crops = np.stack(
            [crop_face(_canvas(by_name[name][k][0]), by_name[name][k][2], margin=margin) for k in common]
        )
        rows[f"{name} (margin {margin:+.3f})"] = _accuracy_of(classifier, labels, crops)
    return rows


def main(
    data: str | Path | None = None,
    limit: int = 0,
    as_json: bool = False,
    accuracy_model: str | None = None,
    detector: str = "haar",
    compare: bool = False,
) -> int:
    from fer_app.errors import DatasetError

    data = Path(data) if data else DEFAULT_DATA
    if not data.is_dir():
        raise DatasetError(f"{data}: FER2013 folder not found (give --data)")
    figures = measure(data, limit, detector=detector)
    found = figures.pop("_found")
    in_use = margin_in_use(detector)
    figures["margin_in_use"] = in_use
    if accuracy_model is not None:
        figures["accuracy_by_margin"] = accuracy_by_margin(found, accuracy_model or None, in_use=in_use)
    if compare:
        figures["accuracy_by_detector"] = compare_detectors(data, limit, accuracy_model or None)
    if as_json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"detector: {detector}; FER2013 validation images sampled: {figures['images']}")
    print(f"  exactly one face found: {figures['one_face']}, none: {figures['no_face']}, several: {figures['several_faces']}")
    print(
        f"margin per side (fraction of the box): median {figures['margin_median']:.3f} "
        f"(IQR {figures['margin_p25']:.3f} .. {figures['margin_p75']:.3f})"
    )
    print(
        f"FER2013 crop centre vs box centre (box sides): dx {figures['centre_dx_median']:+.3f}, dy {figures['centre_dy_median']:+.3f}"
    )
    print(f"margin in use for {detector}: {in_use}")
    print(f"setup: {figures['setup']}")
    if "accuracy_by_margin" in figures:
        rows = figures["accuracy_by_margin"]
        print(f"model accuracy on these faces: original 48x48 crops {rows['original_crops']:.3f}; box + margin:")
        print("  " + ", ".join(f"{k} {v:.3f}" for k, v in rows.items() if k != "original_crops"))
    if compare:
        rows = figures["accuracy_by_detector"]
        print(f"model accuracy on the {rows['faces_found_by_all']} faces every detector found:")
        print("  " + ", ".join(f"{k} {v:.3f}" for k, v in rows.items() if k != "faces_found_by_all"))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(limit=int(sys.argv[1]) if len(sys.argv) > 1 else 0))
