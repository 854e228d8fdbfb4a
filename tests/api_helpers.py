"""Shared by the API tests: apps under test, real photos as encoded bytes, tiny real videos."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import cv2
import numpy as np
from engine_helpers import astronaut_bgr, detectable_fer_faces, encode_h264, faceless_bgr, scene_with_faces

PROBLEM = "application/problem+json"


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def astronaut_jpeg() -> bytes:
    return encode(astronaut_bgr(), ".jpg")


def only_her_face(faces: list) -> bool:
    """The astronaut's face (x 177, y 66, about 95 px) and nothing else (dlib-hog's doubtful box on the
    mission patch in this JPEG is dropped by the alt2 check: docs/detectors.md)."""
    return len(faces) == 1 and abs(faces[0]["box"][0] - 177) < 15 and abs(faces[0]["box"][1] - 70) < 15


def coffee_jpeg() -> bytes:
    return encode(faceless_bgr(), ".jpg")


def four_face_scene() -> np.ndarray | None:
    """Four FER2013 validation faces the cascade finds, upscaled on a real photo; None without the dataset."""
    faces = detectable_fer_faces(4, seed=3)
    if len(faces) < 4:
        return None
    scene, _ = scene_with_faces([f for f, _ in faces], 640, 480, face_px=140)
    return scene


def write_scene_video(path: Path, scene: np.ndarray, seconds: float, fps: int = 10, size=(320, 240)) -> int:
    """An H.264 video of `scene` panning slowly; returns the frame count."""
    width, height = size
    base = cv2.resize(scene, (width + 40, height), interpolation=cv2.INTER_AREA)
    frames = round(seconds * fps)

    def frame(i: int) -> np.ndarray:
        x = int(40 * i / max(1, frames - 1))
        return base[:, x : x + width]

    return encode_h264(path, (frame(i) for i in range(frames)), fps)


def wait_ready(client, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get("/readyz")
        if r.status_code == 200:
            return r.json()
        time.sleep(0.05)
    raise AssertionError("the app did not become ready")


def assert_problem(response, status: int, kind: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["instance"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    if kind is not None:
        assert body["type"] == f"urn:fer-app:problem:{kind}", body
    return body


@contextlib.contextmanager
def client_for(settings):
    from fastapi.testclient import TestClient

    from fer_app.api.app import create_app

    app = create_app(settings)
    with TestClient(app) as client:
        wait_ready(client)
        yield client
