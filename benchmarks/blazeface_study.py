"""How to run BlazeFace: model mix, short-range sweeps, borders, score threshold, grey against colour, on the detection set.

The settings behind `blazeface` in fer_app/detect.py (docs/detectors.md, "BlazeFace"): each
configuration is run over the photos and every clip frame of benchmarks/detection_set.py and
scored as benchmarks/detector_bench.py scores (a found box matches a true face when its centre
lies inside it and its side is 0.35-1.6x the true side). One thread; p50 of one detection of the
640x480 frame with 4 faces and of the 1024 px photos. "colour" feeds the models the RGB frame
instead of the grey one the FaceDetector interface passes.

A sweep "n" runs the short-range model over the whole frame scaled so that 1/n of its shorter side
spans the model's 128 px input (never enlarged beyond 1:1); "n+m" (mirror m) first gives the frame
a mirrored border of m times its shorter side, which completes faces cut by the frame's edge. (Until
2026-12-03 the short-range model ran on square tiles of 1/n of the shorter side, overlapping by a
quarter: 1.6-1.8x the time of the two sweeps that replaced them; RESULTS.md, "BlazeFace sweeps".)
The full-range model always runs on the whole frame at MediaPipe's 0.6; with "border", also on the
frame with a replicated border of a quarter of its side. The threshold named is the sweeps'.
"zoom z" lets the sweeps enlarge the frame up to z. "check": boxes scored from 0.5 (or as named) up to
the thresholds are kept where a second detector (dlib's HOG, or OpenCV's alt2 cascade) finds a face
around them (fer_app.detect.FaceCheck).
Run: python benchmarks/blazeface_study.py [--quick] [--only TEXT...]   (times quoted only from a run under flock -x)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import detection_set  # noqa: E402
from benchmarks.detector_bench import match, p50_ms_over  # noqa: E402

BORDER = {"borders": (0.0, 0.25)}
CONFIGS = {
    "full range, 0.5": {"threshold": 0.5},
    "full range, 0.6 (MediaPipe's)": {"threshold": 0.6},
    "full range, 0.7": {"threshold": 0.7},
    "full + sweeps 2, 3 at 0.5": {"sweeps": ((2, 0), (3, 0)), "sweep_threshold": 0.5},
    "full + sweeps 2, 3 at 0.6": {"sweeps": ((2, 0), (3, 0)), "sweep_threshold": 0.6},
    "full + sweeps 2, 3 at 0.7": {"sweeps": ((2, 0), (3, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2, 3": {**BORDER, "sweeps": ((2, 0), (3, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.10, 3+m.10": {**BORDER, "sweeps": ((2, 0.1), (3, 0.1)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.10, 3": {**BORDER, "sweeps": ((2, 0.1), (3, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.15, 3 (video, live, unchecked)": {**BORDER, "sweeps": ((2, 0.15), (3, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.25, 3": {**BORDER, "sweeps": ((2, 0.25), (3, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.15, 3+m.15": {**BORDER, "sweeps": ((2, 0.15), (3, 0.15)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.15, 4": {**BORDER, "sweeps": ((2, 0.15), (4, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.15, 5": {**BORDER, "sweeps": ((2, 0.15), (5, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.15, 3+m.15, 4": {**BORDER, "sweeps": ((2, 0.15), (3, 0.15), (4, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.15, 3+m.15, 5 (photos, before the check)": {**BORDER, "sweeps": ((2, 0.15), (3, 0.15), (5, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.10, 3+m.10, 5": {**BORDER, "sweeps": ((2, 0.1), (3, 0.1), (5, 0)), "sweep_threshold": 0.7},
    "border + sweeps 2+m.15, 3+m.15, 5, zoom 1.5": {**BORDER, "sweeps": ((2, 0.15), (3, 0.15), (5, 0)), "sweep_threshold": 0.7, "max_zoom": 1.5},
    "border + sweeps 2+m.15, 5+m.10, zoom 1.5": {**BORDER, "sweeps": ((2, 0.15), (5, 0.1)), "sweep_threshold": 0.7, "max_zoom": 1.5},
}
PHOTOS = {**BORDER, "sweeps": ((2, 0.15), (5, 0.1)), "sweep_threshold": 0.7, "max_zoom": 1.5}
VIDEO = {**BORDER, "sweeps": ((2, 0.15), (3, 0)), "sweep_threshold": 0.7}
# label -> (settings, second opinion: "dlib" or "alt2", the score from which it is asked)
CHECKED = {
    "border + sweeps 2+m.15, 3+m.15, 5, dlib check": ({**BORDER, "sweeps": ((2, 0.15), (3, 0.15), (5, 0)), "sweep_threshold": 0.7}, "dlib", 0.5),
    "border + sweeps 2+m.15, 3+m.15, 5, zoom 1.5, dlib check": (CONFIGS["border + sweeps 2+m.15, 3+m.15, 5, zoom 1.5"], "dlib", 0.5),
    "border + sweeps 2+m.15, 5+m.10, zoom 1.5, alt2 check": (PHOTOS, "alt2", 0.5),
    "border + sweeps 2+m.15, 5+m.10, zoom 1.5, dlib check (photos)": (PHOTOS, "dlib", 0.5),
    "border + sweeps 2+m.15, 5+m.10, zoom 1.5, dlib check from 0.4": (PHOTOS, "dlib", 0.4),
    "border + sweeps 2+m.15, 3, alt2 check": (VIDEO, "alt2", 0.5),
    "border + sweeps 2+m.15, 3, dlib check (video, live)": (VIDEO, "dlib", 0.5),
    "border + sweeps 2+m.15, 3, dlib check from 0.4": (VIDEO, "dlib", 0.4),
}


def _view(bgr: np.ndarray, colour: bool) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB if colour else cv2.COLOR_BGR2GRAY)


def score(det, photos, clips, colour: bool) -> dict:
    tp = fp = total = 0
    for p in photos:
        hits, false = match(det.detect(_view(p.image, colour)), p.truth, p.image.shape[1], p.image.shape[0])
        tp, fp, total = tp + sum(hits), fp + false, total + len(hits)
    by_kind: dict[str, list[bool]] = {}
    clip_false = frames = 0
    for c in clips:
        for frame, truth in zip(c.frames, c.truth):
            hits, false = match(det.detect(_view(frame, colour)), truth, frame.shape[1], frame.shape[0])
            for h, b in zip(hits, truth):
                by_kind.setdefault(b[4], []).append(h)
            clip_false += false
            frames += 1
    return {
        "photo_recall": tp / total,
        "photo_precision": tp / max(1, tp + fp),
        "photo_false": fp,
        **{kind: float(np.mean(by_kind.get(kind, [0]))) for kind in ("frontal", "turned", "cut")},
        "clip_false_per_frame": clip_false / max(1, frames),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 s clips, few repetitions")
    ap.add_argument("--only", nargs="+", metavar="TEXT", help="only the configurations whose label contains one of these")
    args = ap.parse_args(argv)
    from fer_app.blazeface import BlazeFaceDetector
    from fer_app.detect import FaceCheck

    configs = {label: (lambda s=settings: BlazeFaceDetector(**s)) for label, settings in CONFIGS.items()}
    for label, (settings, check, start) in CHECKED.items():
        configs[label] = lambda s=settings, c=check, f=start: BlazeFaceDetector(**s, confirm=FaceCheck(use_dlib=c == "dlib"), confirm_from=f)
    if args.only:
        configs = {k: v for k, v in configs.items() if any(o in k for o in args.only)}

    cv2.setNumThreads(1)
    photos = detection_set.photos()
    clips = detection_set.clips(seconds=1.0 if args.quick else 3.0)
    reps = 3 if args.quick else 15
    four = cv2.cvtColor(detection_set.four_face_frame(), cv2.COLOR_BGR2GRAY)
    big = [cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY) for p in photos if p.image.shape[1] == 1024][:4]
    print(f"{len(photos)} photos ({sum(len(p.truth) for p in photos)} faces), {sum(len(c.frames) for c in clips)} clip frames; one thread")
    print(f"{'configuration':<44} {'input':<6} {'recall':>6} {'prec.':>6} {'false':>5} {'frontal':>7} {'turned':>6} {'cut':>5} {'false/fr':>8} {'640x480 ms':>10} {'1024px ms':>9}")
    for label, make in configs.items():
        det = make()
        times = f"{p50_ms_over(det.detect, [four], reps):>10.1f} {p50_ms_over(det.detect, big, max(2, reps // 3)):>9.1f}"
        for colour in (False, True) if label.startswith("full range, 0.6") or "(video, live)" in label else (False,):
            r = score(det, photos, clips, colour)
            print(
                f"{label:<44} {'colour' if colour else 'grey':<6} {r['photo_recall']:>6.3f} {r['photo_precision']:>6.3f} {r['photo_false']:>5}"
                f" {r['frontal']:>7.3f} {r['turned']:>6.3f} {r['cut']:>5.3f} {r['clip_false_per_frame']:>8.3f} {times}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
