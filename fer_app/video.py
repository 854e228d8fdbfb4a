"""Offline video analysis (PyAV): decode, analyse, annotate, summarise, streaming frame by frame.

Memory stays flat however long the video is: frames flow through short
queues and the timeline holds one row per second. Three stages overlap on the
cores (FFmpeg, OpenCV and x264 release the GIL): a decoding thread that also
starts each full detection in a detection thread as soon as its frame is
decoded, the analysing (calling) thread, and a thread that draws and encodes
the annotated copy. With `threaded=False` all of it runs in the calling
thread instead (for callers that run one video per core, like the batch).
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from fer_app.draw import draw_results
from fer_app.errors import BadVideoError
from fer_app.labels import EMOTIONS, NUM_CLASSES
from fer_app.preprocess import to_grey
from fer_app.stats import Timeline

MAX_PIXELS = 7680 * 4320  # 8K
# Audio codecs an MP4 can carry as they are; anything else is re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus"}
MAX_BAD_PACKETS = 50
# The frame rate the recognizer's per-frame settings (detect_every, classify_every) are made for: the
# live path asks cameras for at most 15 fps. Faster videos get them scaled (see analyze_video).
SETTINGS_FPS = 15.0

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
    faces_read: int = 0  # of those, the ones large enough to read (the rest have no emotion)
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
            "faces_read": self.faces_read,
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

    def __init__(self, out_path: Path, rate: Fraction, in_audio, preset: str = "veryfast", threads: int = 0):
        import av

        self.path = out_path
        with open(out_path, "wb"):  # FFmpeg opens the file only at the first frame: fail early and clearly
            pass
        self.container = av.open(str(out_path), mode="w", format="mp4")
        self.rate = rate
        self.video = None
        self.preset = preset
        self.threads = threads  # x264's own threads; 0: its default (as many as the cores)
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
        self.video.options = {"preset": self.preset, "crf": "23"} | ({"threads": str(self.threads)} if self.threads else {})

    def write_frame(self, bgr: np.ndarray, t: float) -> None:
        import av

        # yuv420p needs even sides: drop an odd last row / column.
        h, w = bgr.shape[0] & ~1, bgr.shape[1] & ~1
        if self.video is None:
            self._open_video(w, h)
            pending, self._pending_audio = self._pending_audio, []
            for packet in pending:
                self.write_audio_packet(packet)
        # OpenCV's BGR -> I420 is BT.601 limited range like FFmpeg's, and a third of swscale's cost.
        frame = av.VideoFrame.from_ndarray(
            cv2.cvtColor(np.ascontiguousarray(bgr[:h, :w]), cv2.COLOR_BGR2YUV_I420), format="yuv420p"
        )
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


class _Frames:
    """Demuxes and decodes, in the thread that iterates it.

    Yields, in order, ("frame", t, image) for frames to analyse, ("skipped",
    t, None) for frames `fps` leaves out, and ("audio", None, packet) for
    audio to carry. `rotation` is known once the first frame is decoded.
    """

    def __init__(self, container, stream, audio, fps: float | None, source_rate: float, name: str):
        self.container, self.stream, self.audio = container, stream, audio
        self.fps, self.source_rate, self.name_for_errors = fps, source_rate, name
        self.rotation = 0

    def __iter__(self) -> Iterator[tuple]:
        import av

        first_time, next_due, bad_packets, decoded = None, 0.0, 0, 0
        for packet in self.container.demux([self.stream] + ([self.audio] if self.audio is not None else [])):
            if packet.stream.type == "audio":
                yield "audio", None, packet
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
                    yield "frame", t, _upright(frame.to_ndarray(format="bgr24"), self.rotation)
                else:
                    yield "skipped", t, None


class _DecodeInline:
    """The decoding stage in the calling thread: each frame is decoded when the analysis asks for it."""

    def __init__(self, frames: _Frames):
        self.frames = frames

    def start(self) -> None:
        pass

    def events(self) -> Iterator[tuple]:
        """Like _DecodeAhead.events: a frame comes as (image, None), its full detection left to the recognizer."""
        for kind, t, payload in self.frames:
            yield kind, t, ((payload, None) if kind == "frame" else payload)

    def stop(self) -> None:
        pass


class _DecodeAhead(threading.Thread):
    """Decodes `frames` in the background, ahead of the analysis, and starts full detections early.

    FFmpeg's decoding, the conversion to BGR and the Haar cascade release the
    GIL, so on a second core they overlap with following faces, classifying
    and encoding. `events()` yields what `frames` yields, a frame's image as
    (image, boxes).

    With a `detector`, every frame for which `detection_due(n)` holds (n: the
    frame's number among analysed frames) is also handed to a detection
    thread as soon as it is decoded; its boxes come with the frame (a Future),
    so the full detection of frame n runs while the frames before it are
    analysed. The boxes are those the recognizer would have found itself.
    Frames queued ahead are bounded by count and bytes: memory stays flat.
    """

    def __init__(
        self,
        frames: _Frames,
        detector=None,
        detection_due: Callable[[int], bool] | None = None,
        ahead: int = 8,
        ahead_bytes: int = 64 * 1024 * 1024,
    ):
        super().__init__(daemon=True, name="fer-video-decode")
        self.frames = frames
        self.detector, self.detection_due = detector, detection_due
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fer-video-detect") if detector is not None else None
        self._ahead, self._ahead_bytes = max(1, ahead), ahead_bytes
        self._items: collections.deque = collections.deque()
        self._frames_queued = 0
        self._bytes_queued = 0
        self._cond = threading.Condition()
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            analysed = 0
            for kind, t, payload in self.frames:
                if self._stopped.is_set():
                    return
                if kind == "frame":
                    boxes = None
                    if self._pool is not None and self.detection_due(analysed):
                        boxes = self._pool.submit(self.detector.detect, to_grey(payload))
                    analysed += 1
                    payload = (payload, boxes)
                self._put((kind, t, payload))
            self._put(("end", None, None))
        except BaseException as e:  # handed to the analysing thread, which raises it
            self._put(("error", None, e))

    def _put(self, item) -> None:
        size = item[2][0].nbytes if item[0] == "frame" else 0
        with self._cond:
            # Wait while the queue is full: of frames (by count, or by bytes once one is queued).
            while not self._stopped.is_set() and (
                self._frames_queued >= self._ahead
                or (size and self._frames_queued and self._bytes_queued + size > self._ahead_bytes)
                or len(self._items) >= 256
            ):
                self._cond.wait(0.1)
            if self._stopped.is_set():
                return
            self._items.append((item, size))
            self._frames_queued += 1 if size else 0
            self._bytes_queued += size
            self._cond.notify_all()

    def _get(self):
        with self._cond:
            while not self._items:
                self._cond.wait()
            item, size = self._items.popleft()
            self._frames_queued -= 1 if size else 0
            self._bytes_queued -= size
            self._cond.notify_all()
            return item

    def events(self) -> Iterator[tuple]:
        while True:
            kind, t, payload = self._get()
            if kind == "end":
                return
            if kind == "error":
                raise payload
            if kind == "frame":
                image, boxes = payload
                payload = (image, None if boxes is None else boxes.result())
            yield kind, t, payload

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()
        self.join(timeout=10)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class _WriteInline:
    """Draws the overlays and encodes the annotated copy in the calling thread."""

    def __init__(self, writer: _AnnotatedWriter, show_probabilities: bool):
        self.writer, self.show_probabilities = writer, show_probabilities

    def start(self) -> None:
        pass

    def put_frame(self, image: np.ndarray, result, t: float) -> None:
        self.writer.write_frame(draw_results(image, result, show_probabilities=self.show_probabilities), t)

    def put_audio(self, packet) -> None:
        self.writer.write_audio_packet(packet)

    def finish(self) -> None:
        pass

    def abandon(self) -> None:
        pass


class _WriteBehind(threading.Thread):
    """_WriteInline's work in the background, in order.

    x264 and the colour conversion release the GIL, so encoding overlaps with
    the analysis of the next frames. The queue is short: memory stays flat.
    The first error is raised by the next `put` or by `close`.
    """

    def __init__(self, writer: _AnnotatedWriter, show_probabilities: bool, ahead: int = 4):
        super().__init__(daemon=True, name="fer-video-encode")
        self.inline = _WriteInline(writer, show_probabilities)
        self._queue: queue.Queue = queue.Queue(maxsize=ahead)
        self._error: BaseException | None = None

    def run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain: the analysing thread learns of the error at its next put
            try:
                if item[0] == "video":
                    self.inline.put_frame(*item[1:])
                else:
                    self.inline.put_audio(item[1])
            except BaseException as e:
                self._error = e

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def put_frame(self, image: np.ndarray, result, t: float) -> None:
        self._check()
        self._queue.put(("video", image, result, t))

    def put_audio(self, packet) -> None:
        self._check()
        self._queue.put(("audio", packet))

    def finish(self) -> None:
        """Wait for everything queued to be written (raising the first error); the writer stays open."""
        self._queue.put(None)
        self.join()
        self._check()

    def abandon(self) -> None:
        """Stop without writing what is still queued."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self.join(timeout=10)


def _pace(recognizer, analysed_fps: float, settings_fps: float | None) -> Callable[[], None]:
    """Scale the recognizer's detect_every and classify_every for frames coming `analysed_fps` a second
    when they are meant for `settings_fps`; returns the function that puts them back."""
    factor = round(analysed_fps / settings_fps) if settings_fps and analysed_fps else 1
    saved = {
        n: getattr(recognizer, n) for n in ("detect_every", "classify_every") if isinstance(getattr(recognizer, n, None), int)
    }
    if factor <= 1 or not saved:
        return lambda: None
    for name, value in saved.items():
        setattr(recognizer, name, max(1, value) * factor)

    def restore() -> None:
        for name, value in saved.items():
            setattr(recognizer, name, value)

    return restore


def _ahead_detector(recognizer):
    """A detector for full detections made ahead in another thread: a clone of the recognizer's own
    (so that its searches near known faces never wait for it), or None where that cannot be done."""
    detector = getattr(recognizer, "detector", None)
    if getattr(recognizer, "detection_due", None) is None or not hasattr(detector, "clone"):
        return None
    return detector.clone()


def analyze_video(
    path: str | Path,
    out_path: str | Path | None = None,
    timeline: Timeline | None = None,
    fps: float | None = None,
    progress: Progress | None = None,
    recognizer=None,
    show_probabilities: bool = False,
    settings_fps: float | None = SETTINGS_FPS,
    x264_preset: str = "veryfast",
    threaded: bool = True,
) -> VideoSummary:
    """Analyse a video file; optionally write an annotated H.264 MP4 (audio kept) to `out_path`.

    `fps` analyses at most that many frames per second (the annotated video
    then has that rate too); None analyses every frame. `progress(done, total)`
    is called after each decoded frame (`total` may be None when the container
    does not say); an exception raised from it stops the analysis, and a
    half-written `out_path` is removed. The timeline (passed in, or a new
    one) is on the summary. The recognizer is reset first: its tracks start
    afresh for this video.

    Every analysed frame gets its faces (followed between full detections),
    but the recognizer's `detect_every` and `classify_every` count frames of
    `settings_fps` (15, the live path's rate): a 30 fps video has them
    doubled for the run, so faces are detected and classified as often a
    second as live (with the defaults 3 full detections a second, each face
    classified 7.5 times a second), not twice as often. None: use them per
    frame as they are. `x264_preset`: the annotated copy's speed/size trade
    (benchmarks/RESULTS.md: "ultrafast" encodes fastest, about 8 times larger).

    `threaded` (the default) overlaps decoding, full detections, the
    analysis and encoding in threads of their own, and lets FFmpeg and x264
    use threads too: one video keeps more than one core busy. False does it all
    in the calling thread, one core, with the same results: for callers that
    already run one video per core.
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
        if threaded:
            stream.thread_type = "AUTO"
        else:
            stream.codec_context.thread_count = 1
        source_rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        summary.source_fps = float(source_rate)
        total = _total_frames(container, stream, float(source_rate))
        out_rate = Fraction(fps).limit_denominator(1001) if fps else source_rate
        in_audio = container.streams.audio[0] if container.streams.audio else None
        if out_path is not None:
            try:
                writer = _AnnotatedWriter(Path(out_path), out_rate, in_audio, preset=x264_preset, threads=0 if threaded else 1)
            except (OSError, av.error.FFmpegError) as e:
                with contextlib.suppress(OSError):
                    if Path(out_path).stat().st_size == 0:
                        os.remove(out_path)
                raise BadVideoError(f"{out_path}: cannot write the annotated video ({_reason(e)})") from None
        carried_audio = in_audio if writer is not None and writer.audio is not None else None
        analysed_rate = min(float(fps), float(source_rate)) if fps else float(source_rate)
        restore_settings = _pace(recognizer, analysed_rate, settings_fps)
        frames = _Frames(container, stream, carried_audio, fps, float(source_rate), path.name)
        if threaded:
            decoder = _DecodeAhead(
                frames, detector=_ahead_detector(recognizer), detection_due=getattr(recognizer, "detection_due", None)
            )
        else:
            decoder = _DecodeInline(frames)
        encoder = None
        if writer is not None:
            encoder = (_WriteBehind if threaded else _WriteInline)(writer, show_probabilities)
        probability_sum = np.zeros(NUM_CLASSES)
        track_ids: set[int] = set()
        decoder.start()
        if encoder is not None:
            encoder.start()
        try:
            for kind, t, payload in decoder.events():
                if kind == "audio":
                    encoder.put_audio(payload)
                    continue
                summary.frames_decoded += 1
                summary.duration = max(summary.duration, t + 1.0 / float(source_rate))
                if kind == "frame":
                    image, boxes = payload
                    if boxes is None:
                        result = recognizer.analyze(image, timestamp=t)
                    else:
                        result = recognizer.analyze(image, timestamp=t, boxes=boxes)
                    summary.frames_analysed += 1
                    summary.height, summary.width = image.shape[:2]
                    timeline.add(result)
                    summary.faces_seen += len(result.faces)
                    summary.max_faces = max(summary.max_faces, len(result.faces))
                    for face in result.faces:
                        if face.readable:
                            summary.faces_read += 1
                            summary.emotion_counts[face.emotion] += 1
                            probability_sum += face.probabilities
                        if face.track_id is not None:
                            track_ids.add(face.track_id)
                    if encoder is not None:
                        encoder.put_frame(image, result, t)
                if progress is not None:
                    progress(summary.frames_decoded, total)
            if encoder is not None:
                encoder.finish()
                encoder = None
        finally:
            decoder.stop()
            if encoder is not None:
                encoder.abandon()
            restore_settings()
        summary.rotation = frames.rotation
        if summary.frames_decoded == 0:
            raise BadVideoError(f"{path.name}: no video frame could be decoded (corrupt or empty video)")
        summary.tracks_seen = len(track_ids)
        if summary.faces_read:
            summary.mean_probabilities = probability_sum / summary.faces_read
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
