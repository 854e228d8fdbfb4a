"""Video jobs: a bounded queue, background worker threads, and results kept for a stated time.

Each job's upload lives in its own private temporary folder, deleted as soon
as the job ends (succeeded, failed or cancelled); the result stays in memory
until the job expires (`job_ttl_seconds` after it ended) or is deleted.
"""

from __future__ import annotations

import logging
import queue
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fer_app import engine
from fer_app.api.metrics import Metrics
from fer_app.api.recognizers import for_videos
from fer_app.errors import FerError

log = logging.getLogger("fer_app.api")
STATUSES = ("queued", "running", "succeeded", "failed")


class Cancelled(Exception):
    pass


class QueueFull(Exception):
    pass


@dataclass
class Job:
    id: str
    folder: Path
    accurate: bool
    fps: float | None
    max_frames: int | None  # a guard for videos longer than their metadata says
    model: dict
    detector: str
    created_at: float = field(default_factory=time.time)
    status: str = "queued"
    frames_done: int = 0
    frames_total: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    expires_at: float | None = None
    summary: dict | None = None
    timeline: list | None = None
    error: dict | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def video(self) -> Path:
        return self.folder / "upload"

    def to_dict(self) -> dict:
        total = self.frames_total
        fraction = None
        if self.status == "succeeded":
            fraction = 1.0
        elif total:
            fraction = round(min(1.0, self.frames_done / total), 4)
        return {
            "id": self.id,
            "status": self.status,
            "progress": {"frames_done": self.frames_done, "frames_total": total, "fraction": fraction},
            "accurate": self.accurate,
            "fps": self.fps,
            "model": {**self.model, "accurate": self.accurate},
            "detector": self.detector,
            "created_at": round(self.created_at, 3),
            "started_at": self.started_at and round(self.started_at, 3),
            "finished_at": self.finished_at and round(self.finished_at, 3),
            "expires_at": self.expires_at and round(self.expires_at, 3),
            "summary": self.summary,
            "timeline": self.timeline,
            "error": self.error,
        }


class JobStore:
    def __init__(self, workers: int, queue_size: int, ttl_s: float, metrics: Metrics, max_seconds: float):
        self.ttl_s, self.max_seconds = ttl_s, max_seconds
        self.metrics = metrics
        self._root: Path | None = None
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=queue_size)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        metrics.video_queue.set_function(self._queue.qsize)
        for status in STATUSES:
            metrics.video_jobs.labels(status).set_function(lambda s=status: self._count(s))

    def start(self) -> None:
        """Start the workers (again, after close(): an app's lifespan may run more than once)."""
        self._stop.clear()
        self._threads = [threading.Thread(target=self._work, name=f"fer-video-{i}", daemon=True) for i in range(self._workers)]
        self._threads.append(threading.Thread(target=self._reap, name="fer-video-reaper", daemon=True))
        for t in self._threads:
            t.start()

    def _count(self, status: str) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.status == status)

    @property
    def root(self) -> Path:
        """Made at the first upload, mode 0700; removed with everything in it by close()."""
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="fer-api-jobs-"))
            return self._root

    def new_folder(self) -> Path:
        folder = self.root / secrets.token_hex(8)
        folder.mkdir(mode=0o700)
        return folder

    def submit(self, folder: Path, accurate: bool, fps: float | None, max_frames: int | None,
               detector: str) -> Job:
        classifier = engine.shared_classifier(accurate=accurate)
        job = Job(id=secrets.token_urlsafe(16), folder=folder, accurate=accurate, fps=fps, max_frames=max_frames,
                  model=engine.model_identity(classifier), detector=detector)
        with self._lock:
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self.metrics.rejected.labels("video").inc()
                raise QueueFull from None
            self._jobs[job.id] = job
        return job

    def waiting(self) -> int:
        return self._queue.qsize()

    def retry_after(self) -> int:
        return 30

    def get(self, job_id: str) -> Job | None:
        self.sweep()
        with self._lock:
            return self._jobs.get(job_id)

    def delete(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            return False
        job.cancel.set()
        if job.status != "running":  # a running job's worker removes its folder when it stops
            shutil.rmtree(job.folder, ignore_errors=True)
        return True

    def sweep(self) -> None:
        now = time.time()
        with self._lock:
            expired = [j for j in self._jobs.values() if j.expires_at is not None and j.expires_at <= now]
            for job in expired:
                del self._jobs[job.id]
        for job in expired:
            shutil.rmtree(job.folder, ignore_errors=True)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            job.cancel.set()
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for t in self._threads:
            t.join(timeout=10)
        self._threads = []
        while True:  # jobs left in the queue were cancelled above
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        with self._lock:
            root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def _reap(self) -> None:
        while not self._stop.wait(min(30.0, self.ttl_s / 4)):
            self.sweep()

    def _work(self) -> None:
        recognizers: dict[tuple, object] = {}  # this thread's own (detectors are not shared between threads)
        while not self._stop.is_set():
            try:
                job = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if job is None:
                return
            if job.cancel.is_set():
                shutil.rmtree(job.folder, ignore_errors=True)
                continue
            key = (job.accurate, job.detector)
            if key not in recognizers:
                recognizers[key] = for_videos(job.accurate, job.detector)
            self._run(job, recognizers[key])

    def _run(self, job: Job, recognizer) -> None:
        from fer_app.video import analyze_video

        def progress(done: int, total: int | None) -> None:
            job.frames_done, job.frames_total = done, total
            if job.cancel.is_set() or self._stop.is_set():
                raise Cancelled
            if job.max_frames is not None and done > job.max_frames:
                raise FerError(f"the video is longer than the limit of {self.max_seconds:g} seconds")

        job.started_at, job.status = time.time(), "running"
        try:
            summary = analyze_video(job.video, fps=job.fps, progress=progress, recognizer=recognizer)
            job.summary, job.timeline = summary.to_dict(), summary.timeline.rows()
            job.status = "succeeded"
        except Cancelled:
            job.status = "failed"
            job.error = {"type": "urn:fer-app:problem:cancelled", "detail": "the job was deleted"}
        except FerError as e:
            job.status = "failed"
            job.error = {"type": "urn:fer-app:problem:bad-video", "detail": str(e)}
        except Exception as e:  # one broken video must not stop the worker; the log gets the reason
            log.error("video job %s failed: %s", job.id, type(e).__name__, exc_info=e)
            job.status = "failed"
            job.error = {"type": "urn:fer-app:problem:internal", "detail": "internal error while analysing the video"}
        finally:
            job.finished_at = time.time()
            job.expires_at = job.finished_at + self.ttl_s
            shutil.rmtree(job.folder, ignore_errors=True)
            self.metrics.video_done.labels(job.status).inc()
