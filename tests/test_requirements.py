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
