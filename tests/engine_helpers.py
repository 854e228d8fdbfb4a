"""Real test inputs for the engine tests: photos scikit-image ships, FER2013 faces in scenes, generated videos."""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
FER2013 = Path(os.environ.get("FER2013_DIR", REPO.parent / "shared" / "datasets" / "fer2013"))


def astronaut_bgr() -> np.ndarray:
    """Eileen Collins' NASA portrait (512x512, one face), as BGR."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def astronaut_face(size: int = 150) -> np.ndarray:
    """The astronaut's head and some background, `size` px square, BGR."""
    img = astronaut_bgr()
    crop = img[20:230, 120:330]  # face at about (174, 65, 99, 99) in the portrait
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def faceless_bgr() -> np.ndarray:
    """A real photo with no face in it (a cup of coffee)."""
    from skimage import data

    return cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)


def fer_val_faces(count: int, seed: int = 0) -> list[tuple[np.ndarray, str]]:
    """`count` FER2013 validation faces (48x48 grey) with their class, or [] without the dataset."""
    val = FER2013 / "val"
    if not val.is_dir():
        return []
    files = sorted(val.glob("*/*.png"))
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(files), size=min(count * 4, len(files)), replace=False)
    return [(cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE), files[i].parent.name) for i in picked]


def scene_with_faces(faces: list[np.ndarray], width: int = 640, height: int = 480, face_px: int = 110) -> tuple[np.ndarray, list]:
    """Faces (grey or BGR) upscaled to `face_px` and laid out on a grid over a real photo background.

    Returns the BGR scene and the (x, y, w, h) where each face was pasted.
    """
    from skimage import data

    background = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    scene = cv2.resize(background, (width, height), interpolation=cv2.INTER_AREA)
    cols = max(1, int(np.ceil(np.sqrt(len(faces) * width / height))))
    rows = max(1, int(np.ceil(len(faces) / cols)))
    cell_w, cell_h = width // cols, height // rows
    placed = []
    for i, face in enumerate(faces):
        if face.ndim == 2:
            face = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
        face = cv2.resize(face, (face_px, face_px), interpolation=cv2.INTER_CUBIC)
        r, c = divmod(i, cols)
        x = c * cell_w + (cell_w - face_px) // 2
        y = r * cell_h + (cell_h - face_px) // 2
        scene[y : y + face_px, x : x + face_px] = face
        placed.append((x, y, face_px, face_px))
    return scene, placed


def encode_h264(path: Path, frames, fps: int) -> int:
    """Encode BGR frames (all one size) as an H.264 MP4 with PyAV; returns how many were written."""
    import av

    count = 0
    with av.open(str(path), mode="w") as out:
        stream = None
        for frame in frames:
            if stream is None:
                stream = out.add_stream("libx264", rate=fps)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
            vf.pts, vf.time_base = count, Fraction(1, fps)
            for packet in stream.encode(vf):
                out.mux(packet)
            count += 1
        for packet in stream.encode() if stream is not None else ():
            out.mux(packet)
    return count


def write_moving_face_video(
    path: Path,
    seconds: float = 3.0,
    fps: int = 15,
    size: tuple[int, int] = (480, 270),
    codec: str = "libx264",
    container_format: str | None = None,
    audio: bool | str = False,
    face_px: int = 110,
) -> list[tuple[int, int, int, int]]:
    """A video of the astronaut's face moving left to right over a real background. Returns the pasted boxes.

    `audio`: True for an AAC tone, or an audio encoder's name (libvorbis, pcm_s16le, ...).
    """
    import av

    width, height = size
    face = astronaut_face(face_px)
    background = cv2.resize(faceless_bgr(), (width, height), interpolation=cv2.INTER_AREA)
    frames = round(seconds * fps)
    boxes = []
    pix_fmt = {"mjpeg": "yuvj420p"}.get(codec, "yuv420p")
    with av.open(str(path), mode="w", format=container_format) as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        sound = None
        if audio:
            sound = out.add_stream("aac" if audio is True else audio, rate=44100)
            sound.codec_context.layout = "mono"
        for i in range(frames):
            frame = background.copy()
            x = int(10 + (width - face_px - 20) * i / max(1, frames - 1))
            y = (height - face_px) // 2
            frame[y : y + face_px, x : x + face_px] = face
            boxes.append((x, y, face_px, face_px))
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for packet in video.encode(vf):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            rate, samples = 44100, 1024
            t = np.arange(int(seconds * rate)) / rate
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            sample_format = sound.codec_context.format.name
            if sample_format.startswith("s16"):
                tone = (tone * 32767).astype(np.int16)
            for start in range(0, len(tone) - samples + 1, samples):
                af = av.AudioFrame.from_ndarray(tone[None, start : start + samples], format=sample_format, layout="mono")
                af.sample_rate, af.pts = rate, start
                af.time_base = Fraction(1, rate)
                for packet in sound.encode(af):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return boxes


def set_mp4_rotation(path: Path, degrees_clockwise: int) -> None:
    """Write a display rotation into an MP4's video track header (tkhd matrix), as phones do."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"tkhd")
    if pos < 0:
        raise ValueError("no tkhd box")
    version = data[pos + 4]
    matrix_at = pos + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    one, minus_one = 0x00010000, -0x00010000
    a, b, c, d = {
        90: (0, one, minus_one, 0),
        180: (minus_one, 0, 0, minus_one),
        270: (0, minus_one, one, 0),
    }[degrees_clockwise]
    struct.pack_into(">9i", data, matrix_at, a, b, 0, c, d, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))


def decode_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def detectable_fer_faces(count: int, seed: int = 0) -> list[tuple[np.ndarray, str]]:
    """FER2013 validation faces (upscaled to 192 px, grey) that the Haar cascade and the default photo
    detector both find when shown alone.

    About a quarter of FER2013 faces are not found by the frontal cascade at all
    (profiles, hands, occlusions); scenes built from these hold faces that can be found.
    [] when the dataset is absent.
    """
    from fer_app.detect import HaarDetector, make_detector

    val = FER2013 / "val"
    if not val.is_dir():
        return []
    files = sorted(val.glob("*/*.png"))
    detectors = [HaarDetector(scale_factor=1.1, min_neighbors=5, min_face=60, detect_width=0), make_detector(None, still=True)]
    out = []
    for i in np.random.default_rng(seed).permutation(len(files)):
        grey = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE)
        big = cv2.resize(grey, (192, 192), interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(big, 64, 64, 64, 64, cv2.BORDER_REPLICATE)
        if all(len(d.detect(canvas)) == 1 for d in detectors):
            out.append((big, files[i].parent.name))
            if len(out) == count:
                break
    return out


def on_face(box, placed) -> bool:
    """A detector box is on a pasted face: its centre lies inside and it is 0.5-1.5x the face's side.
    (Detectors frame faces differently: dlib's boxes are tight, so an IoU threshold would favour Haar.)"""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    inside = placed[0] <= cx <= placed[0] + placed[2] and placed[1] <= cy <= placed[1] + placed[3]
    return inside and 0.5 <= max(box[2], box[3]) / max(placed[2], placed[3]) <= 1.5


def needs_fer2013():
    import pytest

    return pytest.mark.skipif(not (FER2013 / "val").is_dir(), reason=f"FER2013 not found at {FER2013}")


def cli_main(argv: list[str]) -> int:
    """`python -m fer_app ARGS` in-process, with the engine's subcommands registered even if
    fer_app/__main__.py does not (yet) call analyze_cli.add_commands."""
    import argparse

    from fer_app import __main__ as cli
    from fer_app import analyze_cli

    original = cli.build_parser

    def build_parser():
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "image" not in sub.choices:
            analyze_cli.add_commands(sub)
        return parser

    cli.build_parser = build_parser
    try:
        return cli.main(argv)
    finally:
        cli.build_parser = original


# The same, as a separate process: proves exit codes and that no traceback reaches the user.
CLI_PROCESS = "import sys; sys.argv[0] = 'fer_app'; from engine_helpers import cli_main; sys.exit(cli_main(sys.argv[1:]))"
