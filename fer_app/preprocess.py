"""Face crop -> model input. The one place that defines what the classifier sees.

Training, evaluation, the live path, photos, videos and benchmarks all go
through `to_model_input`; detector boxes go through `crop_face` first so that
they are framed the way FER2013 faces are.
"""

from __future__ import annotations

import cv2
import numpy as np

INPUT_SIZE = 48

# How much a Haar box is widened on each side, as a fraction of its side, so
# the crop matches FER2013 framing. Measured by `python -m fer_app margin`
# (Haar on upscaled FER2013 validation faces): see benchmarks/RESULTS.md.
FACE_MARGIN = 0.016


def to_grey(image: np.ndarray) -> np.ndarray:
    """BGR, BGRA or grey uint8 -> grey uint8."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def crop_face(grey: np.ndarray, box: tuple[int, int, int, int], margin: float = FACE_MARGIN) -> np.ndarray:
    """Square crop around a detector box (x, y, w, h), widened by `margin`, resized to 48x48.

    Parts of the widened box outside the frame are filled by replicating the
    border, so faces at the edge keep their framing.
    """
    x, y, w, h = box
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + int(round(side)), y0 + int(round(side))
    height, width = grey.shape[:2]
    pad = max(0, -x0, -y0, x1 - width, y1 - height)
    if pad:
        grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    crop = grey[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if crop.shape[0] > INPUT_SIZE else cv2.INTER_LINEAR
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=interp)


def to_model_input(faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """48x48 grey uint8 faces -> float32 batch (N, 48, 48, 1) of raw 0-255 values.

    Scaling to [0, 1] is the model's first layer, so an exported model cannot
    be fed differently normalised pixels by mistake.
    """
    batch = np.asarray(faces, dtype=np.float32)
    if batch.ndim == 2:
        batch = batch[None]
    if batch.shape[1:3] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"faces must be {INPUT_SIZE}x{INPUT_SIZE}, got {batch.shape[1:3]}")
    return batch.reshape(-1, INPUT_SIZE, INPUT_SIZE, 1)
