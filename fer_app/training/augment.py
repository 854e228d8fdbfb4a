"""Batch augmentation in NumPy and OpenCV, the same on every Keras backend (TensorFlow, JAX, torch).

One random affine per image (flip, rotation, zoom, shift), then random erasing.
"""

from __future__ import annotations

import cv2
import numpy as np


def augment_batch(
    images: np.ndarray,
    rng: np.random.Generator,
    rotation_deg: float = 10.0,
    shift: float = 0.1,
    zoom: float = 0.1,
    erase_prob: float = 0.5,
) -> np.ndarray:
    """A new batch (N, H, W, 1) float32 0-255 from `images` (same shape).

    Flip, rotation, zoom and shift are composed into one affine transform per
    image and applied with one bilinear resampling: applied one after another
    they blur the faces, and the model then trains on softer images than it sees.
    """
    n, h, w = images.shape[:3]
    angle = rng.uniform(-rotation_deg, rotation_deg, n)
    scale = 1.0 + rng.uniform(-zoom, zoom, n)
    flip = rng.random(n) < 0.5
    offset = rng.uniform(-shift, shift, (n, 2)) * (w, h)
    center = ((w - 1) / 2.0, (h - 1) / 2.0)
    out = np.empty_like(images, dtype=np.float32)
    for i in range(n):
        face = images[i, :, :, 0]
        if flip[i]:
            face = face[:, ::-1]  # exact, so still one resampling in all
        matrix = cv2.getRotationMatrix2D(center, float(angle[i]), float(scale[i]))
        matrix[:, 2] += offset[i]
        out[i, :, :, 0] = cv2.warpAffine(
            np.ascontiguousarray(face, dtype=np.float32), matrix, (w, h),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
        )
    if erase_prob > 0:
        random_erasing(out, rng, erase_prob)
    return out


def random_erasing(
    images: np.ndarray, rng: np.random.Generator, prob: float, area=(0.02, 0.2), aspect=(0.3, 3.3)
) -> None:
    """Zhong et al. 2017, in place: with probability `prob`, fill a random rectangle of each image with noise."""
    n, h, w = images.shape[:3]
    for i in np.flatnonzero(rng.random(n) < prob):
        target = rng.uniform(*area) * h * w
        ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))
        eh = int(min(round(np.sqrt(target * ratio)), h))
        ew = int(min(round(np.sqrt(target / ratio)), w))
        y0 = int(rng.integers(0, h - eh + 1))
        x0 = int(rng.integers(0, w - ew + 1))
        images[i, y0 : y0 + eh, x0 : x0 + ew] = rng.uniform(0.0, 255.0, (eh, ew) + images.shape[3:])


def mix_batch(
    images: np.ndarray, rng: np.random.Generator, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """MixUp (Zhang et al. 2018) or CutMix (Yun et al. 2019) of a batch with a shuffled copy of itself.

    Returns (mixed images, partner index of each image, lam): targets mix as
    lam * own + (1 - lam) * partner's. With both alphas set, each batch uses
    one of the two, chosen at random; with neither, the batch is returned as it was.
    """
    n, h, w = images.shape[:3]
    kinds = [k for k, alpha in (("mixup", mixup_alpha), ("cutmix", cutmix_alpha)) if alpha > 0]
    if not kinds or n < 2:
        return images, np.arange(n), 1.0
    kind = kinds[int(rng.integers(len(kinds)))]
    partner = rng.permutation(n)
    if kind == "mixup":
        lam = float(rng.beta(mixup_alpha, mixup_alpha))
        return lam * images + (1.0 - lam) * images[partner], partner, lam
    # CutMix: a box covering about 1 - lam of the face, clipped at the edges; lam follows the clipped area.
    cut = np.sqrt(1.0 - rng.beta(cutmix_alpha, cutmix_alpha))
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y0, y1 = np.clip([cy - round(cut * h / 2), cy + round(cut * h / 2)], 0, h)
    x0, x1 = np.clip([cx - round(cut * w / 2), cx + round(cut * w / 2)], 0, w)
    mixed = images.copy()
    mixed[:, y0:y1, x0:x1] = images[partner, y0:y1, x0:x1]
    return mixed, partner, 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
