"""Overlays on real frames, and the rolling distribution / timeline built from real results."""

from __future__ import annotations

import csv
import io
import json

import cv2
import numpy as np
import pytest
from engine_helpers import astronaut_bgr

from fer_app.draw import draw_results
from fer_app.labels import COLORS_BGR, EMOTIONS
from fer_app.pipeline import EmotionRecognizer, Face, FrameResult
from fer_app.stats import RollingDistribution, Timeline


@pytest.fixture(scope="module")
def astronaut_result():
    return EmotionRecognizer().analyze_image(astronaut_bgr())


def _box_edge_colour(image, box):
    x, y, w, h = box
    return tuple(int(v) for v in image[y + h // 2, x])  # middle of the left edge


def test_overlay_draws_the_box_in_the_emotion_colour_on_a_copy(astronaut_result):
    frame = astronaut_bgr()
    before = frame.copy()
    out = draw_results(frame, astronaut_result)
    np.testing.assert_array_equal(frame, before)  # the input is not touched
    face = astronaut_result.faces[0]
    assert out.shape == frame.shape
    assert _box_edge_colour(out, face.box) == COLORS_BGR[face.emotion]
    x, y, w, h = face.box
    # The label sits above the box, filled with the same colour.
    label_strip = out[max(0, y - 12) : y - 2, x : x + w]
    assert (np.abs(label_strip.astype(int) - COLORS_BGR[face.emotion]).sum(axis=2) == 0).mean() > 0.3


def test_aggregate_only_view_draws_nothing(astronaut_result):
    out = draw_results(astronaut_bgr(), astronaut_result, show_labels=False)
    np.testing.assert_array_equal(out, astronaut_bgr())


def test_overlay_scales_with_the_frame(astronaut_result):
    """At 1080p lines and text are thicker than at 480p, so the label stays readable."""

    def drawn_pixels(size):
        frame = cv2.resize(astronaut_bgr(), (size, size))
        scale = size / 512
        face = astronaut_result.faces[0]
        result = FrameResult(
            faces=[Face(tuple(round(v * scale) for v in face.box), face.probabilities)],
            timestamp=0,
            width=size,
            height=size,
        )
        return (draw_results(frame, result) != frame).any(axis=2).sum() / scale**2

    small, large = drawn_pixels(480), drawn_pixels(1080)
    assert large == pytest.approx(small, rel=0.35)  # same share of the face area at both sizes


def test_probability_bars_and_faces_at_the_edge(astronaut_result):
    frame = astronaut_bgr()
    face = astronaut_result.faces[0]
    edge = FrameResult(
        faces=[Face((470, 0, 42, 42), face.probabilities, track_id=3), Face((0, 480, 40, 32), face.probabilities)],
        timestamp=0,
        width=512,
        height=512,
    )
    plain = draw_results(frame, edge)
    bars = draw_results(frame, edge, show_probabilities=True)
    assert (bars != plain).any()
    assert draw_results(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), edge).shape == (512, 512, 3)


def _result(t: float, *probabilities) -> FrameResult:
    faces = [Face((0, 0, 10, 10), np.asarray(p, dtype=np.float32), track_id=i + 1) for i, p in enumerate(probabilities)]
    return FrameResult(faces=faces, timestamp=t, width=640, height=480)


HAPPY = np.eye(7)[EMOTIONS.index("happy")]
SAD = np.eye(7)[EMOTIONS.index("sad")]


def test_rolling_distribution_forgets_faces_older_than_the_window(astronaut_result):
    rolling = RollingDistribution(window_s=2.0)
    assert rolling.distribution() == {name: 0.0 for name in EMOTIONS}
    rolling.add(_result(0.0, HAPPY, HAPPY))
    rolling.add(_result(1.0, SAD))
    d = rolling.distribution()
    assert d["happy"] == pytest.approx(2 / 3) and d["sad"] == pytest.approx(1 / 3)
    assert rolling.faces_now == 1 and rolling.faces_in_window == 3
    rolling.add(_result(2.5, SAD))  # the first frame is now 2.5 s old
    assert rolling.distribution()["sad"] == pytest.approx(1.0)
    # A real recognizer result: its probabilities are what the window reports.
    rolling.reset()
    rolling.add(FrameResult(astronaut_result.faces, timestamp=10.0, width=512, height=512))
    np.testing.assert_allclose(list(rolling.distribution().values()), astronaut_result.faces[0].probabilities, atol=1e-5)


def test_timeline_has_one_row_per_second_and_exports_csv_and_json():
    timeline = Timeline()
    timeline.add(_result(5.0, HAPPY))
    timeline.add(_result(5.5, HAPPY, SAD))
    timeline.add(_result(6.2))
    timeline.add(_result(7.9, SAD))
    rows = timeline.rows()
    assert [r["second"] for r in rows] == [0, 1, 2]
    assert rows[0]["frames"] == 2 and rows[0]["faces"] == 2
    assert rows[0]["happy"] == pytest.approx(2 / 3, abs=1e-4) and rows[0]["dominant"] == "happy"  # 4 decimals
    assert rows[1]["faces"] == 0 and rows[1]["dominant"] == "" and rows[1]["happy"] is None
    assert rows[2]["dominant"] == "sad"
    parsed = list(csv.DictReader(io.StringIO(timeline.to_csv())))
    assert [r["second"] for r in parsed] == ["0", "1", "2"] and parsed[1]["happy"] == ""
    assert json.loads(timeline.to_json()) == rows
