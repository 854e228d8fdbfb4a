"""analyze_video on generated clips of a real face moving across a real photo, and on broken files."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from engine_helpers import decode_frames, set_mp4_rotation, write_moving_face_video

from fer_app.errors import BadVideoError
from fer_app.labels import EMOTIONS
from fer_app.pipeline import EmotionRecognizer
from fer_app.stats import Timeline
from fer_app.video import analyze_video


@pytest.fixture(scope="module")
def recognizer():
    return EmotionRecognizer()


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "moving.mp4"
    boxes = write_moving_face_video(path, seconds=3.0, fps=15, audio=True)
    return path, boxes


def test_moving_face_keeps_one_track_and_everything_is_written(clip_with_audio, recognizer, tmp_path):
    path, _ = clip_with_audio
    out = tmp_path / "annotated.mp4"
    calls = []
    summary = analyze_video(path, out_path=out, recognizer=recognizer, progress=lambda d, t: calls.append((d, t)))
    assert summary.frames_decoded == summary.frames_analysed == 45
    assert summary.duration == pytest.approx(3.0, abs=0.05)
    assert summary.tracks_seen == 1
    assert summary.faces_seen >= 43 and summary.max_faces == 1
    assert sum(summary.emotion_shares.values()) == pytest.approx(1.0)
    assert calls[-1] == (45, 45) and len(calls) == 45
    # One timeline row per second, each with its 15 frames and one face.
    rows = summary.timeline.rows()
    assert [r["second"] for r in rows] == [0, 1, 2]
    assert all(r["frames"] == 15 and r["faces"] == 1 and r["dominant"] in EMOTIONS for r in rows)
    assert summary.timeline.to_csv().count("\n") == 4
    # The annotated copy decodes: H.264, same size and frame count, the audio carried over.
    with av.open(str(out)) as container:
        kinds = {s.type: s.codec_context.name for s in container.streams}
    assert kinds == {"video": "h264", "audio": "aac"}
    assert summary.audio == "copied"
    frames = decode_frames(out)
    assert len(frames) == 45 and frames[0].shape == (270, 480, 3)
    original = decode_frames(path)
    assert np.abs(frames[20].astype(int) - original[20].astype(int)).mean() > 0.5  # boxes were drawn
    d = summary.to_dict()
    assert {"duration", "frames_analysed", "faces_seen", "tracks_seen", "emotion_shares"} <= set(d)


def test_a_chosen_rate_analyses_fewer_frames(clip_with_audio, recognizer, tmp_path):
    path, _ = clip_with_audio
    timeline = Timeline(start=0.0)
    out = tmp_path / "at5fps.mp4"
    summary = analyze_video(path, out_path=out, fps=5, timeline=timeline, recognizer=recognizer)
    assert summary.frames_decoded == 45 and summary.frames_analysed == 15
    assert summary.timeline is timeline and [r["frames"] for r in timeline.rows()] == [5, 5, 5]
    assert len(decode_frames(out)) == 15
    with pytest.raises(BadVideoError):
        analyze_video(path, fps=0)


@pytest.mark.parametrize(
    ("name", "codec", "fmt"),
    [
        ("clip.webm", "libvpx-vp9", "webm"),
        ("clip.webm", "libvpx", "webm"),
        ("clip.avi", "mjpeg", "avi"),
        ("clip.mov", "libx264", "mov"),
    ],
)
def test_common_containers_and_codecs_decode(tmp_path, recognizer, name, codec, fmt):
    path = tmp_path / name
    write_moving_face_video(path, seconds=1.0, fps=10, size=(320, 240), codec=codec, container_format=fmt, face_px=100)
    summary = analyze_video(path, recognizer=recognizer)
    assert summary.frames_analysed == 10
    assert summary.tracks_seen == 1 and summary.faces_seen >= 8


@pytest.mark.parametrize(
    ("name", "codec", "fmt", "audio"), [("talk.webm", "libvpx", "webm", "libvorbis"), ("talk.avi", "mjpeg", "avi", "pcm_s16le")]
)
def test_audio_an_mp4_cannot_carry_is_re_encoded_to_aac(tmp_path, recognizer, name, codec, fmt, audio):
    path, out = tmp_path / name, tmp_path / "out.mp4"
    write_moving_face_video(
        path, seconds=1.0, fps=10, size=(320, 240), codec=codec, container_format=fmt, audio=audio, face_px=100
    )
    summary = analyze_video(path, out_path=out, recognizer=recognizer)
    assert summary.audio == "re-encoded"
    with av.open(str(out)) as container:
        assert {s.type: s.codec_context.name for s in container.streams} == {"video": "h264", "audio": "aac"}
        assert sum(f.samples for f in container.decode(audio=0)) > 0.8 * 44100  # about a second of sound


def test_rotation_metadata_is_honoured(tmp_path, recognizer):
    # Frames stored on their side, with a display matrix saying "turn 90 degrees clockwise", as phones record.
    upright = tmp_path / "upright.mp4"
    write_moving_face_video(upright, seconds=1.0, fps=10, size=(240, 320), face_px=110)
    sideways = tmp_path / "sideways.mp4"
    with av.open(str(upright)) as src, av.open(str(sideways), "w") as dst:
        stream = dst.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            turned = np.ascontiguousarray(np.rot90(frame.to_ndarray(format="bgr24"), 1))
            vf = av.VideoFrame.from_ndarray(turned, format="bgr24")
            vf.pts, vf.time_base = i, Fraction(1, 10)
            for p in stream.encode(vf):
                dst.mux(p)
        for p in stream.encode():
            dst.mux(p)
    set_mp4_rotation(sideways, 90)
    out = tmp_path / "out.mp4"
    summary = analyze_video(sideways, out_path=out, recognizer=recognizer)
    assert summary.rotation == -90
    assert (summary.width, summary.height) == (240, 320)
    assert summary.faces_seen >= 8  # the cascade only finds upright faces
    assert decode_frames(out)[0].shape == (320, 240, 3)
    assert any("rotated" in n for n in summary.notes)


def test_raising_from_progress_cancels_and_removes_the_partial_output(clip_with_audio, recognizer, tmp_path):
    path, _ = clip_with_audio
    out = tmp_path / "cancelled.mp4"

    class Cancelled(Exception):
        pass

    def progress(done, total):
        if done == 10:
            raise Cancelled

    with pytest.raises(Cancelled):
        analyze_video(path, out_path=out, recognizer=recognizer, progress=progress)
    assert not out.exists()


def test_memory_stays_flat_frames_are_not_kept(clip_with_audio, recognizer):
    """Streaming: the summary holds aggregates and a per-second timeline, never frames."""
    path, _ = clip_with_audio
    summary = analyze_video(path, recognizer=recognizer)
    held = [v for v in vars(summary).values() if isinstance(v, np.ndarray)]
    assert all(a.size <= len(EMOTIONS) for a in held)
    assert len(summary.timeline) == 3


class RecordingRecognizer(EmotionRecognizer):
    """Keeps every FrameResult and how each frame's full detection was made."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.results, self.given_boxes = [], []

    def analyze(self, frame, timestamp=None, boxes=None):
        result = super().analyze(frame, timestamp=timestamp, boxes=boxes)
        self.results.append(result)
        self.given_boxes.append(boxes is not None)
        return result


def test_detections_made_ahead_in_another_thread_are_those_of_the_frame_analysed(clip_with_audio):
    path, _ = clip_with_audio
    rec = RecordingRecognizer()
    analyze_video(path, recognizer=rec, settings_fps=None)
    assert any(rec.given_boxes)  # the full detections came from the detection thread
    by_video = [r.to_dict() for r in rec.results]
    rec.reset()
    by_hand = [rec.analyze(f, timestamp=i / 15).to_dict() for i, f in enumerate(decode_frames(path))]
    for a, b in zip(by_video, by_hand):
        a["timestamp"] = b["timestamp"] = 0
    assert by_video == by_hand


def test_a_fast_video_is_detected_and_classified_as_often_a_second_as_live(tmp_path):
    path = tmp_path / "fast.mp4"
    write_moving_face_video(path, seconds=2.0, fps=30)
    rec = RecordingRecognizer(detect_every=5, classify_every=2)
    summary = analyze_video(path, recognizer=rec)
    assert summary.frames_analysed == 60 and summary.tracks_seen == 1
    assert [i for i, r in enumerate(rec.results) if r.detected] == list(range(0, 60, 10))  # 3 a second
    assert (rec.detect_every, rec.classify_every) == (5, 2)  # the recognizer's own settings are back
    assert summary.faces_seen >= 58
    rec = RecordingRecognizer(detect_every=5)
    analyze_video(path, recognizer=rec, settings_fps=None)
    assert sum(r.detected for r in rec.results) == 12
    rec = RecordingRecognizer(detect_every=5)
    analyze_video(path, recognizer=rec, fps=15)  # already the live rate: as it is
    assert sum(r.detected for r in rec.results) == 6 and len(rec.results) == 30


# --- bad input ----------------------------------------------------------------------------------------


def _audio_only(path):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        stream.codec_context.layout = "mono"
        tone = (0.2 * np.sin(np.arange(44100) / 44100 * 2 * np.pi * 440)).astype(np.float32)
        for start in range(0, 44100 - 1024, 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 44100, start, Fraction(1, 44100)
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)


def test_bad_videos_are_refused_with_a_clear_message(tmp_path, clip_with_audio):
    path, _ = clip_with_audio
    cases = {
        "empty.mp4": (b"", "empty file"),
        "noise.mp4": (np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes(), "not a video"),
        "notes.avi": (b"just some text, not a video\n" * 100, "not a video"),
        "truncated.mp4": (path.read_bytes()[:3000], "truncated or corrupt"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BadVideoError, match=message):
            analyze_video(tmp_path / name)
    _audio_only(tmp_path / "sound.m4a")
    with pytest.raises(BadVideoError, match="no video stream"):
        analyze_video(tmp_path / "sound.m4a")
    with pytest.raises(BadVideoError, match="no such file"):
        analyze_video(tmp_path / "missing.mp4")


def test_a_still_image_is_not_taken_for_a_video(tmp_path):
    import cv2
    from engine_helpers import astronaut_bgr

    cv2.imwrite(str(tmp_path / "photo.png"), astronaut_bgr())
    with pytest.raises(BadVideoError, match="still image"):
        analyze_video(tmp_path / "photo.png")


def test_corrupt_data_mid_stream_never_escapes_as_another_error(tmp_path, clip_with_audio, recognizer):
    path, _ = clip_with_audio
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for start in range(len(data) // 4, len(data) * 3 // 4, 4000):
        data[start : start + 300] = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    try:
        summary = analyze_video(broken, out_path=out, recognizer=recognizer)
    except BadVideoError:
        assert not out.exists()  # no half-written file left behind
    else:
        assert summary.frames_decoded > 0 and out.exists()


def _helper_threads() -> set[str]:
    import threading

    return {t.name for t in threading.enumerate() if t.name.startswith("fer-video")}


@pytest.mark.parametrize("fps", [None, 5])
def test_unthreaded_analysis_gives_the_pipelined_results_without_helper_threads(clip_with_audio, tmp_path, fps):
    """threaded=False (the batch's one-thread workers) decodes, detects, analyses and encodes in the calling
    thread, and must find exactly what the pipelined path finds: same summary, same timeline."""
    path, _ = clip_with_audio
    runs = {}
    for threaded in (True, False):
        rec = RecordingRecognizer()
        seen: set[str] = set()
        out = tmp_path / f"threaded-{threaded}.mp4"
        summary = analyze_video(path, out_path=out, fps=fps, recognizer=rec, threaded=threaded,
                                progress=lambda d, t, seen=seen: seen.update(_helper_threads()))
        runs[threaded] = (summary, seen, rec.given_boxes, len(decode_frames(out)))
    (piped, piped_threads, piped_boxes, piped_frames), (inline, inline_threads, inline_boxes, inline_frames) = (
        runs[True], runs[False])
    assert {"fer-video-decode", "fer-video-encode"} <= piped_threads and any(piped_boxes)
    assert inline_threads == set() and not any(inline_boxes)  # every detection made by the recognizer itself
    assert inline.faces_seen > 0 and inline.frames_analysed == (45 if fps is None else 15)
    assert inline.to_dict() == piped.to_dict()
    assert inline.timeline.rows() == piped.timeline.rows()
    assert inline_frames == piped_frames == inline.frames_analysed
