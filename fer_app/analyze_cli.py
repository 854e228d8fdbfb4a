"""CLI subcommands of the recognition engine: image, video, bench, margin.

fer_app/__main__.py calls `add_commands(sub)`; each handler returns an exit
code and raises FerError subclasses for bad input (shown as one line).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

from fer_app.errors import FerError

BENCHMARKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


def add_commands(sub) -> None:
    p = sub.add_parser("image", help="find faces in a photo and label their emotions")
    p.add_argument("path", help="image file (JPEG, PNG, WebP, GIF, TIFF, BMP ...)")
    p.add_argument("--out", help="write the annotated image here (format from the extension)")
    p.add_argument("--json", action="store_true", help="print the faces as JSON")
    _add_model_choice(p, still=True)
    _add_detector_choice(p, still=True)
    p.set_defaults(func=run_image)

    p = sub.add_parser("video", help="analyse a video file: summary, timeline, annotated copy")
    p.add_argument("path", help="video file (mp4, mov, webm, avi, mkv ...)")
    p.add_argument("--out", help="write an annotated H.264 MP4 here")
    p.add_argument("--timeline", help="write the per-second timeline here (.csv, or .json)")
    p.add_argument(
        "--fps",
        type=float,
        help="analyse at most N frames per second (default: every frame)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_model_choice(p, still=False)
    _add_detector_choice(p, still=False)
    p.set_defaults(func=run_video)

    p = sub.add_parser("bench", help="measure latency, throughput and memory of the engine")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the figures as JSON instead of a table",
    )
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    p.add_argument("--model", help="ONNX model (default: models/default.onnx)")
    p.set_defaults(func=run_bench)

    p = sub.add_parser("margin", help="measure the crop margin that matches a detector's boxes to FER2013 framing")
    p.add_argument(
        "--data",
        default=None,
        help="FER2013 folder with val/<class>/*.png (default: ../shared/datasets/fer2013)",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=0,
        help="use a random sample of N validation images (default: 0, all of them)",
    )
    p.add_argument(
        "--accuracy",
        nargs="?",
        const="",
        metavar="MODEL",
        help="also score a model (default: models/default.onnx) on the faces cropped with several margins",
    )
    p.add_argument("--detector", default="haar", help="the detector to calibrate (default: haar; see `image --help`)")
    p.add_argument(
        "--compare",
        action="store_true",
        help="also score the model on the faces every detector finds, each cropped with its own margin",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run_margin)


def _add_model_choice(p, still: bool) -> None:
    """--model / --accurate / --fast. Stills default to the accurate mode, videos to the fast model (fer_app.engine)."""
    from fer_app.engine import accurate_default

    default = "accurate" if accurate_default(still) else "fast"
    p.add_argument("--model", help="an ONNX model file instead of the shipped ones (implies --fast)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--accurate", dest="accurate", action="store_true", default=None,
                      help="the accurate mode: six models, ten crops of each face, averaged (about 60 ms a face)"
                           + (" (the default for photos)" if default == "accurate" else ""))
    mode.add_argument("--fast", dest="accurate", action="store_false",
                      help="the fast live model, one pass per face" + (" (the default for videos)" if default == "fast" else ""))


def _add_detector_choice(p, still: bool) -> None:
    """--detector NAME: every detector, with the default for this command and what is missing here."""
    from fer_app.detect import DETECTORS, default_detector_name, detector_available, resolve_detector_name

    default = default_detector_name(still)
    lines = []
    for name, spec in DETECTORS.items():
        state = "" if detector_available(name) else f", NOT INSTALLED here ({spec.install})"
        lines.append(f"{name}: {spec.summary}{state}")
    used, note = resolve_detector_name(None, still)
    p.add_argument(
        "--detector",
        choices=list(DETECTORS),
        metavar="NAME",
        help="the face detector: " + "; ".join(lines) + f". Default: {default}"
        + (f" ({note})" if note else "") + " (benchmarks/RESULTS.md, 'Face detectors')",
    )


def _recognizer(args, still: bool):
    from fer_app.detect import resolve_detector_name
    from fer_app.engine import make_recognizer

    if args.accurate and args.model:
        raise FerError("--accurate uses the shipped ensemble: leave out --model")
    detector = getattr(args, "detector", None)
    _, note = resolve_detector_name(detector, still)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return make_recognizer(still=still, accurate=args.accurate, model=args.model, detector=detector)


def run_image(args) -> int:
    import cv2

    from fer_app.draw import draw_results
    from fer_app.media import load_image

    image, notes = load_image(args.path)
    result = _recognizer(args, still=True).analyze_image(image)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        _write_image(args.out, draw_results(image, result), cv2)
    if args.json:
        print(json.dumps({"faces": [f.to_dict() for f in result.faces]}, indent=2))
    else:
        print(f"{len(result.faces)} face(s) in {Path(args.path).name} ({result.width}x{result.height})")
        for i, face in enumerate(result.faces, 1):
            x, y, w, h = face.box
            reading = f"{face.emotion:<8} {face.confidence:5.0%}" if face.readable else face.unread_note
            print(f"  {i}. {reading}  box x={x} y={y} w={w} h={h}")
        if args.out:
            print(f"annotated image: {args.out}")
    return 0


def _write_image(out: str, image, cv2) -> None:
    suffix = Path(out).suffix.lower() or ".png"
    try:
        ok, encoded = cv2.imencode(suffix, image)
    except cv2.error:
        ok = False
    if not ok:
        raise FerError(f"{out}: cannot write an image with extension '{suffix}' (use .png or .jpg)")
    try:
        Path(out).write_bytes(encoded.tobytes())
    except OSError as e:
        raise FerError(f"{out}: cannot write ({e.strerror or e})") from None


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream=None, width: int = 30):
        self.stream, self.width = stream or sys.stderr, width
        self.started = time.monotonic()
        self._last_draw = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if now - self._last_draw < 0.1 and not finished:
            return
        self._last_draw = now
        rate = done / max(now - self.started, 1e-9)
        if total:
            share = min(1.0, done / total)
            bar = "#" * int(share * self.width)
            text = f"\r[{bar:<{self.width}}] {share:4.0%} {done}/{total} frames, {rate:.0f} fps"
        else:
            text = f"\r{done} frames, {rate:.0f} fps"
        self.stream.write(text)
        self.stream.flush()

    def finish(self) -> None:
        if self._last_draw:
            self.stream.write("\n")
            self.stream.flush()


def run_video(args) -> int:
    from fer_app.video import analyze_video

    if args.timeline and Path(args.timeline).suffix.lower() not in (".csv", ".json"):
        raise FerError(f"{args.timeline}: the timeline is written as .csv or .json")
    recognizer = _recognizer(args, still=False)
    bar = ProgressBar() if sys.stderr.isatty() or not args.json else None
    try:
        summary = analyze_video(
            args.path,
            out_path=args.out,
            fps=args.fps,
            progress=bar,
            recognizer=recognizer,
        )
    finally:
        if bar is not None:
            bar.finish()
    if args.timeline:
        text = summary.timeline.to_json() if args.timeline.lower().endswith(".json") else summary.timeline.to_csv()
        try:
            Path(args.timeline).write_text(text)
        except OSError as e:
            raise FerError(f"{args.timeline}: cannot write ({e.strerror or e})") from None
    for note in summary.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        d = summary.to_dict()
        print(
            f"{Path(args.path).name}: {d['duration']:.1f} s, {d['width']}x{d['height']}, {d['frames_analysed']} frames analysed"
        )
        unread = d["faces_seen"] - d["faces_read"]
        small = f", {unread} not read (too small, or cut by the frame's edge)" if unread else ""
        print(f"faces seen: {d['faces_seen']}{small} (at most {d['max_faces']} at once), tracks: {d['tracks_seen']}")
        shares = sorted(d["emotion_shares"].items(), key=lambda kv: -kv[1])
        print("emotions: " + ", ".join(f"{k} {v:.0%}" for k, v in shares if v > 0) if d["faces_read"] else "emotions: no face read")
        if args.out:
            print(f"annotated video: {args.out}")
        if args.timeline:
            print(f"timeline: {args.timeline}")
    return 0


def _load_benchmark_module(name: str):
    """The benchmark scripts live in benchmarks/ of the source checkout."""
    path = BENCHMARKS_DIR / f"{name}.py"
    if not path.exists():
        raise FerError(f"{path}: not found (benchmarks need a source checkout of the project)")
    spec = importlib.util.spec_from_file_location(f"fer_benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_bench(args) -> int:
    return _load_benchmark_module("engine_bench").main(as_json=args.json, quick=args.quick, model=args.model)


def run_margin(args) -> int:
    return _load_benchmark_module("measure_margin").main(
        data=args.data, limit=args.limit, as_json=args.json, accuracy_model=args.accuracy,
        detector=args.detector, compare=args.compare,
    )
