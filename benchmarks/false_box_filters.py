"""Would a cheap second check remove the still detector's false box without losing real faces?

The false box: (344, 114, 123, 123) beside the astronaut's face on the padded
astronaut frame the browser tests upload (tests/e2e/conftest.face_frame). The
real faces: every box the still and live detectors find on the benchmark's
FER2013 scenes (engine_bench.scene). False boxes elsewhere: what the
detectors find on scikit-image photos of things that are not frontal human
faces. Checks measured on each box:

  neighbours  the cascade's own vote count for the box (detectMultiScale2);
              minNeighbors 8 removes the false box
  eyes        haarcascade_eye finds at least one eye in the box's upper 60 %
              (resized to 96 px wide), at minNeighbors 1
  second      the cascade run again on the box plus 30 % margin, rescaled so
              the box is 64 px, scaleFactor 1.05, no grouping: raw windows
              overlapping the box (IoU >= 0.5)

Run: python benchmarks/false_box_filters.py   (about 20 s; prints a table)
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.engine_bench import _astronaut, boxes_with_neighbours, detectable_faces, scene  # noqa: E402
from fer_app.detect import iou  # noqa: E402
from fer_app.pipeline import default_live_detector, default_still_detector  # noqa: E402

FALSE_BOX = (344, 114, 123, 123)


_EYES = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_eye.xml")
_FACES = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def eyes(grey: np.ndarray, box) -> int:
    x, y, w, h = box
    roi = grey[max(0, y) : y + int(h * 0.6), max(0, x) : x + w]
    roi = cv2.resize(roi, (96, max(1, int(96 * roi.shape[0] / roi.shape[1]))), interpolation=cv2.INTER_AREA)
    return len(_EYES.detectMultiScale(roi, 1.1, 1, minSize=(12, 12), maxSize=(48, 48)))


def second_opinion(grey: np.ndarray, box, side: int = 64, pad: float = 0.3) -> int:
    x, y, w, h = box
    p = int(w * pad)
    x0, y0 = max(0, x - p), max(0, y - p)
    x1, y1 = min(grey.shape[1], x + w + p), min(grey.shape[0], y + h + p)
    s = side / w
    roi = cv2.resize(
        grey[y0:y1, x0:x1], (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))), interpolation=cv2.INTER_AREA
    )
    found = _FACES.detectMultiScale(roi, 1.05, 0, minSize=(int(side * 0.7),) * 2, maxSize=(int(side * 1.4),) * 2)
    return sum(iou(tuple(int(v) for v in (x0 + b[0] / s, y0 + b[1] / s, b[2] / s, b[3] / s)), box) >= 0.5 for b in found)


def main() -> int:
    from skimage import data

    detectors = (default_still_detector("haar"), default_live_detector("haar"))  # a study of the Haar cascade
    padded = np.full((480, 640, 3), 96, np.uint8)  # as tests/e2e/conftest.face_frame builds it
    padded[:, 80:560] = cv2.resize(_astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    padded = cv2.cvtColor(padded, cv2.COLOR_BGR2GRAY)
    rows: dict[str, list] = {"the false box": [], "real faces": [], "false boxes on other photos": []}
    for box, n in boxes_with_neighbours(detectors[0], padded):
        if iou(box, FALSE_BOX) >= 0.5:
            rows["the false box"].append((n, eyes(padded, box), second_opinion(padded, box)))
    faces, source = detectable_faces(30)
    scenes = [scene(faces[:4], 640, 480, 120), scene(faces[:30], 1920, 1080, 150)]
    scenes += [scene(faces[k * 4 : k * 4 + 4], 640, 480, px) for k, px in enumerate((50, 70, 90, 120, 150))]
    for img, truth in scenes:
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        for det in detectors:
            for box, n in boxes_with_neighbours(det, grey):
                if any(iou(box, t) >= 0.3 for t in truth):
                    rows["real faces"].append((n, eyes(grey, box), second_opinion(grey, box)))
    for name in (
        "coffee",
        "chelsea",
        "rocket",
        "coins",
        "hubble_deep_field",
        "immunohistochemistry",
        "page",
        "text",
        "brick",
        "grass",
        "gravel",
        "cell",
        "horse",
        "moon",
        "clock",
    ):
        img = getattr(data, name)()
        grey = cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
        if grey.dtype != np.uint8:
            grey = grey.astype(float)
            grey = (255 * (grey - grey.min()) / (np.ptp(grey) + 1e-9)).astype(np.uint8)
        for det in detectors:
            for box, n in boxes_with_neighbours(det, grey):
                rows["false boxes on other photos"].append((n, eyes(grey, box), second_opinion(grey, box)))
    print(f"real faces: {source}")
    print(f"{'boxes':<28} {'count':>5}  {'neighbours (lowest)':<22} {'no eye found':>12}  {'second-opinion windows (lowest)'}")
    for label, values in rows.items():
        if not values:
            print(f"{label:<28} {0:>5}")
            continue
        n, e, s = (np.array(v) for v in zip(*values))
        print(
            f"{label:<28} {len(values):>5}  {str([int(v) for v in sorted(n)[:5]]):<22} {int((e == 0).sum()):>12}  {[int(v) for v in sorted(s)[:5]]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
