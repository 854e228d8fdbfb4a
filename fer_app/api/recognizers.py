"""The one place the API builds recognizers: model mode, face detector (by name) and the face cap."""

from __future__ import annotations

from fer_app import engine


class TooManyFaces(Exception):
    def __init__(self, found: int, limit: int):
        super().__init__(f"{found} faces found; the limit is {limit} per image")


class _FaceCap:
    """A detector that refuses an image with more than `limit` faces before any of them is classified."""

    def __init__(self, detector, limit: int):
        self._detector, self._limit = detector, limit

    def detect(self, grey):
        boxes = self._detector.detect(grey)
        if len(boxes) > self._limit:
            raise TooManyFaces(len(boxes), self._limit)
        return boxes

    def __getattr__(self, name):
        return getattr(self._detector, name)


def for_photos(accurate: bool, max_faces: int, detector: str | None = None):
    recognizer = engine.make_recognizer(still=True, accurate=accurate, detector=detector)
    recognizer.still_detector = _FaceCap(recognizer.still_detector, max_faces)
    return recognizer


def for_videos(accurate: bool, detector: str | None = None):
    return engine.make_recognizer(still=False, accurate=accurate, detector=detector)
