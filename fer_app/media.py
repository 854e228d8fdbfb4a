"""Safe decoding of image uploads and files into BGR uint8 arrays (Pillow).

Every way an image can be unusable ends in a BadImageError with one clear
line; every conversion made on the way (EXIF rotation, 16-bit, CMYK,
palette, alpha, animation) is reported as a note.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fer_app.errors import BadImageError

# About 50 megapixels (an 8K frame is 33 MP): more is a decompression bomb, not a photo.
MAX_PIXELS = 50_000_000
MAX_SIDE = 20_000
MAX_FILE_BYTES = 100 * 1024 * 1024


def _read_source(source: bytes | bytearray | str | Path) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "image"
    path = Path(source)
    if not path.exists():
        raise BadImageError(f"{path}: no such file")
    if not path.is_file():
        raise BadImageError(f"{path}: not a file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise BadImageError(f"{path.name}: file too large ({size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB)")
    try:
        return path.read_bytes(), path.name
    except OSError as e:
        raise BadImageError(f"{path}: cannot read ({e.strerror or e})") from None


def load_image(source: bytes | bytearray | str | Path) -> tuple[np.ndarray, list[str]]:
    """Decode an image file or its bytes -> (BGR uint8 array (H, W, 3), notes)."""
    data, name = _read_source(source)
    if not data:
        raise BadImageError(f"{name}: empty file (0 bytes)")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImageError(f"{name}: not an image, or a format this tool cannot read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImageError(f"{name}: image dimensions too large (possible decompression bomb)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise BadImageError(f"{name}: corrupt image header ({e})") from None

    width, height = im.size
    if width <= 0 or height <= 0:
        raise BadImageError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise BadImageError(
            f"{name}: image too large ({width}x{height}; the limit is {MAX_PIXELS // 1_000_000} megapixels"
            f" and {MAX_SIDE} px a side)"
        )

    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        notes.append(f"animated image with {frames} frames: analysed the first frame only")
    try:
        im.seek(0)
        im.load()
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise BadImageError(f"{name}: truncated or corrupt image data ({e})") from None

    try:
        orientation = im.getexif().get(0x0112, 1)
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        SyntaxError,
    ):  # a broken EXIF block is not worth refusing the picture for
        orientation = 1
    if orientation not in (1, None):
        try:
            im = ImageOps.exif_transpose(im)
            notes.append(f"rotated upright as its EXIF orientation ({orientation}) says")
        except (OSError, ValueError, KeyError, TypeError, SyntaxError):
            notes.append("EXIF orientation could not be applied; analysed as stored")

    return _to_bgr(im, notes), notes


def _to_bgr(im: Image.Image, notes: list[str]) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im)
        if mode.startswith("I;16"):
            grey = (arr.astype(np.uint32) >> 8).astype(np.uint8)
            notes.append("16-bit image reduced to 8 bits")
        else:
            lo, hi = float(np.min(arr)), float(np.max(arr))
            span = hi - lo if hi > lo else 1.0
            grey = ((arr.astype(np.float64) - lo) * (255.0 / span)).clip(0, 255).astype(np.uint8)
            notes.append(f"{'32-bit integer' if mode == 'I' else 'floating-point'} image scaled to 8 bits")
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        notes.append("palette image converted to colour")
        mode = im.mode
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"{mode} image converted to RGB")
        im = im.convert("RGB")
        mode = "RGB"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba).convert("RGB")
        notes.append("transparency flattened onto white")
    elif mode == "1":
        im = im.convert("L")
    if im.mode == "L":
        grey = np.asarray(im)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode != "RGB":
        notes.append(f"{im.mode} image converted to RGB")
        im = im.convert("RGB")
    rgb = np.asarray(im)
    return np.ascontiguousarray(rgb[:, :, ::-1])
