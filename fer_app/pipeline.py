"""EmotionRecognizer: one frame in, labelled faces out. Used by the app, the CLI and the benchmarks.

frame (BGR) -> grey -> detect (full, or near known faces) -> crop_face -> classify (one batch)
            -> track ids + EMA smoothing -> FrameResult
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fer_app import preprocess
from fer_app.classify import EmotionClassifier
from fer_app.detect import Box, FaceDetector, iou, make_detector
from fer_app.labels import EMOTIONS
from fer_app.track import FaceTracker, Track

# Faces with a side under this many frame pixels are boxed but not read: the classifier loses 4.6
# points of validation accuracy at 32 px, 12 at 24 px and 29 at 16 px (docs/detectors.md, "Small
# faces"), so below 32 px a label would be a guess presented as a reading.
MIN_READABLE_FACE = 32
TOO_SMALL_NOTE = f"too small to read (under {MIN_READABLE_FACE} px)"
# A face cut by the frame's edge has a clipped box, so the crop holds part of a face stretched to the
# classifier's square. FER2013 validation faces with a side cut off and stretched back: 5.3 points lost
# with a fifth cut away, 13 with 30%, 22 with 40% (docs/detectors.md, "Faces the classifier was not trained for"); a box at
# the edge narrower than 0.8 of its length is not read.
MIN_CUT_ASPECT = 0.8
CUT_NOTE = "cut by the frame's edge: not read"
SHORT_NOTES = {TOO_SMALL_NOTE: "too small", CUT_NOTE: "cut off"}  # for labels drawn on the picture


def readable_size(box: Box) -> bool:
    return min(box[2], box[3]) >= MIN_READABLE_FACE


def unread_reason(box: Box, width: int, height: int) -> str | None:
    """Why a face boxed at `box` in a `width` x `height` frame is not read (a note), or None."""
    x, y, w, h = box
    if not readable_size(box):
        return TOO_SMALL_NOTE
    at_edge = x <= 0 or y <= 0 or x + w >= width or y + h >= height
    if at_edge and min(w, h) < MIN_CUT_ASPECT * max(w, h):
        return CUT_NOTE
    return None


@dataclass
class Face:
    box: Box  # (x, y, w, h) in the analysed frame's pixels
    # (7,) in FER2013 order (labels.EMOTIONS), smoothed on the video path; None: not read (see `note`)
    probabilities: np.ndarray | None
    track_id: int | None = None  # stable across frames on the video/live path; None for stills
    note: str | None = None  # why it is not read (TOO_SMALL_NOTE, CUT_NOTE); None when read

    @property
    def readable(self) -> bool:
        return self.probabilities is not None

    @property
    def unread_note(self) -> str:
        """Why a face is not read (a face built without a note is one too small)."""
        return self.note or TOO_SMALL_NOTE

    @property
    def short_note(self) -> str:
        """A word or two for a face not read, to draw on the picture."""
        return SHORT_NOTES.get(self.unread_note, "not read")

    @property
    def emotion(self) -> str | None:
        return None if self.probabilities is None else EMOTIONS[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float | None:
        return None if self.probabilities is None else float(np.max(self.probabilities))

    def to_dict(self) -> dict:
        """Every face has the same keys; a face not read (too small, or cut by the frame's edge) has
        null emotion, confidence and probabilities, and a `note` saying why."""
        d = {
            "box": [int(v) for v in self.box],
            "emotion": self.emotion,
            "confidence": None if self.probabilities is None else round(self.confidence, 4),
            "probabilities": None
            if self.probabilities is None
            else {name: round(float(p), 4) for name, p in zip(EMOTIONS, self.probabilities)},
        }
        if self.probabilities is None:
            d["note"] = self.unread_note
        if self.track_id is not None:
            d["track_id"] = int(self.track_id)
        return d


@dataclass
class FrameResult:
    faces: list[Face]
    timestamp: float  # seconds: the frame time on the video path, time.monotonic() live if none given
    width: int
    height: int
    detected: bool = True  # False when faces were only followed near their last boxes

    def to_dict(self) -> dict:
        return {
            "timestamp": round(float(self.timestamp), 4),
            "width": self.width,
            "height": self.height,
            "detected": self.detected,
            "faces": [f.to_dict() for f in self.faces],
        }


def default_live_detector(name: str | None = None) -> FaceDetector:
    """The detector for video and live frames (chosen by measurement: benchmarks/RESULTS.md)."""
    return make_detector(name, still=False)


def default_still_detector(name: str | None = None) -> FaceDetector:
    """Photos are analysed once, so they get a finer, slower search (benchmarks/RESULTS.md)."""
    return make_detector(name, still=True)


class EmotionRecognizer:
    """Detects, classifies and (on the video path) tracks faces.

    `analyze(frame, timestamp)` is for consecutive frames of one video or
    camera: a full detection every `detect_every` frames; in between, each
    known face is followed by matching its template near where its motion
    predicts it (a Haar search around it when that fails). Probabilities are
    smoothed per track (`smoothing` is the weight kept from the past, 0 = no
    smoothing) and each face is re-classified every `classify_every` frames
    (staggered, so a frame classifies about 1/classify_every of its faces).
    `timestamp` is in seconds (frame time for videos); None uses the clock.
    `analyze_image(image)` is for stills: a full, finer detection, no
    tracking, no smoothing. `reset()` forgets all tracks (a new video).

    Run-time settings (safe to change between calls): the attributes
    `smoothing`, `detect_every`, `classify_every`, and the detectors'
    `min_neighbors` / `min_face` / `scale_factor`; `configure(...)` sets any
    of them on both detectors at once.

    One recognizer per stream: `analyze` keeps per-stream state and is not
    meant to be called from two threads at once (the classifier inside may be
    shared between recognizers).
    """

    def __init__(
        self,
        detector: FaceDetector | None = None,
        classifier: EmotionClassifier | None = None,
        smoothing: float = 0.6,
        detect_every: int = 5,
        classify_every: int = 2,
        track_timeout: float = 0.7,
        still_detector: FaceDetector | None = None,
        margin: float | None = None,
        max_hold: int = 2,
    ):
        self.detector = detector or default_live_detector()
        self.still_detector = still_detector or (detector if detector is not None else default_still_detector())
        self.classifier = classifier or EmotionClassifier()
        self.smoothing = smoothing
        self.detect_every = detect_every
        self.classify_every = classify_every
        self.margin = margin  # None: the detector's measured margin (preprocess.FACE_MARGIN for Haar)
        self.max_hold = max_hold  # frames a face that could not be followed is still reported
        self.tracker = FaceTracker(timeout_s=track_timeout)
        self._frame_index = 0
        self._frame_size: tuple[int, int] | None = None

    def configure(self, **settings) -> None:
        """Change settings at run time: detector (a name: both detectors are replaced by that kind),
        smoothing, detect_every, classify_every, track_timeout, min_neighbors, min_face, scale_factor
        (the last three on both detectors, where they have them)."""
        name = settings.pop("detector", None)
        if name is not None and name != getattr(self.detector, "name", None):
            self.detector = make_detector(name, still=False)
            self.still_detector = make_detector(name, still=True)
        for name, value in settings.items():
            if value is None:
                continue
            if name in ("smoothing", "detect_every", "classify_every"):
                setattr(self, name, value)
            elif name == "track_timeout":
                self.tracker.timeout_s = value
            elif name in ("min_neighbors", "min_face", "scale_factor"):
                for det in {
                    id(self.detector): self.detector,
                    id(self.still_detector): self.still_detector,
                }.values():
                    if hasattr(det, name):
                        setattr(det, name, value)
            else:
                raise TypeError(f"unknown setting: {name}")

    def reset(self) -> None:
        self.tracker.reset()
        self._frame_index = 0
        self._frame_size = None

    def analyze_image(self, image_bgr: np.ndarray) -> FrameResult:
        grey = preprocess.to_grey(image_bgr)
        boxes = sorted(self.still_detector.detect(grey), key=lambda b: (b[0], b[1]))
        notes = [unread_reason(b, grey.shape[1], grey.shape[0]) for b in boxes]
        read = [i for i, note in enumerate(notes) if note is None]
        probs: list[np.ndarray | None] = [None] * len(boxes)
        for i, p in zip(read, self._classify(grey, [boxes[i] for i in read], self.still_detector)):
            probs[i] = p
        faces = [Face(box=b, probabilities=p, note=note) for b, p, note in zip(boxes, probs, notes)]
        return FrameResult(
            faces=faces,
            timestamp=0.0,
            width=grey.shape[1],
            height=grey.shape[0],
            detected=True,
        )

    def detection_due(self, frame_index: int) -> bool:
        """Whether `analyze` runs a full detection on the `frame_index`-th frame since `reset()`
        (frames of one size; a change of size forces one too)."""
        return self.detect_every <= 1 or frame_index % self.detect_every == 0

    def analyze(
        self,
        frame_bgr: np.ndarray,
        timestamp: float | None = None,
        boxes: list[Box] | None = None,
    ) -> FrameResult:
        """`boxes`: a full detection of this very frame made elsewhere (the video path detects a few
        frames ahead in another thread); it makes this a full-detection frame and is used as is."""
        t = time.monotonic() if timestamp is None else float(timestamp)
        grey = preprocess.to_grey(frame_bgr)
        tracker = self.tracker
        tracker.expire(t)
        full = boxes is not None or self.detection_due(self._frame_index)
        size = (grey.shape[1], grey.shape[0])
        if self._frame_size is not None and size != self._frame_size:
            # The stream changed resolution (WebRTC adapts it to the bandwidth): keep the faces,
            # in the new frame's coordinates, and look for them afresh.
            tracker.rescale(size[0] / self._frame_size[0], size[1] / self._frame_size[1])
            full = True
        self._frame_size = size

        found: list[tuple[Track, Box]] = []
        if full:
            if boxes is None:
                boxes = self.detector.detect(grey)
            matched = tracker.match(boxes, t)
            seen = set()
            for box, track in zip(boxes, matched):
                track = track or tracker.start(box, t)
                seen.add(track.id)
                track.unconfirmed = 0
                track.remember_appearance(grey, box)
                found.append((track, box))
            for track in tracker.tracks:
                if track.id not in seen:
                    track.unconfirmed += 1
                    # Missed by this detection only: keep following it by its template, so that one
                    # miss does not make a visible face blink out until the next full detection.
                    if track.unconfirmed < 3:
                        box = track.follow(grey, t)
                        if box is not None:
                            found.append((track, box))
            found = _drop_duplicates(found)
            # A face no full detection has found three times running is dropped (a false positive
            # kept alive by the near search, or a face turned away).
            tracker.tracks = [tr for tr in tracker.tracks if tr.unconfirmed < 3]
        else:
            search_near = getattr(self.detector, "detect_near", None)
            for track in tracker.tracks:
                box = track.follow(grey, t)  # cheap: template matching near the predicted box
                if box is None and search_near is not None:
                    # Lost by the template (turned, changed size): a small Haar search around it.
                    box = search_near(grey, track.predicted(t))
                    if box is not None:
                        track.remember_appearance(grey, box)
                if box is not None:
                    found.append((track, box))
            found = _drop_duplicates(found)

        for track, box in found:
            track.moved_to(box, t)
        found_ids = {track.id for track, _ in found}
        for track in tracker.tracks:
            if track.id not in found_ids:
                track.misses += 1
            track.age += 1

        unread = {tr.id: unread_reason(tr.box, grey.shape[1], grey.shape[0]) for tr in tracker.tracks}
        due = [tr for tr, _ in found if unread[tr.id] is None and self._classification_due(tr)]
        for track, p in zip(due, self._classify(grey, [tr.box for tr in due], self.detector)):
            track.smooth(p, self.smoothing)
            track.last_classified = self._frame_index

        # A face too small or cut by the edge is shown unread, even if it was read before.
        shown = [tr for tr in tracker.tracks if (tr.probabilities is not None or unread[tr.id]) and tr.misses <= self.max_hold]
        faces = [
            Face(
                box=tr.box,
                probabilities=None if unread[tr.id] else tr.probabilities.copy(),
                track_id=tr.id,
                note=unread[tr.id],
            )
            for tr in sorted(shown, key=lambda tr: tr.id)
        ]
        self._frame_index += 1
        return FrameResult(
            faces=faces,
            timestamp=t,
            width=grey.shape[1],
            height=grey.shape[0],
            detected=full,
        )

    def _classification_due(self, track: Track) -> bool:
        every = max(1, int(self.classify_every))
        if track.probabilities is None or every == 1:
            return True
        if self._frame_index - track.last_classified >= 2 * every:
            return True  # it missed its turns while hidden
        # Staggered by id, so that each frame classifies about 1/every of the faces.
        return (self._frame_index + track.id) % every == 0

    def _classify(self, grey: np.ndarray, boxes: list[Box], detector: FaceDetector) -> np.ndarray:
        if not boxes:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        margin = self.margin
        if margin is None:  # the margin measured for the detector that drew these boxes
            margin = getattr(detector, "margin", None)
        if margin is None:
            margin = preprocess.FACE_MARGIN
        crops = np.stack([preprocess.crop_face(grey, b, margin=margin) for b in boxes])
        return self.classifier.predict(crops)


def _drop_duplicates(found: list[tuple[Track, Box]]) -> list[tuple[Track, Box]]:
    """When two tracks converge on one face, the older track keeps it."""
    kept: list[tuple[Track, Box]] = []
    for track, box in sorted(found, key=lambda f: f[0].id):
        if all(iou(box, other) < 0.5 for _, other in kept):
            kept.append((track, box))
    return kept
