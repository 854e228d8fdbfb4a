"""Face tracks across frames: stable ids by box overlap, probabilities smoothed over time."""

from __future__ import annotations

from dataclasses import dataclass

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

    def smooth(self, probabilities: np.ndarray, smoothing: float) -> None:
        """EMA: keep `smoothing` of the old estimate, take the rest from the new one."""
        if self.probabilities is None:
            self.probabilities = probabilities.astype(np.float32, copy=True)
        else:
            self.probabilities = smoothing * self.probabilities + (1.0 - smoothing) * probabilities


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

    def expire(self, timestamp: float) -> None:
        """Drop tracks unseen for longer than `timeout_s` (or stamped in the future: a clock jump)."""
        self.tracks = [t for t in self.tracks if 0.0 <= timestamp - t.last_seen <= self.timeout_s]
