"""media.load_image on real photos in the awkward encodings uploads arrive in, and on broken files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import astronaut_bgr
from PIL import Image

from fer_app.errors import BadImageError
from fer_app.media import MAX_PIXELS, load_image

SKIMAGE_GIF = Path(__import__("skimage").__file__).parent / "data" / "no_time_for_that_tiny.gif"


def _astronaut_pil() -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(astronaut_bgr()[:, :, ::-1]))


def _encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_png_from_path_and_bytes_give_the_same_bgr_pixels(tmp_path):
    path = tmp_path / "astronaut.png"
    path.write_bytes(_encode(_astronaut_pil(), "PNG"))
    from_path, notes = load_image(path)
    from_bytes, _ = load_image(path.read_bytes())
    assert from_path.shape == (512, 512, 3) and from_path.dtype == np.uint8
    assert notes == []
    np.testing.assert_array_equal(from_path, astronaut_bgr())
    np.testing.assert_array_equal(from_path, from_bytes)


def test_exif_rotation_is_applied():
    # Stored sideways (rotated 90 degrees clockwise) with orientation 8, as a phone would save it.
    upright = _astronaut_pil().crop((0, 0, 512, 300))
    stored = upright.transpose(Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = 8
    img, notes = load_image(_encode(stored, "JPEG", exif=exif, quality=95))
    assert img.shape == (300, 512, 3)
    assert any("EXIF" in n for n in notes)
    diff = np.abs(img.astype(int) - np.asarray(upright)[:, :, ::-1].astype(int)).mean()
    assert diff < 6  # JPEG noise only


def test_rgba_is_flattened_onto_white():
    rgba = _astronaut_pil().convert("RGBA")
    alpha = np.full((512, 512), 255, np.uint8)
    alpha[:, :100] = 0  # left strip fully transparent
    rgba.putalpha(Image.fromarray(alpha))
    img, notes = load_image(_encode(rgba, "PNG"))
    assert img.shape == (512, 512, 3)
    assert (img[:, :100] == 255).all()
    np.testing.assert_array_equal(img[:, 100:], astronaut_bgr()[:, 100:])
    assert any("transparency" in n for n in notes)


def test_16_bit_greyscale_is_reduced_to_8_bits():
    grey8 = np.asarray(_astronaut_pil().convert("L"))
    grey16 = grey8.astype(np.uint16) * 257
    img, notes = load_image(_encode(Image.fromarray(grey16), "PNG"))
    assert img.dtype == np.uint8 and img.shape == (512, 512, 3)
    np.testing.assert_array_equal(img[:, :, 0], grey8)
    assert any("16-bit" in n for n in notes)


def test_cmyk_jpeg_is_converted():
    img, notes = load_image(_encode(_astronaut_pil().convert("CMYK"), "JPEG", quality=95))
    assert img.shape == (512, 512, 3)
    assert np.abs(img.astype(int) - astronaut_bgr().astype(int)).mean() < 8
    assert any("CMYK" in n for n in notes)


def test_palette_image_is_converted():
    img, notes = load_image(_encode(_astronaut_pil().convert("P", palette=Image.Palette.ADAPTIVE), "PNG"))
    assert img.shape == (512, 512, 3)
    assert np.abs(img.astype(int) - astronaut_bgr().astype(int)).mean() < 10
    assert any("palette" in n for n in notes)


def test_animated_gif_gives_the_first_frame_and_says_so():
    img, notes = load_image(SKIMAGE_GIF)
    with Image.open(SKIMAGE_GIF) as gif:
        first = np.asarray(gif.convert("RGB"))[:, :, ::-1]
    np.testing.assert_array_equal(img, first)
    assert any("first frame" in n and "24 frames" in n for n in notes)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"%PDF-1.4 definitely not a picture\n" * 20, "not an image"),
    ],
)
def test_bad_bytes_are_refused_with_a_clear_message(data, message):
    with pytest.raises(BadImageError, match=message):
        load_image(data)


def test_truncated_jpeg_is_refused():
    data = _encode(_astronaut_pil(), "JPEG", quality=90)
    with pytest.raises(BadImageError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])


def test_corrupt_png_is_refused():
    data = bytearray(_encode(_astronaut_pil(), "PNG"))
    data[200:400] = bytes(200)  # zeroes in the middle of the compressed pixel data
    with pytest.raises(BadImageError):
        load_image(bytes(data))


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(BadImageError, match="no such file"):
        load_image(tmp_path / "nothing.png")


def test_decompression_bomb_is_refused_before_decoding():
    side = int(MAX_PIXELS**0.5) + 100
    bomb = _encode(Image.new("1", (side, side)), "PNG")  # a few kB that would decode to > 50 MP
    assert len(bomb) < 200_000
    with pytest.raises(BadImageError, match="too large"):
        load_image(bomb)


def test_absurd_dimensions_are_refused():
    with pytest.raises(BadImageError, match="too large"):
        load_image(_encode(Image.new("L", (30_000, 2)), "PNG"))
