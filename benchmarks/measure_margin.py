"""Measure the margin that maps a Haar box to FER2013 framing.

FER2013 faces are registered 48x48 crops. Each validation face is upscaled
(48 -> 192 px) and padded so the cascade sees it as a face in a larger
picture; where the cascade finds exactly one face, the framing of the
original crop (the 192 px square) is compared with the Haar box:

    margin = (192 / box_side - 1) / 2

which is what `preprocess.crop_face` adds on each side (as a fraction of the
box side) to turn that box back into the FER2013 crop. The median over the
detected faces is the value for `preprocess.FACE_MARGIN`.

Run: python -m fer_app margin [--limit N] [--json]   (or python benchmarks/measure_margin.py)
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


def measure(data: Path, limit: int = 1000, seed: int = 0) -> dict:
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
    margins, dx, dy, found_counts = [], [], [], {0: 0, 1: 0, 2: 0}
    for path in files:
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if face is None:
            continue
        big = cv2.resize(face, (UPSCALED, UPSCALED), interpolation=cv2.INTER_CUBIC)
        fill = int(np.median(face))
        canvas = cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=fill)
        boxes = detector.detect(canvas)
        found_counts[min(len(boxes), 2)] += 1
        if len(boxes) != 1:
            continue
        x, y, w, h = boxes[0]
        side = max(w, h)
        margins.append((UPSCALED / side - 1.0) / 2.0)
        # Where the FER2013 centre lies relative to the box centre, in box sides.
        dx.append((PAD + UPSCALED / 2 - (x + w / 2)) / side)
        dy.append((PAD + UPSCALED / 2 - (y + h / 2)) / side)
    if not margins:
        raise DatasetError("the detector found no face in the sampled validation images")
    m = np.array(margins)
    return {
        "images": len(files),
        "one_face": found_counts[1],
        "no_face": found_counts[0],
        "several_faces": found_counts[2],
        "margin_median": round(float(np.median(m)), 3),
        "margin_p25": round(float(np.percentile(m, 25)), 3),
        "margin_p75": round(float(np.percentile(m, 75)), 3),
        "centre_dx_median": round(float(np.median(dx)), 3),
        "centre_dy_median": round(float(np.median(dy)), 3),
        "box_side_median_px": round(float(np.median(UPSCALED / (1 + 2 * m))), 1),
        "setup": f"val faces 48->{UPSCALED} px (bicubic), {PAD} px border of the face's median grey, "
        "Haar frontalface_default scaleFactor 1.05 minNeighbors 5",
    }


def main(data: str | Path | None = None, limit: int = 1000, as_json: bool = False) -> int:
    from fer_app.errors import DatasetError
    from fer_app.preprocess import FACE_MARGIN

    data = Path(data) if data else DEFAULT_DATA
    if not data.is_dir():
        raise DatasetError(f"{data}: FER2013 folder not found (give --data)")
    figures = measure(data, limit)
    figures["face_margin_in_use"] = FACE_MARGIN
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
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(limit=int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
