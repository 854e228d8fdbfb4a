"""The image, video, bench and margin commands, on real photos and generated videos, and on bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from engine_helpers import (
    CLI_PROCESS,
    astronaut_bgr,
    cli_main,
    decode_frames,
    detectable_fer_faces,
    faceless_bgr,
    needs_fer2013,
    on_face,
    scene_with_faces,
    write_moving_face_video,
)
from PIL import Image

from fer_app.detect import iou
from fer_app.labels import EMOTIONS

TESTS = Path(__file__).resolve().parent
ASTRONAUT_FACE = (174, 65, 99, 99)


def _image_json(capsys, path) -> dict:
    assert cli_main(["image", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _check_face(face: dict) -> None:
    assert set(face) == {"box", "emotion", "confidence", "probabilities"}
    assert len(face["box"]) == 4 and all(isinstance(v, int) for v in face["box"])
    assert face["emotion"] in EMOTIONS and list(face["probabilities"]) == list(EMOTIONS)
    assert abs(sum(face["probabilities"].values()) - 1) < 1e-3


def test_image_json_for_a_portrait(tmp_path, capsys):
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), astronaut_bgr())
    result = _image_json(capsys, path)
    assert list(result) == ["faces"] and len(result["faces"]) == 1
    _check_face(result["faces"][0])
    assert iou(tuple(result["faces"][0]["box"]), ASTRONAUT_FACE) > 0.6


def test_image_boxes_are_in_the_original_pixels_of_a_large_photo(tmp_path, capsys):
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), cv2.resize(astronaut_bgr(), (2048, 2048), interpolation=cv2.INTER_CUBIC))
    faces = _image_json(capsys, path)["faces"]
    assert any(iou(tuple(f["box"]), tuple(4 * v for v in ASTRONAUT_FACE)) > 0.6 for f in faces)


def test_image_text_output_and_annotated_copy(tmp_path, capsys):
    path, out = tmp_path / "astronaut.png", tmp_path / "annotated.jpg"
    cv2.imwrite(str(path), astronaut_bgr())
    assert cli_main(["image", str(path), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("1 face(s) in astronaut.png (512x512)")
    annotated = cv2.imread(str(out))
    assert annotated.shape == (512, 512, 3)
    assert np.abs(annotated.astype(int) - astronaut_bgr().astype(int)).mean() > 0.3


def test_image_without_a_face_is_an_empty_list(tmp_path, capsys):
    path = tmp_path / "coffee.png"
    cv2.imwrite(str(path), faceless_bgr())
    assert _image_json(capsys, path) == {"faces": []}


def test_image_with_exif_rotation_reports_boxes_on_the_upright_photo(tmp_path, capsys):
    upright = Image.fromarray(np.ascontiguousarray(astronaut_bgr()[:, :, ::-1]))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90 degrees counterclockwise; display turns it back
    path = tmp_path / "phone.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)
    assert cli_main(["image", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    (face,) = json.loads(captured.out)["faces"]
    assert iou(tuple(face["box"]), ASTRONAUT_FACE) > 0.5
    assert "EXIF" in captured.err


def test_image_with_alpha_channel(tmp_path, capsys):
    rgba = Image.fromarray(np.ascontiguousarray(astronaut_bgr()[:, :, ::-1])).convert("RGBA")
    rgba.putalpha(200)
    path = tmp_path / "translucent.png"
    rgba.save(path)
    assert len(_image_json(capsys, path)["faces"]) == 1


@needs_fer2013()
def test_image_with_several_fer2013_faces(tmp_path, capsys):
    img, placed = scene_with_faces([f for f, _ in detectable_fer_faces(4)], face_px=110)
    path = tmp_path / "group.png"
    cv2.imwrite(str(path), img)
    faces = _image_json(capsys, path)["faces"]
    assert len(faces) == 4
    for face in faces:
        _check_face(face)
    assert all(any(on_face(f["box"], p) for f in faces) for p in placed)


def _bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, format="PNG")
    return buf.getvalue()


def _truncated_jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", astronaut_bgr())
    return data.tobytes()[:6000]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.png", b"", "empty file"),
        ("letter.jpg", b"Dear reader, this is text.\n" * 50, "not an image"),
        ("cut.jpg", _truncated_jpeg(), "truncated or corrupt"),
        ("bomb.png", _bomb(), "too large"),
    ],
)
def test_image_bad_input_is_one_line_on_stderr(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert cli_main(["image", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_unwritable_outputs_are_reported_not_raised(tmp_path, capsys, clip):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    assert cli_main(["image", str(photo), "--out", str(tmp_path / "annotated.xyz")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert cli_main(["video", str(clip), "--out", str(tmp_path / "no" / "such" / "dir.mp4")]) == 2
    assert "cannot write the annotated video" in capsys.readouterr().err


def test_bad_input_in_a_real_process_gives_exit_2_and_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    missing = tmp_path / "missing.jpg"
    proc = subprocess.run([sys.executable, "-c", CLI_PROCESS, "image", str(missing)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {missing}: no such file"
    proc = subprocess.run([sys.executable, "-c", CLI_PROCESS, "video", str(missing)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_a_good_photo_in_a_real_process_leaves_stderr_empty(tmp_path):
    """Native libraries (LiteRT's "Created TensorFlow Lite XNNPACK delegate") must not write on the CLI's stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    proc = subprocess.run([sys.executable, "-c", CLI_PROCESS, "image", str(photo)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "happy" in proc.stdout
    assert proc.stderr == ""


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "clip.mp4"
    write_moving_face_video(path, seconds=2.0, fps=10, audio=True)
    return path


def test_video_json_summary_timeline_and_annotated_copy(clip, tmp_path, capsys):
    out, timeline = tmp_path / "annotated.mp4", tmp_path / "timeline.csv"
    assert cli_main(["video", str(clip), "--out", str(out), "--timeline", str(timeline), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["frames_analysed"] == 20 and summary["tracks_seen"] == 1
    assert summary["duration"] == pytest.approx(2.0, abs=0.05)
    assert set(summary["emotion_shares"]) == set(EMOTIONS)
    lines = timeline.read_text().splitlines()
    assert lines[0] == "second,frames,faces," + ",".join(EMOTIONS) + ",dominant"
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1"]
    assert len(decode_frames(out)) == 20


def test_video_text_output_progress_and_json_timeline(clip, tmp_path, capsys):
    timeline = tmp_path / "timeline.json"
    assert cli_main(["video", str(clip), "--fps", "5", "--timeline", str(timeline)]) == 0
    captured = capsys.readouterr()
    assert "10 frames analysed" in captured.out and "tracks: 1" in captured.out
    assert "100% 20/20 frames" in captured.err  # the progress bar ends full
    rows = json.loads(timeline.read_text())
    assert [r["frames"] for r in rows] == [5, 5]


def test_video_bad_input(tmp_path, capsys):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert cli_main(["video", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path.name}: empty file (0 bytes)\n"
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), astronaut_bgr())
    assert cli_main(["video", str(photo)]) == 2
    assert "still image" in capsys.readouterr().err
    assert cli_main(["video", str(photo), "--timeline", str(tmp_path / "t.xlsx")]) == 2


def test_bench_quick_prints_figures(capsys):
    assert cli_main(["bench", "--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["machine"]["cores"] >= 1
    cases = {(r["case"], r["path"], r["threads"]) for r in report["latency"]}
    assert ("640x480, 4 faces", "live", "1") in cases
    assert all(r["p50_ms"] > 0 for r in report["latency"])
    assert report["classifier"][0]["per_face_ms"] > 0
    assert report["video"][0]["x_real_time"] > 0
    assert 30 < report["peak_rss_mb"] < 2000
    assert [r["frames"] for r in report["video_memory"]] == [15, 30]


@needs_fer2013()
def test_margin_is_measured_on_fer2013(capsys):
    assert cli_main(["margin", "--limit", "40", "--accuracy", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["images"] == 40 and figures["one_face"] >= 20
    assert -0.1 < figures["margin_median"] < 0.2
    accuracy = figures["accuracy_by_margin"]
    assert {"original_crops", "+0.000", "+0.250"} <= set(accuracy)
    assert all(0.0 <= v <= 1.0 for v in accuracy.values())


def test_train_help_says_what_each_option_does(capsys):
    with pytest.raises(SystemExit) as exited:
        cli_main(["train", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for said in ("--cutmix CUTMIX Beta(a, a) of CutMix; 0 = off", "the same command again resumes the run in it",
                 "--kd-weight KD_WEIGHT with teachers or soft targets", "(default: 0.7)", "(default: 'vgg_small')"):
        assert said in text, said
