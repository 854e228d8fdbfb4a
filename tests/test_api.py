"""The HTTP API (fer_app.api) through the ASGI test client, on real photos and the real models:
every status code, auth, limits, request ids, metrics, and the face list against `image --json`."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
import threading
import time
import zlib

import pytest

pytest.importorskip("fastapi")

from api_helpers import (  # noqa: E402
    PROBLEM,
    assert_problem,
    astronaut_jpeg,
    client_for,
    coffee_jpeg,
    encode,
    four_face_scene,
    only_her_face,
)
from engine_helpers import REPO, needs_fer2013  # noqa: E402

from fer_app.api.app import create_app  # noqa: E402
from fer_app.api.auth import check_start, is_loopback  # noqa: E402
from fer_app.api.settings import Settings  # noqa: E402
from fer_app.errors import FerError  # noqa: E402

ANALYZE = "/v1/images:analyze"


@pytest.fixture(scope="module")
def client():
    with client_for(Settings(workers=2, queue=2, max_image_bytes=2_000_000, max_faces=10)) as c:
        yield c


@pytest.fixture(scope="module")
def scene4():
    scene = four_face_scene()
    if scene is None:
        pytest.skip("FER2013 not found")
    return scene


def _cli_faces(path, *flags) -> list:
    out = subprocess.run([sys.executable, "-m", "fer_app", "image", str(path), "--json", *flags], cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    return json.loads(out)["faces"]


# --- the answer ---------------------------------------------------------------------------------


def test_face_list_equals_cli_image_json(client, tmp_path):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    for flags, query in (((), ""), (("--fast",), "?accurate=false")):
        r = client.post(ANALYZE + query, files={"file": ("astronaut.jpg", photo.read_bytes(), "image/jpeg")})
        assert r.status_code == 200, r.text
        api_faces = r.json()["faces"]
        assert only_her_face(api_faces), api_faces
        assert api_faces == _cli_faces(photo, *flags)


@needs_fer2013()
def test_four_faces_equal_cli_and_raw_body_equals_multipart(client, scene4, tmp_path):
    photo = tmp_path / "scene.png"
    photo.write_bytes(encode(scene4))
    raw = client.post(ANALYZE + "?accurate=false", content=photo.read_bytes(), headers={"content-type": "image/png"})
    multipart = client.post(ANALYZE + "?accurate=false", files={"file": ("s.png", photo.read_bytes(), "image/png")})
    assert raw.status_code == multipart.status_code == 200
    assert len(raw.json()["faces"]) == 4
    assert raw.json()["faces"] == multipart.json()["faces"] == _cli_faces(photo, "--fast")


def test_detector_by_name_equals_cli_and_unknown_is_422(client, tmp_path):
    from fer_app.detect import default_detector_name, detector_names, resolve_detector_name

    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    default = client.post(ANALYZE + "?accurate=false", content=photo.read_bytes(), headers={"content-type": "image/jpeg"})
    assert default.json()["detector"] == resolve_detector_name(default_detector_name(True), True)[0]
    for name in detector_names():
        r = client.post(f"{ANALYZE}?accurate=false&detector={name}", content=photo.read_bytes(),
                        headers={"content-type": "image/jpeg"})
        assert r.status_code == 200, r.text
        used, note = resolve_detector_name(name, still=True)
        assert r.json()["detector"] == used
        assert (note in r.json()["notes"]) if note else True
        assert r.json()["faces"] == _cli_faces(photo, "--fast", "--detector", name), name
    bad = client.post(ANALYZE + "?detector=mtcnn", content=photo.read_bytes(), headers={"content-type": "image/jpeg"})
    assert_problem(bad, 422, "invalid-request")


def test_answer_fields_and_model_identity(client):
    from fer_app import engine

    body = client.post(ANALYZE, content=astronaut_jpeg(), headers={"content-type": "image/jpeg"}).json()
    assert (body["width"], body["height"]) == (512, 512)
    expected = engine.model_identity(engine.shared_classifier(accurate=True))
    assert body["model"] == {**expected, "accurate": True}
    assert len(body["model"]["sha256"]) == 64
    timing = body["timing"]
    assert timing["analyze_ms"] > 0 and timing["total_ms"] >= timing["analyze_ms"] + timing["decode_ms"]
    face = body["faces"][0]
    assert set(face) == {"box", "emotion", "confidence", "probabilities"}
    assert abs(sum(face["probabilities"].values()) - 1) < 0.01
    fast = client.post(ANALYZE + "?accurate=false", content=astronaut_jpeg(), headers={"content-type": "image/jpeg"}).json()
    assert fast["model"]["accurate"] is False and fast["model"]["name"] == "default"


def test_no_face_is_200_with_an_empty_list(client):
    r = client.post(ANALYZE, files={"file": ("coffee.jpg", coffee_jpeg(), "image/jpeg")})
    assert r.status_code == 200
    assert r.json()["faces"] == []


def test_exif_rotation_is_a_note(client):
    from PIL import Image

    im = Image.open(io.BytesIO(astronaut_jpeg()))
    exif = im.getexif()
    exif[0x0112] = 6
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    body = client.post(ANALYZE, content=out.getvalue(), headers={"content-type": "image/jpeg"}).json()
    assert any("EXIF orientation" in n for n in body["notes"])


# --- refusals -----------------------------------------------------------------------------------


def test_415_for_what_is_not_an_image(client):
    assert_problem(client.post(ANALYZE, content=b"just some text", headers={"content-type": "text/plain"}), 415,
                   "unsupported-media")
    assert_problem(client.post(ANALYZE, content=b"\x00" * 100), 415, "unsupported-media")  # no Content-Type
    assert_problem(client.post(ANALYZE, content=b"GIF89a but not really" * 4, headers={"content-type": "image/gif"}),
                   415, "unsupported-media")
    assert_problem(client.post(ANALYZE, files={"file": ("notes.txt", b"hello " * 100, "text/plain")}), 415)


def test_422_for_bad_input(client, scene4):
    body = assert_problem(client.post(ANALYZE + "?accurate=perhaps", content=astronaut_jpeg(),
                                      headers={"content-type": "image/jpeg"}), 422, "invalid-request")
    assert body["errors"][0]["loc"] == ["query", "accurate"]
    assert "input" not in body["errors"][0]  # what the client sent is not echoed
    assert_problem(client.post(ANALYZE, content=b"", headers={"content-type": "image/png"}), 422, "bad-image")
    truncated = encode(scene4)[:5000]
    body = assert_problem(client.post(ANALYZE, content=truncated, headers={"content-type": "image/png"}), 422, "bad-image")
    assert "truncated" in body["detail"] or "corrupt" in body["detail"]
    assert_problem(client.post(ANALYZE, files={"photo": ("a.jpg", astronaut_jpeg(), "image/jpeg")}), 422, "invalid-request")


@needs_fer2013()
def test_422_for_too_many_faces(scene4):
    with client_for(Settings(workers=1, max_faces=3)) as c:
        body = assert_problem(c.post(ANALYZE + "?accurate=false", content=encode(scene4),
                                     headers={"content-type": "image/png"}), 422, "too-many-faces")
        assert "4 faces found; the limit is 3" in body["detail"]
        assert c.post(ANALYZE, content=astronaut_jpeg(), headers={"content-type": "image/jpeg"}).status_code == 200


def test_400_for_a_malformed_multipart_body(client):
    assert_problem(client.post(ANALYZE, content=b"x", headers={"content-type": "multipart/form-data"}), 400)
    assert_problem(client.post(ANALYZE, content=b"garbage", headers={"content-type": "multipart/form-data; boundary=b"}), 400)


def _png_header(width: int, height: int) -> bytes:
    """A valid PNG (one compressed row of zeros) whose header claims `width` x `height`: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b"")


def test_413_for_too_many_bytes_or_pixels(client):
    big = b"\xff\xd8" + b"\x00" * 2_100_000
    body = assert_problem(client.post(ANALYZE, content=big, headers={"content-type": "image/jpeg"}), 413, "too-large")
    assert "2000000 bytes" in body["detail"]
    assert_problem(client.post(ANALYZE, files={"file": ("big.jpg", big, "image/jpeg")}), 413, "too-large")
    # Refused from the header: neither is decoded (the first would be 10 GB of pixels).
    assert_problem(client.post(ANALYZE, content=_png_header(100_000, 100_000), headers={"content-type": "image/png"}),
                   413, "too-large")
    body = assert_problem(client.post(ANALYZE, content=_png_header(8000, 7000), headers={"content-type": "image/png"}),
                          413, "too-large")
    assert "8000x7000" in body["detail"]


def test_413_for_a_chunked_upload_without_content_length(client):
    def chunks():
        for _ in range(40):
            yield b"\x00" * 65536

    r = client.post(ANALYZE, content=chunks(), headers={"content-type": "image/png"})
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert_problem(r, 413, "too-large")


def test_chunked_upload_is_cut_off_at_the_limit():
    """Called as ASGI directly: the app stops reading a body without Content-Length soon after the limit."""
    app = create_app(Settings(max_image_bytes=100_000, warm_up=False))
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"\x00" * 10_000, "more_body": pulled < 1000}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": ANALYZE, "raw_path": ANALYZE.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"test"), (b"content-type", b"image/png"), (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert (b"content-type", PROBLEM.encode()) in start["headers"]
    assert pulled == 11  # 110 kB read of the 10 MB offered


# --- auth, CORS, request ids --------------------------------------------------------------------


def test_bearer_token():
    with client_for(Settings(token="s3cret-token", workers=1)) as c:
        image = {"content": astronaut_jpeg(), "headers": {"content-type": "image/jpeg"}}
        r = c.post(ANALYZE, **image)
        assert_problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        assert_problem(c.post(ANALYZE, content=image["content"], headers={**image["headers"], "Authorization": "Bearer wrong"}), 401)
        assert_problem(c.post(ANALYZE, content=image["content"],
                              headers={**image["headers"], "Authorization": "Basic s3cret-token"}), 401)
        ok = c.post(ANALYZE, content=image["content"], headers={**image["headers"], "Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and only_her_face(ok.json()["faces"])
        assert_problem(c.get("/v1/videos/abcdef"), 401)
        assert_problem(c.get("/metrics"), 401)
        assert c.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        assert c.get("/openapi.json").json()["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_refuses_to_listen_beyond_loopback_without_a_token():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")
    check_start("127.0.0.1", None, False)
    check_start("0.0.0.0", "token", False)
    check_start("0.0.0.0", None, True)
    with pytest.raises(FerError, match="FER_API_TOKEN"):
        check_start("0.0.0.0", None, False)
    env = {k: v for k, v in __import__("os").environ.items() if k != "FER_API_TOKEN"}
    p = subprocess.run([sys.executable, "-m", "fer_app", "serve", "--host", "0.0.0.0", "--port", "1"], cwd=REPO,
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in p.stderr and "Traceback" not in p.stderr


def test_cors_is_off_unless_origins_are_listed(client):
    preflight = {"Origin": "https://app.example.org", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options(ANALYZE, headers=preflight).headers
    assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": "https://app.example.org"}).headers
    with client_for(Settings(cors_origins=("https://app.example.org",), workers=1)) as c:
        r = c.options(ANALYZE, headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example.org"
        other = c.options(ANALYZE, headers={**preflight, "Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers


def test_request_ids(client):
    r = client.get("/healthz", headers={"X-Request-ID": "trace-0123456789"})
    assert r.headers["x-request-id"] == "trace-0123456789"
    r = client.get("/nowhere", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces" and len(r.headers["x-request-id"]) == 32
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_404_405_and_docs(client):
    assert_problem(client.get("/v2/anything"), 404, "not-found")
    r = client.put(ANALYZE)
    assert_problem(r, 405)
    assert r.headers["allow"] == "POST"
    assert "swagger" in client.get("/docs").text.lower()
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
            assert "500" in errors, (method, path)
            if path.startswith("/v1/"):
                assert "422" in errors, (method, path)
            for code, response in errors.items():
                assert list(response["content"]) == [PROBLEM], (method, path, code)


def test_logs_hold_no_upload_content_or_query(client, caplog):
    secret = b"SECRET-PIXELS"
    with caplog.at_level(logging.DEBUG):
        client.post(ANALYZE + "?accurate=false", content=astronaut_jpeg() + secret, headers={"content-type": "image/jpeg"})
        client.post(ANALYZE, files={"file": ("private-name.jpg", b"\xff\xd8" + secret, "image/jpeg")})
    # Every server-side logger (the test client's own httpx log line shows the URL it sent).
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "POST /v1/images:analyze 200" in text
    assert "SECRET" not in text and "accurate=false" not in text and "private-name" not in text


# --- readiness, metrics, overload ---------------------------------------------------------------


def test_healthz_readyz_and_a_failed_warm_up(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and set(ready["models"]) == {"fast", "accurate"}

    from fastapi.testclient import TestClient

    app = create_app(Settings(workers=1))

    def broken():
        raise FileNotFoundError("models/default.onnx")

    app.state.pool.warm_up = broken
    with TestClient(app) as c:
        time.sleep(0.2)
        body = assert_problem(c.get("/readyz"), 503, "not-ready")
        assert "warm-up failed" in body["detail"] and c.get("/healthz").status_code == 200


def test_metrics(client):
    client.post(ANALYZE, content=astronaut_jpeg(), headers={"content-type": "image/jpeg"})
    client.post(ANALYZE, content=b"nope", headers={"content-type": "text/plain"})
    text = client.get("/metrics").text
    assert 'fer_api_requests_total{method="POST",route="/v1/images:analyze",status="200"}' in text
    assert 'fer_api_requests_total{method="POST",route="/v1/images:analyze",status="415"}' in text
    assert 'fer_api_request_duration_seconds_bucket{le="0.5",method="POST",route="/v1/images:analyze"}' in text
    faces = [line for line in text.splitlines() if line.startswith('fer_api_faces_per_image_bucket{le="1.0"}')]
    assert faces and float(faces[0].split()[-1]) >= 1
    for gauge in ("fer_api_image_queue_length", "fer_api_image_in_progress", "fer_api_video_queue_length"):
        assert f"\n{gauge} " in text


@needs_fer2013()
def test_503_with_retry_after_when_the_queue_is_full(scene4):
    big = encode(__import__("cv2").resize(scene4, (1280, 960)))
    with client_for(Settings(workers=1, queue=0)) as c:
        first: list = []
        worker = threading.Thread(target=lambda: first.append(
            c.post(ANALYZE, content=big, headers={"content-type": "image/png"})))
        worker.start()
        deadline = time.monotonic() + 30
        while "fer_api_image_in_progress 1.0" not in c.get("/metrics").text:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        r = c.post(ANALYZE, content=astronaut_jpeg(), headers={"content-type": "image/jpeg"})
        worker.join()
        body = assert_problem(r, 503, "busy")
        assert int(r.headers["retry-after"]) >= 1 and "places are taken" in body["detail"]
        assert first[0].status_code == 200 and first[0].json()["faces"]  # the accepted one is answered in full
        assert 'fer_api_rejected_total{queue="image"} 1.0' in c.get("/metrics").text


# --- the real server ----------------------------------------------------------------------------


def test_serve_over_real_http(tmp_path):
    """`python -m fer_app serve` on uvicorn: ready, answers a photo, cuts off a chunked upload, stops on SIGINT."""
    import http.client
    import os
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FER_API_MAX_IMAGE_BYTES": "500000", "FER_API_WORKERS": "1"}
    env.pop("FER_API_TOKEN", None)
    server = subprocess.Popen([sys.executable, "-m", "fer_app", "serve", "--port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", ANALYZE + "?accurate=false", body=astronaut_jpeg(), headers={"Content-Type": "image/jpeg"})
        r = conn.getresponse()
        assert r.status == 200 and only_her_face(json.loads(r.read())["faces"])

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.putrequest("POST", ANALYZE)
        conn.putheader("Content-Type", "image/png")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            for _ in range(16):  # 1 MB in 64 kB chunks, no Content-Length
                conn.send(b"10000\r\n" + b"\x00" * 65536 + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server may close the connection once it has answered
        r = conn.getresponse()
        assert r.status == 413 and r.getheader("Content-Type") == PROBLEM
        assert json.loads(r.read())["type"] == "urn:fer-app:problem:too-large"
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=30)
    assert server.returncode == 0, out
    assert f"listening on http://127.0.0.1:{port} (no auth" in out and "Traceback" not in out
