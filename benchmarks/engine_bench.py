"""Latency, throughput and memory of the recognition engine, on real decoded pixels.

Scenes: FER2013 validation faces (upscaled, bicubic) pasted on a real photo
(scikit-image's `coffee`), chosen among faces the cascade finds when shown
alone, so every scene really holds the stated number of detectable faces;
the 1-face scene is scikit-image's astronaut portrait. Without the dataset,
tiles of the astronaut's face stand in (the report says which).

Paths measured per scene, on one thread and on the default threads:
  photo  EmotionRecognizer.analyze_image (finer detection, for stills)
  full   EmotionRecognizer.analyze with a full detection and every face
         classified on every frame
  live   EmotionRecognizer.analyze as the app and videos run it (defaults):
         a full detection every 5th frame, faces followed by template
         matching in between, each face re-classified every 2nd frame
         (frames pan 2 px a frame so following does real work)

Run: python -m fer_app bench [--json] [--quick]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
FER2013 = Path(os.environ.get("FER2013_DIR", REPO.parent / "shared" / "datasets" / "fer2013"))


# --- scenes ---------------------------------------------------------------------------------------


def _coffee(width: int, height: int) -> np.ndarray:
    from skimage import data

    return cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (width, height), interpolation=cv2.INTER_AREA)


def _astronaut() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def detectable_faces(count: int, seed: int = 0) -> tuple[list[np.ndarray], str]:
    """`count` faces (BGR, 192 px) the cascade finds alone, and where they came from."""
    from fer_app.detect import HaarDetector

    files = sorted((FER2013 / "val").glob("*/*.png"))
    faces: list[np.ndarray] = []
    if files:
        detector = HaarDetector(scale_factor=1.1, min_neighbors=5, min_face=60, detect_width=0)
        rng = np.random.default_rng(seed)
        for i in rng.permutation(len(files)):
            grey = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE)
            big = cv2.resize(grey, (192, 192), interpolation=cv2.INTER_CUBIC)
            if len(detector.detect(cv2.copyMakeBorder(big, 64, 64, 64, 64, cv2.BORDER_REPLICATE))) == 1:
                faces.append(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
            if len(faces) == count:
                return faces, "FER2013 validation faces, upscaled 48->192 px, pasted on skimage 'coffee'"
    head = cv2.resize(_astronaut()[20:230, 120:330], (192, 192), interpolation=cv2.INTER_AREA)
    return [head] * count, "tiles of the skimage astronaut's face on skimage 'coffee' (FER2013 not found)"


def scene(faces: list[np.ndarray], width: int, height: int, face_px: int) -> tuple[np.ndarray, list]:
    """Faces on a grid over the coffee photo; returns the scene and the pasted boxes."""
    img = _coffee(width, height)
    n = len(faces)
    cols = max(1, int(np.ceil(np.sqrt(n * width / height)))) if n else 1
    rows = max(1, int(np.ceil(n / cols)))
    cw, ch = width // cols, height // rows
    boxes = []
    for i, face in enumerate(faces):
        r, c = divmod(i, cols)
        x, y = c * cw + (cw - face_px) // 2, r * ch + (ch - face_px) // 2
        img[y : y + face_px, x : x + face_px] = cv2.resize(face, (face_px, face_px), interpolation=cv2.INTER_AREA)
        boxes.append((x, y, face_px, face_px))
    return img, boxes


def astronaut_scene(width: int = 640, height: int = 480) -> np.ndarray:
    img = _astronaut()[64:448, :]  # 512x384: the portrait at 4:3
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)


def moving(frame: np.ndarray, count: int, step: float = 2.0) -> list[np.ndarray]:
    """`count` frames of the scene panning `step` px a frame (back and forth)."""
    h, w = frame.shape[:2]
    out = []
    for i in range(count):
        dx, dy = _pan_offset(i, step)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        out.append(cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    return out


# --- measurements ---------------------------------------------------------------------------------


def _percentiles(times: list[float]) -> dict:
    ms = np.array(times) * 1000.0
    return {"p50_ms": round(float(np.median(ms)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2), "n": len(ms)}


def time_paths(recognizer_for, frames_by_case: dict, reps: int) -> list[dict]:
    rows = []
    for case, (frame, expected) in frames_by_case.items():
        for path in ("photo", "full", "live"):
            rec = recognizer_for(path)
            warm_up = 5 if path == "live" else 1  # the live path's first frames start its tracks
            # The live path is measured over whole detection cycles (1 full + 4 followed frames).
            count = reps if path != "photo" else max(3, reps // 4)
            seq = moving(frame, count + warm_up)
            times, found = [], []
            for i, f in enumerate(seq):
                t0 = time.perf_counter()
                result = rec.analyze_image(f) if path == "photo" else rec.analyze(f, timestamp=i / 30.0)
                dt = time.perf_counter() - t0
                if i >= warm_up:
                    times.append(dt)
                    found.append(len(result.faces))
            rows.append(
                {"case": case, "path": path, "faces": expected, "found_median": int(np.median(found)), **_percentiles(times)}
            )
    return rows


def classifier_per_face(classifier, faces: list[np.ndarray], reps: int) -> list[dict]:
    from fer_app.classify import median_predict_ms

    grey = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (48, 48), interpolation=cv2.INTER_AREA) for f in faces])
    rows = []
    for n in (1, 4, 30):
        p50_ms = median_predict_ms(classifier, np.resize(grey, (n, 48, 48)), reps)
        rows.append({"batch": n, "call_p50_ms": round(p50_ms, 3), "per_face_ms": round(p50_ms / n, 3)})
    return rows


def detector_sweep(faces: list[np.ndarray], reps: int, quick: bool = False) -> list[dict]:
    """Recall and time of the Haar settings on 640x480 scenes with faces of 50-150 px."""
    from fer_app.detect import HaarDetector, iou

    scenes = []
    for k, px in enumerate((50, 70, 90, 120, 150)):
        img, boxes = scene(faces[k * 4 : k * 4 + 4], 640, 480, px)
        scenes.append((cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), boxes))
    rows = []
    grid = [(px, f, m) for px in (24, 30, 40) for f in (1.1, 1.2, 1.3) for m in (40, 60)]
    if quick:
        grid = [(30, 1.2, 40)]
    for face_px, factor, min_face in grid:
        det = HaarDetector(scale_factor=factor, min_neighbors=5, min_face=min_face, detect_width=640, face_px=face_px)
        hits = total = false = 0
        times = []
        for grey, truth in scenes:
            for _ in range(max(1, reps // 5)):
                t0 = time.perf_counter()
                found = det.detect(grey)
                times.append(time.perf_counter() - t0)
            hits += sum(any(iou(t, f) >= 0.3 for f in found) for t in truth)
            false += sum(not any(iou(t, f) >= 0.3 for t in truth) for f in found)
            total += len(truth)
        rows.append(
            {
                "face_px": face_px,
                "scale_factor": factor,
                "min_face": min_face,
                "recall": round(hits / total, 3),
                "false_boxes": false,
                "p50_ms": round(float(np.median(times)) * 1000, 2),
            }
        )
    return rows


def crowd_detector_options(faces: list[np.ndarray]) -> list[dict]:
    """Faces found and time of a full detection in the 1080p 30-face scene (150 px faces), one thread,
    for the live detector and variants that could find more (5 panned frames)."""
    from fer_app.detect import HaarDetector, iou

    base, truth = scene(faces[:30], 1920, 1080, 150)
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in moving(base, 5)]
    options = {
        "live default (640 px, 1.2, n5)": {},
        "minNeighbors 4": {"min_neighbors": 4},
        "minNeighbors 3": {"min_neighbors": 3},
        "scaleFactor 1.15": {"scale_factor": 1.15},
        "searched at 720 px": {"detect_width": 720},
        "searched at 800 px": {"detect_width": 800},
    }
    rows = []
    for label, change in options.items():
        det = HaarDetector(**{"scale_factor": 1.2, "min_neighbors": 5, "min_face": 40, "detect_width": 640, **change})
        found, false, times = [], 0, []
        for i, grey in enumerate(frames):
            t0 = time.perf_counter()
            boxes = det.detect(grey)
            times.append(time.perf_counter() - t0)
            dx, dy = _pan_offset(i, 2.0)
            moved = [(round(x + dx), round(y + dy), w, h) for x, y, w, h in truth]
            found.append(sum(any(iou(t, b) >= 0.3 for b in boxes) for t in moved))
            false += sum(not any(iou(t, b) >= 0.3 for t in moved) for b in boxes)
        rows.append(
            {
                "detector": label,
                "found_median": int(np.median(found)),
                "false_boxes": false,
                "p50_ms": round(float(np.median(times)) * 1000, 1),
            }
        )
    return rows


def boxes_with_neighbours(det, grey: np.ndarray) -> list[tuple[tuple, int]]:
    """A Haar detector's boxes on `grey`, each with the cascade's vote count (detectMultiScale2)."""
    h, w = grey.shape
    scale = det.working_scale(w)
    if scale < 1.0:
        grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        scale = grey.shape[1] / w
    side = max(24, round(det.min_face * scale))
    found, counts = det._cascade.detectMultiScale2(
        grey, scaleFactor=det.scale_factor, minNeighbors=det.min_neighbors, minSize=(side, side)
    )
    return [(tuple(round(v / scale) for v in b), int(n)) for b, n in zip(found, counts)]


def neighbour_counts(faces: list[np.ndarray]) -> dict:
    """How many neighbours (overlapping raw windows) the still detector's boxes have: the false box on
    the padded astronaut frame (the browser tests' photo) against real faces in the benchmark scenes."""
    from fer_app.detect import iou
    from fer_app.pipeline import default_still_detector

    det = default_still_detector("haar")  # a study of the Haar cascade's votes

    astronaut = _astronaut()
    padded = np.full((480, 640, 3), 96, np.uint8)  # as tests/e2e/conftest.face_frame builds it
    padded[:, 80:560] = cv2.resize(astronaut, (480, 480), interpolation=cv2.INTER_AREA)
    on_padded = boxes_with_neighbours(det, cv2.cvtColor(padded, cv2.COLOR_BGR2GRAY))
    real = []
    scenes = [scene(faces[:4], 640, 480, 120), scene(faces[:30], 1920, 1080, 150)]
    scenes += [scene(faces[k * 4 : k * 4 + 4], 640, 480, px) for k, px in enumerate((50, 70, 90, 120, 150))]
    for img, truth in scenes:
        for box, n in boxes_with_neighbours(det, cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)):
            if any(iou(box, t) >= 0.3 for t in truth):
                real.append(n)
    return {
        "padded_astronaut": [{"box": list(b), "neighbours": n} for b, n in on_padded],
        "real_faces": len(real),
        "real_faces_lowest_neighbours": sorted(real)[:6],
    }


def write_clip(path: Path, base: np.ndarray, seconds: float, fps: int = 30, step: float = 1.5, preset: str | None = None) -> None:
    """An H.264 clip of the scene panning back and forth (x264's `preset`, default its own)."""
    import av

    height, width = base.shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": preset} if preset else None)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, frame in enumerate(moving(base, int(seconds * fps), step=step)):
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for p in stream.encode(vf):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)


def video_memory(faces: list[np.ndarray], lengths: tuple[float, ...], model: str | None) -> list[dict]:
    """Peak RSS of a fresh process analysing 640x360 clips of different lengths (annotated copy
    written): streaming keeps it the same whatever the length."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in lengths:
            clip = Path(tmp) / f"clip{seconds:g}.mp4"
            write_clip(clip, scene(faces[:4], 640, 360, 90)[0], seconds)
            code = (
                "from fer_app.classify import EmotionClassifier\n"
                "from fer_app.pipeline import EmotionRecognizer\n"
                "from fer_app.video import analyze_video\n"
                f"r = EmotionRecognizer(classifier=EmotionClassifier({model!r}))\n"
                f"s = analyze_video({str(clip)!r}, out_path={str(clip) + '.out.mp4'!r}, recognizer=r)\n"
                "print(s.frames_analysed, [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
            )
            out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
            frames, kb = out.stdout.split()
            rows.append({"seconds": seconds, "frames": int(frames), "peak_rss_mb": round(int(kb) / 1024, 1)})
    return rows


def _pan_offset(i: int, step: float) -> tuple[float, float]:
    """The shift `moving` gives frame i."""
    dx = step * (i % 20 if (i // 20) % 2 == 0 else 20 - i % 20)
    return dx, dx / 2


def video_throughput(faces: list[np.ndarray], seconds: float) -> list[dict]:
    """Analyse generated 720p H.264 clips (4 faces panning), with and without the annotated output.

    As the CLI and the app run it: OpenCV on its default threads, ONNX Runtime on one. "every frame
    per-frame settings" is the recognizer's detect_every=5 / classify_every=2 counted in frames of the
    30 fps clip (settings_fps=None); the default paces them to 15 fps (3 detections a second, as
    live). Recall: the share of (frame, face) pairs with a reported box on the face (IoU >= 0.3);
    the fast clip pans 6 px a frame (180 px/s) instead of 1.5.
    """
    from fer_app.detect import iou
    from fer_app.pipeline import EmotionRecognizer
    from fer_app.video import analyze_video

    class Recording(EmotionRecognizer):
        def analyze(self, frame, timestamp=None, boxes=None):
            result = super().analyze(frame, timestamp=timestamp, boxes=boxes)
            self.boxes.append([f.box for f in result.faces])
            return result

    fps = 30
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base, truth = scene(faces[:4], 1280, 720, 170)
        clips = {}
        for motion, step in (("slow", 1.5), ("fast", 6.0)):
            clips[motion] = (Path(tmp) / f"clip720_{motion}.mp4", step)
            write_clip(clips[motion][0], base, seconds, fps, step=step)
        rec = Recording(classifier=_classifier(1))
        cases = [
            ("slow", "every frame, per-frame settings", None, None),
            ("slow", "default (paced to 15 fps)", 15.0, None),
            ("slow", "every frame, per-frame settings", None, Path(tmp) / "out.mp4"),
            ("slow", "default (paced to 15 fps)", 15.0, Path(tmp) / "out.mp4"),
            ("slow", "default (paced to 15 fps), x264 ultrafast", 15.0, Path(tmp) / "out.mp4"),
            ("fast", "every frame, per-frame settings", None, None),
            ("fast", "default (paced to 15 fps)", 15.0, None),
        ]
        for motion, label, settings_fps, out_path in cases:
            clip, step = clips[motion]
            rec.boxes = []
            t0 = time.perf_counter()
            preset = "ultrafast" if "ultrafast" in label else "veryfast"
            summary = analyze_video(clip, out_path=out_path, recognizer=rec, settings_fps=settings_fps, x264_preset=preset)
            elapsed = time.perf_counter() - t0
            hits = 0
            for i, found in enumerate(rec.boxes):
                dx, dy = _pan_offset(i, step)
                moved = [(round(x + dx), round(y + dy), w, h) for x, y, w, h in truth]
                hits += sum(any(iou(t, f) >= 0.3 for f in found) for t in moved)
            rows.append(
                {
                    "case": f"720p, {seconds:g} s @ {fps} fps, 4 faces, {motion} pan: {label}"
                    + (", + annotated MP4" if out_path else ", analyse only"),
                    "threads": "OpenCV default, ONNX Runtime 1",
                    "frames": summary.frames_analysed,
                    "fps": round(summary.frames_analysed / elapsed, 1),
                    "x_real_time": round(summary.duration / elapsed, 2),
                    "face_frames_found": round(hits / (len(truth) * max(1, len(rec.boxes))), 3),
                    "mp4_mb": round(out_path.stat().st_size / 1e6, 2) if out_path else None,
                }
            )
    return rows


def _astronaut_file() -> str:
    """The portrait's PNG inside scikit-image, found without importing it (it is not part of the app)."""
    import importlib.util

    return str(Path(importlib.util.find_spec("skimage").submodule_search_locations[0]) / "data" / "astronaut.png")


def peak_rss_mb(model: str | None) -> float:
    """Peak RSS of a fresh process that loads the model and analyses a 640x480 frame."""
    code = (
        "import numpy as np\n"
        "from fer_app.classify import EmotionClassifier\n"
        "from fer_app.pipeline import EmotionRecognizer\n"
        f"r = EmotionRecognizer(classifier=EmotionClassifier({model!r}))\n"
        "import cv2\n"
        f"img = cv2.resize(cv2.imread({_astronaut_file()!r}), (640, 480))\n"
        "for i in range(20): r.analyze(img, timestamp=i / 30)\n"
        "r.analyze_image(img)\n"
        # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's size at fork.
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return round(int(out.stdout.strip().splitlines()[-1]) / 1024, 1)


def machine() -> dict:
    import onnxruntime

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "onnxruntime": onnxruntime.__version__,
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


_MODEL: str | None = None


def _classifier(threads: int):
    from fer_app.classify import EmotionClassifier

    return EmotionClassifier(_MODEL, threads=threads)


def run(quick: bool = False, model: str | None = None) -> dict:
    from fer_app.pipeline import EmotionRecognizer, default_live_detector, default_still_detector

    global _MODEL
    _MODEL = model
    reps = 3 if quick else 40
    report: dict = {"machine": machine(), "model": str(model or "models/default.onnx")}
    faces, source = detectable_faces(30 if not quick else 20)
    report["scenes"] = source
    default_cv2_threads = cv2.getNumThreads()
    cases = {
        "640x480, 0 faces": (_coffee(640, 480), 0),
        "640x480, 1 face (astronaut)": (astronaut_scene(), 1),
        "640x480, 4 faces": (scene(faces[:4], 640, 480, 120)[0], 4),
        "1920x1080, 30 faces": (scene(faces[:30], 1920, 1080, 150)[0], 30),
    }
    if quick:  # a smoke run of every measurement, not figures to quote
        cases = {k: v for k, v in cases.items() if k.startswith("640x480, 4")}
    report["latency"] = []
    for threads in ("1",) if quick else ("1", "default"):
        cv2.setNumThreads(1 if threads == "1" else default_cv2_threads)
        classifier = _classifier(1 if threads == "1" else 0)

        def recognizer_for(path: str, classifier=classifier) -> EmotionRecognizer:
            return EmotionRecognizer(
                detector=default_live_detector(),
                still_detector=default_still_detector(),
                classifier=classifier,
                detect_every=1 if path == "full" else 5,
                classify_every=1 if path == "full" else 2,
            )

        for row in time_paths(recognizer_for, cases, reps):
            report["latency"].append({"threads": threads, **row})
        if threads == "1":
            report["classifier"] = classifier_per_face(classifier, faces, reps * 3)
            report["detector_sweep"] = detector_sweep(faces, reps, quick)
            report["crowd_detectors"] = crowd_detector_options(faces) if not quick else []
            report["neighbours"] = neighbour_counts(faces)
    cv2.setNumThreads(default_cv2_threads)
    report["video"] = video_throughput(faces, 0.5 if quick else 10.0)
    report["peak_rss_mb"] = peak_rss_mb(model)
    report["video_memory"] = video_memory(faces, (0.5, 1.0) if quick else (5.0, 30.0), model)
    return report


def print_table(report: dict) -> None:
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, OpenCV {m['opencv']}, ONNX Runtime {m['onnxruntime']}")
    print(f"load average at start: {m['load_average_at_start']}; model: {report['model']}")
    print(f"scenes: {report['scenes']}")
    print("\nper-frame latency (ms)")
    print(f"{'scene':<30} {'path':<6} {'threads':<8} {'found':>5} {'p50':>8} {'p95':>8}")
    for r in report["latency"]:
        print(f"{r['case']:<30} {r['path']:<6} {r['threads']:<8} {r['found_median']:>5} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f}")
    print("\nclassifier, one thread")
    for r in report["classifier"]:
        print(f"  batch {r['batch']:>2}: {r['call_p50_ms']:7.2f} ms a call, {r['per_face_ms']:.3f} ms a face")
    print("\nHaar settings on 640x480 scenes (20 faces of 50-150 px), one thread")
    print("  (face_px: the frame is shrunk until a min_face face spans this many pixels)")
    print(f"  {'face_px':>8} {'scale':>6} {'min_face':>8} {'recall':>7} {'false':>6} {'p50 ms':>8}")
    for r in report["detector_sweep"]:
        print(
            f"  {r['face_px']:>8} {r['scale_factor']:>6} {r['min_face']:>8} {r['recall']:>7.2f}"
            f" {r['false_boxes']:>6} {r['p50_ms']:>8.2f}"
        )
    print("\nfull detection in the 1080p 30-face scene, one thread (5 panned frames)")
    for r in report["crowd_detectors"]:
        print(f"  {r['detector']:<32} found {r['found_median']:>2}/30, false boxes {r['false_boxes']}, p50 {r['p50_ms']} ms")
    nb = report["neighbours"]
    print(
        "\nstill detector, neighbours per box: padded astronaut frame "
        + ", ".join(f"{tuple(b['box'])}: {b['neighbours']}" for b in nb["padded_astronaut"])
        + f"; fewest among {nb['real_faces']} real faces in the scenes: {nb['real_faces_lowest_neighbours']}"
    )
    print("\nvideo throughput")
    print(f"  (threads: {report['video'][0]['threads']})")
    for r in report["video"]:
        size = f", {r['mp4_mb']} MB" if r["mp4_mb"] is not None else ""
        print(
            f"  {r['case']}: {r['fps']} fps, {r['x_real_time']}x real time, face-frames found {r['face_frames_found']:.3f}{size}"
        )
    print(f"\npeak RSS, model loaded and frames analysed: {report['peak_rss_mb']} MB")
    print(
        "peak RSS analysing 640x360 clips with an annotated copy: "
        + ", ".join(f"{r['seconds']:g} s ({r['frames']} frames) {r['peak_rss_mb']} MB" for r in report["video_memory"])
    )


def main(as_json: bool = False, quick: bool = False, model: str | None = None) -> int:
    report = run(quick=quick, model=model)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(as_json="--json" in sys.argv, quick="--quick" in sys.argv))
