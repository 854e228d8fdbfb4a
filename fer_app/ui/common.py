"""What the tabs share: the model (loaded once per process), recognizers, ICE servers, messages."""

from __future__ import annotations

import json
import logging
import os

import streamlit as st

from fer_app.classify import EmotionClassifier
from fer_app.detect import (
    DETECTORS,
    detector_available,
    detector_names,
    resolve_detector_name,
)
from fer_app.engine import accurate_default, recognizer_over
from fer_app.ensemble import EnsembleClassifier, accurate_classifier
from fer_app.pipeline import EmotionRecognizer

LOG = logging.getLogger("fer_app.ui")

if os.environ.get("FER_WEBRTC_DEBUG"):
    # The tests turn this on so that a dropped START or stream shows its cause in the server log:
    # streamlit_webrtc at DEBUG; aioice's ICE events ("Consent to send expired") and the late
    # consent replies fer_app.live let through, at INFO.
    for _name, _level in (("streamlit_webrtc", logging.DEBUG), ("aioice.ice", logging.INFO), ("fer_app.live", logging.INFO)):
        _log = logging.getLogger(_name)
        if not any(isinstance(h, logging.StreamHandler) for h in _log.handlers):
            _handler = logging.StreamHandler()
            _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            _log.addHandler(_handler)
        _log.setLevel(_level)

# Inference threads per model session. All browser sessions share one model;
# one thread each keeps two cores fair between several sessions.
INFERENCE_THREADS = int(os.environ.get("FER_INFERENCE_THREADS", "1"))

# Upload limits, stated in the page (server.maxUploadSize in .streamlit/config.toml caps them too).
MAX_PHOTO_MB = 10
MAX_VIDEO_MB = 50
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp"]
VIDEO_TYPES = ["mp4", "mov", "webm", "avi"]


@st.cache_resource(show_spinner="Loading the emotion model…")
def shared_classifier() -> EmotionClassifier:
    """The ONNX model, loaded once per server process and shared by every session (thread-safe)."""
    return EmotionClassifier(threads=INFERENCE_THREADS)


@st.cache_resource(show_spinner="Loading the accurate ensemble…")
def shared_accurate_classifier() -> EnsembleClassifier:
    """The accurate mode's models, loaded on first use and shared like the live model."""
    return accurate_classifier(threads=INFERENCE_THREADS)


def new_recognizer(accurate: bool = False, detector: str | None = None) -> EmotionRecognizer:
    """A recognizer with its own detectors and tracks, over the shared model (or the accurate ensemble).
    `detector`: a fer_app.detect name; None takes the sidebar's choice (or the defaults)."""
    classifier = shared_accurate_classifier() if accurate else shared_classifier()
    return recognizer_over(classifier, detector or st.session_state.get(DETECTOR_KEY))


DETECTOR_KEY = "face_detector"
DEFAULT_CHOICE = "Default"


def detector_chosen() -> str | None:
    """The sidebar's face detector choice: a name, or None for the measured defaults. Says so when a
    detector (or a default) is not installed here and another one stands in."""
    names = detector_names()
    still, live = (resolve_detector_name(None, s)[0] for s in (True, False))
    labels = {DEFAULT_CHOICE: f"Default ({still})" if still == live else f"Default ({still} for photos, {live} for video)"}
    labels |= {n: n + ("" if detector_available(n) else " (not installed)") for n in names}
    choice = st.selectbox(
        "Face detector",
        [DEFAULT_CHOICE, *names],
        format_func=labels.get,
        key="face_detector_choice",
        help="Which detector finds the faces, in photos, videos and live: "
        + "; ".join(f"{n}: {DETECTORS[n].summary}" for n in names),
    )
    name = None if choice == DEFAULT_CHOICE else choice
    st.session_state[DETECTOR_KEY] = name
    notes = {resolve_detector_name(name, still)[1] for still in (True, False)} - {None}
    for note in sorted(notes):
        st.caption(note[0].upper() + note[1:] + ".")
    return name


FAST, ACCURATE = "Fast", "Accurate"


def accurate_mode_chosen(key: str, still: bool) -> bool:
    """A 'Model' choice for photo (still) and video analysis, defaulting as every entry point does
    (fer_app/engine.py); True when the accurate ensemble is chosen."""
    choice = st.radio(
        "Model", [FAST, ACCURATE], index=int(accurate_default(still)), horizontal=True, key=key,
        help="Fast: the live model, one pass per face (68% on FER2013 validation). Accurate: six models, each on "
             "ten crops of the face, averaged (73%): about 60 ms a face, so videos take several times longer.",
    )
    return choice == ACCURATE


def ice_configuration() -> dict:
    """RTC configuration for streamlit-webrtc.

    From the environment variable FER_ICE_SERVERS (a JSON list of ICE server
    objects, or a whole {"iceServers": [...]} object), else from st.secrets
    ([[ice_servers]] tables in .streamlit/secrets.toml), else none at all:
    right for localhost, where browser and server reach each other directly.
    A cloud deployment behind NAT needs a TURN server (docs/deploy.md).
    """
    raw = os.environ.get("FER_ICE_SERVERS", "").strip()
    if raw:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            LOG.error("FER_ICE_SERVERS is not valid JSON; using no ICE servers")
            return {"iceServers": []}
        servers = value.get("iceServers", []) if isinstance(value, dict) else value
        return {"iceServers": list(servers)}
    try:
        secret = st.secrets.get("ice_servers")
    except Exception:  # noqa: BLE001 - no secrets.toml: the normal local case
        secret = None
    if secret:
        return {"iceServers": [dict(s) for s in secret]}
    return {"iceServers": []}


def too_large(size_bytes: int, limit_mb: int) -> bool:
    return size_bytes > limit_mb * 1024 * 1024
