"""Face tracks across frames: stable ids by box overlap, cheap following by template, smoothed probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer_app.detect import Box, iou


@dataclass
class Track:
    """One face followed over time. `probabilities` is the smoothed (EMA) estimate."""

    id: int
    box: Box
    probabilities: np.ndarray | None = None
    last_seen: float = 0.0
    misses: int = 0  # consecutive frames in which the face was not found
    age: int = 0  # frames since the track began
    last_classified: int = -1  # the tracker's frame number of the last classification
    unconfirmed: int = 0  # full detections in a row that did not find this face
    velocity: tuple[float, float] = (0.0, 0.0)  # of the box centre, pixels per second
    template: np.ndarray | None = None  # the face as last found by the detector, TEMPLATE_SIDE px square

    def predicted(self, timestamp: float) -> Box:
        """Where the box should be at `timestamp` if the face keeps moving as it did (at most 0.5 s ahead)."""
        dt = min(max(0.0, timestamp - self.last_seen), 0.5)
        x, y, w, h = self.box
        return (round(x + self.velocity[0] * dt), round(y + self.velocity[1] * dt), w, h)

    def moved_to(self, box: Box, timestamp: float) -> None:
        """The face was found at `box`: update the position and the velocity estimate."""
        dt = timestamp - self.last_seen
        if 0.0 < dt <= 0.5:
            vx = (box[0] + box[2] / 2 - self.box[0] - self.box[2] / 2) / dt
            vy = (box[1] + box[3] / 2 - self.box[1] - self.box[3] / 2) / dt
            self.velocity = (0.5 * self.velocity[0] + 0.5 * vx, 0.5 * self.velocity[1] + 0.5 * vy)
        elif dt > 0.5:
            self.velocity = (0.0, 0.0)
        self.box, self.last_seen, self.misses = box, timestamp, 0

    def remember_appearance(self, grey: np.ndarray, box: Box) -> None:
        """Keep the detector-found face as the template that `follow` looks for."""
        patch = _region(grey, box)
        if patch is not None:
            self.template = cv2.resize(patch, (TEMPLATE_SIDE, TEMPLATE_SIDE), interpolation=cv2.INTER_AREA)

    def follow(self, grey: np.ndarray, timestamp: float, search: float = 2.0, min_score: float = 0.6) -> Box | None:
        """The face's box in a new frame, found by matching its template near the predicted box.

        About a tenth of a millisecond, where a Haar search costs over one. Returns
        None when the best match scores below `min_score` (normalised
        correlation): the face turned, was covered or left. The box keeps its
        size; the next full detection corrects size and drift.
        """
        if self.template is None:
            return None
        x, y, w, h = self.predicted(timestamp)
        side = max(w, h)
        scale = TEMPLATE_SIDE / side
        pad = side * (search - 1.0) / 2.0
        height, width = grey.shape[:2]
        x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
        x1, y1 = min(width, int(x + side + pad)), min(height, int(y + side + pad))
        if x1 - x0 < side or y1 - y0 < side:
            return None
        size = (max(TEMPLATE_SIDE, round((x1 - x0) * scale)), max(TEMPLATE_SIDE, round((y1 - y0) * scale)))
        region = cv2.resize(grey[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        scores = cv2.matchTemplate(region, self.template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        if not best >= min_score:  # also rejects NaN from a flat region
            return None
        return (round(x0 + bx / scale), round(y0 + by / scale), w, h)

    def smooth(self, probabilities: np.ndarray, smoothing: float) -> None:
        """EMA: keep `smoothing` of the old estimate, take the rest from the new one."""
        if self.probabilities is None:
            self.probabilities = probabilities.astype(np.float32, copy=True)
        else:
            self.probabilities = smoothing * self.probabilities + (1.0 - smoothing) * probabilities


TEMPLATE_SIDE = 24


def _region(grey: np.ndarray, box: Box) -> np.ndarray | None:
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(grey.shape[1], x + w), min(grey.shape[0], y + h)
    if x1 - x0 < w // 2 or y1 - y0 < h // 2:
        return None
    return grey[y0:y1, x0:x1]


class FaceTracker:
    """Matches boxes to existing tracks (greedy IoU, then centre distance) and expires stale ones.

    A track ends when it has not been seen for `timeout_s` seconds of frame
    time. Ids count up from 1 and are never reused within a tracker's life
    (until `reset`).
    """

    def __init__(
        self,
        timeout_s: float = 0.7,
        min_iou: float = 0.2,
        max_centre_shift: float = 0.6,
    ):
        self.timeout_s = timeout_s
        self.min_iou = min_iou
        self.max_centre_shift = max_centre_shift  # as a fraction of the track's box side
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self.tracks = []
        self._next_id = 1

    def match(self, boxes: list[Box], timestamp: float | None = None) -> list[Track | None]:
        """The existing track for each box (or None), each track used at most once.

        With a timestamp, boxes are compared with where each track is predicted to be by then.
        """
        pairs = []
        for ti, track in enumerate(self.tracks):
            expected = track.box if timestamp is None else track.predicted(timestamp)
            side = max(expected[2], expected[3])
            tcx, tcy = expected[0] + expected[2] / 2, expected[1] + expected[3] / 2
            for bi, box in enumerate(boxes):
                overlap = iou(expected, box)
                shift = np.hypot(box[0] + box[2] / 2 - tcx, box[1] + box[3] / 2 - tcy) / max(side, 1)
                if overlap >= self.min_iou or shift <= self.max_centre_shift:
                    # Prefer overlap; centre distance breaks ties and rescues fast movers.
                    pairs.append((-overlap, shift, ti, bi))
        pairs.sort()
        taken_tracks: set[int] = set()
        result: list[Track | None] = [None] * len(boxes)
        for _, _, ti, bi in pairs:
            if ti in taken_tracks or result[bi] is not None:
                continue
            taken_tracks.add(ti)
            result[bi] = self.tracks[ti]
        return result

    def start(self, box: Box, timestamp: float) -> Track:
        track = Track(id=self._next_id, box=box, last_seen=timestamp)
        self._next_id += 1
        self.tracks.append(track)
        return track

    def rescale(self, fx: float, fy: float) -> None:
        """The frames were resized by (fx, fy): move every track's box and motion along."""
        for track in self.tracks:
            x, y, w, h = track.box
            track.box = (round(x * fx), round(y * fy), max(1, round(w * fx)), max(1, round(h * fy)))
            track.velocity = (track.velocity[0] * fx, track.velocity[1] * fy)

    def expire(self, timestamp: float) -> None:
        """Drop tracks unseen for longer than `timeout_s` (or stamped in the future: a clock jump)."""
        self.tracks = [t for t in self.tracks if 0.0 <= timestamp - t.last_seen <= self.timeout_s]
