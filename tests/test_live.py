"""The live path without a browser: LiveSession and LiveProcessor on real av.VideoFrames, the real model."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fer_app.classify import DEFAULT_MODEL
from fer_app.labels import EMOTIONS
from fer_app.live import LiveProcessor, LiveSession, LiveSettings
from fer_app.pipeline import EmotionRecognizer

pytestmark = pytest.mark.skipif(not Path(DEFAULT_MODEL).exists(), reason="needs models/default.onnx")


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def astronaut_frame() -> np.ndarray:
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((480, 640, 3), 96, np.uint8)
    frame[:, 80:560] = cv2.resize(face, (480, 480), interpolation=cv2.INTER_AREA)
    return frame


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return astronaut_frame()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def session(clock) -> LiveSession:
    return LiveSession(EmotionRecognizer, window_s=10.0, clock=clock)


def video_frame(bgr: np.ndarray, pts: int = 0) -> av.VideoFrame:
    f = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    f.pts = pts
    return f


def test_processor_draws_the_overlay_and_reports_the_face(session, frame, clock):
    processor = LiveProcessor(session)
    out = processor.recv(video_frame(frame))
    annotated = out.to_ndarray(format="bgr24")
    assert annotated.shape == frame.shape
    changed = np.any(annotated != frame, axis=2).mean()
    assert changed > 0.005, "no box or label drawn"
    snap = session.snapshot()
    assert snap.faces_now == 1
    assert snap.frames_processed == 1
    assert snap.streaming
    assert sum(snap.distribution.values()) == pytest.approx(1.0, abs=1e-6)
    assert set(snap.distribution) == set(EMOTIONS)


def test_aggregate_only_draws_nothing_but_still_counts(session, frame):
    session.update_settings(LiveSettings(aggregate_only=True))
    out = LiveProcessor(session).recv(video_frame(frame)).to_ndarray(format="bgr24")
    assert np.array_equal(out, frame)
    assert session.snapshot().faces_now == 1


def test_queued_frames_are_dropped_not_processed(session, frame):
    processor = LiveProcessor(session)
    frames = [video_frame(frame, pts=i) for i in range(5)]
    out = asyncio.run(processor.recv_queued(frames))
    assert len(out) == 1
    snap = session.snapshot()
    assert snap.frames_processed == 1
    assert snap.frames_dropped == 4


def test_settings_reach_the_detector(session, frame):
    session.update_settings(LiveSettings(sensitivity=9, min_face=300, smoothing=0.0))
    LiveProcessor(session).recv(video_frame(frame))
    recognizer = session._recognizer
    assert recognizer.detector.min_neighbors == 9
    assert recognizer.detector.min_face == 300
    assert recognizer.smoothing == 0.0
    # The astronaut's face is ~130 px wide in this frame: a 300 px minimum hides it.
    assert session.snapshot().faces_now == 0


def test_timeline_survives_stop_and_is_one_row_per_second(session, frame, clock):
    processor = LiveProcessor(session)
    for _ in range(9):  # 4.5 s of stream at 2 frames per second
        processor.recv(video_frame(frame))
        clock.now += 0.5
    processor.on_ended()
    snap = session.snapshot()
    assert not snap.streaming and snap.faces_now == 0
    rows = list(csv.DictReader(io.StringIO(session.timeline_csv())))
    assert [int(r["second"]) for r in rows] == [0, 1, 2, 3, 4]
    assert all(r["dominant"] in EMOTIONS for r in rows)
    assert '"second": 0' in session.timeline_json()
    session.clear_timeline()
    assert session.snapshot().timeline_rows == 0


def test_snapshot_rates_come_from_the_clock(session, frame, clock):
    processor = LiveProcessor(session)
    for _ in range(11):
        processor.recv(video_frame(frame))
        clock.now += 0.1  # 10 frames per second
    snap = session.snapshot()
    assert snap.fps == pytest.approx(10.0, rel=0.01)
    assert snap.seconds_since_frame == pytest.approx(0.1)


def test_a_failing_frame_keeps_the_stream_alive(clock, frame):
    class Broken:
        def configure(self, **_):
            pass

        def reset(self):
            pass

        def analyze(self, frame, timestamp=None):
            raise RuntimeError("detector exploded")

    session = LiveSession(Broken, clock=clock)
    out = LiveProcessor(session).recv(video_frame(frame)).to_ndarray(format="bgr24")
    assert np.array_equal(out, frame)  # the camera image goes back untouched
    assert "detector exploded" in session.snapshot().error


def test_page_and_worker_threads_share_a_session(session, frame):
    """The worker thread writes while the page reads: snapshots stay consistent."""
    processor = LiveProcessor(session)
    errors: list[Exception] = []

    def worker():
        try:
            for _ in range(20):
                processor.recv(video_frame(frame))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    thread = threading.Thread(target=worker)
    thread.start()
    seen = []
    while thread.is_alive():
        snap = session.snapshot()
        seen.append(snap.frames_processed)
        assert snap.frames_processed == 0 or sum(snap.distribution.values()) == pytest.approx(1.0, abs=1e-6)
    thread.join()
    assert not errors
    assert seen == sorted(seen)
    assert session.snapshot().frames_processed == 20


def test_relay_hands_a_slow_consumer_the_newest_frame_not_a_backlog(frame):
    """The cause of unbounded memory under load: a buffered relay queues every frame for a slow encoder."""
    from aiortc.contrib.media import MediaRelay
    from aiortc.mediastreams import MediaStreamTrack

    from fer_app.live import relay_latest_video_frames_only

    class Camera(MediaStreamTrack):
        kind = "video"

        def __init__(self, n: int):
            super().__init__()
            self.sent = 0
            self.n = n

        async def recv(self):
            if self.sent >= self.n:
                await asyncio.Event().wait()  # a camera that has nothing new yet
            f = video_frame(frame, pts=self.sent)
            self.sent += 1
            await asyncio.sleep(0)
            return f

    async def consume(latest_only: bool) -> tuple[int, int]:
        relay = MediaRelay()
        if latest_only:
            relay_latest_video_frames_only(relay)
            relay_latest_video_frames_only(relay)  # idempotent
        source = Camera(50)
        proxy = relay.subscribe(source)
        first = await proxy.recv()  # starts the relay; then the consumer is busy while 49 frames arrive
        while source.sent < source.n:
            await asyncio.sleep(0)
        for _ in range(3):  # let the relay hand out the last frame
            await asyncio.sleep(0)
        backlog = proxy._queue.qsize() if proxy._queue is not None else 0
        second = await proxy.recv() if latest_only else None
        return backlog, (second.pts - first.pts) if second is not None else 0

    backlog, _ = asyncio.run(consume(latest_only=False))
    assert backlog >= 40  # what streamlit-webrtc gets by default
    backlog, skipped_to = asyncio.run(consume(latest_only=True))
    assert backlog == 0
    assert skipped_to >= 40  # the next frame handed over is the newest one


class _LateStunPeer(asyncio.DatagramProtocol):
    """A browser's ICE agent on a busy link: answers each STUN binding request after `delay` seconds."""

    def __init__(self, key: bytes, delay: float):
        self.key = key
        self.delay = delay
        self.silent = False
        self.requests = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        from aioice import stun

        request = stun.parse_message(data)
        self.requests += 1
        if self.silent:
            return
        reply = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, transaction_id=request.transaction_id)
        reply.attributes["XOR-MAPPED-ADDRESS"] = addr
        reply.add_message_integrity(self.key)
        asyncio.get_running_loop().call_later(self.delay, self.transport.sendto, bytes(reply), addr)


class _NoIceAgent:
    """What aioice's StunProtocol calls on its owner; nothing here needs it."""

    def protocol_lost(self, protocol):
        pass

    def data_received(self, data, component):
        pass

    def request_received(self, message, addr, protocol):
        pass


def test_ice_consent_checks_tolerate_late_replies_but_not_silence():
    """What closed streams under load: aioice counted consent replies later than 500 ms as missing."""
    from aioice import ice, stun

    from fer_app.live import tolerate_late_consent_replies

    key = b"remote ICE password"

    def consent_check():
        return stun.Message(stun.Method.BINDING, stun.Class.REQUEST)

    async def scenario():
        loop = asyncio.get_running_loop()
        peer_transport, peer = await loop.create_datagram_endpoint(
            lambda: _LateStunPeer(key, delay=0.8), local_addr=("127.0.0.1", 0)
        )
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: ice.StunProtocol(_NoIceAgent()), local_addr=("127.0.0.1", 0)
        )
        addr = peer_transport.get_extra_info("sockname")
        try:
            # aioice alone: the consent check (sent once, retransmissions=0) gives up after 500 ms.
            aioice_request = getattr(ice.StunProtocol.request, "__wrapped__", ice.StunProtocol.request)
            with pytest.raises(stun.TransactionTimeout):
                await aioice_request(protocol, consent_check(), addr, integrity_key=key, retransmissions=0)

            tolerate_late_consent_replies()
            tolerate_late_consent_replies()  # idempotent
            start = time.monotonic()
            reply, _ = await protocol.request(consent_check(), addr, integrity_key=key, retransmissions=0)
            waited = time.monotonic() - start
            assert reply.message_class == stun.Class.RESPONSE
            assert 0.7 < waited < 3.5

            # A peer that is really gone still fails the check, after the retransmissions.
            peer.silent = True
            peer.requests = 0
            start = time.monotonic()
            with pytest.raises(stun.TransactionTimeout):
                await protocol.request(consent_check(), addr, integrity_key=key, retransmissions=0)
            assert peer.requests == 3
            assert 3.0 < time.monotonic() - start < 5.0
        finally:
            transport.close()
            peer_transport.close()

    asyncio.run(scenario())


def test_aioice_sends_only_its_consent_checks_without_retransmissions():
    """tolerate_late_consent_replies recognises consent checks by retransmissions=0: keep that true on upgrades."""
    import inspect

    from aioice import ice, turn

    assert inspect.getsource(ice).count("retransmissions=0") == 1
    assert "retransmissions=0" in inspect.getsource(ice.Connection.query_consent)
    assert "retransmissions=0" not in inspect.getsource(turn)


def test_the_live_tab_turns_off_streamlits_full_gc_after_every_run_unless_configured():
    """A forced full collection after every fragment run held the GIL ~60 ms each and starved the WebRTC loop."""
    from streamlit import config

    from fer_app.ui.live_tab import skip_full_gc_after_each_run

    key = "runner.postScriptGC"
    before, where = config.get_option(key), config.get_where_defined(key)
    try:
        config.set_option(key, True, where_defined="<default>")
        skip_full_gc_after_each_run()
        assert config.get_option(key) is False
        config.set_option(key, True, where_defined="config.toml")  # the operator's explicit choice wins
        skip_full_gc_after_each_run()
        assert config.get_option(key) is True
    finally:
        config.set_option(key, before, where_defined=where)
