"""Offline video analysis (PyAV): decode, analyse, annotate, summarise, one frame at a time.

Memory stays flat however long the video is: frames are decoded, analysed,
drawn and encoded one by one, and the timeline holds one row per second.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from fer_app.draw import draw_results
from fer_app.errors import BadVideoError
from fer_app.labels import EMOTIONS, NUM_CLASSES
from fer_app.stats import Timeline

MAX_PIXELS = 7680 * 4320  # 8K
# Audio codecs an MP4 can carry as they are; anything else is re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus"}
MAX_BAD_PACKETS = 50

Progress = Callable[[int, "int | None"], None]


@dataclass
class VideoSummary:
    duration: float = 0.0  # seconds of video decoded
    width: int = 0  # as displayed, after rotation
    height: int = 0
    rotation: int = 0  # degrees counterclockwise applied to frames to display them upright
    source_fps: float = 0.0
    frames_decoded: int = 0
    frames_analysed: int = 0
    faces_seen: int = 0  # face observations: faces summed over analysed frames
    max_faces: int = 0  # most faces in one frame
    tracks_seen: int = 0  # distinct track ids
    emotion_counts: dict[str, int] = field(default_factory=lambda: {name: 0 for name in EMOTIONS})
    mean_probabilities: np.ndarray = field(default_factory=lambda: np.zeros(NUM_CLASSES))
    audio: str = "none"  # none | copied | re-encoded | dropped
    notes: list[str] = field(default_factory=list)
    timeline: Timeline | None = None

    @property
    def emotion_shares(self) -> dict[str, float]:
        """Share of face observations labelled with each emotion."""
        total = sum(self.emotion_counts.values())
        return {name: (count / total if total else 0.0) for name, count in self.emotion_counts.items()}

    def to_dict(self) -> dict:
        return {
            "duration": round(self.duration, 3),
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "source_fps": round(self.source_fps, 3),
            "frames_decoded": self.frames_decoded,
            "frames_analysed": self.frames_analysed,
            "faces_seen": self.faces_seen,
            "max_faces": self.max_faces,
            "tracks_seen": self.tracks_seen,
            "emotion_shares": {k: round(v, 4) for k, v in self.emotion_shares.items()},
            "mean_probabilities": {k: round(float(v), 4) for k, v in zip(EMOTIONS, self.mean_probabilities)},
            "audio": self.audio,
            "notes": list(self.notes),
        }


def _open_input(path: Path):
    import av

    if not path.exists():
        raise BadVideoError(f"{path}: no such file")
    if not path.is_file():
        raise BadVideoError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise BadVideoError(f"{path.name}: empty file (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as e:
        if _looks_like_video(path):
            raise BadVideoError(f"{path.name}: truncated or corrupt video file ({_reason(e)})") from None
        raise BadVideoError(f"{path.name}: not a video, or a format this tool cannot read ({_reason(e)})") from None
    except (OSError, ValueError) as e:
        raise BadVideoError(f"{path.name}: cannot open ({e})") from None
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        container.close()
        raise BadVideoError(f"{path.name}: is a still image, not a video (use the image command)")
    if not container.streams.video:
        container.close()
        raise BadVideoError(f"{path.name}: has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        container.close()
        raise BadVideoError(f"{path.name}: video codec not supported")
    w, h = stream.codec_context.width, stream.codec_context.height
    if w * h > MAX_PIXELS:
        container.close()
        raise BadVideoError(f"{path.name}: video frames too large ({w}x{h}; the limit is 8K)")
    return container, stream


def _looks_like_video(path: Path) -> bool:
    """The file starts like an MP4/MOV, WebM/MKV or AVI, so a failure to open it means damage."""
    with open(path, "rb") as f:
        head = f.read(12)
    mp4 = head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
    return mp4 or head[:4] == b"\x1a\x45\xdf\xa3" or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


def _total_frames(container, stream, rate: float) -> int | None:
    if stream.frames:
        return int(stream.frames)
    duration = None
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000
    if duration and rate:
        return max(1, round(duration * rate))
    return None


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply the display rotation (degrees counterclockwise, multiples of 90)."""
    k = round(rotation / 90.0) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class _AnnotatedWriter:
    """H.264 MP4 out, the input's audio copied (or re-encoded to AAC) when there is some."""

    def __init__(self, out_path: Path, rate: Fraction, in_audio, preset: str = "veryfast"):
        import av

        self.path = out_path
        with open(out_path, "wb"):  # FFmpeg opens the file only at the first frame: fail early and clearly
            pass
        self.container = av.open(str(out_path), mode="w", format="mp4")
        self.rate = rate
        self.video = None
        self.preset = preset
        self.audio_mode = "none"
        self.in_audio = in_audio
        self.audio = None
        self.resampler = None
        if in_audio is not None:
            name = in_audio.codec_context.name if in_audio.codec_context else ""
            try:
                if name in MP4_AUDIO:
                    self.audio = self.container.add_stream_from_template(in_audio)
                    self.audio_mode = "copied"
                else:
                    self.audio = self.container.add_stream("aac", rate=in_audio.codec_context.sample_rate or 44100)
                    self.resampler = av.AudioResampler(
                        format="fltp",
                        layout="stereo",
                        rate=self.audio.codec_context.sample_rate,
                    )
                    self.audio.codec_context.layout = "stereo"
                    self.audio_mode = "re-encoded"
            except (av.error.FFmpegError, ValueError, TypeError):
                self.audio, self.audio_mode = None, "dropped"
        self._last_pts = -1
        self._pending_audio: list = []  # audio that arrives before the first video frame fixes the size

    def _open_video(self, width: int, height: int) -> None:
        self.video = self.container.add_stream("libx264", rate=self.rate)
        self.video.width, self.video.height = width, height
        self.video.pix_fmt = "yuv420p"
        self.video.codec_context.time_base = 1 / self.rate
        self.video.options = {"preset": self.preset, "crf": "23"}

    def write_frame(self, bgr: np.ndarray, t: float) -> None:
        import av

        # yuv420p needs even sides: drop an odd last row / column.
        h, w = bgr.shape[0] & ~1, bgr.shape[1] & ~1
        if self.video is None:
            self._open_video(w, h)
            pending, self._pending_audio = self._pending_audio, []
            for packet in pending:
                self.write_audio_packet(packet)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[:h, :w]), format="bgr24")
        pts = max(self._last_pts + 1, round(t * self.rate))
        frame.pts, frame.time_base = pts, 1 / self.rate
        self._last_pts = pts
        try:
            for packet in self.video.encode(frame):
                self.container.mux(packet)
        except (av.error.FFmpegError, OSError) as e:
            raise BadVideoError(f"{self.path}: cannot write the annotated video ({_reason(e)})") from None

    def write_audio_packet(self, packet) -> None:
        import av

        if self.audio is None:
            return
        if self.video is None:
            self._pending_audio.append(packet)
            return
        try:
            if self.resampler is None:
                if packet.dts is None or packet.size == 0:
                    return
                packet.stream = self.audio
                self.container.mux(packet)
            else:
                for frame in packet.decode():
                    for resampled in self.resampler.resample(frame):
                        resampled.pts = None
                        for out in self.audio.encode(resampled):
                            self.container.mux(out)
        except (av.error.FFmpegError, ValueError, TypeError):
            # Broken audio must not cost the video: stop carrying it.
            self.audio, self.audio_mode = None, "dropped"

    def close(self) -> None:
        import av

        if self.video is not None:
            try:
                for packet in self.video.encode():
                    self.container.mux(packet)
            except (av.error.FFmpegError, OSError) as e:
                raise BadVideoError(f"{self.path}: cannot write the annotated video ({_reason(e)})") from None
        if self.audio is not None and self.resampler is not None:
            with contextlib.suppress(Exception):
                for out in self.audio.encode(None):
                    self.container.mux(out)
        self.container.close()


class _DecodeAhead(threading.Thread):
    """Demuxes and decodes in the background, a few frames ahead of the analysis.

    FFmpeg's decoding and the conversion to BGR release the GIL, so on a
    second core they overlap with detection, classification and encoding.
    The queue is short: memory stays flat. `events()` yields, in order,
    ("frame", t, image) for frames to analyse, ("skipped", t, None) for
    frames `fps` leaves out, and ("audio", None, packet) for audio to carry.
    """

    def __init__(self, container, stream, audio, fps: float | None, source_rate: float, name: str, ahead: int = 4):
        super().__init__(daemon=True, name="fer-video-decode")
        self.container, self.stream, self.audio = container, stream, audio
        self.fps, self.source_rate, self.name_for_errors = fps, source_rate, name
        self.rotation = 0
        self._queue: queue.Queue = queue.Queue(maxsize=ahead)
        self._stopped = threading.Event()

    def run(self) -> None:
        import av

        try:
            first_time, next_due, bad_packets, decoded = None, 0.0, 0, 0
            for packet in self.container.demux([self.stream] + ([self.audio] if self.audio is not None else [])):
                if self._stopped.is_set():
                    return
                if packet.stream.type == "audio":
                    self._put(("audio", None, packet))
                    continue
                try:
                    frames = packet.decode()
                    bad_packets = 0
                except av.error.FFmpegError:
                    bad_packets += 1
                    if bad_packets > MAX_BAD_PACKETS:
                        raise BadVideoError(f"{self.name_for_errors}: video data is corrupt (decoding keeps failing)") from None
                    continue
                for frame in frames:
                    decoded += 1
                    t_abs = frame.time if frame.time is not None else decoded / self.source_rate
                    if first_time is None:
                        first_time = t_abs
                        self.rotation = int(getattr(frame, "rotation", 0) or 0)
                    t = max(0.0, t_abs - first_time)
                    if self.fps is None or t + 1e-6 >= next_due:
                        if self.fps is not None:
                            next_due += 1.0 / self.fps
                            while next_due <= t:
                                next_due += 1.0 / self.fps
                        self._put(("frame", t, _upright(frame.to_ndarray(format="bgr24"), self.rotation)))
                    else:
                        self._put(("skipped", t, None))
            self._put(("end", None, None))
        except BaseException as e:  # handed to the analysing thread, which raises it
            self._put(("error", None, e))

    def _put(self, item) -> None:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def events(self) -> Iterator[tuple]:
        while True:
            kind, t, payload = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise payload
            yield kind, t, payload

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=10)


def analyze_video(
    path: str | Path,
    out_path: str | Path | None = None,
    timeline: Timeline | None = None,
    fps: float | None = None,
    progress: Progress | None = None,
    recognizer=None,
    show_probabilities: bool = False,
) -> VideoSummary:
    """Analyse a video file; optionally write an annotated H.264 MP4 (audio kept) to `out_path`.

    `fps` analyses at most that many frames per second (the annotated video
    then has that rate too); None analyses every frame. `progress(done, total)`
    is called after each decoded frame (`total` may be None when the container
    does not say); an exception raised from it stops the analysis, and a
    half-written `out_path` is removed. The timeline (passed in, or a new
    one) is on the summary. The recognizer is reset first: its tracks start
    afresh for this video.
    """
    import av

    from fer_app.pipeline import EmotionRecognizer

    if fps is not None and fps <= 0:
        raise BadVideoError("--fps must be a positive number")
    path = Path(path)
    recognizer = recognizer or EmotionRecognizer()
    recognizer.reset()
    timeline = timeline if timeline is not None else Timeline(start=0.0)
    summary = VideoSummary(timeline=timeline)

    container, stream = _open_input(path)
    writer = None
    try:
        stream.thread_type = "AUTO"
        source_rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        summary.source_fps = float(source_rate)
        total = _total_frames(container, stream, float(source_rate))
        out_rate = Fraction(fps).limit_denominator(1001) if fps else source_rate
        in_audio = container.streams.audio[0] if container.streams.audio else None
        if out_path is not None:
            try:
                writer = _AnnotatedWriter(Path(out_path), out_rate, in_audio)
            except (OSError, av.error.FFmpegError) as e:
                with contextlib.suppress(OSError):
                    if Path(out_path).stat().st_size == 0:
                        os.remove(out_path)
                raise BadVideoError(f"{out_path}: cannot write the annotated video ({_reason(e)})") from None
        carried_audio = in_audio if writer is not None and writer.audio is not None else None
        decoder = _DecodeAhead(container, stream, carried_audio, fps, float(source_rate), path.name)
        probability_sum = np.zeros(NUM_CLASSES)
        track_ids: set[int] = set()
        decoder.start()
        try:
            for kind, t, payload in decoder.events():
                if kind == "audio":
                    writer.write_audio_packet(payload)
                    continue
                summary.frames_decoded += 1
                summary.duration = max(summary.duration, t + 1.0 / float(source_rate))
                if kind == "frame":
                    image = payload
                    result = recognizer.analyze(image, timestamp=t)
                    summary.frames_analysed += 1
                    summary.height, summary.width = image.shape[:2]
                    timeline.add(result)
                    summary.faces_seen += len(result.faces)
                    summary.max_faces = max(summary.max_faces, len(result.faces))
                    for face in result.faces:
                        summary.emotion_counts[face.emotion] += 1
                        probability_sum += face.probabilities
                        if face.track_id is not None:
                            track_ids.add(face.track_id)
                    if writer is not None:
                        writer.write_frame(draw_results(image, result, show_probabilities=show_probabilities), t)
                if progress is not None:
                    progress(summary.frames_decoded, total)
        finally:
            decoder.stop()
        summary.rotation = decoder.rotation
        if summary.frames_decoded == 0:
            raise BadVideoError(f"{path.name}: no video frame could be decoded (corrupt or empty video)")
        summary.tracks_seen = len(track_ids)
        if summary.faces_seen:
            summary.mean_probabilities = probability_sum / summary.faces_seen
        if writer is not None:
            writer.close()
            summary.audio = writer.audio_mode
            if summary.audio == "dropped":
                summary.notes.append("the audio could not be carried over and was left out")
            writer = None
        if summary.rotation:
            summary.notes.append(f"rotated {summary.rotation} degrees counterclockwise as its metadata says")
        if fps is not None:
            summary.notes.append(f"analysed at {fps:g} frames per second")
        return summary
    except av.error.FFmpegError as e:
        raise BadVideoError(f"{path.name}: cannot decode ({_reason(e)})") from None
    finally:
        container.close()
        if writer is not None:  # failed half way: leave no broken file behind
            with contextlib.suppress(Exception):
                writer.container.close()
            with contextlib.suppress(OSError):
                os.remove(writer.path)
