"""Aggregates over FrameResults: the rolling emotion mix and a per-second timeline (CSV / JSON).

Both weigh every face in every frame equally and use the (smoothed)
probabilities, not only the top label, so a face that is 55% happy and 45%
neutral counts as such. Faces not read (too small, cut by the edge) count as faces, not in the mix. Neither is thread-safe: callers that share one
across threads hold a lock around `add` and the readers (each call is cheap).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import deque

import numpy as np

from fer_app.labels import EMOTIONS, NUM_CLASSES


class RollingDistribution:
    """The mean emotion probabilities over faces seen in the last `window_s` seconds."""

    def __init__(self, window_s: float = 10.0):
        self.window_s = window_s
        self._frames: deque[tuple[float, int, np.ndarray]] = deque()
        self._sum = np.zeros(NUM_CLASSES, dtype=np.float64)
        self._count = 0
        self.faces_now = 0

    def add(self, result) -> None:
        probs = np.zeros(NUM_CLASSES, dtype=np.float64)
        read = [face for face in result.faces if face.readable]
        for face in read:
            probs += face.probabilities
        n = len(read)
        self.faces_now = len(result.faces)
        self._frames.append((result.timestamp, n, probs))
        self._sum += probs
        self._count += n
        self._trim(result.timestamp)

    def _trim(self, now: float) -> None:
        while self._frames and (now - self._frames[0][0] > self.window_s or self._frames[0][0] > now):
            _, n, probs = self._frames.popleft()
            self._sum -= probs
            self._count -= n
        if self._count == 0:
            self._sum[:] = 0.0  # no drift from long sessions of subtractions

    def distribution(self) -> dict[str, float]:
        """{emotion: share} summing to 1, or all zeros when no face was seen in the window."""
        if self._count <= 0:
            return {name: 0.0 for name in EMOTIONS}
        shares = np.clip(self._sum / self._count, 0.0, None)
        shares = shares / max(shares.sum(), 1e-12)
        return {name: float(v) for name, v in zip(EMOTIONS, shares)}

    @property
    def faces_in_window(self) -> int:
        """Face observations (faces x frames) in the window."""
        return self._count

    def reset(self) -> None:
        self._frames.clear()
        self._sum[:] = 0.0
        self._count = 0
        self.faces_now = 0


class _Second:
    __slots__ = ("frames", "max_faces", "observations", "sum")

    def __init__(self):
        self.frames = 0
        self.max_faces = 0
        self.observations = 0
        self.sum = np.zeros(NUM_CLASSES, dtype=np.float64)


class Timeline:
    """One row per second of frame time that had frames.

    A row: `second` (whole seconds since `start`, default the first frame's
    timestamp), `frames`, `faces` (most faces in one frame of that second),
    the mean probability per emotion over all faces of that second (empty
    when there were none) and the `dominant` emotion ("" when none).
    """

    def __init__(self, start: float | None = None):
        self.start = start
        self._seconds: dict[int, _Second] = {}

    def add(self, result) -> None:
        if self.start is None:
            self.start = result.timestamp
        second = math.floor(result.timestamp - self.start + 1e-9)
        bucket = self._seconds.get(second)
        if bucket is None:
            bucket = self._seconds[second] = _Second()
        bucket.frames += 1
        bucket.max_faces = max(bucket.max_faces, len(result.faces))
        for face in result.faces:
            if face.readable:
                bucket.sum += face.probabilities
                bucket.observations += 1

    def rows(self) -> list[dict]:
        rows = []
        for second in sorted(self._seconds):
            bucket = self._seconds[second]
            row = {"second": second, "frames": bucket.frames, "faces": bucket.max_faces}
            if bucket.observations:
                mean = bucket.sum / bucket.observations
                row.update({name: round(float(v), 4) for name, v in zip(EMOTIONS, mean)})
                row["dominant"] = EMOTIONS[int(np.argmax(mean))]
            else:
                row.update({name: None for name in EMOTIONS})
                row["dominant"] = ""
            rows.append(row)
        return rows

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(
            out,
            fieldnames=["second", "frames", "faces", *EMOTIONS, "dominant"],
            lineterminator="\n",
        )
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        return out.getvalue()

    def to_json(self) -> str:
        return json.dumps(self.rows(), indent=1)

    def __len__(self) -> int:
        return len(self._seconds)
