"""The Video tab: upload a recording, watch it annotated, read its timeline, download the results."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from fer_app.errors import FerError
from fer_app.labels import EMOTIONS
from fer_app.ui.charts import timeline_chart
from fer_app.ui.common import DETECTOR_KEY, MAX_VIDEO_MB, VIDEO_TYPES, accurate_mode_chosen, new_recognizer, too_large
from fer_app.video import analyze_video

RATE_CHOICES = {
    "5 per second": 5.0,
    "10 per second": 10.0,
    "15 per second": 15.0,
    "every frame": None,
}


def render_video_tab() -> None:
    st.markdown(
        f"Upload a video ({', '.join(t.upper() for t in VIDEO_TYPES)}, up to {MAX_VIDEO_MB} MB). "
        "It is copied to a temporary file for decoding, and that file and the annotated copy are "
        "deleted as soon as the analysis ends; the results stay in this browser session's memory only."
    )
    accurate = accurate_mode_chosen("video_model", still=False)
    rate_label = st.selectbox("Frames to analyse", list(RATE_CHOICES), index=1, key="video_rate")
    upload = st.file_uploader("Video", type=VIDEO_TYPES, key="video_upload")
    if upload is None:
        st.session_state.pop("video_result", None)
        return
    if too_large(upload.size, MAX_VIDEO_MB):
        st.error(f"{upload.name}: {upload.size / 2**20:.1f} MB is over the {MAX_VIDEO_MB} MB limit for videos.")
        return

    fps = RATE_CHOICES[rate_label]
    key = (upload.file_id, fps, accurate, st.session_state.get(DETECTOR_KEY))
    stored = st.session_state.get("video_result")
    if stored is None or stored["key"] != key:
        st.session_state.pop("video_result", None)
        try:
            stored = _analyse(upload, fps, accurate)
        except FerError as e:
            st.error(str(e))
            return
        stored["key"] = key
        st.session_state["video_result"] = stored
    _show(stored)


def _analyse(upload, fps: float | None, accurate: bool) -> dict:
    bar = st.progress(0.0, text=f"Analysing {upload.name}…")
    last = [-1]

    def progress(done: int, total: int | None) -> None:
        if total:
            percent = min(99, int(100 * done / total))
            if percent != last[0]:
                last[0] = percent
                bar.progress(
                    percent / 100,
                    text=f"Analysing {upload.name}: {percent}% ({done} of ~{total} frames)",
                )
        elif done % 25 == 0:
            bar.progress(0.5, text=f"Analysing {upload.name}: {done} frames")

    suffix = Path(upload.name).suffix.lower() or ".mp4"
    # Everything written to disk lives in this directory and is removed when the block ends, errors included.
    with tempfile.TemporaryDirectory(prefix="fer_video_") as tmp:
        source = Path(tmp) / f"upload{suffix}"
        source.write_bytes(upload.getvalue())
        out = Path(tmp) / "annotated.mp4"
        try:
            summary = analyze_video(
                source,
                out_path=out,
                fps=fps,
                progress=progress,
                recognizer=new_recognizer(accurate),
            )
        except FerError as e:
            bar.empty()
            raise type(e)(str(e).replace(source.name, upload.name)) from None
        annotated = out.read_bytes()
    bar.progress(1.0, text=f"Analysed {upload.name}: {summary.frames_analysed} frames")
    rows = summary.timeline.rows() if summary.timeline is not None else []
    return {
        "name": upload.name,
        "stem": Path(upload.name).stem or "video",
        "video": annotated,
        "summary": summary.to_dict(),
        "rows": rows,
        "csv": summary.timeline.to_csv() if summary.timeline is not None else "",
    }


def _show(stored: dict) -> None:
    summary, rows, stem = stored["summary"], stored["rows"], stored["stem"]
    player, _ = st.columns([2, 1])
    player.video(stored["video"], format="video/mp4")

    shares = summary["emotion_shares"]
    top = max(shares, key=shares.get) if any(shares.values()) else None
    cols = st.columns(4)
    cols[0].metric("Duration", f"{summary['duration']:.1f} s")
    cols[1].metric("Frames analysed", summary["frames_analysed"])
    cols[2].metric("Most faces in a frame", summary["max_faces"])
    cols[3].metric("Most frequent label", top or "no face")
    if summary["faces_seen"] and not summary["faces_read"]:
        st.warning("Faces were found, but none could be read: all under 32 pixels, or cut by the frame's edge.")
    elif summary["faces_seen"]:
        mix = ", ".join(f"{e} {100 * shares[e]:.0f}%" for e in sorted(EMOTIONS, key=lambda e: -shares[e]) if shares[e] > 0)
        st.markdown(f"**Labels over all face observations:** {mix}")
    else:
        st.warning("No face was found in this video.")
    for note in summary.get("notes", []):
        st.caption(f"Note: {note}")

    if rows:
        times = [row["second"] for row in rows]
        series = {e: [row.get(e) or 0.0 for row in rows] for e in EMOTIONS}
        st.plotly_chart(
            timeline_chart(times, series, "Mean probability per emotion, per second of video"),
            config={"displayModeBar": False},
            key="video_timeline_chart",
        )

    cols = st.columns(3)
    cols[0].download_button(
        "Download annotated MP4",
        stored["video"],
        f"{stem}_annotated.mp4",
        "video/mp4",
        key="video_mp4",
        on_click="ignore",  # a download needs no rerun of the page
    )
    cols[1].download_button(
        "Download timeline CSV",
        stored["csv"],
        f"{stem}_timeline.csv",
        "text/csv",
        key="video_csv",
        on_click="ignore",  # a download needs no rerun of the page
    )
    report = {"file": stored["name"], "summary": summary, "timeline": rows}
    cols[2].download_button(
        "Download JSON",
        json.dumps(report, indent=1),
        f"{stem}_emotions.json",
        "application/json",
        key="video_json",
        on_click="ignore",  # a download needs no rerun of the page
    )
