"""The driver: decide what each input needs (skip, duplicate, analyse), keep a bounded number of files in
flight on the Dask workers, and record each result durably as it comes back."""

from __future__ import annotations

import os
from asyncio import CancelledError
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fer_app.batch.inputs import Input
from fer_app.batch.output import ResultStore
from fer_app.batch.settings import Settings, expected_model, settings_for, settings_hash
from fer_app.engine import file_sha256
from fer_app.errors import FerError

WORKER_DIED = "the worker analysing this file died (a crash or out of memory); the batch went on without it"


@dataclass
class Options:
    accurate: bool | None = None  # None: photos accurate, videos fast (the single-file commands' rule)
    model: str | None = None
    retry_errors: bool = False
    detector: str | None = None  # None: the default for each kind


@dataclass
class Tally:
    total: int = 0
    skipped: int = 0  # already done in an earlier run with the same content, settings and model
    analysed: int = 0  # sent to a worker in this run
    counts: dict = field(default_factory=lambda: {"ok": 0, "error": 0, "duplicate": 0})
    media_seconds: float = 0.0
    workers_used: set = field(default_factory=set)

    @property
    def done(self) -> int:
        return self.skipped + sum(self.counts.values())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Planner:
    """What to do with each input, given what the manifest already holds."""

    def __init__(self, store: ResultStore, options: Options):
        self.store, self.options = store, options
        self._settings: dict[str, tuple[Settings, str, dict]] = {}
        # (sha256, settings_hash, model_sha256) -> the file holding that analysis (done before, or in flight)
        self.owner: dict[tuple, str] = {}
        for rec in store.latest.values():
            if rec["status"] == "ok":
                self.owner.setdefault((rec["sha256"], rec["settings_hash"], rec["model_sha256"]), rec["file"])

    def settings(self, kind: str) -> tuple[Settings, str, dict]:
        if kind not in self._settings:
            s = settings_for(kind, self.options.accurate, self.options.model, self.options.detector)
            self._settings[kind] = (s, settings_hash(s), expected_model(s))
        return self._settings[kind]

    def _sha256(self, item: Input, stat) -> str:
        prev = self.store.latest.get(item.path)
        if prev and prev.get("sha256") and prev.get("size_bytes") == stat.st_size and prev.get("mtime_ns") == stat.st_mtime_ns:
            return prev["sha256"]
        return file_sha256(item.path)

    def plan(self, item: Input) -> tuple[str, dict]:
        """-> ("skip", record) | ("row", a finished row to record now) | ("analyse", the row so far)."""
        base = {"file": item.path, "kind": item.kind, "sha256": "", "settings_hash": "", "model": "", "model_sha256": "",
                "detector": "", "error": "", "worker": "", "duplicate_of": ""}
        prev = self.store.latest.get(item.path)
        try:
            stat = os.stat(item.path)
            base |= {"size_bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            if not item.kind:
                row = base | {"status": "error", "error": f"{os.path.basename(item.path)}: not a video or an image "
                              "(judged by its extension); left out"}
                if prev and prev["status"] == "error" and prev["error"] == row["error"] and not self.options.retry_errors:
                    return "skip", prev
                return "row", row
            sha = self._sha256(item, stat)
        except OSError as e:
            return "row", base | {"status": "error", "error": f"{item.path}: cannot read ({e.strerror or e})"}
        settings, digest, model = self.settings(item.kind)
        base |= {"sha256": sha, "settings_hash": digest, "model": model["name"], "model_sha256": model["sha256"],
                 "detector": settings.detector}
        key = (sha, digest, model["sha256"])
        same = prev is not None and (prev["sha256"], prev["settings_hash"], prev["model_sha256"]) == key
        if same and (prev["status"] != "error" or not self.options.retry_errors):
            return "skip", prev
        owner = self.owner.get(key)
        if owner is not None and owner != item.path:
            return "row", base | {"status": "duplicate", "duplicate_of": owner}
        self.owner[key] = item.path
        return "analyse", base


def _window(client) -> int:
    """Files in flight: one per worker thread, re-read as workers come and go. Never more: a file queued
    behind another on a worker that dies would be blamed for the crash too (Dask counts a death against
    every task assigned to the worker), and after `allowed-failures` it would fail with KilledWorker."""
    return max(1, sum(client.nthreads().values()))


def run_batch(client, inputs: list[Input], store: ResultStore, options: Options, progress=None) -> Tally:
    """Analyse `inputs` on the client's workers; every result is in `store` when this returns."""
    from distributed import KilledWorker, as_completed

    from fer_app.batch.task import analyse_file

    tally = Tally(total=len(inputs))
    planner = Planner(store, options)
    window = _window(client)
    pending = as_completed()
    rows_in_flight: dict[str, dict] = {}

    def finish(row: dict, timeline=(), faces=()) -> None:
        row["finished_at"] = _now()
        store.record(row, timeline, faces)
        tally.counts[row["status"]] += 1
        tally.media_seconds += row.get("duration") or 0.0
        if row.get("worker"):
            tally.workers_used.add(row["worker"])

    def collect(future) -> None:
        row = rows_in_flight.pop(future.key)
        try:
            result = future.result()
        except KilledWorker:
            finish(row | {"status": "error", "error": f"{os.path.basename(row['file'])}: {WORKER_DIED}"})
            return
        except (Exception, CancelledError) as e:  # not KeyboardInterrupt: Ctrl+C stops the run, unrecorded
            if client.status != "running":  # the scheduler is gone: leave the file unrecorded for the next run
                raise FerError(f"lost the Dask scheduler ({type(e).__name__}); run the same command again to resume") from None
            message = " ".join(f"the task failed outside the engine: {type(e).__name__}: {e}".split())
            finish(row | {"status": "error", "error": f"{os.path.basename(row['file'])}: {message}"})
            return
        finish(row | result["row"], result["timeline"], result["faces"])

    def draw() -> None:
        if progress is not None:
            progress.update(tally.done, tally.counts["error"], tally.media_seconds)

    settings_of = {}
    for n, item in enumerate(inputs):
        # Planning hashes the file: done before waiting for a free worker, so it overlaps the analyses.
        action, row = planner.plan(item)  # raises FerError when the model itself is missing
        if action == "skip":
            tally.skipped += 1
        elif action == "row":
            finish(row)
        else:
            if pending.count() >= window:
                window = _window(client)
            while pending.count() >= window:
                collect(next(pending))
                draw()
            settings = settings_of.setdefault(item.kind, planner.settings(item.kind)[0])
            future = client.submit(analyse_file, item.path, settings, key=f"fer-batch-{n}-{row['sha256'][:12]}", pure=False)
            rows_in_flight[future.key] = row
            pending.add(future)
            tally.analysed += 1
        draw()
    for future in pending:
        collect(future)
        draw()
    return tally


def summary(tally: Tally, wall_s: float, store: ResultStore, files_table, workers: int) -> dict:
    return {
        "out": str(store.dir),
        "files_table": str(files_table),
        "total": tally.total,
        "analysed": tally.analysed,
        "skipped_done_before": tally.skipped,
        "counts": tally.counts,
        "wall_s": round(wall_s, 3),
        "media_seconds": round(tally.media_seconds, 3),
        "media_s_per_wall_s": round(tally.media_seconds / wall_s, 3) if wall_s > 0 else None,
        "files_per_s": round(sum(tally.counts.values()) / wall_s, 3) if wall_s > 0 else None,
        "workers": workers,
        "workers_used": sorted(tally.workers_used),
    }
