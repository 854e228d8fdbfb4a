"""Shared fixtures: where FER2013 is, and small real-face fixtures made from it."""

from __future__ import annotations

import os
from pathlib import Path

# pylibsrtp (aiortc, under streamlit-webrtc) crashes with SIGSEGV when its import comes after TensorFlow's
# (`pytest tests/test_training.py tests/test_ui.py` died so); imported here, first, any set of tests runs in one process.
import pylibsrtp  # noqa: F401
import pytest

ROOT = Path(__file__).resolve().parent.parent
FER2013 = Path(os.environ.get("FER2013_DIR", ROOT.parent / "shared" / "datasets" / "fer2013"))


@pytest.fixture(scope="session")
def fer2013() -> Path:
    """The shared FER2013 folder (train/, val/); tests that need it skip without it."""
    if not (FER2013 / "train").is_dir() or not (FER2013 / "val").is_dir():
        pytest.skip(f"FER2013 not found at {FER2013} (set FER2013_DIR)")
    return FER2013


@pytest.fixture(scope="session")
def val_faces(fer2013):
    """All FER2013 validation faces and labels, decoded (cached after the first load)."""
    from fer_app.training.data import load

    return load(fer2013 / "val")
