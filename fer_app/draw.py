"""Overlays: a box, label and confidence per face, coloured by emotion, sized to the frame."""

from __future__ import annotations

import cv2
import numpy as np

from fer_app.labels import COLORS_BGR, EMOTIONS

FONT = cv2.FONT_HERSHEY_SIMPLEX
UNREAD_BGR = (100, 100, 100)  # a face boxed but not read (too small, cut off): grey, no emotion colour


def _ui_scale(frame: np.ndarray) -> float:
    """1.0 at 480 px on the short side; text and lines grow with the frame."""
    return max(0.5, min(frame.shape[:2]) / 480.0)


def _text_colour(background: tuple[int, int, int]) -> tuple[int, int, int]:
    b, g, r = background
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)


def _label(
    img: np.ndarray,
    text: str,
    x: int,
    y: int,
    colour,
    font_scale: float,
    thickness: int,
    above: bool = True,
) -> int:
    """Text on a filled box with its bottom-left at (x, y) (or top-left when not `above`); returns its height."""
    (tw, th), base = cv2.getTextSize(text, FONT, font_scale, thickness)
    pad = max(2, thickness * 2)
    height = th + base + 2 * pad
    top = y - height if above else y
    top = max(top, 0)
    x = max(0, min(x, img.shape[1] - tw - 2 * pad))
    cv2.rectangle(img, (x, top), (x + tw + 2 * pad, top + height), colour, -1)
    cv2.putText(
        img,
        text,
        (x + pad, top + pad + th),
        FONT,
        font_scale,
        _text_colour(colour),
        thickness,
        cv2.LINE_AA,
    )
    return height


def draw_results(
    frame_bgr: np.ndarray,
    result,
    show_labels: bool = True,
    show_probabilities: bool = False,
) -> np.ndarray:
    """An annotated copy of the frame. With show_labels=False nothing is drawn per face
    (the aggregate-only view); show_probabilities adds a bar per emotion beside each box."""
    out = frame_bgr.copy() if frame_bgr.ndim == 3 else cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
    if out.shape[2] == 4:
        out = cv2.cvtColor(out, cv2.COLOR_BGRA2BGR)
    if not show_labels:
        return out
    s = _ui_scale(out)
    line = max(2, round(2 * s))
    font_scale = 0.6 * s
    text_thickness = max(1, round(1.5 * s))
    for face in result.faces:
        x, y, w, h = face.box
        colour = COLORS_BGR[face.emotion] if face.readable else UNREAD_BGR
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, line, cv2.LINE_AA)
        text = f"{face.emotion} {face.confidence:.0%}" if face.readable else face.short_note
        if face.track_id is not None:
            text = f"#{face.track_id} {text}"
        above = y > 30 * s
        _label(
            out,
            text,
            x,
            y if above else y + h,
            colour,
            font_scale,
            text_thickness,
            above=above,
        )
        if show_probabilities and face.readable:
            _probability_bars(out, face, x + w + line * 2, y, s)
    return out


def _probability_bars(img: np.ndarray, face, x: int, y: int, s: float) -> None:
    bar_w, row_h = int(90 * s), max(10, round(14 * s))
    font_scale = 0.38 * s
    thickness = max(1, round(s))
    label_w = cv2.getTextSize("surprise", FONT, font_scale, thickness)[0][0] + int(4 * s)
    total_w = label_w + bar_w
    if x + total_w > img.shape[1]:  # no room on the right: go left of the box
        x = max(0, face.box[0] - total_w - int(4 * s))
    y = max(0, min(y, img.shape[0] - row_h * len(EMOTIONS)))
    panel = img[y : y + row_h * len(EMOTIONS), x : x + total_w]
    panel[:] = (panel * 0.45).astype(np.uint8)  # darken for contrast
    for i, (name, p) in enumerate(zip(EMOTIONS, face.probabilities)):
        top = y + i * row_h
        cv2.putText(
            img,
            name,
            (x + 2, top + row_h - int(3 * s)),
            FONT,
            font_scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
        length = round(float(p) * (bar_w - 4))
        if length > 0:
            cv2.rectangle(
                img,
                (x + label_w, top + 2),
                (x + label_w + length, top + row_h - 3),
                COLORS_BGR[name],
                -1,
            )
