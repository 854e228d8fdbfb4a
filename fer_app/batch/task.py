"""The unit of work, run on a Dask worker: analyse one file with the engine the `image` and `video` commands use.

It never raises for a bad file: a FerError (the CLI's one-line message) or
any other exception becomes an error result. Only a dying worker process
(segfault, out of memory) escapes, and the driver turns that into an error row.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from fer_app.batch.settings import Settings
from fer_app.labels import EMOTIONS

# Test-only: when the environment names a file, analysing a file of that name aborts the whole worker
# process (as a segfault would). Only tests/test_batch_cluster.py sets it.
CRASH_HOOK_ENV = "FER_BATCH_TEST_CRASH_ON"

_local = threading.local()


def _recognizer(settings: Settings):
    """One recognizer per worker thread and settings (recognizers keep per-video state); their
    classifier is the process's shared one (fer_app.engine.shared_classifier), loaded once."""
    from fer_app.engine import make_recognizer

    cache = getattr(_local, "recognizers", None)
    if cache is None:
        cache = _local.recognizers = {}
    if settings not in cache:
        cache[settings] = make_recognizer(**settings.recognizer_kwargs())
    return cache[settings]


def rss_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak, in MB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    now = peak
    try:
        with open("/proc/self/status") as f:
            now = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        pass
    return now, peak


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _worker_threads() -> int | None:
    """The threads this Dask worker was given (None outside a worker)."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError):
        return None


def analyse_file(path: str, settings: Settings) -> dict:
    """-> {"row": the files-table fields, "timeline": per-second rows, "faces": per-face rows}."""
    from fer_app.engine import model_identity
    from fer_app.errors import FerError

    if os.environ.get(CRASH_HOOK_ENV) and Path(path).name == os.environ[CRASH_HOOK_ENV]:
        os.abort()
    started = time.perf_counter()
    out = {"row": {"worker": _worker_name()}, "timeline": [], "faces": []}
    try:
        recognizer = _recognizer(settings)
        out["row"] |= {"model": "", "model_sha256": ""}
        identity = model_identity(recognizer.classifier)
        out["row"] |= {"model": identity["name"], "model_sha256": identity["sha256"]}
        if settings.kind == "video":
            _video(path, recognizer, out)
        else:
            _image(path, recognizer, out)
        out["row"]["status"] = "ok"
    except FerError as e:
        out["row"] |= {"status": "error", "error": str(e)}
    except Exception as e:  # anything else must not stop the batch either; keep it on one line
        message = " ".join(str(e).split())
        out["row"] |= {"status": "error", "error": f"{Path(path).name}: unexpected {type(e).__name__}: {message}"}
    out["row"]["seconds"] = round(time.perf_counter() - started, 3)
    now, peak = rss_mb()
    out["row"] |= {"worker_rss_mb": round(now, 1), "worker_peak_rss_mb": round(peak, 1)}
    return out


def _means(probability_sum: np.ndarray, count: int) -> dict:
    if not count:
        return {"dominant": ""} | {f"mean_{name}": None for name in EMOTIONS}
    mean = probability_sum / count
    return {"dominant": EMOTIONS[int(np.argmax(mean))]} | {f"mean_{n}": round(float(v), 4) for n, v in zip(EMOTIONS, mean)}


def _video(path: str, recognizer, out: dict) -> None:
    from fer_app.video import analyze_video

    # A one-thread worker analyses its video in that thread: the video engine's own pipeline would keep
    # more than one core busy per worker, and workers would fight over the cores instead of adding up.
    summary = analyze_video(path, recognizer=recognizer, threaded=_worker_threads() != 1)
    d = summary.to_dict()
    out["row"] |= {
        key: d[key]
        for key in ("duration", "width", "height", "frames_decoded", "frames_analysed", "faces_seen", "max_faces", "tracks_seen")
    }
    out["row"] |= _means(summary.mean_probabilities * summary.faces_read, summary.faces_read)
    out["row"]["notes"] = "; ".join(summary.notes)
    out["timeline"] = summary.timeline.rows()


def _image(path: str, recognizer, out: dict) -> None:
    from fer_app.media import load_image

    image, notes = load_image(path)
    result = recognizer.analyze_image(image)
    total = np.zeros(len(EMOTIONS))
    for i, face in enumerate(result.faces):
        if face.readable:
            total += face.probabilities
        d = face.to_dict()
        x, y, w, h = d["box"]
        out["faces"].append({"face": i, "x": x, "y": y, "w": w, "h": h, "emotion": d["emotion"],
                             "confidence": d["confidence"]} | (d["probabilities"] or dict.fromkeys(EMOTIONS)))
    n = len(result.faces)
    out["row"] |= {"width": result.width, "height": result.height, "frames_analysed": 1, "faces_seen": n, "max_faces": n,
                   "notes": "; ".join(notes)}
    out["row"] |= _means(total, sum(face.readable for face in result.faces))
