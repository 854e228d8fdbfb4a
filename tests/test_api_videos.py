"""Video jobs through the ASGI test client on tiny real videos (FER2013 faces, encoded with PyAV):
submit, poll, result equal to the engine's, delete, expiry, limits, a full queue."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi")

from api_helpers import assert_problem, astronaut_jpeg, client_for, four_face_scene, write_scene_video  # noqa: E402
from engine_helpers import needs_fer2013  # noqa: E402

from fer_app.api.settings import Settings  # noqa: E402

pytestmark = needs_fer2013()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """2 s, 10 fps, 320x240: four FER2013 faces panning over a real photo."""
    scene = four_face_scene()
    if scene is None:
        pytest.skip("FER2013 not found")
    path = tmp_path_factory.mktemp("video") / "faces.mp4"
    assert write_scene_video(path, scene, seconds=2.0, fps=10) == 20
    return path


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    scene = four_face_scene()
    path = tmp_path_factory.mktemp("video") / "long.mp4"
    write_scene_video(path, scene, seconds=12.0, fps=15, size=(480, 360))
    return path


def _submit(client, path, query=""):
    return client.post("/v1/videos" + query, files={"file": (path.name, path.read_bytes(), "video/mp4")})


def _wait(client, location, statuses=("succeeded", "failed"), timeout=120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(location).json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job still {job['status']}")


def _job_folders(client) -> list:
    root = client.app.state.jobs._root
    return sorted(root.iterdir()) if root is not None and root.exists() else []


def test_job_lifecycle_and_result_equal_to_the_engine(clip):
    from fer_app.engine import make_recognizer
    from fer_app.video import analyze_video

    with client_for(Settings(workers=1, video_workers=1)) as c:
        r = _submit(c, clip)
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        job = r.json()
        assert location == f"/v1/videos/{job['id']}" and len(job["id"]) >= 20
        assert job["status"] in ("queued", "running") and job["accurate"] is False and job["summary"] is None
        assert job["model"]["name"] == "default"
        from fer_app.detect import resolve_detector_name

        assert job["detector"] == resolve_detector_name(None, still=False)[0]
        done = _wait(c, location)
        assert done["status"] == "succeeded", done["error"]
        assert done["progress"] == {"frames_done": 20, "frames_total": 20, "fraction": 1.0}
        assert done["finished_at"] >= done["started_at"] >= done["created_at"]
        assert abs(done["expires_at"] - done["finished_at"] - 3600) < 1
        expected = analyze_video(clip, recognizer=make_recognizer(still=False))
        assert done["summary"] == expected.to_dict()  # what `video --json` prints
        assert done["timeline"] == expected.timeline.rows() and len(done["timeline"]) == 2
        assert done["summary"]["faces_seen"] > 0
        assert _job_folders(c) == []  # the upload went with the job's end
        assert c.delete(location).status_code == 204
        assert_problem(c.get(location), 404, "not-found")
        assert_problem(c.delete(location), 404, "not-found")
        metrics = c.get("/metrics").text
        assert 'fer_api_video_jobs_finished_total{status="succeeded"} 1.0' in metrics


def test_a_job_runs_the_detector_asked_for(clip):
    from fer_app.engine import make_recognizer
    from fer_app.video import analyze_video

    with client_for(Settings(workers=1, video_workers=1)) as c:
        r = _submit(c, clip, "?detector=haar")
        assert r.status_code == 202 and r.json()["detector"] == "haar"
        done = _wait(c, r.headers["location"])
        assert done["status"] == "succeeded" and done["detector"] == "haar"
        expected = analyze_video(clip, recognizer=make_recognizer(still=False, detector="haar"))
        assert done["summary"] == expected.to_dict()


def test_results_expire_after_their_ttl(clip):
    with client_for(Settings(workers=1, job_ttl_seconds=0.5)) as c:
        location = _submit(c, clip, "?fps=5").headers["location"]
        job = _wait(c, location)
        assert job["status"] == "succeeded" and job["summary"]["frames_analysed"] == 10
        time.sleep(0.6)
        assert_problem(c.get(location), 404)
        assert _job_folders(c) == []


def test_refused_uploads(clip, tmp_path):
    with client_for(Settings(workers=1, max_video_bytes=clip.stat().st_size - 1, max_video_seconds=1.5)) as c:
        body = assert_problem(_submit(c, clip), 413, "too-large")
        assert "bytes" in body["detail"]
    with client_for(Settings(workers=1, max_video_seconds=1.5)) as c:
        body = assert_problem(_submit(c, clip), 413, "too-large")
        assert "the limit is 1.5 s" in body["detail"]
        photo = tmp_path / "photo.jpg"
        photo.write_bytes(astronaut_jpeg())
        assert_problem(_submit(c, photo), 415, "unsupported-media")
        text = tmp_path / "notes.mp4"
        text.write_bytes(b"not a video at all " * 50)
        assert_problem(_submit(c, text), 415, "unsupported-media")
        assert_problem(c.post("/v1/videos", content=clip.read_bytes(), headers={"content-type": "video/mp4"}), 415)
        assert_problem(c.post("/v1/videos", files={"file": ("e.mp4", b"", "video/mp4")}), 422, "bad-video")
        assert_problem(_submit(c, clip, "?fps=0"), 422, "invalid-request")
        assert_problem(c.get("/v1/videos/not%20an%20id"), 422)
        assert _job_folders(c) == []


def test_a_video_that_cannot_be_decoded_fails_its_job(clip, tmp_path):
    import av

    mkv = tmp_path / "clip.mkv"
    with av.open(str(clip)) as src, av.open(str(mkv), "w") as dst:  # remux: the header first, clusters after
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(mkv.read_bytes()[:600])
    with client_for(Settings(workers=1)) as c:
        r = _submit(c, broken)
        if r.status_code == 415:
            pytest.skip("FFmpeg refuses this truncated file at the probe already")
        job = _wait(c, r.headers["location"])
        assert job["status"] == "failed" and job["summary"] is None
        assert job["error"]["type"] == "urn:fer-app:problem:bad-video" and job["error"]["detail"]


def test_full_queue_cancel_and_delete_while_running(long_clip, clip):
    with client_for(Settings(workers=1, video_workers=1, video_queue=1)) as c:
        running = _submit(c, long_clip).headers["location"]
        _wait(c, running, statuses=("running",))
        queued = _submit(c, clip)
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        full = _submit(c, clip)
        assert_problem(full, 503, "busy")
        assert int(full.headers["retry-after"]) > 0
        assert c.delete(queued.headers["location"]).status_code == 204
        deadline = time.monotonic() + 20
        while (job := c.get(running).json())["progress"]["frames_done"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert job["status"] == "running" and job["progress"]["frames_done"] < job["progress"]["frames_total"] == 180
        assert c.delete(running).status_code == 204
        deadline = time.monotonic() + 20
        while _job_folders(c):  # the worker stops at its next frame and removes the upload
            assert time.monotonic() < deadline
            time.sleep(0.05)
        again = _submit(c, clip)  # the worker is free again
        assert _wait(c, again.headers["location"])["status"] == "succeeded"
