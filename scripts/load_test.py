"""Load test: several live browser sessions against one app server, for minutes, recording RSS and latency.

    python scripts/load_test.py                     # 4 sessions, 10 minutes, its own server
    python scripts/load_test.py --sessions 2 --minutes 1 --out test-artifacts/load

It starts the app (streamlit run streamlit_app.py) on a free local port, opens
N headless Chromium browsers (one page each, Chromium's fake camera playing a
real face), gives consent and presses START in each, then every
`--every` seconds records:

- the server's resident memory (VmRSS of the streamlit process, /proc);
- per session, what the page itself shows under the video: frames analysed so
  far, analysed frames per second, and the per-frame analysis time (median and
  p95 over the last 300 frames) measured in the server's video callback.

It writes samples.csv and summary.json to --out and prints a Markdown summary
(with each session's analysed-frame count minute by minute). It also counts, in
the server's log, ICE connections closed for lack of consent replies ("Consent
to send expired": what ended 3 of 4 streams before the fix) and consent replies
that came late but were accepted (fer_app.live.tolerate_late_consent_replies).
Goals (issue 4): every session keeps getting processed frames (its count moves
in every sample interval), RSS grows by less than 50 MB (median of the last
minute against the median of the first minute after warm-up), p95 latency
stays bounded. Exit status 1 when a goal is missed.

The browser and the server share the machine, so the frame rates are those of
this machine with N Chromium pages encoding and decoding video beside the app.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import (  # noqa: E402 - the browser-test helpers are the one recipe for driving the app
    AppServer,
    camera,
    face_frame,
    give_consent,
    launch_chromium,
    start_camera,
    video_playing,
    write_y4m,
)

STATUS = re.compile(r"Analysed (\d+) frames · ([\d.]+) frames/s · (\d+) ms per frame \(p95 (\d+) ms\) · (\d+) dropped")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def playing(page) -> bool:
    try:
        return video_playing(page)
    except Exception:  # noqa: BLE001 - a page that cannot be asked is not playing
        return False


def read_status(page) -> dict | None:
    try:
        text = page.get_by_text(STATUS).first.inner_text(timeout=2000)
    except Exception:  # noqa: BLE001 - a page that shows no status line is recorded as such
        return None
    m = STATUS.search(text)
    if not m:
        return None
    frames, fps, p50, p95, dropped = m.groups()
    return {"frames": int(frames), "fps": float(fps), "p50_ms": int(p50), "p95_ms": int(p95), "dropped": int(dropped)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the RSS baseline is taken")
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "load")
    parser.add_argument("--rss-growth-mb", type=float, default=50.0)
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE", help="environment for the app server")
    parser.add_argument(
        "--from-samples",
        type=Path,
        metavar="CSV",
        help="summarise a finished run's samples.csv (and the server.log beside it); run nothing",
    )
    args = parser.parse_args(argv)
    if args.from_samples:
        return report(read_samples(args.from_samples), args, args.from_samples.parent / "server.log")

    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    cam = write_y4m(args.out / "face.y4m", [face_frame()] * 10)
    server = AppServer(args.out / "server.log", env=dict(item.split("=", 1) for item in args.server_env))
    samples: list[dict] = []
    try:
        with sync_playwright() as p:
            # One Chromium per session: pages of one browser share its fake camera, and starting a
            # third capture there ended the first two streams (seen here), which no real user meets.
            browsers = []
            pages = []
            attempts = []
            for _ in range(args.sessions):
                browsers.append(launch_chromium(p, cam))
                context = browsers[-1].new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.set_default_timeout(90_000)  # a busy 2-core machine is slow to open the 4th page
                page.goto(server.url, wait_until="domcontentloaded")
                give_consent(page)
                attempts.append(start_camera(page))
                pages.append(page)
            print(f"{args.sessions} sessions playing (START presses: {attempts}); sampling for {args.minutes:g} min", flush=True)

            t0 = time.monotonic()
            end = t0 + args.minutes * 60
            while True:
                now = time.monotonic()
                row = {"t_s": round(now - t0, 1), "rss_mb": round(rss_mb(server.process.pid), 1)}
                for i, page in enumerate(pages):
                    status = read_status(page) or {}
                    for key in ("frames", "fps", "p50_ms", "p95_ms", "dropped"):
                        row[f"s{i}_{key}"] = status.get(key)
                    row[f"s{i}_playing"] = playing(page)
                samples.append(row)
                print(
                    f"t={row['t_s']:6.1f}s rss={row['rss_mb']:.0f} MB "
                    + " ".join(
                        f"[{row[f's{i}_frames']} fr {row[f's{i}_fps']} fps p95 {row[f's{i}_p95_ms']} ms]"
                        for i in range(len(pages))
                    ),
                    flush=True,
                )
                if now >= end:
                    break
                time.sleep(max(0.0, min(args.every, end - time.monotonic())))
            for i, page in enumerate(pages):
                page.screenshot(path=str(args.out / f"session-{i}.png"))
                stop = camera(page).get_by_role("button", name="Stop")
                if stop.count():
                    stop.click()
            for browser in browsers:
                browser.close()
    finally:
        server.stop()

    with open(args.out / "samples.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(samples[0]))
        writer.writeheader()
        writer.writerows(samples)
    return report(samples, args, server.log_path)


def report(samples: list[dict], args, server_log: Path) -> int:
    summary = summarise(samples, args)
    if server_log.exists():
        summary["server_log"] = server_log_counts(server_log.read_text(errors="replace"))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(markdown(summary))
    return 0 if summary["goals_met"] else 1


def read_samples(path: Path) -> list[dict]:
    """samples.csv back into the types the run recorded."""

    def value(text: str):
        if text in ("", "None"):
            return None
        if text in ("True", "False"):
            return text == "True"
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number

    with open(path, newline="") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def slope_per_minute(ts: list[float], ys: list[float]) -> float:
    """Least-squares trend of ys over ts (seconds), per minute."""
    if len(ts) < 2:
        return 0.0
    mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
    var = sum((t - mt) ** 2 for t in ts)
    return 60.0 * sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var if var else 0.0


def summarise(samples: list[dict], args) -> dict:
    n = args.sessions
    warm = [s for s in samples if s["t_s"] >= args.warmup] or samples
    sessions = []
    for i in range(n):
        frames = [s[f"s{i}_frames"] for s in samples]
        # Processed frames between consecutive samples: every interval must show progress. (An
        # interval under half the sampling period, as a run's last one could be, is too short to judge.)
        deltas = [
            b[f"s{i}_frames"] - a[f"s{i}_frames"]
            for a, b in zip(samples, samples[1:])
            if a[f"s{i}_frames"] is not None and b[f"s{i}_frames"] is not None and b["t_s"] - a["t_s"] >= args.every / 2
        ]
        p95s = [s[f"s{i}_p95_ms"] for s in warm if s[f"s{i}_p95_ms"] is not None]
        fps = [s[f"s{i}_fps"] for s in warm if s[f"s{i}_fps"] is not None]
        sessions.append(
            {
                "playing_samples": f"{sum(bool(s[f's{i}_playing']) for s in samples)}/{len(samples)}",
                "playing_at_end": bool(samples[-1][f"s{i}_playing"]),
                "frames_total": frames[-1],
                "status_missing_samples": sum(f is None for f in frames),
                "min_frames_per_interval": min(deltas) if deltas else 0,
                "fps_mean": round(sum(fps) / len(fps), 1) if fps else 0.0,
                "fps_min": min(fps) if fps else 0.0,
                "p95_ms_max": max(p95s) if p95s else None,
                "p95_ms_last": p95s[-1] if p95s else None,
                "dropped_total": samples[-1][f"s{i}_dropped"],
            }
        )
    rss_start, rss_base, rss_end = samples[0]["rss_mb"], warm[0]["rss_mb"], samples[-1]["rss_mb"]
    all_progress = all(
        s["min_frames_per_interval"] > 0 and s["status_missing_samples"] == 0 and s["playing_at_end"] for s in sessions
    )
    # RSS swings by tens of MB from one sample to the next (frames in flight, garbage awaiting
    # Python's collector), so growth compares the median of the first minute after warm-up with
    # the median of the last minute, and the least-squares trend is reported beside it.
    t_warm, t_end = warm[0]["t_s"], samples[-1]["t_s"]
    first_minute = [s["rss_mb"] for s in warm if s["t_s"] < t_warm + 60]
    last_minute = [s["rss_mb"] for s in warm if s["t_s"] > t_end - 60]
    growth = median(last_minute) - median(first_minute)
    trend = slope_per_minute([s["t_s"] for s in warm], [s["rss_mb"] for s in warm])
    p95_max = max((s["p95_ms_max"] or 0) for s in sessions)
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "sessions": n,
        "minutes": args.minutes,
        "sample_every_s": args.every,
        "rss_mb": {
            "first_sample": rss_start,
            "after_warmup": rss_base,
            "end": rss_end,
            "median_first_minute_after_warmup": median(first_minute),
            "median_last_minute": median(last_minute),
            "growth_after_warmup": round(growth, 1),
            "trend_mb_per_min": round(trend, 2),
            "max": max(s["rss_mb"] for s in samples),
        },
        "per_session": sessions,
        "by_minute": frames_by_minute(samples, n),
        "p95_ms_max": p95_max,
        "goals": {
            "every session kept getting processed frames": all_progress,
            f"RSS growth after warm-up < {args.rss_growth_mb:g} MB (median of the last minute vs the first)": growth
            < args.rss_growth_mb,
            "p95 analysis time bounded (< 1000 ms)": p95_max < 1000,
        },
        "goals_met": all_progress and growth < args.rss_growth_mb and p95_max < 1000,
    }


def server_log_counts(log: str) -> dict:
    return {
        "ICE consent expired (stream closed by the server)": log.count("Consent to send expired"),
        "late ICE consent replies accepted": log.count("ICE consent reply from"),
        "stale-context resets by streamlit-webrtc": log.count("resetting stale state"),
        "WebRTC workers stopped": log.count("Stopping WebRTC worker"),
    }


def frames_by_minute(samples: list[dict], sessions: int) -> list[dict]:
    """The sample nearest each whole minute (and the last one): time, RSS, every session's frame count and p95."""
    rows, minute = [], 0
    for i, s in enumerate(samples):
        last = i == len(samples) - 1
        if s["t_s"] >= minute * 60 or last:
            rows.append(s)
            while minute * 60 <= s["t_s"]:
                minute += 1
    return [
        {
            "t_s": r["t_s"],
            "rss_mb": r["rss_mb"],
            "frames": [r[f"s{i}_frames"] for i in range(sessions)],
            "p95_ms": [r[f"s{i}_p95_ms"] for i in range(sessions)],
        }
        for r in rows
    ]


def markdown(summary: dict) -> str:
    r = summary["rss_mb"]
    lines = [
        f"### Load: {summary['sessions']} live sessions for {summary['minutes']:g} min ({summary['machine']})",
        "",
        f"Server RSS: {r['first_sample']:.0f} MB at the first sample, {r['after_warmup']:.0f} MB after warm-up, "
        f"{r['end']:.0f} MB at the end, max {r['max']:.0f} MB; median {r['median_first_minute_after_warmup']:.0f} MB "
        f"in the first minute after warm-up and {r['median_last_minute']:.0f} MB in the last "
        f"(growth {r['growth_after_warmup']:+.0f} MB; least-squares trend {r['trend_mb_per_min']:+.1f} MB/min).",
        "",
        "| session | samples playing | frames analysed | mean fps | min fps | least frames in a sample interval | p95 ms (max) | dropped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(summary["per_session"]):
        lines.append(
            f"| {i} | {s['playing_samples']} | {s['frames_total']} | {s['fps_mean']} | {s['fps_min']} | {s['min_frames_per_interval']} | {s['p95_ms_max']} | {s['dropped_total']} |"
        )
    n = summary["sessions"]
    lines += [
        "",
        "Analysed frames per session over time (and the p95 analysis time, ms, over each session's last 300 frames):",
        "",
        "| t (s) | RSS (MB) | " + " | ".join(f"session {i}" for i in range(n)) + " |",
        "|---|---|" + "---|" * n,
    ]
    for row in summary.get("by_minute", []):
        cells = [f"{f} ({p} ms)" if f is not None else "-" for f, p in zip(row["frames"], row["p95_ms"])]
        lines.append(f"| {row['t_s']:.0f} | {row['rss_mb']:.0f} | " + " | ".join(cells) + " |")
    if "server_log" in summary:
        lines += ["", "Server log: " + "; ".join(f"{k}: {v}" for k, v in summary["server_log"].items()) + "."]
    lines.append("")
    lines += [f"- {'met' if ok else 'MISSED'}: {goal}" for goal, ok in summary["goals"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
