"""Every registered architecture trains on this CPU, and models saved before the strided-1x1 fix still load.

Training runs in a subprocess per architecture, so a native crash (oneDNN's strided 1x1 convolution
on AVX-512 CPUs killed the whole test run with SIGSEGV/SIGABRT) is a failed test naming the
architecture and the signal.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest

from fer_app.labels import EMOTIONS

pytest.importorskip("tensorflow")

from fer_app.training import architectures  # noqa: E402
from fer_app.training.export import load_keras  # noqa: E402

NAMES = sorted(architectures.ARCHITECTURES)


@pytest.fixture(scope="module")
def tiny_train_folder(tmp_path_factory, val_faces):
    root = tmp_path_factory.mktemp("arch") / "train"
    for label, name in enumerate(EMOTIONS):
        (root / name).mkdir(parents=True)
        for i in np.flatnonzero(val_faces.labels == label)[:3]:
            cv2.imwrite(str(root / name / f"{i}.png"), val_faces.images[i])
    return root


@pytest.mark.parametrize("arch", NAMES)
def test_every_architecture_trains_in_a_fresh_process(arch, tiny_train_folder, tmp_path):
    out = tmp_path / arch
    cmd = [sys.executable, "-m", "fer_app", "train", "--arch", arch, "--data", str(tiny_train_folder), "--val", "",
           "--out", str(out), "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--warmup-epochs", "0",
           "--workers", "1"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if run.returncode < 0:
        pytest.fail(f"training {arch} was killed by {signal.Signals(-run.returncode).name}:\n{run.stderr[-3000:]}")
    assert run.returncode == 0, f"training {arch} failed (exit {run.returncode}):\n{run.stderr[-3000:]}"
    log = (out / "log.csv").read_text().strip().splitlines()
    assert len(log) == 2 and np.isfinite(float(log[1].split(",")[2 if "accuracy" in log[0] else 1])), log
    assert (out / "last.keras").stat().st_size > 0


@pytest.mark.parametrize("arch", NAMES)
def test_no_architecture_builds_a_strided_pointwise_convolution(arch):
    model = architectures.build(arch)
    strided = [layer.name for layer in model.layers
               if type(layer).__name__ == "Conv2D" and tuple(layer.kernel_size) == (1, 1) and tuple(layer.strides) != (1, 1)]
    assert strided == [], f"{arch} still trains a strided 1x1 convolution: {strided}"


def _old_pointwise(x, filters, strides=1):
    """The building block as it was before the fix (mini-Xception used padding 'same', ResNet 'valid')."""
    from keras import layers

    return layers.Conv2D(filters, 1, strides=strides, padding="same", use_bias=False)(x)


@pytest.mark.parametrize("arch", ["mini_xception", "resnet_slim"])
def test_models_saved_before_the_fix_load_and_keep_their_function(arch, monkeypatch, tmp_path, val_faces):
    """A .keras file of the old graph loads, and its weights give the same outputs in today's graph."""
    from fer_app.preprocess import to_model_input

    with monkeypatch.context() as patch:
        patch.setattr(architectures, "_pointwise", _old_pointwise)
        old = architectures.build(arch)
    assert any(tuple(getattr(layer, "strides", (1, 1))) == (2, 2) and tuple(getattr(layer, "kernel_size", ())) == (1, 1)
               for layer in old.layers), "the old graph was not rebuilt"
    rng = np.random.default_rng(0)
    # Non-trivial batch-norm statistics, so that a weight landing in the wrong layer shows.
    old.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in old.get_weights()])
    path = tmp_path / f"{arch}_old.keras"
    old.save(path)

    loaded = load_keras(path)
    new = architectures.build(arch)
    new.set_weights(loaded.get_weights())
    faces = to_model_input(val_faces.images[:64])
    expected = loaded.predict(faces, verbose=0)
    got = new.predict(faces, verbose=0)
    assert np.max(np.abs(expected - got)) < 1e-5
    assert np.max(np.abs(expected - old.predict(faces, verbose=0))) < 1e-6
