"""Faces too small to read (pipeline.MIN_READABLE_FACE) or cut by the frame's edge (MIN_CUT_ASPECT) are
boxed but not labelled, on every path."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from engine_helpers import astronaut_bgr, astronaut_face, cli_main, faceless_bgr

from fer_app.classify import EmotionClassifier
from fer_app.detect import detector_available, make_detector
from fer_app.draw import UNREAD_BGR, draw_results
from fer_app.labels import EMOTIONS
from fer_app.pipeline import CUT_NOTE, MIN_READABLE_FACE, TOO_SMALL_NOTE, EmotionRecognizer, unread_reason
from fer_app.stats import RollingDistribution, Timeline


@pytest.fixture(scope="module")
def two_sizes() -> np.ndarray:
    """The astronaut portrait at full size (a 110 px face) beside a copy shrunk so that Haar boxes
    her face at about 28 px."""
    big = astronaut_bgr()
    small = cv2.resize(big, None, fx=0.27, fy=0.27, interpolation=cv2.INTER_AREA)
    canvas = np.full((512, 512 + 200, 3), 128, np.uint8)
    canvas[:, :512] = big
    canvas[200 : 200 + small.shape[0], 540 : 540 + small.shape[1]] = small
    return canvas


def test_a_photo_s_small_face_is_boxed_with_no_emotion_and_says_why(two_sizes, tmp_path, capsys):
    path = tmp_path / "two.png"
    cv2.imwrite(str(path), two_sizes)
    assert cli_main(["image", str(path), "--detector", "haar", "--json"]) == 0
    faces = json.loads(capsys.readouterr().out)["faces"]
    assert len(faces) == 2, faces
    big, small = sorted(faces, key=lambda f: -f["box"][2])
    assert big["box"][2] >= MIN_READABLE_FACE and big["emotion"] and big["probabilities"] and "note" not in big
    assert small["box"][2] < MIN_READABLE_FACE
    assert (small["emotion"], small["confidence"], small["probabilities"], small["note"]) == (None, None, None, TOO_SMALL_NOTE)

    assert cli_main(["image", str(path), "--detector", "haar"]) == 0
    assert TOO_SMALL_NOTE in capsys.readouterr().out


def test_video_path_shows_the_small_face_unread_and_leaves_it_out_of_the_mix(two_sizes):
    # Haar with its photo settings (faces from 24 px) as the video path's detector.
    recognizer = EmotionRecognizer(detector=make_detector("haar", still=True), classifier=EmotionClassifier())
    mix, timeline = RollingDistribution(), Timeline()
    for i in range(6):
        result = recognizer.analyze(two_sizes, timestamp=i / 30)
        mix.add(result)
        timeline.add(result)
    assert len(result.faces) == 2, [f.box for f in result.faces]
    unread = [f for f in result.faces if not f.readable]
    assert len(unread) == 1 and unread[0].emotion is None and unread[0].track_id is not None
    assert mix.faces_now == 2 and mix.faces_in_window == 6  # counted as a face, not in the mix
    assert abs(sum(mix.distribution().values()) - 1) < 1e-6
    (row,) = timeline.rows()
    assert row["faces"] == 2 and abs(sum(row[name] for name in EMOTIONS) - 1) < 1e-3 and row["dominant"]

    drawn = draw_results(two_sizes, result)
    x, y, w, h = unread[0].box
    assert tuple(int(v) for v in drawn[y + h // 2, x]) == UNREAD_BGR  # its box is drawn, in grey


def test_unread_reason_names_small_faces_and_faces_cut_by_any_edge():
    assert unread_reason((100, 100, 80, 80), 640, 480) is None
    assert unread_reason((100, 100, 30, 30), 640, 480) == TOO_SMALL_NOTE
    assert unread_reason((0, 100, 80, 80), 640, 480) is None  # at the edge but whole (square)
    for box in ((0, 100, 50, 80), (590, 100, 50, 80), (100, 0, 80, 50), (100, 430, 80, 50)):
        assert unread_reason(box, 640, 480) == CUT_NOTE, box
    assert unread_reason((300, 100, 50, 80), 640, 480) is None  # narrow but inside: not cut


def _cut_scene() -> np.ndarray:
    """The astronaut's head at the left edge with 41% of her face outside the frame, and her whole
    portrait-sized face at the right."""
    scene = cv2.resize(faceless_bgr(), (640, 480), interpolation=cv2.INTER_AREA)
    head = astronaut_face(200)
    scene[140:340, 0:110] = head[:, 90:]
    scene[140:340, 400:600] = head
    return scene


def test_a_face_cut_by_the_edge_is_boxed_with_no_emotion_on_photos_and_video():
    if not detector_available("blazeface"):
        pytest.skip("blazeface (which completes edge-cut faces) not installed")
    scene = _cut_scene()
    photo = EmotionRecognizer(classifier=EmotionClassifier()).analyze_image(scene)
    cut, whole = sorted(photo.faces, key=lambda f: f.box[0])
    assert cut.box[0] == 0 and cut.note == CUT_NOTE and cut.probabilities is None and cut.to_dict()["note"] == CUT_NOTE
    assert whole.readable and whole.note is None
    video = EmotionRecognizer(classifier=EmotionClassifier())
    for i in range(6):
        result = video.analyze(scene, timestamp=i / 30)
    notes = sorted((f.box[0], f.note) for f in result.faces)
    assert notes[0] == (0, CUT_NOTE) and notes[-1][1] is None, notes
    drawn = draw_results(scene, result)
    x, y, w, h = min(result.faces, key=lambda f: f.box[0]).box
    assert tuple(int(v) for v in drawn[y + h // 2, x + w - 1]) == UNREAD_BGR  # drawn in grey
