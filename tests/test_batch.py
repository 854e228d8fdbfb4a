"""`python -m fer_app batch` on a LocalCluster: mixed and broken inputs, equality with the single-file
commands, resume, --retry-errors, CSV output, and a driver killed with SIGKILL mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import fer_app, make_media, write_scene_clip
from engine_helpers import REPO, detectable_fer_faces, needs_fer2013

pytest.importorskip("distributed")
pytestmark = needs_fer2013()


def _files(out: Path):
    import pandas as pd

    table = pd.read_parquet(out / "files.parquet")
    return {Path(f).name: row for f, row in zip(table["file"], table.to_dict("records"))}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One batch over everything, on a LocalCluster of two workers."""
    root = tmp_path_factory.mktemp("batch")
    media = make_media(root / "in")
    out = root / "out"
    done = fer_app("batch", str(root / "in"), "--out", str(out), "--workers", "2", "--json")
    return media, out, done


def test_mixed_inputs_become_one_row_each(first_run):
    media, out, done = first_run
    assert done.returncode == 1, done.stderr  # some inputs are errors
    summary = json.loads(done.stdout)
    assert summary["workers"] == 2
    assert summary["counts"] == {"ok": 4, "error": 4, "duplicate": 1}
    assert summary["total"] == 9 and summary["analysed"] == 7  # not the non-media file, not the copy
    rows = _files(out)
    assert set(rows) == {p.name for p in media.values()}
    for name in ("clip0.mp4", "clip1.mp4", "photo0.png", "photo1.png"):
        row = rows[name]
        assert row["status"] == "ok" and row["error"] == "", row
        assert row["worker"].startswith("tcp://127.0.0.1:")
        assert row["faces_seen"] > 0 and row["dominant"]
        assert abs(sum(row[f"mean_{e}"] for e in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")) - 1) < 0.01
        assert len(row["sha256"]) == 64 and len(row["model_sha256"]) == 64 and row["settings_hash"]
    assert rows["clip0.mp4"]["kind"] == "video" and rows["clip0.mp4"]["duration"] == pytest.approx(1.0, abs=0.15)
    # the model rule of the single-file commands: photos accurate, videos the fast model
    assert rows["photo0.png"]["model"] == "accurate" and rows["clip0.mp4"]["model"] == "default"
    from fer_app.detect import resolve_detector_name

    assert rows["photo0.png"]["detector"] == resolve_detector_name(None, still=True)[0]
    assert rows["clip0.mp4"]["detector"] == resolve_detector_name(None, still=False)[0]
    copy = rows["zz-copy-of-photo0.png"]
    assert copy["status"] == "duplicate" and Path(copy["duplicate_of"]).name == "photo0.png"
    assert copy["sha256"] == rows["photo0.png"]["sha256"]
    assert rows["readme.txt"]["status"] == "error" and "not a video or an image" in rows["readme.txt"]["error"]


@pytest.mark.parametrize("name", ["truncated", "text", "empty"])
def test_bad_files_carry_the_cli_message(first_run, name):
    media, out, _ = first_run
    single = fer_app("video", str(media[name]))
    assert single.returncode == 2
    message = single.stderr.strip().removeprefix("error: ")
    row = _files(out)[media[name].name]
    assert row["status"] == "error" and row["error"] == message


def test_batch_result_equals_the_single_file_commands(first_run, tmp_path):
    import pandas as pd

    media, out, _ = first_run
    rows = _files(out)
    timeline_csv = tmp_path / "timeline.csv"
    single = fer_app("video", str(media["clip0"]), "--json", "--timeline", str(timeline_csv))
    assert single.returncode == 0, single.stderr
    expected = json.loads(single.stdout)
    row = rows["clip0.mp4"]
    for key in ("duration", "width", "height", "frames_decoded", "frames_analysed", "faces_seen", "max_faces", "tracks_seen"):
        assert row[key] == expected[key], key
    for emotion, p in expected["mean_probabilities"].items():
        assert row[f"mean_{emotion}"] == pytest.approx(p, abs=1e-4)
    timeline = pd.read_parquet(out / "timeline")
    mine = timeline[timeline["sha256"] == row["sha256"]].drop(columns=["file", "sha256", "settings_hash"]).reset_index(drop=True)
    theirs = pd.read_csv(timeline_csv, keep_default_na=False)
    assert list(mine.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)

    single = fer_app("image", str(media["photo1"]), "--json")
    assert single.returncode == 0, single.stderr
    expected_faces = json.loads(single.stdout)["faces"]
    faces = pd.read_parquet(out / "faces")
    faces = faces[faces["sha256"] == rows["photo1.png"]["sha256"]].sort_values("face")
    assert len(faces) == len(expected_faces) == rows["photo1.png"]["faces_seen"]
    for face, want in zip(faces.to_dict("records"), expected_faces):
        assert [face["x"], face["y"], face["w"], face["h"]] == want["box"]
        assert face["emotion"] == want["emotion"] and face["confidence"] == pytest.approx(want["confidence"], abs=1e-4)
        for emotion, p in want["probabilities"].items():
            assert face[emotion] == pytest.approx(p, abs=1e-4)


def test_second_run_analyses_nothing_and_retry_errors_reruns_only_errors(first_run):
    media, out, _ = first_run
    manifest_lines = len((out / "manifest.jsonl").read_text().splitlines())
    before = _files(out)
    again = fer_app("batch", str(media["clip0"].parent), "--out", str(out), "--workers", "1", "--json")
    summary = json.loads(again.stdout)
    assert summary["analysed"] == 0 and summary["skipped_done_before"] == 9
    assert summary["counts"] == {"ok": 0, "error": 0, "duplicate": 0}
    assert len((out / "manifest.jsonl").read_text().splitlines()) == manifest_lines
    assert _files(out).keys() == before.keys()

    retry = fer_app("batch", str(media["clip0"].parent), "--out", str(out), "--workers", "1", "--json", "--retry-errors")
    summary = json.loads(retry.stdout)
    assert summary["counts"] == {"ok": 0, "error": 4, "duplicate": 0} and summary["skipped_done_before"] == 5
    after = _files(out)
    assert len(after) == 9
    assert after["clip0.mp4"]["finished_at"] == before["clip0.mp4"]["finished_at"]


def test_the_other_model_is_analysed_again(first_run, tmp_path):
    """Resume matches settings too: --accurate re-analyses the videos (the photos already had it)."""
    media, out, _ = first_run
    clip = tmp_path / "clip0.mp4"
    clip.write_bytes(media["clip0"].read_bytes())
    run = fer_app("batch", str(clip), "--out", str(tmp_path / "out"), "--workers", "1", "--json", "--accurate")
    assert json.loads(run.stdout)["counts"]["ok"] == 1
    row = _files(tmp_path / "out")["clip0.mp4"]
    assert row["model"] == "accurate" and row["settings_hash"] != _files(out)["clip0.mp4"]["settings_hash"]


def test_another_detector_is_analysed_again_and_equals_the_single_file_command(first_run, tmp_path):
    import pandas as pd

    media, out, _ = first_run
    clip = tmp_path / "clip0.mp4"
    clip.write_bytes(media["clip0"].read_bytes())
    run = fer_app("batch", str(clip), "--out", str(tmp_path / "out"), "--workers", "1", "--json", "--detector", "haar")
    assert json.loads(run.stdout)["counts"]["ok"] == 1, run.stderr
    row = _files(tmp_path / "out")["clip0.mp4"]
    assert row["detector"] == "haar" and row["settings_hash"] != _files(out)["clip0.mp4"]["settings_hash"]
    timeline_csv = tmp_path / "timeline.csv"
    single = fer_app("video", str(clip), "--json", "--detector", "haar", "--timeline", str(timeline_csv))
    assert single.returncode == 0, single.stderr
    assert row["faces_seen"] == json.loads(single.stdout)["faces_seen"]
    mine = pd.read_parquet(tmp_path / "out" / "timeline").drop(columns=["file", "sha256", "settings_hash"])
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), pd.read_csv(timeline_csv, keep_default_na=False),
                                  check_dtype=False)


def test_driver_killed_mid_batch_then_resumed_loses_and_duplicates_nothing(tmp_path):
    from fer_app.batch.output import FACES_SCHEMA, TIMELINE_SCHEMA, read_table

    faces = [f for f, _ in detectable_fer_faces(12, seed=3)]
    src = tmp_path / "in"
    src.mkdir()
    for i in range(8):
        write_scene_clip(src / f"c{i}.mp4", faces[i : i + 2], seconds=2.0)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "fer_app", "batch", str(src), "--out", str(out), "--workers", "1", "--format", "csv", "--json"]
    driver = subprocess.Popen(command, cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)}, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "manifest.jsonl"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not manifest.exists() or len(manifest.read_bytes().splitlines()) < 3):
            time.sleep(0.05)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the cluster's worker processes with it
    recorded = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert 3 <= len(recorded) < 8, "the driver was killed mid-batch"
    assert not (out / "files.csv").exists() or len(read_table(out / "files.csv")) < 8

    resumed = fer_app("batch", str(src), "--out", str(out), "--workers", "1", "--format", "csv", "--json")
    summary = json.loads(resumed.stdout)
    assert summary["skipped_done_before"] == len(recorded) and summary["analysed"] == 8 - len(recorded)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(r["file"] for r in lines) == sorted(str(p) for p in src.glob("*.mp4"))  # each file once
    assert lines[: len(recorded)] == recorded  # nothing finished before the kill was lost or rewritten
    files = read_table(out / "files.csv").to_pylist()
    assert len(files) == 8 and {r["status"] for r in files} == {"ok"}
    timeline = read_table(out / "timeline", TIMELINE_SCHEMA)
    assert timeline.schema == TIMELINE_SCHEMA
    per_file = timeline.group_by("file").aggregate([("second", "count")]).to_pylist()
    assert len(per_file) == 8 and {r["second_count"] for r in per_file} == {2}  # 2 s each, no duplicated rows
    assert not list((out / "timeline").glob(".*"))  # no temporary part left behind
    assert not (out / "faces").exists() or read_table(out / "faces", FACES_SCHEMA).num_rows == 0


def test_a_missing_pyarrow_or_dask_is_a_one_line_error(tmp_path):
    photo = tmp_path / "p.png"
    photo.write_bytes(b"not read")
    for missing in ("pyarrow", "distributed"):
        code = (f"import sys; sys.modules[{missing!r}] = None; from fer_app.__main__ import main; "
                f"sys.exit(main(['batch', {str(photo)!r}, '--out', {str(tmp_path / 'out')!r}]))")
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert f"({missing} is missing): pip install -r requirements-batch.txt" in done.stderr


def test_discover_walks_folders_expands_globs_and_leaves_out_its_own_output(tmp_path):
    from fer_app.batch.inputs import discover

    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "out" / "timeline").mkdir(parents=True)
    for name in ("in/a.mp4", "in/sub/b.JPG", "in/.hidden.png", "in/notes.txt", "in/out/files.parquet", "in/out/timeline/x.parquet"):
        (tmp_path / name).write_bytes(b"x")
    found, missing = discover([str(tmp_path / "in"), str(tmp_path / "in" / "*.mp4"), str(tmp_path / "nope")],
                              exclude=tmp_path / "in" / "out")
    assert [(Path(i.path).relative_to(tmp_path).as_posix(), i.kind) for i in found] == [
        ("in/a.mp4", "video"), ("in/notes.txt", ""), ("in/sub/b.JPG", "image")]  # each once, the glob's match too
    assert missing == [str(tmp_path / "nope")]


def test_progress_line_shows_files_errors_throughput_and_time_left():
    from fer_app.batch.progress import BatchProgress

    bar = BatchProgress(total=10)
    line = bar.line(done=4, errors=1, media_seconds=30.0, now=bar.started + 10.0)
    assert "4/10 files" in line and "1 error," in line and "3.00 media s/s" in line and "0:15 left" in line
