"""Detection, tracking and EmotionRecognizer on real photos and FER2013 faces composed into scenes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from engine_helpers import (
    astronaut_bgr,
    astronaut_face,
    detectable_fer_faces,
    faceless_bgr,
    needs_fer2013,
    on_face,
    scene_with_faces,
)

from fer_app import preprocess
from fer_app.classify import EmotionClassifier
from fer_app.detect import HaarDetector, iou
from fer_app.labels import EMOTIONS
from fer_app.pipeline import EmotionRecognizer, Face, FrameResult
from fer_app.track import FaceTracker

ASTRONAUT_FACE = (174, 65, 99, 99)  # where the cascade puts Eileen Collins' face, give or take


@pytest.fixture(scope="module")
def classifier():
    return EmotionClassifier()


@pytest.fixture
def recognizer(classifier):
    return EmotionRecognizer(classifier=classifier)


def moving_face_frames(count: int, size=(480, 320), face_px: int = 140, step: int = 6):
    """Frames of the astronaut's face sliding right over the coffee photo, and the pasted boxes."""
    width, height = size
    face = astronaut_face(face_px)
    background = cv2.resize(faceless_bgr(), size, interpolation=cv2.INTER_AREA)
    frames, boxes = [], []
    for i in range(count):
        frame = background.copy()
        x, y = 10 + step * i, (height - face_px) // 2
        frame[y : y + face_px, x : x + face_px] = face
        frames.append(frame)
        boxes.append((x, y, face_px, face_px))
    return frames, boxes


def _inside(box, region) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return region[0] <= cx <= region[0] + region[2] and region[1] <= cy <= region[1] + region[3]


# --- detection -------------------------------------------------------------------------------------


def test_haar_finds_the_astronaut_in_frame_coordinates():
    grey = preprocess.to_grey(astronaut_bgr())
    for width in (0, 320, 480):  # downscaled detection maps boxes back to the frame's pixels
        boxes = HaarDetector(detect_width=width).detect(grey)
        assert len(boxes) == 1
        assert iou(boxes[0], ASTRONAUT_FACE) > 0.6


def test_haar_finds_no_face_in_a_photo_of_coffee():
    assert HaarDetector().detect(preprocess.to_grey(faceless_bgr())) == []


def test_min_face_and_sensitivity_are_respected():
    grey = preprocess.to_grey(astronaut_bgr())
    assert HaarDetector(min_face=200, detect_width=0).detect(grey) == []
    assert len(HaarDetector(min_neighbors=3).detect(grey)) >= 1


def test_a_cloned_detector_finds_the_same_faces_with_its_own_cascade():
    detector = HaarDetector(min_neighbors=4, min_face=60)
    clone = detector.clone()
    assert (clone.min_neighbors, clone.min_face) == (4, 60) and clone._cascade is not detector._cascade
    grey = preprocess.to_grey(astronaut_bgr())
    assert clone.detect(grey) == detector.detect(grey)


def test_boxes_detected_elsewhere_make_a_full_detection_frame(recognizer):
    frames, boxes = moving_face_frames(3, step=6)
    recognizer.analyze(frames[0], timestamp=0.0)
    given = HaarDetector(detect_width=0).detect(preprocess.to_grey(frames[1]))
    result = recognizer.analyze(frames[1], timestamp=1 / 15, boxes=given)
    assert result.detected and [f.box for f in result.faces] == given
    assert [f.track_id for f in result.faces] == [1]
    assert [recognizer.detection_due(i) for i in range(6)] == [True, False, False, False, False, True]


def test_detect_near_follows_a_face_that_moved():
    frames, boxes = moving_face_frames(2, step=15)
    detector = HaarDetector(detect_width=0)
    first = detector.detect(preprocess.to_grey(frames[0]))
    assert len(first) == 1
    followed = detector.detect_near(preprocess.to_grey(frames[1]), first[0])
    assert followed is not None
    assert _inside(followed, boxes[1])
    assert followed[0] > first[0][0] + 8  # it moved with the face
    assert detector.detect_near(preprocess.to_grey(faceless_bgr()), first[0]) is None


def test_a_track_follows_its_face_by_template_and_lets_go_when_it_is_gone():
    frames, boxes = moving_face_frames(2, step=12)
    grey0, grey1 = preprocess.to_grey(frames[0]), preprocess.to_grey(frames[1])
    (box,) = HaarDetector(detect_width=0).detect(grey0)
    track = FaceTracker().start(box, 0.0)
    assert track.follow(grey1, 0.1) is None  # nothing to match before the face was seen
    track.remember_appearance(grey0, box)
    followed = track.follow(grey1, 0.1)
    assert followed is not None and followed[2:] == box[2:]
    assert abs(followed[0] - (box[0] + 12)) <= 4 and abs(followed[1] - box[1]) <= 4
    assert track.follow(preprocess.to_grey(cv2.resize(faceless_bgr(), (480, 320))), 0.1) is None


@needs_fer2013()
def test_fer2013_faces_in_a_scene_are_all_found():
    faces = [f for f, _ in detectable_fer_faces(4)]
    img, placed = scene_with_faces(faces, face_px=110)
    boxes = EmotionRecognizer().still_detector.detect(preprocess.to_grey(img))
    assert sum(any(on_face(b, p) for b in boxes) for p in placed) == 4
    assert len(boxes) == 4


# --- tracker ----------------------------------------------------------------------------------------


def test_tracker_matches_by_overlap_and_then_by_centre():
    tracker = FaceTracker()
    a = tracker.start((100, 100, 50, 50), 0.0)
    b = tracker.start((300, 100, 50, 50), 0.0)
    # b moved far (no overlap, but within 0.6 of its side), a moved a little; a new face appears.
    matched = tracker.match([(320, 110, 50, 50), (105, 98, 50, 50), (500, 400, 40, 40)])
    assert matched == [b, a, None]


def test_tracker_expires_tracks_after_the_timeout():
    tracker = FaceTracker(timeout_s=0.5)
    track = tracker.start((0, 0, 10, 10), 1.0)
    tracker.expire(1.4)
    assert tracker.tracks == [track]
    tracker.expire(1.6)
    assert tracker.tracks == []


# --- recognizer: stills -----------------------------------------------------------------------------


def test_analyze_image_labels_the_astronaut(recognizer):
    result = recognizer.analyze_image(astronaut_bgr())
    assert (result.width, result.height) == (512, 512)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert iou(face.box, ASTRONAUT_FACE) > 0.6
    assert face.track_id is None
    assert face.probabilities.shape == (7,)
    assert abs(float(face.probabilities.sum()) - 1.0) < 1e-4
    d = face.to_dict()
    assert set(d) == {"box", "emotion", "confidence", "probabilities"}
    assert d["emotion"] in EMOTIONS and list(d["probabilities"]) == list(EMOTIONS)
    assert d["confidence"] == pytest.approx(max(d["probabilities"].values()), abs=1e-4)
    assert result.to_dict()["faces"] == [d]


def test_analyze_image_classifies_the_crop_preprocess_defines(recognizer, classifier):
    image = astronaut_bgr()
    face = recognizer.analyze_image(image).faces[0]
    margin = recognizer.still_detector.margin  # each detector carries the margin measured for its boxes
    crop = preprocess.crop_face(preprocess.to_grey(image), face.box, margin=preprocess.FACE_MARGIN if margin is None else margin)
    np.testing.assert_allclose(face.probabilities, classifier.predict(crop[None])[0], atol=1e-6)


def test_analyze_image_without_faces_is_empty_not_an_error(recognizer):
    result = recognizer.analyze_image(faceless_bgr())
    assert result.faces == [] and result.to_dict()["faces"] == []


def test_grey_and_bgra_frames_are_accepted(recognizer):
    grey = preprocess.to_grey(astronaut_bgr())
    bgra = cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2BGRA)
    assert len(recognizer.analyze_image(grey).faces) == 1
    assert len(recognizer.analyze_image(bgra).faces) == 1


@needs_fer2013()
def test_the_model_reads_fer2013_faces_found_in_scenes_better_than_chance(classifier):
    """End to end through the detector: the shipped model must be a trained one."""
    recognizer = EmotionRecognizer(classifier=classifier)
    samples = detectable_fer_faces(64, seed=3)
    correct = total = 0
    for start in range(0, len(samples), 4):
        chunk = samples[start : start + 4]
        img, placed = scene_with_faces([f for f, _ in chunk], face_px=110)
        faces = recognizer.analyze_image(img).faces
        for (_, label), where in zip(chunk, placed):
            match = [f for f in faces if iou(f.box, where) > 0.4]
            if match:
                total += 1
                correct += match[0].emotion == label
    assert total >= 56
    assert correct / total > 0.4  # chance is 1/7; the trained model scores about 0.65 on FER2013 val


# --- recognizer: video / live -----------------------------------------------------------------------


def test_a_moving_face_keeps_its_track_id(recognizer):
    frames, boxes = moving_face_frames(30)
    ids, followed = set(), 0
    for i, (frame, truth) in enumerate(zip(frames, boxes)):
        result = recognizer.analyze(frame, timestamp=i / 15)
        assert result.detected == (i % recognizer.detect_every == 0)
        assert len(result.faces) <= 1
        for face in result.faces:
            ids.add(face.track_id)
            followed += 1
            assert _inside(face.box, truth)
    assert ids == {1}
    assert followed >= 28
    assert recognizer.analyze(frames[0], timestamp=2.1).faces[0].to_dict()["track_id"] == 1


def test_any_face_detector_will_do(classifier):
    """The FaceDetector protocol is just detect(grey): without detect_near, faces are followed by template only."""

    class WrappedHaar:
        def __init__(self):
            self.haar = HaarDetector()
            self.calls = 0

        def detect(self, grey):
            self.calls += 1
            return self.haar.detect(grey)

    detector = WrappedHaar()
    recognizer = EmotionRecognizer(detector=detector, classifier=classifier)
    frames, boxes = moving_face_frames(10)
    ids = [f.track_id for i, frame in enumerate(frames) for f in recognizer.analyze(frame, timestamp=i / 15).faces]
    assert ids == [1] * 10
    assert detector.calls == 2  # frames 0 and 5
    assert len(recognizer.analyze_image(astronaut_bgr()).faces) == 1  # stills use it too
    assert detector.calls == 3


def test_a_face_gone_longer_than_the_timeout_comes_back_with_a_new_id(recognizer):
    frames, _ = moving_face_frames(3, step=2)
    empty = cv2.resize(faceless_bgr(), (480, 320))
    t, ids = 0.0, []
    for frame in frames + [empty] * 20 + frames:  # 20 empty frames = 1.3 s at 15 fps
        result = recognizer.analyze(frame, timestamp=t)
        ids += [f.track_id for f in result.faces]
        t += 1 / 15
    assert ids[0] == 1 and ids[-1] == 2


def test_smoothing_is_an_exponential_moving_average(classifier):
    frames, _ = moving_face_frames(12, step=8)
    raw = EmotionRecognizer(classifier=classifier, smoothing=0.0, detect_every=1, classify_every=1)
    smooth = EmotionRecognizer(classifier=classifier, smoothing=0.6, detect_every=1, classify_every=1)
    expected = None
    for i, frame in enumerate(frames):
        r, s = raw.analyze(frame, timestamp=i / 15), smooth.analyze(frame, timestamp=i / 15)
        assert [f.box for f in r.faces] == [f.box for f in s.faces]
        p = r.faces[0].probabilities
        expected = p if expected is None else 0.6 * expected + 0.4 * p
        np.testing.assert_allclose(s.faces[0].probabilities, expected, atol=1e-5)


def test_classify_every_reuses_smoothed_probabilities_between_classifications(classifier):
    frames, _ = moving_face_frames(6, step=4)
    rec = EmotionRecognizer(classifier=classifier, classify_every=3, smoothing=0.5)
    probs = [rec.analyze(f, timestamp=i / 15).faces[0].probabilities for i, f in enumerate(frames)]
    changes = sum(not np.allclose(a, b) for a, b in zip(probs, probs[1:]))
    assert changes <= 2  # re-classified on every third frame, not on each one


def test_configure_changes_settings_on_both_detectors(recognizer):
    recognizer.configure(min_neighbors=9, min_face=80, smoothing=0.2, detect_every=3)
    assert recognizer.detector.min_neighbors == 9 and recognizer.still_detector.min_neighbors == 9
    assert recognizer.detector.min_face == 80 and recognizer.still_detector.min_face == 80
    assert (recognizer.smoothing, recognizer.detect_every) == (0.2, 3)
    with pytest.raises(TypeError):
        recognizer.configure(colour="blue")


def test_a_change_of_resolution_keeps_the_faces_and_their_ids(recognizer):
    frames, boxes = moving_face_frames(6, step=3)
    for i, frame in enumerate(frames[:3]):
        assert [f.track_id for f in recognizer.analyze(frame, timestamp=i / 15).faces] == [1]
    # The stream drops to half resolution, as WebRTC does when bandwidth falls.
    small = cv2.resize(frames[3], (240, 160), interpolation=cv2.INTER_AREA)
    result = recognizer.analyze(small, timestamp=3 / 15)
    assert result.detected and (result.width, result.height) == (240, 160)
    (face,) = result.faces
    half = tuple(v // 2 for v in boxes[3])
    assert face.track_id == 1 and _inside(face.box, half)


def test_reset_forgets_tracks(recognizer):
    frames, _ = moving_face_frames(2)
    recognizer.analyze(frames[0], timestamp=0.0)
    recognizer.reset()
    assert recognizer.tracker.tracks == []
    assert recognizer.analyze(frames[1], timestamp=0.1).faces[0].track_id == 1


def test_frame_result_to_dict_round_trips_through_json(recognizer):
    import json

    result = recognizer.analyze(astronaut_bgr(), timestamp=1.25)
    d = json.loads(json.dumps(result.to_dict()))
    assert d["timestamp"] == 1.25 and d["detected"] is True and (d["width"], d["height"]) == (512, 512)
    assert d["faces"][0]["track_id"] == 1
    assert isinstance(FrameResult(faces=[], timestamp=0, width=1, height=1).to_dict()["faces"], list)
    assert Face(box=(1, 2, 3, 4), probabilities=np.eye(7)[3]).emotion == "happy"
