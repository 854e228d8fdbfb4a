"""The face-detection evaluation set: photos and clips composed from real faces, with their true boxes.

Nothing here is downloaded: the faces are FER2013 validation faces (real photographs, 48x48 grey,
registered crops), upscaled and composed into scenes; the backgrounds are scikit-image's bundled
photos that are CC0 or public domain (coffee, chelsea: a cat's face, a good decoy; rocket;
immunohistochemistry; hubble_deep_field); one photo is scikit-image's astronaut portrait (public
domain), a real face in its real context. Everything is generated the same way from a seed.

Which FER2013 faces: a random sample, kept where at least two of the three detectors (haar,
haar-alt2, dlib-hog) find the face shown alone at 192 px, so that the set holds faces a person
would call clear frontal faces (FER2013 also holds cartoons, hands over faces and blank images),
without choosing them by one detector's taste.

An approximation of real footage, and a stated one: a FER2013 face is a tight square crop, pasted
with a feathered border, so there is no hair, neck or body around it; "turned" faces are frontal
faces squeezed sideways (a stand-in for a head turned about 45-65 degrees, NOT a profile: the set
holds no real profiles); motion is smooth and there is no motion blur beyond JPEG/H.264-like loss.

    photos(): 30 photos (640x480 to 1024x768) with 1-6 faces of 40-260 px, some mirrored, some cut by
              the edge, brightness and contrast varied, JPEG quality 85; plus the astronaut portrait.
    clips():  4 clips of 640x480 at 30 fps, 4 s each: faces moving across, one coming close from far,
              one leaving through the edge, one turning (squeezed) and back; JPEG quality 75 per frame.

Each true box is (x, y, w, h, kind) with kind "frontal", "turned" (squeezed below 0.75 of its width)
or "cut" (a third or more of it outside the frame). Boxes are the pasted FER2013 square (FER2013
framing: brows to chin, a little around).

Run `python benchmarks/detection_set.py OUTDIR` to write the set as PNGs and a JSON of boxes.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
FER2013 = Path(os.environ.get("FER2013_DIR", REPO.parent / "shared" / "datasets" / "fer2013"))
BACKGROUNDS = ("coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")
PHOTO_SIZES = ((640, 480), (800, 600), (1024, 768), (1024, 683))
# The astronaut's face in scikit-image's 512x512 portrait, by eye (brows to chin, FER2013-like).
ASTRONAUT_FACE = (170, 58, 110, 112)

TruthBox = tuple[int, int, int, int, str]


@dataclass
class Photo:
    name: str
    image: np.ndarray  # BGR
    truth: list[TruthBox]


@dataclass
class Clip:
    name: str
    frames: list[np.ndarray] = field(default_factory=list)  # BGR, 30 fps
    truth: list[list[TruthBox]] = field(default_factory=list)  # per frame
    fps: int = 30


# --- material -------------------------------------------------------------------------------------


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(img[:, :, :3], cv2.COLOR_RGB2BGR)


def background(name: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A crop of a bundled photo at the frame's aspect ratio, resized to the frame, maybe mirrored."""
    img = _skimage(name)
    h, w = img.shape[:2]
    aspect = width / height
    cw, ch = (w, int(w / aspect)) if w / h < aspect else (int(h * aspect), h)
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    img = cv2.resize(img[y0 : y0 + ch, x0 : x0 + cw], (width, height), interpolation=cv2.INTER_AREA)
    return img[:, ::-1].copy() if rng.random() < 0.5 else img


def _canvas(face: np.ndarray) -> np.ndarray:
    big = cv2.resize(face, (192, 192), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, 64, 64, 64, 64, cv2.BORDER_CONSTANT, value=int(np.median(face)))


@cache
def clear_faces(count: int = 160, seed: int = 7) -> tuple[np.ndarray, ...]:
    """`count` FER2013 validation faces (48x48 grey) that at least two of the three detectors find
    when shown alone at 192 px; sampled at random, in a fixed order."""
    from fer_app.detect import DlibHogDetector, HaarDetector, detector_available

    files = sorted((FER2013 / "val").glob("*/*.png"))
    if not files:
        raise SystemExit(f"{FER2013}/val: FER2013 validation faces not found (set FER2013_DIR)")
    judges = [
        HaarDetector(scale_factor=1.1, min_neighbors=5, min_face=96, detect_width=0),
        HaarDetector(scale_factor=1.1, min_neighbors=5, min_face=96, detect_width=0, cascade_file="haarcascade_frontalface_alt2.xml"),
    ]
    if detector_available("dlib-hog"):
        judges.append(DlibHogDetector(min_face=96, detect_width=0))
    needed = 2
    rng = np.random.default_rng(seed)
    faces = []
    for i in rng.permutation(len(files)):
        face = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE)
        if face is None or face.std() < 20:
            continue
        canvas = _canvas(face)
        if sum(len(j.detect(canvas)) == 1 for j in judges) >= needed:
            faces.append(face)
        if len(faces) == count:
            break
    return tuple(faces)


def _feather_mask(side_w: int, side_h: int) -> np.ndarray:
    """1 inside, fading to 0 over the outer ~12% of the square: no hard paste edge for a detector to see."""
    ramp_x = np.clip(np.minimum(np.arange(side_w), np.arange(side_w)[::-1]) / max(1.0, 0.12 * side_w), 0, 1)
    ramp_y = np.clip(np.minimum(np.arange(side_h), np.arange(side_h)[::-1]) / max(1.0, 0.12 * side_h), 0, 1)
    return np.outer(ramp_y, ramp_x)[:, :, None].astype(np.float32)


def paste(
    img: np.ndarray,
    face: np.ndarray,
    x: int,
    y: int,
    side: int,
    squeeze: float = 1.0,
    mirror: bool = False,
    gain: float = 1.0,
    bias: float = 0.0,
) -> tuple[int, int, int, int]:
    """Paste a 48x48 grey face as a `side` px square (narrowed by `squeeze`) at (x, y), parts outside
    the frame cut off. Returns the true box (x, y, w, h), which may reach past the frame."""
    w = max(4, round(side * squeeze))
    patch = cv2.resize(face[:, ::-1] if mirror else face, (w, side), interpolation=cv2.INTER_CUBIC if side > 48 else cv2.INTER_AREA)
    patch = np.clip(patch.astype(np.float32) * gain + bias, 0, 255)
    patch = np.repeat(patch[:, :, None], 3, axis=2)
    mask = _feather_mask(w, side)
    height, width = img.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + side)
    if x1 > x0 and y1 > y0:
        px0, py0 = x0 - x, y0 - y
        region = img[y0:y1, x0:x1].astype(np.float32)
        p = patch[py0 : py0 + y1 - y0, px0 : px0 + x1 - x0]
        m = mask[py0 : py0 + y1 - y0, px0 : px0 + x1 - x0]
        img[y0:y1, x0:x1] = (m * p + (1 - m) * region).astype(np.uint8)
    return (x, y, w, side)


def kind_of(box: tuple[int, int, int, int], width: int, height: int, squeeze: float = 1.0) -> str:
    x, y, w, h = box
    inside = max(0, min(width, x + w) - max(0, x)) * max(0, min(height, y + h) - max(0, y))
    if inside < (2 / 3) * w * h:
        return "cut"
    return "turned" if squeeze < 0.75 else "frontal"


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


# --- photos ---------------------------------------------------------------------------------------


def _free(box, placed, gap: float = 0.15) -> bool:
    x, y, w, h = box
    for px, py, pw, ph in placed:
        g = gap * max(w, pw)
        if x < px + pw + g and px < x + w + g and y < py + ph + g and py < y + h + g:
            return False
    return True


def photos(count: int = 30, seed: int = 11) -> list[Photo]:
    faces = clear_faces()
    rng = np.random.default_rng(seed)
    out = []
    next_face = 0
    for k in range(count):
        width, height = PHOTO_SIZES[k % len(PHOTO_SIZES)]
        img = background(BACKGROUNDS[k % len(BACKGROUNDS)], width, height, rng)
        n = int(rng.integers(1, 7))
        truth: list[TruthBox] = []
        placed: list[tuple[int, int, int, int]] = []
        cut_one = k % 4 == 3
        for j in range(n):
            side = int(np.exp(rng.uniform(np.log(40), np.log(min(260, height * 0.55)))))
            for _ in range(50):
                if cut_one and j == 0:
                    # Cut by the left or right edge: 34-45% of the face outside.
                    out_frac = rng.uniform(0.34, 0.45)
                    x = -int(side * out_frac) if rng.random() < 0.5 else width - int(side * (1 - out_frac))
                else:
                    x = int(rng.integers(0, width - side))
                y = int(rng.integers(0, height - side))
                if _free((x, y, side, side), placed):
                    break
            else:
                continue
            face = faces[next_face % len(faces)]
            next_face += 1
            box = paste(img, face, x, y, side, mirror=bool(rng.random() < 0.5), gain=rng.uniform(0.7, 1.25), bias=rng.uniform(-30, 30))
            placed.append(box)
            truth.append((*box, kind_of(box, width, height)))
        out.append(Photo(f"photo{k:02d}_{width}x{height}", jpeg(img, 85), truth))
    out.append(Photo("astronaut_512x512", _skimage("astronaut"), [(*ASTRONAUT_FACE, "frontal")]))
    return out


# --- clips ----------------------------------------------------------------------------------------


@dataclass
class _Actor:
    face: np.ndarray
    path: callable  # t in [0, 1] -> (cx, cy, side, squeeze)
    mirror: bool = False
    gain: float = 1.0
    bias: float = 0.0


def _lerp(a, b, t):
    return a + (b - a) * t


def _clip(name: str, actors: list[_Actor], bg: str, seconds: float, seed: int, size=(640, 480), fps: int = 30) -> Clip:
    rng = np.random.default_rng(seed)
    width, height = size
    # A background larger than the frame, panned slowly: the camera moves a little too.
    base = background(bg, width + 80, height + 60, rng)
    clip = Clip(name, fps=fps)
    frames = int(seconds * fps)
    for i in range(frames):
        t = i / max(1, frames - 1)
        ox, oy = int(40 + 40 * np.sin(2 * np.pi * t)), int(30 * t)
        img = base[oy : oy + height, ox : ox + width].copy()
        truth = []
        for a in actors:
            cx, cy, side, squeeze = a.path(t)
            side = int(round(side))
            w = round(side * squeeze)
            box = paste(img, a.face, int(round(cx - w / 2)), int(round(cy - side / 2)), side, squeeze, a.mirror, a.gain, a.bias)
            truth.append((*box, kind_of(box, width, height, squeeze)))
        img = img + rng.normal(0, 2.0, img.shape)  # sensor noise
        clip.frames.append(jpeg(np.clip(img, 0, 255).astype(np.uint8), 75))
        clip.truth.append(truth)
    return clip


def clips(seconds: float = 4.0, seed: int = 23) -> list[Clip]:
    faces = clear_faces()
    f = faces[-12:]  # faces not used by the first photos
    out = [
        _clip(
            "walk",
            [
                _Actor(f[0], lambda t: (_lerp(80, 560, t), 160 + 20 * np.sin(6 * t), 60, 1.0)),
                _Actor(f[1], lambda t: (_lerp(520, 140, t), 330, 90, 1.0), mirror=True, gain=0.85),
                _Actor(f[2], lambda t: (320 + 60 * np.sin(4 * t), 240 + 30 * np.cos(5 * t), 110, 1.0), bias=20),
            ],
            "coffee",
            seconds,
            seed,
        ),
        _clip(
            "approach",
            [
                # From far (36 px) to close (300 px), drifting.
                _Actor(f[3], lambda t: (_lerp(300, 360, t), _lerp(200, 250, t), 36 * (300 / 36) ** t, 1.0)),
                # Leaves through the right edge.
                _Actor(f[4], lambda t: (_lerp(520, 720, t), 110, 80, 1.0), gain=1.1),
            ],
            "rocket",
            seconds,
            seed + 1,
        ),
        _clip(
            "turn",
            [
                # Turns away (squeezed to 0.4 of its width) and back, twice.
                _Actor(f[5], lambda t: (220, 240, 120, 0.4 + 0.6 * abs(np.cos(2 * np.pi * t)))),
                _Actor(f[6], lambda t: (470, 200, 90, 0.45 + 0.55 * abs(np.cos(np.pi * t + 0.6))), mirror=True),
            ],
            "chelsea",
            seconds,
            seed + 2,
        ),
        _clip(
            "group",
            [
                _Actor(f[7], lambda t: (110 + 20 * t, 150, 70, 1.0)),
                _Actor(f[8], lambda t: (260, 140 + 15 * np.sin(8 * t), 64, 1.0), mirror=True),
                _Actor(f[9], lambda t: (410 - 25 * t, 160, 74, 1.0), gain=0.8),
                _Actor(f[10], lambda t: (550, 170 + 10 * t, 66, 1.0), bias=-20),
                _Actor(f[11], lambda t: (320, 360, 100, 1.0)),
            ],
            "immunohistochemistry",
            seconds,
            seed + 3,
        ),
    ]
    return out


def four_face_frame() -> np.ndarray:
    """The timing scene: 640x480 with four faces of 70-120 px on the coffee photo."""
    rng = np.random.default_rng(5)
    img = background("coffee", 640, 480, rng)
    faces = clear_faces()
    for k, (x, y, side) in enumerate(((60, 60, 110), (380, 50, 90), (90, 290, 120), (420, 300, 70))):
        paste(img, faces[20 + k], x, y, side)
    return jpeg(img, 85)


def write(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {"photos": {}, "clips": {}}
    for p in photos():
        cv2.imwrite(str(out_dir / f"{p.name}.png"), p.image)
        index["photos"][p.name] = [list(b) for b in p.truth]
    for c in clips():
        for i, frame in enumerate(c.frames):
            cv2.imwrite(str(out_dir / f"{c.name}_{i:03d}.png"), frame)
        index["clips"][c.name] = [[list(b) for b in t] for t in c.truth]
    (out_dir / "truth.json").write_text(json.dumps(index))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "detection_set"))
