"""The live webcam path: a streamlit-webrtc video processor and its thread-safe hand-off.

streamlit-webrtc calls `LiveProcessor.recv_queued` on its own worker thread with
every frame that arrived since the previous call. Only the newest is analysed,
the others are counted as dropped: when analysis is slower than the camera the
delay stays at one frame instead of growing.

The relay between the camera, the processor and the encoder is made to keep
only the newest frame too (`relay_latest_video_frames_only`), so no queue grows
when the machine is busy; and ICE consent checks may be answered late
(`tolerate_late_consent_replies`), so a busy server slows its streams down
instead of closing them.

Results cross to the page through `LiveSession`, which holds a lock around
everything both threads touch. The page (fer_app/ui/live_tab.py) reads
`LiveSession.snapshot()` a few times a second; nothing in this module calls
Streamlit, and nothing here writes to disk: the timeline lives in memory until
the browser session ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from streamlit_webrtc import VideoProcessorBase

from fer_app.draw import draw_results
from fer_app.labels import EMOTIONS
from fer_app.stats import RollingDistribution, Timeline

LOG = logging.getLogger(__name__)

# Per-frame timings kept for the statistics line (a ring buffer).
LATENCY_WINDOW = 300

# Extra sends of an ICE consent check (after 0.5 s and 1.5 s): a reply up to 3.5 s late counts.
CONSENT_RETRANSMISSIONS = 2


@dataclass(frozen=True)
class LiveSettings:
    """What the sidebar controls; read by the worker thread on every frame."""

    sensitivity: int = 5  # the detector's min_neighbors: higher finds fewer, surer faces
    min_face: int | None = None  # smallest face side, in frame pixels (None: the detector's own)
    detector: str | None = None  # a fer_app.detect name (None: the live default)
    smoothing: float = 0.6  # weight of the past in the per-face moving average (0 = none)
    show_probabilities: bool = False
    aggregate_only: bool = False  # no boxes or labels on the video; the chart only


@dataclass(frozen=True)
class LiveSnapshot:
    """A consistent copy of a session's live state, for the page to display."""

    distribution: dict[str, float]  # emotion -> share over the rolling window (sums to 1, or all 0)
    faces_now: int
    frames_processed: int
    frames_dropped: int
    fps: float  # processed frames per second over the last few seconds
    latency_ms_p50: float
    latency_ms_p95: float
    seconds_since_frame: float | None  # None before the first frame of this stream
    seconds_since_start: float | None  # None when no stream was started
    streaming: bool  # a processor is attached (between START and STOP)
    timeline_rows: int
    error: str | None


class LiveSession:
    """One browser session's live state, shared by the WebRTC worker thread and the page.

    `recognizer_factory()` builds the session's own `EmotionRecognizer` (its
    tracks and smoothing belong to this session); the classifier inside it may
    be shared between sessions.
    """

    def __init__(
        self,
        recognizer_factory: Callable[[], Any],
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._recognizer_factory = recognizer_factory
        self._recognizer = None
        self._clock = clock
        self._lock = threading.Lock()
        self._settings = LiveSettings()
        self._applied: LiveSettings | None = None
        self._distribution = RollingDistribution(window_s)
        self._timeline = Timeline()  # one row per second of stream: memory grows with length, not fps
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._frame_times: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._processed = 0
        self._dropped = 0
        self._epoch: float | None = None  # clock at the first START: timeline times count from here
        self._stream_started: float | None = None
        self._last_frame: float | None = None
        self._streaming = False
        self._error: str | None = None
        self._faces_now = 0

    # ---- the page's side -------------------------------------------------

    def update_settings(self, settings: LiveSettings) -> None:
        with self._lock:
            self._settings = settings

    @property
    def settings(self) -> LiveSettings:
        with self._lock:
            return self._settings

    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            now = self._clock()
            recent = [t for t in self._frame_times if now - t <= 3.0]
            span = (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
            fps = (len(recent) - 1) / span if span > 0 else 0.0
            lat = np.asarray(self._latencies, dtype=np.float64)
            faces_now = self._faces_now if self._streaming else 0
            distribution = self._distribution.distribution() if self._processed else {}
            return LiveSnapshot(
                distribution={e: float(distribution.get(e, 0.0)) for e in EMOTIONS},
                faces_now=faces_now,
                frames_processed=self._processed,
                frames_dropped=self._dropped,
                fps=fps,
                latency_ms_p50=float(np.percentile(lat, 50)) if lat.size else 0.0,
                latency_ms_p95=float(np.percentile(lat, 95)) if lat.size else 0.0,
                seconds_since_frame=(now - self._last_frame) if self._last_frame is not None else None,
                seconds_since_start=(now - self._stream_started) if self._stream_started is not None else None,
                streaming=self._streaming,
                timeline_rows=len(self._timeline),
                error=self._error,
            )

    def timeline_csv(self) -> str:
        with self._lock:
            return self._timeline.to_csv()

    def timeline_json(self) -> str:
        with self._lock:
            return self._timeline.to_json()

    def clear_timeline(self) -> None:
        with self._lock:
            self._timeline = Timeline()
            self._epoch = None

    # ---- the worker thread's side ----------------------------------------

    def stream_started(self) -> None:
        with self._lock:
            now = self._clock()
            self._stream_started = now
            if self._epoch is None:
                self._epoch = now
            self._last_frame = None
            self._streaming = True
            self._error = None
            self._faces_now = 0
            self._distribution.reset()
            if self._recognizer is not None:
                self._recognizer.reset()

    def stream_ended(self) -> None:
        with self._lock:
            self._streaming = False
            self._faces_now = 0

    def count_dropped(self, n: int) -> None:
        if n > 0:
            with self._lock:
                self._dropped += n

    def process(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Analyse one frame and return the annotated copy. Called on the worker thread."""
        start = self._clock()
        with self._lock:
            settings = self._settings
            epoch = self._epoch if self._epoch is not None else start
        try:
            recognizer = self._recognizer_for(settings)
            result = recognizer.analyze(frame_bgr, timestamp=start - epoch)
            annotated = draw_results(
                frame_bgr,
                result,
                show_labels=not settings.aggregate_only,
                show_probabilities=settings.show_probabilities and not settings.aggregate_only,
            )
        except Exception as e:  # noqa: BLE001 - keep the stream alive; the page shows the message
            with self._lock:
                self._error = f"{type(e).__name__}: {e}"
            return frame_bgr
        end = self._clock()
        with self._lock:
            self._processed += 1
            self._last_frame = end
            self._frame_times.append(end)
            self._latencies.append((end - start) * 1000.0)
            self._faces_now = len(result.faces)
            self._distribution.add(result)
            self._timeline.add(result)
            self._error = None
        return annotated

    def _recognizer_for(self, settings: LiveSettings):
        """The session's recognizer, with the current settings applied (only this thread calls it)."""
        if self._recognizer is None:
            self._recognizer = self._recognizer_factory()
        if settings != self._applied:
            apply_settings(self._recognizer, settings)
            self._applied = settings
        return self._recognizer


def apply_settings(recognizer: Any, settings: LiveSettings) -> None:
    """Push the sidebar's detector and smoothing settings into a recognizer."""
    recognizer.configure(
        detector=settings.detector,
        min_neighbors=int(settings.sensitivity),
        min_face=None if settings.min_face is None else int(settings.min_face),
        smoothing=float(settings.smoothing),
    )


def relay_latest_video_frames_only(relay: Any) -> None:
    """Make an aiortc MediaRelay give each video consumer the newest frame, never a backlog.

    streamlit-webrtc 0.79 connects the camera to the processor, and the
    processor to the encoder that sends video back, through `MediaRelay`
    proxies subscribed with the default `buffered=True`: unbounded queues.
    When the machine cannot encode as fast as the camera sends (two sessions
    on two cores were enough), the queue in front of the encoder grows
    without limit: ~7 MB/s of server memory and an ever longer delay. With
    `buffered=False` a proxy keeps only the latest frame, so a slow consumer
    skips frames instead. Applied once per relay (the server has one).
    """
    if getattr(relay, "_fer_latest_only", False):
        return
    subscribe = relay.subscribe

    def subscribe_latest_only(track, buffered: bool = True):
        return subscribe(track, buffered=False if getattr(track, "kind", None) == "video" else buffered)

    relay.subscribe = subscribe_latest_only
    relay._fer_latest_only = True


def tolerate_late_consent_replies(retransmissions: int = CONSENT_RETRANSMISSIONS) -> None:
    """Keep a busy server's WebRTC streams alive: let ICE consent checks be answered late.

    aioice (under aiortc) checks every ~5 s that the browser still wants the
    stream (ICE consent freshness, RFC 7675). It sends each check once and
    counts a reply that takes over 500 ms as no reply; six in a row and it
    closes the connection ("Consent to send expired"). Every stream of this
    app runs on Streamlit's one event loop. With four live sessions on two
    cores that loop fell behind the incoming video, each reply waited
    0.6-1.1 s in its socket, every check "failed", and each stream was closed
    30-40 s after it started: the page showed START again, with no error.
    RFC 7675 lets consent expire only when no reply has come for 30 s.

    Here a consent check is sent again after 0.5 s and 1.5 s (like any STUN
    request), so a reply up to 3.5 s late counts. A browser that is really
    gone still loses its stream: six checks in a row get no reply at all.
    Late replies are logged at INFO (logger fer_app.live). Applied once per
    process. In aioice 0.13 the consent check is the only STUN request sent
    with `retransmissions=0` (tests/test_live.py checks this stays so).
    """
    from aioice import ice

    request = ice.StunProtocol.request
    if getattr(request, "_fer_tolerant", False):
        return
    patience = int(retransmissions)

    async def request_tolerating_late_consent(self, message, addr, integrity_key=None, retransmissions=None):
        if retransmissions != 0:
            return await request(self, message, addr, integrity_key=integrity_key, retransmissions=retransmissions)
        started = time.monotonic()
        reply = await request(self, message, addr, integrity_key=integrity_key, retransmissions=patience)
        waited_ms = (time.monotonic() - started) * 1000.0
        if waited_ms > 500.0:
            LOG.info("ICE consent reply from %s after %.0f ms (aioice alone counts it as missing)", addr, waited_ms)
        return reply

    request_tolerating_late_consent._fer_tolerant = True
    request_tolerating_late_consent.__wrapped__ = request
    ice.StunProtocol.request = request_tolerating_late_consent


class LiveProcessor(VideoProcessorBase):
    """streamlit-webrtc video processor: newest frame in, annotated frame out, older frames dropped."""

    def __init__(self, session: LiveSession):
        self.session = session
        session.stream_started()

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        image = frame.to_ndarray(format="bgr24")
        annotated = self.session.process(image)
        return av.VideoFrame.from_ndarray(annotated, format="bgr24")

    async def recv_queued(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        # Everything but the newest frame is stale by now: drop it, do not queue it.
        self.session.count_dropped(len(frames) - 1)
        return [self.recv(frames[-1])]

    def on_ended(self) -> None:
        self.session.stream_ended()
