"""Load on the HTTP API (python -m fer_app serve), started by this script on 127.0.0.1 only.

Photos: 640x480 JPEGs, as benchmarks/engine_bench.py builds its scenes: the
astronaut portrait (1 face) and four FER2013 validation faces upscaled to
120 px on skimage's coffee photo (4 faces). Raw image/jpeg bodies over
keep-alive HTTP/1.1 connections, one per client thread; client and server
share the machine's cores.

  cost      API p50 at concurrency 1 against in-process analyze_image (and
            load_image + analyze_image) on the same photo, alternating one
            request and one in-process call.
  levels    p50 / p95 latency and requests/s at concurrency 1, 2, 4, 8.
  overload  open-loop arrivals at 4x the sustainable rate (the best
            requests/s at the levels) for a fixed time: 503s beyond the
            queue, p95 of the accepted ones.
  memory    server RSS after 100 and after 1,000 requests (a fresh server).

Every answer's status is counted: a 5xx other than the overload's 503 fails the run.

Run: python benchmarks/api_load.py [--mode accurate|fast] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import engine_bench  # noqa: E402  (its scenes and machine description)

WORKERS = 2
QUEUE = 6  # slots = workers + queue = 8: concurrency 8 fits; more gets 503


def photos() -> tuple[dict[str, bytes], str]:
    faces, source = engine_bench.detectable_faces(4)
    scenes = {"1 face": engine_bench.astronaut_scene(), "4 faces": engine_bench.scene(faces, 640, 480, 120)[0]}
    return {name: cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for name, img in scenes.items()}, source


class Server:
    def __init__(self, env: dict):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        full_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        full_env.pop("FER_API_TOKEN", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "fer_app", "serve", "--port", str(self.port),
                                      "--log-level", "warning"], cwd=REPO, env=full_env)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            try:
                status, _ = Client(self.port).request("GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "image/jpeg"} if body is not None else {}
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (ConnectionError, http.client.RemoteDisconnected):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)


def _path(mode: str) -> str:
    return "/v1/images:analyze?accurate=" + ("true" if mode == "accurate" else "false")


def _stats(ms: list[float]) -> dict:
    a = np.array(ms) if ms else np.zeros(1)
    return {"p50_ms": round(float(np.median(a)), 1), "p95_ms": round(float(np.percentile(a, 95)), 1), "n": len(ms)}


def closed_loop(port: int, body: bytes, path: str, concurrency: int, total: int, statuses: Counter) -> dict:
    """`concurrency` clients each sending their next request when the last is answered, `total` in all."""
    per_client = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    latencies: list[float] = []
    faces: list[int] = []
    lock = threading.Lock()

    def run(n: int):
        client = Client(port)
        client.request("POST", path, body)  # the connection and this thread's first request are not measured
        for _ in range(n):
            t0 = time.perf_counter()
            status, data = client.request("POST", path, body)
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                statuses[status] += 1
                if status == 200:
                    latencies.append(dt)
                    faces.append(len(json.loads(data)["faces"]))

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(run, per_client))
    wall = time.perf_counter() - started
    return {"concurrency": concurrency, **_stats(latencies), "rps": round(len(latencies) / wall, 2),
            "faces": int(np.median(faces)) if faces else 0}


def cost(port: int, body: bytes, mode: str, reps: int, statuses: Counter) -> dict:
    """API at concurrency 1 and in-process analysis of the same photo, alternating request by request so
    that both see the same conditions. In-process: analyze_image alone, and load_image + analyze_image."""
    from fer_app.engine import make_recognizer
    from fer_app.media import load_image

    recognizer = make_recognizer(still=True, accurate=mode == "accurate")
    client = Client(port)
    image, _ = load_image(body)
    recognizer.analyze_image(image)
    client.request("POST", _path(mode), body)
    api, analyse, decode_analyse, faces, server = [], [], [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        status, data = client.request("POST", _path(mode), body)
        api.append((time.perf_counter() - t0) * 1000)
        statuses[status] += 1
        if status == 200:
            answer = json.loads(data)
            faces.append(len(answer["faces"]))
            server.append(answer["timing"])
        else:
            faces.append(-1)
        t0 = time.perf_counter()
        image, _ = load_image(body)
        t1 = time.perf_counter()
        recognizer.analyze_image(image)
        t2 = time.perf_counter()
        analyse.append((t2 - t1) * 1000)
        decode_analyse.append((t2 - t0) * 1000)
    api_p50, a_p50, la_p50 = (_stats(x)["p50_ms"] for x in (api, analyse, decode_analyse))
    return {"faces": int(np.median(faces)), "api_p50_ms": api_p50, "analyze_image_p50_ms": a_p50,
            "load_and_analyze_p50_ms": la_p50, "api_over_analyze": round(api_p50 / a_p50, 3),
            # where the API's time goes, by the server's own timing fields
            **{f"server_{k}_p50": round(float(np.median([t[k] for t in server])), 2) for k in ("decode_ms", "analyze_ms", "total_ms")},
            "api_over_load_and_analyze": round(api_p50 / la_p50, 3)}


def overload(port: int, body: bytes, path: str, rate: float, seconds: float, statuses: Counter) -> dict:
    """Open loop: a request every 1/rate s whatever the answers; each on its own connection from a large pool."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    local = threading.local()

    def send():
        client = local.__dict__.setdefault("client", Client(port))
        t0 = time.perf_counter()
        status, _ = client.request("POST", path, body)
        with lock:
            results.append((status, (time.perf_counter() - t0) * 1000))
            statuses[status] += 1

    count = int(rate * seconds)
    lag = []
    with ThreadPoolExecutor(64) as pool:
        start = time.perf_counter()
        futures = []
        for i in range(count):
            due = start + i / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            lag.append(max(0.0, time.perf_counter() - due) * 1000)
            futures.append(pool.submit(send))
        for f in futures:
            f.result()
    accepted = [ms for s, ms in results if s == 200]
    refused = [ms for s, ms in results if s == 503]
    return {"rate_rps": round(rate, 2), "seconds": seconds, "sent": count, "accepted": len(accepted), "refused_503": len(refused),
            "accepted_p50_ms": _stats(accepted)["p50_ms"], "accepted_p95_ms": _stats(accepted)["p95_ms"],
            "accepted_max_ms": round(max(accepted), 1) if accepted else None,
            "refused_p50_ms": _stats(refused)["p50_ms"], "refused_p95_ms": _stats(refused)["p95_ms"],
            "schedule_lag_p95_ms": _stats(lag)["p95_ms"]}


def memory(body: bytes, path: str, statuses: Counter, quick: bool) -> dict:
    """Server RSS sampled every `step` requests on a fresh server (glibc may hand memory back, so RSS can
    also fall: the figures are the value after the first step, after the last, and the range in between)."""
    server = Server({"FER_API_WORKERS": str(WORKERS), "FER_API_QUEUE": str(QUEUE)})
    step, total = (20, 100) if quick else (100, 1000)
    samples = []
    try:
        idle = server.rss_mb()
        for _ in range(total // step):
            closed_loop(server.port, body, path, 2, step - 2, statuses)  # +2 unmeasured first requests
            samples.append(round(server.rss_mb(), 1))
    finally:
        server.stop()
    return {"idle_mb": round(idle, 1), "step": step, "rss_mb": samples, f"after_{step}_mb": samples[0],
            f"after_{total}_mb": samples[-1], "growth_mb": round(samples[-1] - samples[0], 1),
            "max_minus_first_mb": round(max(samples) - samples[0], 1)}


def run(mode: str, quick: bool) -> dict:
    bodies, source = photos()
    statuses: Counter = Counter()
    report = {"machine": engine_bench.machine(), "photos": source, "mode": mode, "server": {"workers": WORKERS, "queue": QUEUE}}
    # The HTTP cost is a few ms on ~100 ms of analysis: a p50 over 15 alternations varied by as much.
    cost_reps = 5 if quick else 41
    path = _path(mode)
    server = Server({"FER_API_WORKERS": str(WORKERS), "FER_API_QUEUE": str(QUEUE)})
    try:
        report["cost"] = []
        for name, body in bodies.items():
            for cost_mode in ("accurate", "fast"):
                report["cost"].append({"photo": name, "mode": cost_mode, "bytes": len(body),
                                       **cost(server.port, body, cost_mode, cost_reps, statuses)})
        report["levels"] = []
        for name, body in bodies.items():
            for c in (1, 2, 4, 8):
                total = max(8 if quick else 24, (2 if quick else 5) * c)
                report["levels"].append({"photo": name, **closed_loop(server.port, body, path, c, total, statuses)})
        sustainable = max(r["rps"] for r in report["levels"] if r["photo"] == "1 face")
        report["overload"] = {"photo": "1 face", "sustainable_rps": sustainable,
                              **overload(server.port, bodies["1 face"], path, 4 * sustainable, 5 if quick else 15, statuses)}
    finally:
        server.stop()
    report["memory"] = {"photo": "1 face", "mode": "fast", "concurrency": 2,
                        **memory(bodies["1 face"], _path("fast"), statuses, quick)}
    report["load_average_at_end"] = round(os.getloadavg()[0], 2)
    report["statuses"] = {str(k): v for k, v in sorted(statuses.items())}
    report["server_errors"] = sum(v for k, v in statuses.items() if k >= 500 and k != 503)
    return report


def print_table(r: dict) -> None:
    m = r["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores; load average at start {m['load_average_at_start']}, "
          f"at end {r['load_average_at_end']}")
    print(f"photos: {r['photos']}; server: {r['server']['workers']} workers, queue {r['server']['queue']}")
    print("\nHTTP layer's cost, concurrency 1 (p50 ms)")
    print(f"{'photo':<8} {'mode':<9} {'faces':>5} {'API':>8} {'analyze':>8} {'load+an.':>9} {'API/an.':>8} {'API/l+a':>8}")
    for c in r["cost"]:
        print(f"{c['photo']:<8} {c['mode']:<9} {c['faces']:>5} {c['api_p50_ms']:>8} {c['analyze_image_p50_ms']:>8} "
              f"{c['load_and_analyze_p50_ms']:>9} {c['api_over_analyze']:>8} {c['api_over_load_and_analyze']:>8}")
    print(f"\nconcurrency levels, mode {r['mode']}")
    print(f"{'photo':<8} {'conc.':>5} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>6}")
    for lv in r["levels"]:
        print(f"{lv['photo']:<8} {lv['concurrency']:>5} {lv['n']:>4} {lv['p50_ms']:>8} {lv['p95_ms']:>8} {lv['rps']:>6}")
    print("\noverload:", json.dumps(r["overload"]))
    print("memory:", json.dumps(r["memory"]))
    print("statuses:", r["statuses"], "| 5xx other than 503:", r["server_errors"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["accurate", "fast"], default="accurate", help="mode of the levels and overload")
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer requests")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.mode, args.quick)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_table(report)
    return 1 if report["server_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
