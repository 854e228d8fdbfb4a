"""The README's screenshot script still works against today's app (it writes into a temporary folder here)."""

from __future__ import annotations

import importlib.util

import cv2

from tests.e2e.conftest import ROOT


def test_screenshot_script_shows_the_labelled_face_and_the_chart(tmp_path):
    spec = importlib.util.spec_from_file_location("screenshot", ROOT / "scripts" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.take_screenshot(tmp_path / "shot.png", width=1000, height=700)
    image = cv2.imread(str(out))
    assert image.shape[:2] == (700, 1000)
    # Not a blank page: the camera frame and the sidebar make a busy picture.
    assert image.std() > 30
