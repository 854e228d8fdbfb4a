"""Face detection: the FaceDetector interface and the OpenCV Haar cascade behind it.

Boxes are (x, y, w, h) in the pixels of the frame that was passed in, whatever
resolution the detector worked at internally.
"""

from __future__ import annotations

import copy
import threading
from typing import Protocol

import cv2
import numpy as np

from fer_app.errors import ModelError

Box = tuple[int, int, int, int]

CASCADE_FILE = "haarcascade_frontalface_default.xml"
# The frontal-face cascade's window: nothing smaller can be found.
CASCADE_WINDOW = 24


class FaceDetector(Protocol):
    def detect(self, grey: np.ndarray) -> list[Box]:
        """All faces in a grey uint8 frame, as (x, y, w, h) boxes in its pixels."""
        ...


def _cascade_path() -> str:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder:
        raise ModelError("this OpenCV build ships no Haar cascades (install opencv-python-headless 4.x)")
    return folder + CASCADE_FILE


def _load_cascade() -> cv2.CascadeClassifier:
    path = _cascade_path()
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise ModelError(f"{path}: cannot load the Haar cascade")
    return cascade


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, run on a downscaled copy of the frame.

    Settings are plain attributes and may be changed between calls (the app's
    sliders do): `scale_factor` (>1; larger is faster and coarser),
    `min_neighbors` (sensitivity: higher means fewer false faces and fewer
    faint ones), `min_face` (smallest face side in frame pixels, which also
    sets the working resolution: the frame is shrunk until a `min_face` face
    spans `face_px` pixels; measured: below 40 px recall drops) and
    `detect_width` (the working copy is never wider than this; 0: no cap).
    So raising `min_face` makes detection faster, and on large frames the
    smallest face found is max(min_face, 24 * frame_width / detect_width).

    Safe to share between threads: calls into the cascade are serialised.
    """

    def __init__(
        self,
        scale_factor: float = 1.2,
        min_neighbors: int = 5,
        min_face: int = 40,
        detect_width: int = 640,
        face_px: int = 40,
        equalize: bool = False,
    ):
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = min_face
        self.detect_width = detect_width
        self.face_px = face_px
        self.equalize = equalize
        self._cascade = _load_cascade()
        self._lock = threading.Lock()

    def clone(self) -> HaarDetector:
        """A detector with the same settings and its own cascade, so that two threads can detect
        at the same time (calls into one cascade are serialised)."""
        other = copy.copy(self)
        other._cascade = _load_cascade()
        other._lock = threading.Lock()
        return other

    def working_scale(self, width: int) -> float:
        """The factor the frame is shrunk by before detection (1.0: not at all)."""
        scale = 1.0
        if self.min_face > 0 and self.face_px > 0:
            scale = min(scale, max(self.face_px, CASCADE_WINDOW) / self.min_face)
        if self.detect_width:
            scale = min(scale, self.detect_width / width)
        return scale

    def detect(self, grey: np.ndarray) -> list[Box]:
        height, width = grey.shape[:2]
        scale = self.working_scale(width)
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
            scale = size[0] / width
        min_side = max(CASCADE_WINDOW, round(self.min_face * scale))
        return [_scale_box(b, 1.0 / scale) for b in self._run(grey, min_side, 0, self.scale_factor, self.min_neighbors)]

    def detect_near(self, grey: np.ndarray, box: Box, search: float = 2.5, resize_to: int = 40) -> Box | None:
        """The face nearest to `box` within a window `search` times its size, or None.

        The cheap step between full detections: only a small region is
        scanned, at a resolution where the face is about `resize_to` pixels
        wide, for faces from 0.75x to 1.33x the previous size.
        """
        x, y, w, h = box
        side = max(w, h)
        cx, cy = x + w / 2.0, y + h / 2.0
        height, width = grey.shape[:2]
        x0, y0 = (
            max(0, int(cx - side * search / 2)),
            max(0, int(cy - side * search / 2)),
        )
        x1, y1 = (
            min(width, int(cx + side * search / 2)),
            min(height, int(cy + side * search / 2)),
        )
        if x1 - x0 < CASCADE_WINDOW or y1 - y0 < CASCADE_WINDOW:
            return None
        region = grey[y0:y1, x0:x1]
        scale = min(1.0, resize_to / side)
        if scale < 1.0:
            size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
            region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        min_side = max(CASCADE_WINDOW, int(side * scale * 0.75))
        max_side = max(min_side + 1, int(side * scale * 1.33) + 1)
        found = self._run(region, min_side, max_side, 1.1, max(1, self.min_neighbors - 2))
        if not found:
            return None
        boxes = [_shift_box(_scale_box(b, 1.0 / scale), x0, y0) for b in found]
        return min(
            boxes,
            key=lambda b: (b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2,
        )

    def _run(
        self,
        grey: np.ndarray,
        min_side: int,
        max_side: int,
        scale_factor: float,
        neighbors: int,
    ) -> list[Box]:
        if grey.shape[0] < min_side or grey.shape[1] < min_side:
            return []
        if self.equalize:
            grey = cv2.equalizeHist(grey)
        with self._lock:
            found = self._cascade.detectMultiScale(
                grey,
                scaleFactor=max(1.01, float(scale_factor)),
                minNeighbors=max(0, int(neighbors)),
                minSize=(min_side, min_side),
                maxSize=(max_side, max_side) if max_side else (0, 0),
            )
        return [tuple(int(v) for v in b) for b in found]


def _scale_box(box: Box, factor: float) -> Box:
    if factor == 1.0:
        return box
    x, y, w, h = box
    return (round(x * factor), round(y * factor), round(w * factor), round(h * factor))


def _shift_box(box: Box, dx: int, dy: int) -> Box:
    return (box[0] + dx, box[1] + dy, box[2], box[3])


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
