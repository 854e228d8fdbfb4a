"""Throughput and memory of `python -m fer_app batch`, against a plain loop of `python -m fer_app video`.

Clips: distinct 720p H.264 clips, each a different set of FER2013 validation faces
(ones the cascade finds) on a real photo, panning (benchmarks/engine_bench.py's scene
generator). In one run:
  1. a loop of `python -m fer_app video CLIP --json` over the clips (a fresh process each)
  2. `batch --workers 1` and `batch --workers 2` (LocalCluster) over the same clips
  3. "two machines on one machine": `dask scheduler` + two `dask worker` processes on
     127.0.0.1, `batch --address`; one worker (nanny and all) is killed with SIGKILL once
     half the files are done, and the batch must still finish every file
  4. memory: one worker over 100 small distinct clips; its RSS after the 10th and the 100th file
Peak RSS per worker comes from the rows' worker_peak_rss_mb (the worker process's VmHWM).

Run (needs both cores free for the scaling figure):
  flock -x /tmp/fer-cpu.lock python benchmarks/batch_bench.py [--clips 20] [--seconds 5] [--json]
Smoke: python benchmarks/batch_bench.py --clips 4 --seconds 1 --memory-files 12
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_bench  # noqa: E402  (the scene generator)

ENV = os.environ | {"PYTHONPATH": str(REPO)}


def make_clips(folder: Path, count: int, seconds: float, size=(1280, 720), faces_per_clip: int = 4, fps: int = 30,
               face_px: int = 170, seed: int = 0) -> list[Path]:
    """`count` distinct clips: each its own faces (drawn without repeats while the pool lasts) and pan step."""
    folder.mkdir(parents=True, exist_ok=True)
    pool, source = engine_bench.detectable_faces(max(count * faces_per_clip // 2, faces_per_clip * 2), seed=seed)
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        picked = [pool[j] for j in rng.choice(len(pool), size=faces_per_clip, replace=False)]
        base, _ = engine_bench.scene(picked, size[0], size[1], face_px)
        path = folder / f"clip{i:03d}.mp4"
        # x264's veryfast preset: making the clips is not what is measured
        engine_bench.write_clip(path, base, seconds, fps=fps, step=1.0 + 0.25 * (i % 5), preset="veryfast")
        clips.append(path)
    return clips, source


class CpuMeter:
    """Cores used over a phase: by this benchmark's child processes (all of them, reaped) and by the whole
    machine (/proc/stat). The difference is what other users' processes took from the measurement."""

    def __enter__(self):
        import resource

        self._wall = time.perf_counter()
        self._mine = sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), f) for f in ("ru_utime", "ru_stime"))
        self._busy = _machine_busy_s()
        return self

    def __exit__(self, *exc):
        import resource

        wall = time.perf_counter() - self._wall
        mine = sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), f) for f in ("ru_utime", "ru_stime")) - self._mine
        self.figures = {"cores_used_by_run": round(mine / wall, 2), "cores_used_by_others": round(max(0.0, (_machine_busy_s() - self._busy - mine) / wall), 2)}


def _machine_busy_s() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def batch(args: list[str], out: Path) -> tuple[dict, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fer_app", "batch", *args, "--out", str(out), "--json"], cwd=REPO,
                          env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"batch failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout), wall


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def peak_rss_by_worker(records: list[dict]) -> dict:
    peaks: dict[str, float] = {}
    for r in records:
        if r.get("worker") and r.get("worker_peak_rss_mb"):
            peaks[r["worker"]] = max(peaks.get(r["worker"], 0.0), r["worker_peak_rss_mb"])
    return {w: round(v, 1) for w, v in sorted(peaks.items())}


def video_loop(clips: list[Path]) -> tuple[float, float]:
    """Wall seconds of `python -m fer_app video CLIP --json` for each clip in turn; media seconds."""
    media = 0.0
    start = time.perf_counter()
    for clip in clips:
        done = subprocess.run([sys.executable, "-m", "fer_app", "video", str(clip), "--json"], cwd=REPO, env=ENV,
                              capture_output=True, text=True, check=True)
        media += json.loads(done.stdout)["duration"]
    return time.perf_counter() - start, media


@contextlib.contextmanager
def loopback_cluster(tmp: Path, workers: int = 2, env: dict | None = None):
    """`dask scheduler` and `workers` x `dask worker` (one process, one thread each) on 127.0.0.1; yields
    (the scheduler's address, the worker processes, {worker address: pid}). The batch tests use it too."""
    scheduler_file = tmp / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    env = ENV | {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"} | (env or {})
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file)], env=env, cwd=tmp, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        worker_procs = []
        for _ in range(workers):
            p = subprocess.Popen([*dask, "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                                  "--nworkers", "1", "--nthreads", "1", "--no-dashboard"], env=env, cwd=tmp,
                                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            worker_procs.append(p)
        from distributed import Client

        address = json.loads(scheduler_file.read_text())["address"]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=60)
            pids = client.run(os.getpid)  # {worker address: its process id}
        yield address, worker_procs, pids
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def two_machines(clips: list[Path], tmp: Path) -> dict:
    out = tmp / "out_cluster"
    with loopback_cluster(tmp) as (address, worker_procs, pids):
        import psutil

        # the worker address served by the process group of the first `dask worker` we started
        victim_pids = {worker_procs[0].pid} | {c.pid for c in psutil.Process(worker_procs[0].pid).children(recursive=True)}
        victim = next(addr for addr, pid in pids.items() if pid in victim_pids)
        start = time.perf_counter()
        driver = subprocess.Popen([sys.executable, "-m", "fer_app", "batch", *map(str, clips), "--out", str(out),
                                   "--address", address, "--json"], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        manifest = out / "manifest.jsonl"
        killed_after = None
        while driver.poll() is None:
            done = len(manifest.read_text().splitlines()) if manifest.exists() else 0
            if killed_after is None and done >= len(clips) // 2:
                os.killpg(worker_procs[0].pid, signal.SIGKILL)
                killed_after = done
            time.sleep(0.05)
        stdout, stderr = driver.communicate()
        wall = time.perf_counter() - start
    summary = json.loads(stdout)
    records = rows(out)
    by_worker: dict[str, int] = {}
    for r in records:
        by_worker[r["worker"] or "(died with its worker)"] = by_worker.get(r["worker"] or "(died with its worker)", 0) + 1
    return {
        "files": len(clips),
        "counts": summary["counts"],
        "every_file_ok": summary["counts"]["ok"] == len(clips) and len({r["file"] for r in records}) == len(clips),
        "files_by_worker": by_worker,
        "killed_worker": victim,
        "killed_worker_got_files": by_worker.get(victim, 0) > 0,
        "killed_after_files": killed_after,
        "wall_s": round(wall, 2),
        "media_s_per_wall_s": round(summary["media_seconds"] / wall, 3),
        "peak_rss_mb_by_worker": peak_rss_by_worker(records),
    }


def memory_run(tmp: Path, files: int) -> dict:
    clips, _ = make_clips(tmp / "small", files, 2.0, size=(480, 270), faces_per_clip=2, fps=15, face_px=90, seed=1)
    out = tmp / "out_memory"
    summary, _ = batch([str(tmp / "small"), "--workers", "1"], out)
    records = rows(out)
    rss = [r["worker_rss_mb"] for r in records if r["status"] == "ok"]
    at10, at_end = rss[9], rss[-1]
    return {"files": files, "ok": summary["counts"]["ok"], "rss_mb_after_10": at10, f"rss_mb_after_{len(rss)}": at_end,
            "growth_mb": round(at_end - at10, 1), "peak_rss_mb": max(r["worker_peak_rss_mb"] for r in records if r["worker_peak_rss_mb"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--memory-files", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {"machine": engine_bench.machine(), "command": " ".join([Path(sys.executable).name, *sys.argv])}
    with tempfile.TemporaryDirectory(prefix="fer-batch-bench-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        clips, source = make_clips(tmp / "clips", args.clips, args.seconds)
        report["clips"] = {"count": len(clips), "seconds_each": args.seconds, "size": "1280x720 @ 30 fps, 4 faces of 170 px",
                           "faces": source, "generated_in_s": round(time.perf_counter() - t0, 1)}
        with CpuMeter() as meter:
            loop_wall, media = video_loop(clips)
        report["video_loop"] = {"wall_s": round(loop_wall, 2), "media_s": round(media, 2),
                                "media_s_per_wall_s": round(media / loop_wall, 3)} | meter.figures
        for n in (1, 2):
            with CpuMeter() as meter:
                summary, wall = batch([*map(str, clips), "--workers", str(n)], tmp / f"out_{n}")
            assert summary["counts"]["ok"] == len(clips), summary
            report[f"batch_{n}_workers"] = {
                "wall_s": round(wall, 2), "media_s": summary["media_seconds"],
                "media_s_per_wall_s": round(summary["media_seconds"] / wall, 3),
                "inside_command_media_s_per_wall_s": summary["media_s_per_wall_s"],
                "peak_rss_mb_by_worker": peak_rss_by_worker(rows(tmp / f"out_{n}")),
                "seconds_in_tasks": round(sum(r["seconds"] or 0 for r in rows(tmp / f"out_{n}")), 2),
            } | meter.figures
        one, two = report["batch_1_workers"], report["batch_2_workers"]
        report["ratios"] = {
            "2_workers_over_1": round(two["media_s_per_wall_s"] / one["media_s_per_wall_s"], 2),
            "batch_2_workers_over_loop": round(two["media_s_per_wall_s"] / report["video_loop"]["media_s_per_wall_s"], 2),
            "batch_1_worker_over_loop": round(one["media_s_per_wall_s"] / report["video_loop"]["media_s_per_wall_s"], 2),
        }
        report["two_machines_on_one"] = two_machines(clips, tmp)
        report["memory"] = memory_run(tmp, args.memory_files)
        report["total_s"] = round(time.perf_counter() - t0, 1)
    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
