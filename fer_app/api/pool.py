"""The image workers: a fixed set of threads, each with its own recognizers (OpenCV's cascades must not
be shared between threads) over the process's shared ONNX Runtime sessions, behind a bounded queue.

A request takes a slot before its body is read; with every slot taken
(workers + queue) it gets a 503 with Retry-After at once, so latency
cannot grow without bound and at most `slots` uploads are held in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import threading
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from fer_app import engine, media
from fer_app.api.metrics import Metrics
from fer_app.api.problems import Problem
from fer_app.api.recognizers import TooManyFaces, for_photos
from fer_app.detect import resolve_detector_name
from fer_app.errors import BadImageError


def check_image_header(data: bytes, max_pixels: int) -> None:
    """Refuse what is not an image (415) or has too many pixels (413) from its header alone, before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
    except UnidentifiedImageError:
        raise Problem(415, "unsupported-media", "not an image, or an image format this service cannot read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Problem(413, "too-large", "image dimensions too large (possible decompression bomb)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise Problem(422, "bad-image", f"corrupt image header ({type(e).__name__})") from None
    if width * height > max_pixels or max(width, height) > media.MAX_SIDE:
        raise Problem(413, "too-large", f"image too large ({width}x{height}; the limit is {max_pixels} pixels"
                                        f" and {media.MAX_SIDE} px a side)")


class _Place:
    future: Future | None = None


def _call_soon(loop, fn) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: the app is gone
        loop.call_soon_threadsafe(fn)


@dataclass
class Analysis:
    result: object  # FrameResult
    notes: list[str]
    model: dict
    accurate: bool
    decode_ms: float
    analyze_ms: float
    queued_ms: float


class ImagePool:
    def __init__(self, workers: int, queue: int, max_faces: int, max_pixels: int, metrics: Metrics):
        self.workers, self.slots = workers, workers + queue
        self.max_faces, self.max_pixels = max_faces, max_pixels
        self.metrics = metrics
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._taken = 0  # changed on the event loop only
        self._running = 0
        self._lock = threading.Lock()
        self._service_s = 0.3  # moving average of one analysis, for Retry-After
        metrics.image_queue.set_function(lambda: max(0, self._taken - self._running))
        metrics.image_running.set_function(lambda: self._running)

    def start(self) -> None:
        """Start the worker threads (again, after close(): an app's lifespan may run more than once)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fer-image")
            self._local = threading.local()

    @contextlib.contextmanager
    def slot(self):
        if self._taken >= self.slots:
            self.metrics.rejected.labels("image").inc()
            wait = math.ceil(self._service_s * (self._taken - self.workers + 1) / self.workers)
            raise Problem(503, "busy", f"all {self.slots} places are taken; try again shortly",
                          headers={"Retry-After": str(max(1, wait))})
        self._taken += 1
        place = _Place()
        try:
            yield place
        finally:
            if place.future is None:
                self._release()
            else:  # freed when the worker is done, even if the request was abandoned meanwhile
                loop = asyncio.get_running_loop()
                place.future.add_done_callback(lambda _: _call_soon(loop, self._release))

    def _release(self) -> None:
        self._taken -= 1

    async def analyze(self, place: _Place, data: bytes, accurate: bool, detector: str) -> Analysis:
        self.start()  # in case the app runs without its lifespan (a bare ASGI call)
        submitted = time.perf_counter()
        place.future = self._executor.submit(self._analyze, data, accurate, detector, submitted)
        return await asyncio.wrap_future(place.future)

    def _recognizer(self, accurate: bool, detector: str):
        cache = self._local.__dict__.setdefault("recognizers", {})
        if (accurate, detector) not in cache:
            cache[accurate, detector] = for_photos(accurate, self.max_faces, detector)
        return cache[accurate, detector]

    def _analyze(self, data: bytes, accurate: bool, detector: str, submitted: float) -> Analysis:
        started = time.perf_counter()
        with self._lock:
            self._running += 1
        try:
            check_image_header(data, self.max_pixels)
            try:
                image, notes = media.load_image(data)
            except BadImageError as e:
                raise Problem(422, "bad-image", str(e)) from None
            decoded = time.perf_counter()
            recognizer = self._recognizer(accurate, detector)
            try:
                result = recognizer.analyze_image(image)
            except TooManyFaces as e:
                raise Problem(422, "too-many-faces", str(e)) from None
            done = time.perf_counter()
            self._service_s = 0.8 * self._service_s + 0.2 * (done - started)
            self.metrics.faces.observe(len(result.faces))
            return Analysis(result, notes, engine.model_identity(recognizer.classifier), accurate,
                            (decoded - started) * 1000, (done - decoded) * 1000, (started - submitted) * 1000)
        finally:
            with self._lock:
                self._running -= 1

    def warm_up(self) -> dict:
        """Load both models and run each once (the first ONNX Runtime call is slow); returns their identities."""
        import numpy as np

        faces = np.full((1, 48, 48), 128, dtype=np.uint8)
        identities = {}
        for accurate in (False, True):
            classifier = engine.shared_classifier(accurate=accurate)
            classifier.predict(faces)
            identities["accurate" if accurate else "fast"] = engine.model_identity(classifier)
        blank = np.full((240, 320, 3), 200, dtype=np.uint8)
        self.start()
        futures = [self._executor.submit(self._warm_thread, blank) for _ in range(self.workers)]
        for f in futures:
            f.result()
        return identities

    def _warm_thread(self, blank) -> None:
        # the recognizers a request without ?detector= gets (keyed by the detector that runs)
        default, _ = resolve_detector_name(None, still=True)
        for accurate in (False, True):
            self._recognizer(accurate, default).analyze_image(blank)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
