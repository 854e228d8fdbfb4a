"""`batch --address` against a `dask scheduler` and two `dask worker` processes on 127.0.0.1, with a worker
that dies on one file (a test-only hook makes it abort, as a segfault would): that file becomes an error
row and the batch finishes the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_helpers import fer_app, write_scene_clip
from engine_helpers import detectable_fer_faces, needs_fer2013

from benchmarks.batch_bench import loopback_cluster

pytest.importorskip("distributed")
pytestmark = needs_fer2013()


def test_scheduler_and_two_workers_with_a_crashing_file(tmp_path):
    faces = [f for f, _ in detectable_fer_faces(8, seed=5)]
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        write_scene_clip(src / f"clip{i}.mp4", faces[i : i + 2])
    (src / "crash.mp4").write_bytes((src / "clip0.mp4").read_bytes() + b"\0")  # distinct content, a real clip
    with loopback_cluster(tmp_path, env={"FER_BATCH_TEST_CRASH_ON": "crash.mp4"}) as (address, _, _):
        assert address.startswith("tcp://127.0.0.1:")
        done = fer_app("batch", str(src), "--out", str(tmp_path / "out"), "--address", address, "--json")
        summary = json.loads(done.stdout)
    assert summary["counts"] == {"ok": 6, "error": 1, "duplicate": 0}, done.stderr
    import pandas as pd

    files = pd.read_parquet(tmp_path / "out" / "files.parquet").set_index("file")
    crash = files.loc[str(src / "crash.mp4")]
    assert crash["status"] == "error" and "worker analysing this file died" in crash["error"]
    ok = files[files["status"] == "ok"]
    assert ok["worker"].nunique() >= 2  # both workers got files (the crashed one restarts under a new address)
    assert all(w.startswith("tcp://127.0.0.1:") for w in ok["worker"])


def test_local_cluster_worker_crash_becomes_an_error_row(tmp_path):
    faces = [f for f, _ in detectable_fer_faces(4, seed=7)]
    src = tmp_path / "in"
    src.mkdir()
    write_scene_clip(src / "a-crash.mp4", faces[:2])
    write_scene_clip(src / "b-fine.mp4", faces[2:4])
    done = fer_app("batch", str(src), "--out", str(tmp_path / "out"), "--workers", "1", "--json",
                   env={"FER_BATCH_TEST_CRASH_ON": "a-crash.mp4"})
    summary = json.loads(done.stdout)
    assert summary["counts"] == {"ok": 1, "error": 1, "duplicate": 0}, done.stderr
    rows = {Path(r["file"]).name: r for r in map(json.loads, (tmp_path / "out" / "manifest.jsonl").read_text().splitlines())}
    assert rows["a-crash.mp4"]["status"] == "error" and "died" in rows["a-crash.mp4"]["error"]
    assert rows["b-fine.mp4"]["status"] == "ok"
