"""The one way every entry point (app, CLI, API, batch) builds a recognizer, and says which model answered.

The rule for the model: a still photo is analysed once, so it gets the accurate
ensemble by default (about 60 ms a face buys 5 points of validation accuracy);
video and live frames get the fast model, which keeps up with the frame rate.
Every way in can override it (`--fast` / `--accurate`, `accurate=` in the API).
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache
from pathlib import Path

from fer_app.errors import FerError

STILL_DEFAULT_ACCURATE = True
VIDEO_DEFAULT_ACCURATE = False


def accurate_default(still: bool) -> bool:
    return STILL_DEFAULT_ACCURATE if still else VIDEO_DEFAULT_ACCURATE


_lock = threading.Lock()


@cache
def _shared_classifier(model: str | None, accurate: bool, threads: int):
    from fer_app.classify import EmotionClassifier

    if accurate:
        from fer_app.ensemble import accurate_classifier

        return accurate_classifier(threads=threads)
    return EmotionClassifier(model, threads=threads)


def shared_classifier(model: str | None = None, accurate: bool = False, threads: int = 1):
    """One classifier per (model, mode, threads) per process: ONNX Runtime sessions are safe to share
    between threads, and loading the ensemble takes a while."""
    if accurate and model:
        raise FerError("the accurate mode uses the shipped ensemble: leave out the model")
    with _lock:
        return _shared_classifier(str(model) if model else None, accurate, threads)


def make_recognizer(
    still: bool, accurate: bool | None = None, model: str | None = None, threads: int = 1, detector: str | None = None
):
    """A recognizer with its own detectors and tracks (never share one between threads) over a shared
    classifier. `accurate=None` follows the rule in this module's docstring. `detector` names a face
    detector (`fer_app.detect.detector_names()`); None: the measured defaults for stills and for video.
    A detector whose package is missing falls back to the best one installed
    (`fer_app.detect.resolve_detector_name` says which)."""
    if accurate is None:
        accurate = accurate_default(still) and not model
    return recognizer_over(shared_classifier(model, accurate, threads), detector)


def recognizer_over(classifier, detector: str | None = None):
    """A recognizer with its own detectors (by name; None: the defaults) over a given classifier."""
    from fer_app.detect import make_detector
    from fer_app.pipeline import EmotionRecognizer

    return EmotionRecognizer(
        classifier=classifier,
        detector=make_detector(detector, still=False),
        still_detector=make_detector(detector, still=True),
    )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _model_identity(paths: tuple[str, ...], name: str) -> dict:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(bytes.fromhex(file_sha256(p)))
    return {"name": name, "sha256": digest.hexdigest() if len(paths) > 1 else file_sha256(paths[0])}


def model_identity(classifier) -> dict:
    """{"name", "sha256"} of the model files behind a classifier: the file's SHA-256 for one model;
    for an ensemble, the SHA-256 of its members' digests in order. Named "accurate" for the ensemble."""
    members = getattr(classifier, "members", None)
    if members is not None:
        return _model_identity(tuple(str(m.model_path) for m in members), "accurate")
    path = Path(classifier.model_path)
    return _model_identity((str(path),), path.stem)
