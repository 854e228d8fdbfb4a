"""The Dask side: a LocalCluster on loopback, or a client of a running scheduler; the worker plugin.

Imported only when the batch command runs: dask is an optional extra (requirements-batch.txt).
"""

from __future__ import annotations

import contextlib
import logging
import os

import dask
import distributed

from fer_app.errors import FerError

# A task whose worker dies is retried on another worker this many times, then fails with KilledWorker
# (Dask's default is 3: a file that crashes its worker would take down four workers in a row).
ALLOWED_FAILURES = 1


class EngineWorkerPlugin(distributed.WorkerPlugin):
    """Set up each worker once: cap OpenCV and ONNX Runtime at the worker's threads, load the models."""

    name = "fer-batch-engine"

    def __init__(self, settings_list):
        self.settings_list = list(settings_list)

    def setup(self, worker) -> None:
        import cv2

        # Each task runs the engine on one thread (ONNX Runtime sessions get threads=1 from
        # fer_app.engine); OpenCV's pool is per process, so it gets the worker's thread count.
        cv2.setNumThreads(max(1, int(worker.state.nthreads)))
        from fer_app.engine import shared_classifier

        for s in self.settings_list:
            with contextlib.suppress(FerError):  # a missing model becomes each file's error row instead
                shared_classifier(s.model, s.accurate)


@contextlib.contextmanager
def open_client(address: str | None, scheduler_file: str | None, workers: int):
    """A connected distributed.Client; a LocalCluster (127.0.0.1, processes, one thread each, no dashboard)
    unless `address` or `scheduler_file` name a running scheduler. Closed on the way out."""
    dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES})
    # A dying worker is expected here (a bad file may crash it): its warnings would break the progress line.
    for name in ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.worker", "distributed.core"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    try:
        if address or scheduler_file:
            try:
                client = distributed.Client(address=address, scheduler_file=scheduler_file, timeout="30s")
            except (OSError, TimeoutError, ValueError) as e:
                raise FerError(f"cannot reach the Dask scheduler at {address or scheduler_file}: {e}") from None
        else:
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.CRITICAL,
            )
            client = distributed.Client(cluster)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
