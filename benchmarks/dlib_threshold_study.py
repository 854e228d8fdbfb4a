"""Why dlib's doubtful boxes are confirmed by the alt2 cascade instead of raising dlib's threshold
(benchmarks/RESULTS.md, "dlib's low-score boxes confirmed by alt2"). On the detector set's photos:
recall and precision of dlib-hog (still settings) at several thresholds; then, for dlib's boxes at
threshold 0, how many real faces scored below DLIB_VERIFY_BELOW the cascade confirms; and what it
says of the astronaut portrait's mission patch in a JPEG (quality 95).

    python benchmarks/dlib_threshold_study.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import detection_set  # noqa: E402
from benchmarks.detector_bench import match, photo_scores  # noqa: E402
from fer_app.detect import DLIB_MARGIN, DLIB_VERIFY_BELOW, DlibHogDetector  # noqa: E402

STILL = {"min_face": 40, "detect_width": 2048, "margin": DLIB_MARGIN}


class _Scored(DlibHogDetector):
    """dlib-hog at threshold 0 that records each box's score and whether the alt2 cascade confirms it."""

    def __init__(self):
        super().__init__(**STILL, verify_below=DLIB_VERIFY_BELOW)
        self.seen: list[tuple[tuple, float, bool]] = []

    def _run_scaled(self, grey, scale):
        scaled = grey_at(grey, scale)
        rects, scores, _ = self._dlib.run(scaled, 0, 0.0)
        boxes = []
        for r, score in zip(rects, scores):
            box = tuple(round(v / scale) for v in (r.left(), r.top(), r.right() - r.left() + 1, r.bottom() - r.top() + 1))
            self.seen.append((box, score, self._confirmed(scaled, r)))
            boxes.append(box)
        return boxes


def grey_at(grey, scale):
    if abs(scale - 1.0) <= 0.02:
        return grey
    size = (round(grey.shape[1] * scale), round(grey.shape[0] * scale))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def main() -> int:
    photos = detection_set.photos()
    print("threshold | recall | precision | false boxes")
    for t in (0.0, 0.1, 0.2, 0.3, 0.4):
        r = photo_scores(photos, lambda t=t: DlibHogDetector(**STILL, threshold=t))
        print(f"{t:9.1f} | {r['recall']:.3f} | {r['precision']:.3f} | {r['false_boxes']}")
    real_low = confirmed = false = 0
    for p in photos:
        grey = cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY)
        det = _Scored()
        det.detect(grey)
        for box, score, ok in det.seen:
            hit = any(match([box], p.truth, grey.shape[1], grey.shape[0])[0])
            false += not hit
            if hit and score < DLIB_VERIFY_BELOW:
                real_low += 1
                confirmed += ok
    print(f"real faces dlib scored below {DLIB_VERIFY_BELOW}: {real_low}, confirmed by alt2: {confirmed}; "
          f"false boxes at threshold 0: {false}")
    from skimage import data

    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    det = _Scored()
    det.detect(cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY))
    for box, score, ok in det.seen:
        print(f"astronaut JPEG: box {box} score {score:.3f} confirmed by alt2: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
