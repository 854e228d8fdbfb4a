"""Batch augmentation in TensorFlow ops for tf.data: one random affine (flip, rotate, zoom, shift), random erasing."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def make_augmenter(rotation_deg: float = 10.0, shift: float = 0.1, zoom: float = 0.1, erase_prob: float = 0.5):
    """A function (images float32 0-255 (N,48,48,1), labels) -> augmented, for `Dataset.map` on batches.

    Flip, rotation, zoom and shift are composed into one affine transform per
    image and applied with one bilinear resampling: applied one after another
    they blur the faces, and the model then trains on softer images than it sees.
    """

    def augment(images, labels):
        images = random_affine(images, rotation_deg, shift, zoom)
        if erase_prob > 0:
            images = random_erasing(images, erase_prob)
        return images, labels

    return augment


def random_affine(images: tf.Tensor, rotation_deg: float, shift: float, zoom: float) -> tf.Tensor:
    shape = tf.shape(images)
    n = shape[0]
    h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    angle = tf.random.uniform([n], -1.0, 1.0) * rotation_deg * np.pi / 180.0
    scale = 1.0 + tf.random.uniform([n], -zoom, zoom)
    flip = tf.where(tf.random.uniform([n]) < 0.5, -1.0, 1.0)
    tx = tf.random.uniform([n], -shift, shift) * w
    ty = tf.random.uniform([n], -shift, shift) * h
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    # Output pixel -> input pixel: c + R(angle) @ diag(flip, 1) @ (p - c) / scale + t.
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos * flip, -sin
    b0, b1 = sin * flip, cos
    a2 = cx + tx - a0 * cx - a1 * cy
    b2 = cy + ty - b0 * cx - b1 * cy
    zeros = tf.zeros([n])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=shape[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST",
    )


def random_erasing(images: tf.Tensor, prob: float, area=(0.02, 0.2), aspect=(0.3, 3.3)) -> tf.Tensor:
    """Zhong et al. 2017: blank a random rectangle of each image with noise, with probability `prob`."""
    shape = tf.shape(images)
    n, h, w = shape[0], shape[1], shape[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    target = tf.random.uniform([n], *area) * hf * wf
    log_ratio = tf.random.uniform([n], tf.math.log(aspect[0]), tf.math.log(aspect[1]))
    ratio = tf.exp(log_ratio)
    eh = tf.minimum(tf.sqrt(target * ratio), hf)
    ew = tf.minimum(tf.sqrt(target / ratio), wf)
    y0 = tf.random.uniform([n]) * (hf - eh)
    x0 = tf.random.uniform([n]) * (wf - ew)
    rows = tf.range(hf)[None, :, None]
    cols = tf.range(wf)[None, None, :]
    inside = (
        (rows >= y0[:, None, None])
        & (rows < (y0 + eh)[:, None, None])
        & (cols >= x0[:, None, None])
        & (cols < (x0 + ew)[:, None, None])
    )
    apply = tf.random.uniform([n]) < prob
    mask = (inside & apply[:, None, None])[..., None]
    noise = tf.random.uniform(shape, 0.0, 255.0)
    return tf.where(mask, noise, images)
