"""How well and how fast each face detector finds faces: photos, clips, the live path, time per frame.

On the evaluation set of benchmarks/detection_set.py (FER2013 faces composed into scenes on
CC0/public-domain backgrounds, plus the astronaut portrait; an approximation of real footage,
see there). Everything on one thread (OpenCV, dlib and ONNX Runtime).

  photos   precision and recall of each still detector over 31 photos (a found box matches a true
           face when its centre lies inside the true box and its side is 0.35-1.6x the true side;
           every other box is a false box)
  clips    per-frame recall of each live/video detector run alone on every frame of four 4 s
           640x480 clips (3 s each), frontal, turned (squeezed, NOT profiles) and cut-by-the-edge counted apart;
           false boxes per frame
  live     the live path (EmotionRecognizer.analyze with the fast model, following faces between
           full detections) on the same clips, for several full-detection intervals: per-frame
           recall of the faces it reports, false boxes per frame, p50 per frame and per
           full-detection frame
  time     p50 of one detection of a 640x480 frame with 4 faces, and of the 1024 px photos;
           the still path (analyze_image, fast model) on 640x480 and 1024 px photos

Run: python benchmarks/detector_bench.py [--quick] [--json] [--annotate DIR [--annotate-detector NAME]] [--only LABEL...]
(quote figures from a run under `flock -x /tmp/fer-cpu.lock`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import detection_set  # noqa: E402


def candidates(still: bool) -> dict:
    """label -> factory of a new detector. The registry's entries, plus settings tried for the choice."""
    from fer_app.detect import DLIB_MARGIN, DlibHogDetector, detector_available, detector_names, make_detector

    out = {name: (lambda name=name: make_detector(name, still)) for name in detector_names() if detector_available(name)}
    if detector_available("blazeface"):
        from fer_app.blazeface import BlazeFaceDetector
        from fer_app.detect import BLAZEFACE_MARGIN

        out["blazeface full range only"] = lambda: BlazeFaceDetector(threshold=0.6, margin=BLAZEFACE_MARGIN)
        # The two sweeps without their mirrored borders (which complete edge-cut faces).
        out["blazeface sweeps without mirror"] = lambda: BlazeFaceDetector(
            borders=(0.0, 0.25), sweeps=((2, 0.0), (3, 0.0)), sweep_threshold=0.7, margin=BLAZEFACE_MARGIN
        )
        out["blazeface, no second opinion"] = lambda: _without_second_opinion(make_detector("blazeface", still))
        if still:
            # The photo settings until the second opinion (2026-12-03): three sweeps, none enlarged.
            out["blazeface sweeps 2, 3, 5, no second opinion"] = lambda: BlazeFaceDetector(
                borders=(0.0, 0.25), sweeps=((2, 0.15), (3, 0.15), (5, 0.0)), sweep_threshold=0.7, margin=BLAZEFACE_MARGIN
            )
            out["blazeface video settings"] = lambda: make_detector("blazeface", False)
    if not detector_available("dlib-hog"):
        return out
    unverified = {"min_face": 40, "detect_width": 2048} if still else {"min_face": 60, "detect_width": 1024}
    out["dlib-hog without the alt2 check"] = lambda: DlibHogDetector(**unverified, margin=DLIB_MARGIN)
    if still:
        out["dlib-hog min_face 40, <=1280 px"] = lambda: DlibHogDetector(min_face=40, detect_width=1280)
        out["dlib-hog min_face 60, <=1024 px"] = lambda: DlibHogDetector(min_face=60, detect_width=1024)
    else:
        out["dlib-hog min_face 80 (1x)"] = lambda: DlibHogDetector(min_face=80, detect_width=0)
        out["dlib-hog min_face 40 (2x)"] = lambda: DlibHogDetector(min_face=40, detect_width=0)
    return out


def _without_second_opinion(detector):
    """The detector with its doubtful boxes dropped instead of confirmed by a second detector."""
    detector.confirm = None
    return detector


# --- matching -------------------------------------------------------------------------------------


def match(found: list, truth: list, width: int, height: int) -> tuple[list[bool], int]:
    """(for each true box whether a found box matches it, how many found boxes match nothing)."""
    used = set()
    hits = []
    for x, y, w, h, _ in truth:
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
        best, best_d = None, None
        for i, (fx, fy, fw, fh) in enumerate(found):
            if i in used:
                continue
            cx, cy = fx + fw / 2, fy + fh / 2
            ratio = max(fw, fh) / h
            if x0 <= cx <= x1 and y0 <= cy <= y1 and 0.35 <= ratio <= 1.6:
                d = (cx - (x0 + x1) / 2) ** 2 + (cy - (y0 + y1) / 2) ** 2
                if best_d is None or d < best_d:
                    best, best_d = i, d
        if best is not None:
            used.add(best)
        hits.append(best is not None)
    return hits, len(found) - len(used)


def _rates(hits_by_kind: dict, false: int, frames: int) -> dict:
    row = {}
    for kind in ("frontal", "turned", "cut"):
        h = hits_by_kind.get(kind, [])
        row[kind] = round(float(np.mean(h)), 3) if h else None
        row[f"{kind}_n"] = len(h)
    row["false_per_frame"] = round(false / max(1, frames), 3)
    return row


# --- measurements ---------------------------------------------------------------------------------


def photo_scores(photos, make) -> dict:
    det = make()
    tp = fp = total = 0
    frontal = []
    by_size: dict[str, list[bool]] = {"<60": [], "60-100": [], ">100": []}
    misses, false_in = [], []
    for p in photos:
        grey = cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY)
        found = det.detect(grey)
        hits, false = match(found, p.truth, grey.shape[1], grey.shape[0])
        tp += sum(hits)
        fp += false
        total += len(hits)
        frontal += [h for h, b in zip(hits, p.truth) if b[4] == "frontal"]
        for h, b in zip(hits, p.truth):
            by_size["<60" if b[3] < 60 else "60-100" if b[3] <= 100 else ">100"].append(h)
        if not all(hits):
            misses.append(p.name)
        if false:
            false_in.append(p.name)
    return {
        "faces": total,
        "found": tp,
        "false_boxes": fp,
        "recall": round(tp / total, 3),
        "recall_frontal": round(float(np.mean(frontal)), 3),
        "precision": round(tp / max(1, tp + fp), 3),
        "recall_by_face_px": {k: f"{sum(v)}/{len(v)}" for k, v in by_size.items()},
        "photos_with_misses": misses,
        "photos_with_false_boxes": false_in,
    }


def clip_scores(clips, make) -> dict:
    det = make()
    by_kind: dict = {}
    false = frames = 0
    for c in clips:
        for frame, truth in zip(c.frames, c.truth):
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            hits, f = match(det.detect(grey), truth, grey.shape[1], grey.shape[0])
            for h, b in zip(hits, truth):
                by_kind.setdefault(b[4], []).append(h)
            false += f
            frames += 1
    return _rates(by_kind, false, frames)


def live_scores(clips, make, classifier, detect_every: int) -> dict:
    from fer_app.pipeline import EmotionRecognizer

    by_kind: dict = {}
    false = frames = 0
    times, full_times, gaps = [], [], []
    for c in clips:
        rec = EmotionRecognizer(detector=make(), classifier=classifier, detect_every=detect_every)
        missing_run: dict[int, int] = {}
        seen: set[int] = set()
        for i, (frame, truth) in enumerate(zip(c.frames, c.truth)):
            t0 = time.perf_counter()
            result = rec.analyze(frame, timestamp=i / c.fps)
            dt = time.perf_counter() - t0
            if i >= detect_every:  # the first cycle starts the tracks
                (full_times if result.detected else times).append(dt)
            hits, f = match([face.box for face in result.faces], truth, result.width, result.height)
            for k, (h, b) in enumerate(zip(hits, truth)):
                by_kind.setdefault(b[4], []).append(h)
                # The longest stretch in which a visible frontal face, once reported, goes unreported.
                if h:
                    seen.add(k)
                if b[4] == "frontal" and not h and k in seen:
                    missing_run[k] = missing_run.get(k, 0) + 1
                else:
                    if missing_run.get(k):
                        gaps.append(missing_run[k] / c.fps)
                    missing_run[k] = 0
            false += f
            frames += 1
        gaps += [n / c.fps for n in missing_run.values() if n]
    all_times = times + full_times
    return {
        **_rates(by_kind, false, frames),
        "p50_ms": round(float(np.median(all_times)) * 1000, 2),
        "full_p50_ms": round(float(np.median(full_times)) * 1000, 2) if full_times else None,
        "longest_frontal_gap_s": round(max(gaps), 2) if gaps else 0.0,
    }


def p50_ms_over(fn, inputs: list, reps: int) -> float:
    """Median ms of `fn(x)` over `reps` timed calls per input, each input called once untimed first."""
    times = []
    for x in inputs:
        fn(x)
        for _ in range(reps):
            t0 = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t0)
    return round(float(np.median(times)) * 1000, 2)


def detection_time(make, grey: np.ndarray, reps: int) -> float:
    return p50_ms_over(make().detect, [grey], reps)


def still_path_time(make, classifier, images: list[np.ndarray], reps: int) -> float:
    from fer_app.pipeline import EmotionRecognizer

    rec = EmotionRecognizer(detector=make(), still_detector=make(), classifier=classifier)
    return p50_ms_over(rec.analyze_image, images, reps)


def annotate(out: Path, photos, clips, still_make, live_make) -> None:
    """Photos and clip frames with the true boxes (green; yellow: turned or cut) and the detector's (red)."""
    out.mkdir(parents=True, exist_ok=True)

    def draw(img, truth, found):
        img = img.copy()
        for x, y, w, h, kind in truth:
            cv2.rectangle(img, (x, y), (x + w, y + h), (0, 200, 0) if kind == "frontal" else (0, 220, 220), 2)
        for x, y, w, h in found:
            cv2.rectangle(img, (x, y), (x + w, y + h), (0, 0, 255), 1)
        return img

    det = still_make()
    for p in photos:
        found = det.detect(cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY))
        cv2.imwrite(str(out / f"{p.name}.png"), draw(p.image, p.truth, found))
    det = live_make()
    for c in clips:
        strip = []
        for i in range(0, len(c.frames), len(c.frames) // 6):
            found = det.detect(cv2.cvtColor(c.frames[i], cv2.COLOR_BGR2GRAY))
            strip.append(cv2.resize(draw(c.frames[i], c.truth[i], found), (320, 240)))
        cv2.imwrite(str(out / f"clip_{c.name}.png"), np.hstack(strip[:6]))


def run(quick: bool = False, annotate_dir: str | None = None, annotate_detector: str | None = None, only: list[str] | None = None) -> dict:
    from fer_app.engine import shared_classifier

    cv2.setNumThreads(1)
    classifier = shared_classifier(None, accurate=False, threads=1)
    photos = detection_set.photos()
    clips = detection_set.clips(seconds=1.0 if quick else 3.0)
    reps = 3 if quick else 15
    four = cv2.cvtColor(detection_set.four_face_frame(), cv2.COLOR_BGR2GRAY)
    astronaut = cv2.resize(photos[-1].image, (640, 480), interpolation=cv2.INTER_LINEAR)
    big = [p.image for p in photos if p.image.shape[1] == 1024]
    small = [p.image for p in photos if p.image.shape[1] == 640]
    report: dict = {"photos": len(photos), "clip_frames": sum(len(c.frames) for c in clips), "still": {}, "live": {}, "live_path": {}}
    def chosen(table: dict) -> dict:
        return {k: v for k, v in table.items() if not only or any(k.startswith(o) for o in only)}

    for label, make in chosen(candidates(still=True)).items():
        row = photo_scores(photos, make)
        row["detect_640x480_4faces_ms"] = detection_time(make, four, reps)
        row["detect_1024px_photo_ms"] = round(float(np.median([detection_time(make, cv2.cvtColor(b, cv2.COLOR_BGR2GRAY), max(2, reps // 4)) for b in big[:4]])), 2)
        row["still_path_640x480_ms"] = still_path_time(make, classifier, small[:3], max(2, reps // 5))
        row["still_path_1024px_ms"] = still_path_time(make, classifier, big[:3], max(2, reps // 5))
        row["still_path_astronaut_640x480_ms"] = still_path_time(make, classifier, [astronaut], max(2, reps // 3))
        report["still"][label] = row
        print(f"still {label}: {row}", file=sys.stderr)
    for label, make in chosen(candidates(still=False)).items():
        row = clip_scores(clips, make)
        row["detect_640x480_4faces_ms"] = detection_time(make, four, reps)
        report["live"][label] = row
        print(f"live {label}: {row}", file=sys.stderr)
    live_labels = [n for n in ("haar", "haar-alt2", "dlib-hog", "blazeface", "blazeface, no second opinion") if n in report["live"]]
    for label in live_labels:
        make = candidates(still=False)[label]
        for every in (5,) if quick or " " in label else (5, 3, 2, 1) if label in ("dlib-hog", "blazeface") else (5, 3):
            row = live_scores(clips, make, classifier, every)
            report["live_path"][f"{label}, full detection every {every}"] = row
            print(f"live path {label} every {every}: {row}", file=sys.stderr)
    if annotate_dir:
        from fer_app.detect import default_detector_name, make_detector

        annotate(
            Path(annotate_dir),
            photos,
            clips,
            lambda: make_detector(annotate_detector or default_detector_name(True), True),
            lambda: make_detector(annotate_detector or default_detector_name(False), False),
        )
    return report


def print_table(r: dict) -> None:
    print(f"evaluation set: {r['photos']} photos, {r['clip_frames']} clip frames (benchmarks/detection_set.py); one thread")
    print("\nphotos (still settings)")
    print(f"{'detector':<34} {'recall':>6} {'prec.':>6} {'false':>5} {'640x480 4f ms':>13} {'1024px ms':>9} {'still path 640 / 1024 ms':>24}")
    for k, v in r["still"].items():
        print(
            f"{k:<34} {v['recall']:>6.3f} {v['precision']:>6.3f} {v['false_boxes']:>5} {v['detect_640x480_4faces_ms']:>13.1f}"
            f" {v['detect_1024px_photo_ms']:>9.1f} {v['still_path_640x480_ms']:>11.1f} / {v['still_path_1024px_ms']:.1f}"
        )
        print(f"{'':<34} found by face side (px): " + ", ".join(f"{k} {n}" for k, n in v["recall_by_face_px"].items()))
    print("\nclips, detector alone on every frame (live/video settings): share of frames a face is found")
    print(f"{'detector':<34} {'frontal':>7} {'turned':>7} {'cut':>5} {'false/frame':>11} {'640x480 4f ms':>13}")
    for k, v in r["live"].items():
        print(f"{k:<34} {v['frontal']:>7.3f} {v['turned']:>7.3f} {v['cut']:>5.3f} {v['false_per_frame']:>11.3f} {v['detect_640x480_4faces_ms']:>13.1f}")
    print("\nlive path (fast model, following between full detections)")
    print(f"{'detector':<40} {'frontal':>7} {'turned':>7} {'cut':>5} {'false/fr':>8} {'p50 ms':>7} {'full p50':>8} {'longest gap s':>13}")
    for k, v in r["live_path"].items():
        print(
            f"{k:<40} {v['frontal']:>7.3f} {v['turned']:>7.3f} {v['cut']:>5.3f} {v['false_per_frame']:>8.3f}"
            f" {v['p50_ms']:>7.2f} {v['full_p50_ms'] or 0:>8.2f} {v['longest_frontal_gap_s']:>13.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 s clips, few repetitions: a smoke run")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--annotate", metavar="DIR", help="write annotated photos and clip strips (default detectors) here")
    ap.add_argument("--annotate-detector", metavar="NAME", help="annotate this detector's boxes instead of the defaults'")
    ap.add_argument("--only", nargs="+", metavar="LABEL", help="measure only the candidates whose label starts so")
    args = ap.parse_args(argv)
    report = run(args.quick, args.annotate, args.annotate_detector, args.only)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
