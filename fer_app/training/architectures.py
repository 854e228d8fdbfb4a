"""Model architectures behind a registry by name.

Every model takes raw grey pixels (N, 48, 48, 1) in 0-255 and returns
softmax probabilities over the 7 FER2013 classes. Scaling is the first layer,
so the exported model carries it.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from fer_app.labels import NUM_CLASSES
from fer_app.preprocess import INPUT_SIZE

ARCHITECTURES: dict[str, Callable[[], keras.Model]] = {}


def register(fn: Callable[[], keras.Model]) -> Callable[[], keras.Model]:
    ARCHITECTURES[fn.__name__] = fn
    return fn


def build(name: str) -> keras.Model:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}: choose from {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[name]()


def _input() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    return inputs, layers.Rescaling(1.0 / 255.0)(inputs)


def _head(x, dropout: float = 0.0) -> keras.KerasTensor:
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)


def _conv_bn(x, filters: int, kernel: int = 3, strides: int = 1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _pointwise(x, filters: int, strides: int = 1):
    """A 1x1 convolution without bias. With strides > 1 it first keeps every `strides`-th row and column
    (a 1x1 max-pool) and then convolves at stride 1: the same function, with the same weights, as
    Conv2D(filters, 1, strides=strides) with 'same' or 'valid' padding. Training oneDNN's strided 1x1
    convolution on a narrow input (8 channels) crashes the process on some AVX-512 CPUs
    (../shared/notes/ml-stack.md), so no architecture here builds one."""
    if strides != 1:
        x = layers.MaxPooling2D(pool_size=1, strides=strides)(x)
    return layers.Conv2D(filters, 1, use_bias=False)(x)


@register
def seeds_cnn() -> keras.Model:
    """The project's seed network: Conv32-Conv64-Pool-Conv128-Pool-Conv128-Pool-Dense1024-Dense7."""
    inputs, x = _input()
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(128, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(128, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(1024, activation="relu")(x)
    return keras.Model(inputs, _head(x, 0.5), name="seeds_cnn")


@register
def mini_xception() -> keras.Model:
    """Arriaga et al. 2017: depthwise-separable residual modules, global average pooling."""
    inputs, x = _input()
    x = _conv_bn(x, 8)
    x = _conv_bn(x, 8)
    for filters in (16, 32, 64, 128):
        shortcut = _pointwise(x, filters, strides=2)
        shortcut = layers.BatchNormalization()(shortcut)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = layers.Add()([x, shortcut])
    x = layers.Conv2D(NUM_CLASSES, 3, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mini_xception")


def _vgg(name: str, widths: tuple[int, ...], convs: tuple[int, ...], dense: int, dropout: float) -> keras.Model:
    inputs, x = _input()
    for filters, n in zip(widths, convs):
        for _ in range(n):
            x = _conv_bn(x, filters)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    return keras.Model(inputs, _head(x, dropout), name=name)


@register
def vgg() -> keras.Model:
    """VGG-style with batch norm after Khaireddin & Chen 2021 (widths 64-512); ~6 min/epoch on 2 CPU cores."""
    return _vgg("vgg", (64, 128, 256, 512), (2, 2, 2, 2), dense=1024, dropout=0.5)


@register
def vgg_small() -> keras.Model:
    """Half width (32-256), one convolution at full resolution: 1.8M parameters.

    The second 48x48 convolution doubled CPU training time for little gain.
    """
    return _vgg("vgg_small", (32, 64, 128, 256), (1, 2, 2, 2), dense=256, dropout=0.4)


@register
def vgg_narrow() -> keras.Model:
    """vgg_small at three-quarter width (24-192): 1.1M parameters, under 1 ms a face on one CPU thread."""
    return _vgg("vgg_narrow", (24, 48, 96, 192), (1, 2, 2, 2), dense=256, dropout=0.4)


@register
def vgg_fast() -> keras.Model:
    """vgg_narrow with one convolution at 24x24: 1.1M parameters, about 0.7 ms a face on one CPU thread."""
    return _vgg("vgg_fast", (24, 48, 96, 192), (1, 1, 2, 2), dense=256, dropout=0.4)


@register
def vgg_wide() -> keras.Model:
    """Khaireddin & Chen's widths (64-512, two convolutions per stage) with a 256-wide dense layer:
    a teacher for distillation and a member of the accurate ensemble (5.9M parameters)."""
    return _vgg("vgg_wide", (64, 128, 256, 512), (2, 2, 2, 2), dense=256, dropout=0.5)


def _basic_block(x, filters: int, strides: int):
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _pointwise(x, filters, strides=strides)
        shortcut = layers.BatchNormalization()(shortcut)
    x = _conv_bn(x, filters, strides=strides)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(layers.Add()([x, shortcut]))


def _resnet(name: str, stem: int, widths: tuple[int, ...]) -> keras.Model:
    """Two basic blocks per stage, the first stage on the full 48x48 input, then global average pooling."""
    inputs, x = _input()
    x = _conv_bn(x, stem)
    for i, filters in enumerate(widths):
        x = _basic_block(x, filters, strides=1 if i == 0 else 2)
        x = _basic_block(x, filters, strides=1)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(x, 0.3), name=name)


@register
def resnet() -> keras.Model:
    """A ResNet 32-256 wide: 2.8M parameters, 624 MFLOPs; a teacher and a member of the accurate ensemble."""
    return _resnet("resnet", 32, (32, 64, 128, 256))


@register
def resnet_slim() -> keras.Model:
    """A ResNet 16-224 wide under the live model's 2M-parameter limit (1.95M, 322 MFLOPs): too slow for
    1 ms a face in float32 (1.8 ms on one CPU thread) but 0.69 ms once quantized to int8 (scripts/quantize.py;
    benchmarks/classifier_speed.py)."""
    return _resnet("resnet_slim", 16, (16, 48, 96, 224))
