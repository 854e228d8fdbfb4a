"""The Live tab: consent, the webcam stream with overlays, the sidebar chart, timeline downloads."""

from __future__ import annotations

import functools
import os
import time

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer
from streamlit_webrtc.relay import get_global_relay
from streamlit_webrtc.session_info import get_this_session_info

from fer_app.detect import make_detector
from fer_app.errors import FerError
from fer_app.live import (
    LiveProcessor,
    LiveSession,
    LiveSettings,
    relay_latest_video_frames_only,
    tolerate_late_consent_replies,
)
from fer_app.pipeline import EmotionRecognizer
from fer_app.ui.charts import distribution_chart
from fer_app.ui.common import LOG, detector_chosen, ice_configuration, shared_classifier

WEBRTC_KEY = "live"
WINDOW_S = 10.0
# While streaming, one fragment in the sidebar redraws the chart and the statistics twice a second
# (the goal). Each redraw costs the server and every browser CPU time: at 0.4 s with a second
# fragment for the statistics, four sessions on two cores starved the server's event loop.
REFRESH_S = 0.5
# A playing stream that has analysed no frame for this long is reported as stalled.
STALL_S = 6.0

CONSENT_TEXT = """
- **What is analysed:** each video frame from your camera is searched for faces; each face
  gets a guess at one of seven expression labels (angry, disgust, fear, happy, sad, surprise,
  neutral) with a confidence.
- **Nothing is stored or sent anywhere else:** frames go from your browser to this app's server,
  are analysed in memory and sent back with the overlay. No frame, face or result is written to
  disk. The timeline you can download lives in this browser session only and is gone when you
  close the page.
- **What it can and cannot tell:** the model reads the *appearance* of a face, trained on
  posed and web photos (FER2013). A smile is not happiness, and a neutral face is not boredom.
  It is often wrong, more so for some groups of people than others (see *About*). It does not
  measure what anyone feels, thinks, or how well they are following.
- **Where it must not be used:** the EU AI Act, Art. 5(1)(f), prohibits inferring emotions of
  people in workplaces and education institutions, except for medical or safety reasons. Use it
  on yourself, or on people who have agreed, for rehearsal, research with consent, or to learn
  how such models behave.
"""


def skip_full_gc_after_each_run() -> None:
    """Turn off Streamlit's forced full garbage collection after every script run, fragments included.

    Streamlit runs `gc.collect(2)` when any script run ends (`runner.postScriptGC`,
    on by default). With this app's heap (plotly, ONNX Runtime, aiortc) one
    collection took ~60 ms of the ~75 ms a sidebar refresh costs, holding the
    GIL all along. The live chart refreshes twice a second per session, and
    every session's WebRTC traffic runs on Streamlit's one event loop: with four
    sessions the collections alone held the GIL for over a second per second
    at the old refresh rate, the loop fell behind the incoming video, ICE
    consent replies came late or were lost, and aioice closed the streams
    30-90 s after START. Python's own generational GC still runs; the load test
    (scripts/load_test.py) checks that memory stays flat. A value set
    explicitly (config.toml, command line, environment) is left alone.
    """
    from streamlit import config

    if config.get_where_defined("runner.postScriptGC") == "<default>":
        config.set_option("runner.postScriptGC", False, where_defined=__name__)


def live_session() -> LiveSession:
    """This browser session's live state (kept in memory in st.session_state only)."""
    if "live_session" not in st.session_state:
        # The shared model is fetched here, on the script thread: the recognizer itself is built
        # on the WebRTC worker thread at the first frame, where no Streamlit call may run.
        classifier = shared_classifier()
        st.session_state["live_session"] = LiveSession(
            functools.partial(EmotionRecognizer, classifier=classifier), window_s=WINDOW_S
        )
    return st.session_state["live_session"]


def render_controls() -> LiveSettings:
    """The sidebar controls; returns the settings they describe."""
    st.markdown("**Live settings**")
    detector = detector_chosen()
    sensitivity = st.slider(
        "Detector strictness",
        min_value=1,
        max_value=10,
        value=5,
        help="How much evidence the face detector needs. Lower finds more faces (and more false ones).",
    )
    min_face = st.slider(
        "Minimum face size (px)",
        min_value=24,
        max_value=200,
        value=int(getattr(make_detector(detector, still=False), "min_face", 40)),
        step=4,
        help="Faces smaller than this, in camera pixels, are ignored.",
    )
    smoothing = st.slider(
        "Smoothing",
        min_value=0.0,
        max_value=0.95,
        value=0.6,
        step=0.05,
        help="How much each face's reading is averaged over time. 0 shows every frame's raw guess.",
    )
    show_probabilities = st.checkbox("Show all seven probabilities per face", value=False)
    aggregate_only = st.checkbox(
        "Aggregate only (no per-face labels on the video)",
        value=False,
        help="Only the chart shows results; the video carries no boxes or labels.",
    )
    return LiveSettings(
        detector=detector,
        sensitivity=sensitivity,
        min_face=min_face,
        smoothing=smoothing,
        show_probabilities=show_probabilities,
        aggregate_only=aggregate_only,
    )


def render_live_tab(settings: LiveSettings, chart_slot) -> None:
    agreed = bool(st.session_state.get("live_consent"))
    with st.expander("Before you start the camera: what this does, and what it must not be used for", expanded=not agreed):
        st.markdown(CONSENT_TEXT)
    consent = st.checkbox(
        "I understand, and I (and anyone on camera) agree to the analysis",
        key="live_consent",
    )
    state = st.session_state
    if not consent:
        state["live_rendered"] = False
        st.info("Tick the box above to enable the camera.")
        with chart_slot:
            st.caption("The live chart appears here once the camera runs.")
        return

    try:
        session = live_session()
    except FerError as e:  # e.g. the model file is missing
        st.error(str(e))
        return
    session.update_settings(settings)
    # Did the previous full run show the component? Then its context cannot be stale.
    rendered_before = bool(state.get("live_rendered"))
    if get_this_session_info() is not None:  # None under AppTest: no server, no relay
        relay_latest_video_frames_only(get_global_relay())
        tolerate_late_consent_replies()
        skip_full_gc_after_each_run()
        _inject_slow_stun_replies()
    _inject_test_fault("race")
    _keep_context_fresh()
    _inject_test_fault("drop")
    before = state.get(WEBRTC_KEY)
    was_live = rendered_before and before is not None and (before.state.playing or before.state.signalling)
    video_column, _ = st.columns([3, 1])
    with video_column:
        ctx = webrtc_streamer(
            key=WEBRTC_KEY,
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=ice_configuration(),
            media_stream_constraints={
                # 15 frames a second is plenty for reading expressions, and halves the video
                # coding work of browser and server against a 30 fps camera.
                "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15, "max": 15}},
                "audio": False,
            },
            video_processor_factory=lambda: LiveProcessor(session),
            async_processing=True,
        )
    state["live_rendered"] = True
    playing = bool(ctx.state.playing)
    _track_playing_since(playing)
    _notice_dropped_start(was_live, ctx)

    stalled = _stalled(session.snapshot(), playing)
    state["live_stalled"] = stalled
    if stalled:
        st.warning(
            f"No video has reached the analyser for over {STALL_S:.0f} s: the connection was lost or never "
            "came up (a busy server or network can cause this). Press **STOP**, then **START** again."
        )
    run_every = REFRESH_S if (playing or ctx.state.signalling) else None
    with chart_slot:
        st.fragment(run_every=run_every)(_sidebar_live)(session)

    if not playing:
        if state.get("live_dead_start"):
            st.warning(
                "The stream dropped right after START (a known hiccup of the WebRTC component). "
                "Press **STOP** if it is shown, then **START** again."
            )
        _downloads(session)


def _notice_dropped_start(was_live: bool, ctx) -> None:
    """Notice a stream that streamlit-webrtc dropped on its own, so the page can say what to do.

    STOP's on_change callback marks the context "not playing" before the script
    runs, so a context that was live when this run began and is idle after
    `webrtc_streamer()` returned was reset by the library itself. The browser then
    shows a dead video with STOP for a few seconds and falls back to START.
    (Restarting automatically through `desired_playing_state` was tried here:
    the second negotiation did not complete, so the page asks the user instead.)
    """
    state = st.session_state
    if was_live and not (ctx.state.playing or ctx.state.signalling):
        LOG.warning("streamlit-webrtc dropped a live stream by itself (stale-context reset)")
        state["live_dead_start"] = True
    elif ctx.state.playing:
        state["live_dead_start"] = False


def _track_playing_since(playing: bool) -> None:
    if playing and st.session_state.get("live_playing_since") is None:
        st.session_state["live_playing_since"] = time.monotonic()
    elif not playing:
        st.session_state["live_playing_since"] = None


def _keep_context_fresh() -> None:
    """Stop streamlit-webrtc 0.79 from dropping a stream it wrongly thinks is stale.

    The library resets (and so kills) a stream whose component "was not rendered"
    in the previous script run, judged by Streamlit's count of finished runs. That
    count is updated on the server's event loop, so under load a run can read it
    before the previous run is counted, and the next run then looks like it
    skipped one: the stream started by START is torn down ("Context for key=...
    was not rendered for 1 script runs; resetting stale state"), about one START
    in ten on a fresh server. This page renders the component in every full run
    while consent is given, so when the previous full run rendered it the context
    cannot be stale, and the check is skipped. When it was not rendered (consent
    was withdrawn) the library's reset runs as designed.
    """
    ctx = st.session_state.get(WEBRTC_KEY)
    if ctx is not None and st.session_state.get("live_rendered") and hasattr(ctx, "_last_rendered_run_count"):
        ctx._last_rendered_run_count = None


def _inject_test_fault(stage: str) -> None:
    """Tests only: with FER_TEST_FAULTS=1, `?fault=race|drop` makes the session's first stream look stale.

    `race` fakes the miscounted script run before `_keep_context_fresh` (which must
    then keep the stream alive); `drop` fakes it after, so the library really drops
    the stream through its own reset path and the page must tell the user what to do.
    """
    if os.environ.get("FER_TEST_FAULTS") != "1" or st.query_params.get("fault") != stage:
        return
    if st.session_state.get("live_fault_done"):
        return
    ctx = st.session_state.get(WEBRTC_KEY)
    if ctx is None or not ctx.state.playing:
        return
    from streamlit_webrtc.session_info import (
        get_script_run_count,
        get_this_session_info,
    )

    info = get_this_session_info()
    if info is not None:
        st.session_state["live_fault_done"] = True
        ctx._last_rendered_run_count = get_script_run_count(info) - 2


def _inject_slow_stun_replies() -> None:
    """Tests only: with FER_TEST_FAULTS=1 and FER_TEST_SLOW_STUN_S=x, every STUN reply reaching the
    server is handed to aioice x seconds late, as on a server too busy to read its sockets in time
    (measured under load: 0.6-1.1 s). Process-wide, so the test starts a server of its own for it."""
    delay = float(os.environ.get("FER_TEST_SLOW_STUN_S") or 0)
    if os.environ.get("FER_TEST_FAULTS") != "1" or delay <= 0:
        return
    import asyncio

    from aioice import stun

    received = stun.Transaction.response_received
    if getattr(received, "_fer_delayed", False):
        return

    def response_received_late(self, message, addr):
        asyncio.get_running_loop().call_later(delay, received, self, message, addr)

    response_received_late._fer_delayed = True
    stun.Transaction.response_received = response_received_late
    LOG.warning("test fault: STUN replies reach aioice %.1f s late", delay)


def _inject_test_stall(snap) -> None:
    """Tests only: with FER_TEST_FAULTS=1, `?fault=stall` stops the server's side of the first stream
    after 20 analysed frames, as a lost connection does, while the browser still shows STOP."""
    if os.environ.get("FER_TEST_FAULTS") != "1" or st.query_params.get("fault") != "stall":
        return
    ctx = st.session_state.get(WEBRTC_KEY)
    if st.session_state.get("live_fault_done") or ctx is None or snap.frames_processed < 20:
        return
    worker = ctx._get_worker()
    if worker is not None:
        st.session_state["live_fault_done"] = True
        worker.stop()


def _stalled(snap, playing: bool) -> bool:
    """A playing stream whose analyser has had no frame for over STALL_S seconds (or none since START)."""
    if not playing:
        return False
    since = st.session_state.get("live_playing_since")
    waited = time.monotonic() - since if since else 0.0
    if (snap.frames_processed == 0 or not snap.streaming) and waited > STALL_S:
        return True
    return snap.streaming and snap.seconds_since_frame is not None and snap.seconds_since_frame > STALL_S


def _sidebar_live(session: LiveSession) -> None:
    """The sidebar's live part, rerun on its own every REFRESH_S while streaming: chart, faces, statistics.

    The stall warning belongs under the video, outside this fragment: when the
    stall state changes, the whole page is rerun once to show or clear it.
    """
    snap = session.snapshot()
    _inject_test_stall(snap)
    ctx = st.session_state.get(WEBRTC_KEY)
    playing = bool(ctx is not None and ctx.state.playing)
    st.plotly_chart(
        distribution_chart(snap.distribution, snap.faces_now, WINDOW_S),
        config={"displayModeBar": False, "staticPlot": True},
        key="live_distribution_chart",
    )
    st.caption(f"Faces now: {snap.faces_now}")
    if snap.error:
        st.error(f"Analysis failed on the last frame: {snap.error}")
    if playing:
        st.caption(
            f"Analysed {snap.frames_processed} frames · {snap.fps:.1f} frames/s · "
            f"{snap.latency_ms_p50:.0f} ms per frame (p95 {snap.latency_ms_p95:.0f} ms) · "
            f"{snap.frames_dropped} dropped to keep up"
        )
    if _stalled(snap, playing) != bool(st.session_state.get("live_stalled")):
        st.rerun()  # the whole page, so the warning under the video appears or goes


def _downloads(session: LiveSession) -> None:
    snap = session.snapshot()
    if not snap.timeline_rows:
        return
    st.caption(f"Stopped. {snap.frames_processed} frames analysed in this session.")
    st.markdown(
        f"**This session's timeline** ({snap.timeline_rows} s, one row per second; kept in memory until you close the page)"
    )
    col_csv, col_json, col_clear = st.columns(3)
    col_csv.download_button(
        "Download CSV",
        session.timeline_csv(),
        "live_timeline.csv",
        "text/csv",
        key="live_csv",
        on_click="ignore",  # a download needs no rerun of the page
    )
    col_json.download_button(
        "Download JSON",
        session.timeline_json(),
        "live_timeline.json",
        "application/json",
        key="live_json",
        on_click="ignore",  # a download needs no rerun of the page
    )
    if col_clear.button("Clear timeline", key="live_clear"):
        session.clear_timeline()
        st.rerun()
