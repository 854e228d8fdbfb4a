"""The accurate mode: the shipped ensemble, its TTA and temperature, on real faces."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fer_app.classify import EmotionClassifier
from fer_app.ensemble import ACCURATE_MANIFEST, EnsembleClassifier, accurate_classifier, apply_temperature, fit_temperature
from fer_app.errors import ModelError

SUBSET = 600  # validation faces: the whole split takes minutes through the ensemble on 2 cores


def _subset(val_faces):
    """Every 6th validation face: all classes, in their proportions."""
    return val_faces.images[::6][:SUBSET], val_faces.labels[::6][:SUBSET]


def test_accurate_mode_beats_the_live_model_on_the_same_faces(val_faces):
    faces, labels = _subset(val_faces)
    accurate = accurate_classifier(threads=2).predict(faces)
    fast = EmotionClassifier(threads=2).predict(faces)
    assert accurate.shape == (len(faces), 7)
    assert np.allclose(accurate.sum(axis=1), 1, atol=1e-4)
    accurate_acc, fast_acc = (accurate.argmax(1) == labels).mean(), (fast.argmax(1) == labels).mean()
    assert accurate_acc >= fast_acc + 0.01, (accurate_acc, fast_acc)


def test_manifest_names_existing_members_and_a_fitted_temperature():
    spec = json.loads(ACCURATE_MANIFEST.read_text())
    assert len(spec["models"]) >= 2
    assert all((ACCURATE_MANIFEST.parent / m).exists() for m in spec["models"])
    assert 0.25 < spec["temperature"] < 4


def test_temperature_scaling_keeps_the_ranking_and_fit_recovers_a_known_temperature(val_faces):
    faces, labels = _subset(val_faces)
    probs = EmotionClassifier(threads=2).predict(faces)
    sharpened = apply_temperature(probs, 0.5)
    assert np.array_equal(sharpened.argmax(1), probs.argmax(1))
    assert np.allclose(sharpened.sum(axis=1), 1, atol=1e-5)
    base = fit_temperature(labels, probs)
    assert fit_temperature(labels, sharpened) == pytest.approx(2 * base, rel=0.05)


def test_an_ensemble_without_members_or_with_an_unknown_tta_is_refused(tmp_path):
    with pytest.raises(ModelError):
        EnsembleClassifier([])
    with pytest.raises(ModelError):
        EnsembleClassifier([tmp_path / "missing.onnx"])
    with pytest.raises(ModelError, match="TTA"):
        EnsembleClassifier(["models/default.onnx"], tta="rotate")


def test_cli_image_accurate_labels_a_real_portrait(tmp_path):
    import cv2
    from skimage import data as skdata

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    run = subprocess.run([sys.executable, "-m", "fer_app", "image", str(photo), "--accurate", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    faces = json.loads(run.stdout)["faces"]
    assert faces and faces[0]["emotion"] == "happy"
    # Stills default to the accurate mode (fer_app/engine.py); --fast gives the live model's reading.
    by_default = subprocess.run([sys.executable, "-m", "fer_app", "image", str(photo), "--json"],
                                capture_output=True, text=True, timeout=300)
    fast = subprocess.run([sys.executable, "-m", "fer_app", "image", str(photo), "--fast", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert json.loads(by_default.stdout)["faces"] == faces
    fast_faces = json.loads(fast.stdout)["faces"]
    assert [f["box"] for f in fast_faces] == [f["box"] for f in faces]
    assert fast_faces[0]["probabilities"] != faces[0]["probabilities"]
    refused = subprocess.run([sys.executable, "-m", "fer_app", "image", str(photo), "--accurate", "--model", "models/default.onnx"],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "--accurate" in refused.stderr and "Traceback" not in refused.stderr


def test_cli_video_accurate_follows_the_moving_face(tmp_path):
    from tests.engine_helpers import write_moving_face_video

    clip = tmp_path / "moving.mp4"
    write_moving_face_video(clip)
    run = subprocess.run([sys.executable, "-m", "fer_app", "video", str(clip), "--accurate", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["frames_analysed"] == 45 and summary["faces_seen"] >= 40
    assert max(summary["emotion_shares"], key=summary["emotion_shares"].get) == "happy"


def test_int8_quantization_keeps_the_default_models_answers(val_faces, tmp_path):
    """scripts/quantize.py made the accurate mode's members; check it on the default model and real faces."""
    import importlib.util
    from pathlib import Path

    from fer_app.classify import DEFAULT_MODEL
    from fer_app.preprocess import to_model_input

    pytest.importorskip("onnx")  # ONNX Runtime's quantizer needs it (requirements-train.txt)
    script = Path(__file__).resolve().parents[1] / "scripts" / "quantize.py"
    spec = importlib.util.spec_from_file_location("quantize", script)
    quantize = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quantize)
    out = tmp_path / "default.int8.onnx"
    quantize.quantize(str(DEFAULT_MODEL), str(out), to_model_input(val_faces.images[-256:]))
    assert out.stat().st_size < DEFAULT_MODEL.stat().st_size / 3
    faces, _ = _subset(val_faces)
    full, int8 = EmotionClassifier(DEFAULT_MODEL).predict(faces), EmotionClassifier(out).predict(faces)
    assert np.mean(full.argmax(1) == int8.argmax(1)) > 0.95
    assert np.max(np.abs(full - int8)) < 0.3


@pytest.mark.parametrize("member", ["default.onnx", "accurate/vgg_fast_kd.int8.onnx"])
def test_mirror_graph_answers_flip_tta_in_one_call(val_faces, tmp_path, member):
    """scripts/mirror_graph.py: one call of the wrapped graph equals the mean of the model on the faces
    and on their mirror images (float32 and int8 graphs)."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pytest.importorskip("onnx")
    spec = importlib.util.spec_from_file_location("mirror_graph", root / "scripts" / "mirror_graph.py")
    mirror_graph = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mirror_graph)
    import onnx

    src, out = root / "models" / member, tmp_path / "mirrored.onnx"
    onnx.save(mirror_graph.mirror_graph(onnx.load(str(src))), str(out))
    faces, _ = _subset(val_faces)
    plain = EmotionClassifier(src)
    expected = (plain.predict(faces) + plain.predict(faces[:, :, ::-1])) / 2
    mirrored = EmotionClassifier(out).predict(faces)
    assert mirrored.shape == expected.shape == (len(faces), 7)
    assert np.max(np.abs(mirrored - expected)) < 1e-5
    assert np.mean(mirrored.argmax(1) != plain.predict(faces).argmax(1)) > 0  # the mirror does change answers
