"""Inputs for the batch tests: tiny clips and photos made from FER2013 validation faces, and broken files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from engine_helpers import REPO, detectable_fer_faces, encode_h264, scene_with_faces


def write_scene_clip(path: Path, faces: list[np.ndarray], seconds: float = 1.0, fps: int = 10,
                     size: tuple[int, int] = (320, 240), face_px: int = 80) -> None:
    """An H.264 clip of `faces` on a real photo, panning a few pixels a frame."""
    width, height = size
    base, _ = scene_with_faces(faces, width, height, face_px)

    def frame(i: int) -> np.ndarray:
        shift = np.float32([[1, 0, 2 * (i % 8)], [0, 1, i % 8]])
        return cv2.warpAffine(base, shift, (width, height), borderMode=cv2.BORDER_REPLICATE)

    encode_h264(path, (frame(i) for i in range(round(seconds * fps))), fps)


def make_media(folder: Path, clips: int = 2, photos: int = 2, seed: int = 0) -> dict[str, Path]:
    """Distinct clips and a folder of photos (each from different FER2013 faces), plus the broken inputs the
    batch must report: a truncated video, text named .mp4, a zero-byte file, a non-media file, a copy."""
    folder.mkdir(parents=True, exist_ok=True)
    faces = [f for f, _ in detectable_fer_faces(2 * (clips + photos), seed=seed)]
    made: dict[str, Path] = {}
    for i in range(clips):
        made[f"clip{i}"] = folder / f"clip{i}.mp4"
        write_scene_clip(made[f"clip{i}"], faces[2 * i : 2 * i + 2])
    (folder / "photos").mkdir(exist_ok=True)
    for i in range(photos):
        j = 2 * (clips + i)
        made[f"photo{i}"] = folder / "photos" / f"photo{i}.png"
        cv2.imwrite(str(made[f"photo{i}"]), scene_with_faces(faces[j : j + 2], 320, 240, 90)[0])
    data = made["clip0"].read_bytes()
    made["truncated"] = folder / "truncated.mp4"
    made["truncated"].write_bytes(data[: len(data) // 2])
    made["text"] = folder / "notes-named.mp4"
    made["text"].write_text("this is not a video\n")
    made["empty"] = folder / "empty.mp4"
    made["empty"].write_bytes(b"")
    made["other"] = folder / "readme.txt"
    made["other"].write_text("a file that is neither a video nor an image\n")
    made["copy"] = folder / "photos" / "zz-copy-of-photo0.png"
    made["copy"].write_bytes(made["photo0"].read_bytes())
    return made


def fer_app(*args: str, env: dict | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`python -m fer_app ARGS` in a fresh process with this checkout first on the path."""
    full_env = os.environ | {"PYTHONPATH": str(REPO)} | (env or {})
    return subprocess.run([sys.executable, "-m", "fer_app", *args], cwd=REPO, env=full_env, capture_output=True,
                          text=True, timeout=timeout, **kwargs)
