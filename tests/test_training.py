"""A tiny real training run: checkpoints, is killed, resumes, evaluates, exports."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from fer_app.labels import EMOTIONS

pytest.importorskip("tensorflow")


def _cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_app", *args], capture_output=True, text=True, timeout=300, **kwargs)


def _subset(dataset, root, per_class: int):
    """Write `per_class` real faces of each class as <class>/*.png."""
    for label, name in enumerate(EMOTIONS):
        (root / name).mkdir(parents=True)
        for i in np.flatnonzero(dataset.labels == label)[:per_class]:
            cv2.imwrite(str(root / name / f"{i}.png"), dataset.images[i])
    return root


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, val_faces):
    base = tmp_path_factory.mktemp("fer")
    return _subset(val_faces, base / "train", 30), _subset(val_faces, base / "val", 10)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, small_data):
    """Train 3 short epochs, SIGKILL the process after the first, and run the same command again."""
    train_dir, val_dir = small_data
    out = tmp_path_factory.mktemp("run") / "mini"
    cmd = [sys.executable, "-m", "fer_app", "train", "--arch", "mini_xception", "--data", str(train_dir),
           "--val", str(val_dir), "--out", str(out), "--epochs", "3", "--batch-size", "16",
           "--steps-per-epoch", "12", "--warmup-epochs", "0", "--seed", "3"]
    env = dict(os.environ, FER_APP_CACHE=str(out.parent / "cache"))
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    log = out / "log.csv"
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:
        if log.exists() and len(log.read_text().strip().splitlines()) >= 2:  # header + epoch 1
            first.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL, f"the run was not interrupted:\n{first.stdout.read()}"
    assert not (out / "summary.json").exists()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    return out, second.stdout, cmd, env


def test_interrupted_run_resumes_from_its_checkpoint(trained_run):
    out, resumed_stdout, _, _ = trained_run
    assert "Epoch 1/3" not in resumed_stdout and "Epoch 2/3" in resumed_stdout
    epochs = [int(line.split(",")[0]) for line in (out / "log.csv").read_text().splitlines()[1:]]
    assert sorted(set(epochs)) == [0, 1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_done"] == 3 and summary["train_wall_s"] > 0
    assert len(summary["train_data_sha256"]) == 64
    for name in ("best.keras", "curves.png", "run.json"):
        assert (out / name).stat().st_size > 0


def test_finished_run_is_not_trained_again_and_other_settings_are_refused(trained_run):
    out, _, cmd, env = trained_run
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "already finished" in again.stdout
    changed = subprocess.run([*cmd, "--lr", "0.5"], capture_output=True, text=True, timeout=300, env=env)
    assert changed.returncode == 2
    assert "other settings (lr)" in changed.stderr and "Traceback" not in changed.stderr

    # A run.json written before an option existed (here --mixup and --cutmix) reads it as its default.
    run_file = out / "run.json"
    older = {k: v for k, v in json.loads(run_file.read_text()).items() if k not in ("mixup", "cutmix")}
    run_file.write_text(json.dumps(older))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "already finished" in again.stdout, again.stderr
    mixed = subprocess.run([*cmd, "--cutmix", "1"], capture_output=True, text=True, timeout=300, env=env)
    assert mixed.returncode == 2 and "other settings (cutmix)" in mixed.stderr


def test_export_agrees_and_evaluate_reports_the_same_model(trained_run, small_data, tmp_path):
    out, *_ = trained_run
    _, val_dir = small_data
    exported = _cli("export", "--model", str(out / "best.keras"), "--check-data", str(val_dir))
    assert exported.returncode == 0, exported.stderr
    report = json.loads(exported.stdout)
    assert report["faces_compared"] == 70 and report["max_abs_diff"] <= 1e-4
    results = []
    for model in ("best.keras", "best.onnx"):
        plot = tmp_path / f"{model}.png"
        run = _cli("evaluate", "--data", str(val_dir), "--model", str(out / model), "--json", "--plot", str(plot))
        assert run.returncode == 0, run.stderr
        results.append(json.loads(run.stdout))  # exactly one JSON object on stdout
        assert plot.stat().st_size > 0
    keras_result, onnx_result = results
    assert keras_result["n"] == 70
    # last.keras is the final epoch: it scores what log.csv says that epoch scored (best.keras may be another epoch).
    last = _cli("evaluate", "--data", str(val_dir), "--model", str(out / "last.keras"), "--json", "--plot", "")
    assert last.returncode == 0, last.stderr
    with open(out / "log.csv", newline="") as f:
        final = [row for row in csv.DictReader(f) if row["epoch"] == "2"][-1]
    assert abs(json.loads(last.stdout)["accuracy"] - float(final["val_accuracy"])) < 1e-6
    assert set(keras_result["per_class"]) == set(EMOTIONS)
    assert np.array(keras_result["confusion_matrix"]).sum() == 70
    assert keras_result["confusion_matrix"] == onnx_result["confusion_matrix"]
    assert abs(keras_result["accuracy"] - onnx_result["accuracy"]) < 1e-9


def test_distilled_run_without_validation_follows_its_time_budget(trained_run, small_data, tmp_path):
    """Teachers' probabilities as targets, no validation data, and a budget that allows only the 2 measured epochs."""
    out, *_ = trained_run
    train_dir, _ = small_data
    student = tmp_path / "student"
    run = _cli("train", "--arch", "vgg_fast", "--data", str(train_dir), "--val", "", "--out", str(student),
               "--epochs", "6", "--batch-size", "16", "--steps-per-epoch", "4", "--warmup-epochs", "1",
               "--teachers", str(out / "best.keras"), "--time-budget", "0.001")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads((student / "budget.json").read_text())["epochs"] == 2
    summary = json.loads((student / "summary.json").read_text())
    assert summary["epochs_done"] == 2 and summary["best_val_accuracy"] is None and summary["stopped_by_budget"]
    with open(student / "log.csv", newline="") as f:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(f)]
    assert rates[0] < rates[1]  # linear warmup, then the cosine starts at the full rate
    again = _cli("train", "--arch", "vgg_fast", "--data", str(train_dir), "--val", "", "--out", str(student),
                 "--epochs", "6", "--batch-size", "16", "--steps-per-epoch", "4", "--warmup-epochs", "1",
                 "--teachers", str(out / "best.keras"), "--time-budget", "0.001")
    assert again.returncode == 0 and "already finished" in again.stdout


def _soft_file(path, files, probs, source="test"):
    from fer_app.training import soft_targets

    soft_targets.save(path, files, np.asarray(probs, dtype=np.float32), source)
    return path


def test_soft_targets_are_matched_by_file_name_and_refused_when_they_do_not_fit(tmp_path):
    from fer_app.errors import DatasetError
    from fer_app.training import soft_targets

    files = ("angry/a.png", "happy/b.png", "sad/c.png")
    eye = np.eye(len(EMOTIONS))
    # Stored in another order than the training data's: rows follow the names, not the positions.
    path = _soft_file(tmp_path / "soft.npz", list(reversed(files)), [eye[4], eye[3], eye[0]])
    np.testing.assert_array_equal(soft_targets.aligned(path, files, 3), [eye[0], eye[3], eye[4]])
    np.testing.assert_array_equal(soft_targets.aligned(path, files, 2), [eye[0], eye[3]])  # --limit
    with pytest.raises(DatasetError, match=r"no soft targets for 1 of the 4 training images \(e.g. fear/d.png\)"):
        soft_targets.aligned(path, (*files, "fear/d.png"), 4)
    with pytest.raises(DatasetError, match="needs the training data as a folder"):
        soft_targets.aligned(path, None, 3)  # a fer2013.csv has no file names
    with pytest.raises(DatasetError, match="sum to 1"):
        _soft_file(tmp_path / "bad.npz", files, [eye[0], eye[0] * 2, eye[1]])
    with pytest.raises(DatasetError, match="not found"):
        soft_targets.aligned(tmp_path / "none.npz", files, 3)


def test_training_follows_the_soft_targets_of_its_file(small_data, tmp_path):
    """Every face's soft target says 'happy' and gets the whole target (CutMix too mixes happy with happy):
    the trained model answers happy for all."""
    from fer_app.classify import EmotionClassifier
    from fer_app.training import data

    train_dir, _ = small_data
    train_set = data.load(train_dir, cache_dir=str(tmp_path / "cache"))
    assert train_set.files is not None and len(set(train_set.labels)) == len(EMOTIONS)
    happy = np.eye(len(EMOTIONS))[EMOTIONS.index("happy")]
    soft = _soft_file(tmp_path / "happy.npz", train_set.files, np.tile(happy, (len(train_set), 1)))
    out = tmp_path / "run"
    args = ["train", "--arch", "vgg_fast", "--data", str(train_dir), "--val", "", "--out", str(out), "--epochs", "2",
            "--batch-size", "16", "--steps-per-epoch", "8", "--warmup-epochs", "0", "--lr", "0.003",
            "--label-smoothing", "0", "--soft-targets", str(soft), "--kd-weight", "1", "--cutmix", "1"]
    run = _cli(*args)
    assert run.returncode == 0, run.stdout + run.stderr
    exported = _cli("export", "--model", str(out / "best.keras"))
    assert exported.returncode == 0, exported.stderr
    predicted = EmotionClassifier(out / "best.onnx").predict(train_set.images).argmax(axis=1)
    assert (predicted == EMOTIONS.index("happy")).all()

    # A file made for other images, or together with teachers, is refused before any training.
    other = _soft_file(tmp_path / "other.npz", [f"x/{name}" for name in train_set.files], np.tile(happy, (len(train_set), 1)))
    for extra, message in ((["--out", str(tmp_path / "r2"), "--soft-targets", str(other)], "no soft targets for 210 of the 210"),
                           (["--out", str(tmp_path / "r3"), "--teachers", str(out / "best.keras")], "choose one")):
        refused = _cli(*args, *extra)
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


def test_soft_target_script_maps_ferplus_votes_and_runs_the_ensemble(small_data, tmp_path):
    from fer_app.training import data, soft_targets

    train_dir, _ = small_data
    names = sorted(p.relative_to(train_dir).as_posix() for p in train_dir.glob("*/*.png"))
    first, second = names[0], names[-1]  # an angry face and a surprised one
    votes = tmp_path / "votes.csv"
    header = "split,class,file,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    rel = os.path.relpath(train_dir, tmp_path)
    votes.write_text(f"{header}\ntrain,angry,{rel}/{first},1,0,2,0,6,0,0,1,0,0\n"
                     f"train,surprise,{rel}/{second},0,0,0,0,0,0,0,3,2,5\n")
    script = [sys.executable, "scripts/soft_targets.py", "--data", str(train_dir)]
    env = dict(os.environ, FER_APP_CACHE=str(tmp_path / "cache"))
    run = subprocess.run([*script, "--ferplus", str(votes), "--out", str(tmp_path / "fp.npz")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    index, probs, source = soft_targets.load(tmp_path / "fp.npz")
    assert sorted(index) == names and "FER+" in source
    # neutral 1, surprise 2, anger 6 of 9 usable votes (contempt dropped), in FER2013's class order.
    np.testing.assert_allclose(probs[index[first]], np.array([6, 0, 0, 0, 0, 2, 1]) / 9, atol=1e-6)
    # Only contempt, unknown and not-a-face votes, or no votes at all: the label.
    np.testing.assert_array_equal(probs[index[second]], np.eye(len(EMOTIONS))[EMOTIONS.index("surprise")])
    np.testing.assert_array_equal(probs[index[names[1]]], np.eye(len(EMOTIONS))[EMOTIONS.index("angry")])

    run = subprocess.run([*script, "--ensemble", "--limit", "40", "--out", str(tmp_path / "ens.npz")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    index, probs, source = soft_targets.load(tmp_path / "ens.npz")
    assert len(index) == 40 and "ensemble" in source
    labels = data.load(train_dir, cache_dir=str(tmp_path / "cache")).labels[:40]
    assert probs.max(axis=1).min() < 1 and np.mean(probs.argmax(axis=1) == labels) > 0.5  # soft, and mostly right


def test_mixed_batches_mix_their_targets_in_the_same_pairs(val_faces):
    """With CutMix and MixUp, every target is lam * own label + (1 - lam) * one partner's, lam shared by the batch."""
    from types import SimpleNamespace

    from fer_app.preprocess import to_model_input
    from fer_app.training.loop import AugmentedBatches
    from fer_app.training.train import TrainConfig

    config = SimpleNamespace(**{**TrainConfig().__dict__, "batch_size": 64, "mixup": 0.4, "cutmix": 1.0, "workers": 1})
    pick = np.random.default_rng(0).permutation(len(val_faces.labels))[:256]  # the folder is sorted by class
    images, labels = to_model_input(val_faces.images[pick]), val_faces.labels[pick]
    batches = AugmentedBatches(images, labels, config, teachers=[])
    mixed = 0
    for index in range(len(batches)):
        x, y = batches[index]
        assert x.shape == (64, 48, 48, 1) and y.shape == (64, 7)
        np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-6)
        own = y[np.arange(64), labels[batches.order[index * 64 : (index + 1) * 64]]]
        shares = np.sort(y, axis=1)[:, -2:]  # the two largest entries of each row
        assert np.all(shares[:, 0] + shares[:, 1] > 1 - 1e-6)  # at most two classes per target
        two = shares[:, 0] > 1e-6
        if two.any():  # one lam for the whole batch: the pairs split the target the same way
            assert np.ptp(shares[two, 1]) < 1e-5
            assert np.all(np.isclose(own[two], shares[two, 0]) | np.isclose(own[two], shares[two, 1]))
            mixed += 1
    assert mixed >= 2  # most batches mix faces of different classes


def test_every_architecture_maps_faces_to_probabilities_and_resnet_slim_fits_the_live_limit(val_faces):
    from fer_app.preprocess import to_model_input
    from fer_app.training.architectures import ARCHITECTURES, build

    faces = to_model_input(val_faces.images[:4])
    for name in ARCHITECTURES:
        model = build(name)
        probs = np.asarray(model(faces, training=False))
        assert probs.shape == (4, len(EMOTIONS)), name
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5, err_msg=name)
    assert build("resnet_slim").count_params() <= 2_000_000 < build("resnet").count_params()


def test_an_exported_model_teaches_on_the_same_augmented_faces(val_faces):
    """An .onnx teacher (as the accurate mode ships them) supplies the soft part of each target, for the faces the student sees."""
    from types import SimpleNamespace

    from fer_app.classify import DEFAULT_MODEL, EmotionClassifier
    from fer_app.preprocess import to_model_input
    from fer_app.training.loop import AugmentedBatches
    from fer_app.training.train import TrainConfig, _load_teacher

    config = SimpleNamespace(**{**TrainConfig().__dict__, "batch_size": 32, "workers": 1, "kd_weight": 0.7})
    pick = np.random.default_rng(1).permutation(len(val_faces.labels))[:64]
    images, labels = to_model_input(val_faces.images[pick]), val_faces.labels[pick]
    batches = AugmentedBatches(images, labels, config, teachers=[_load_teacher(str(DEFAULT_MODEL))])
    x, y = batches[0]
    onehot = np.eye(7)[labels[batches.order[:32]]]
    teacher = EmotionClassifier(DEFAULT_MODEL).predict(x)
    np.testing.assert_allclose(y, 0.3 * onehot + 0.7 * teacher, atol=1e-5)
    assert np.mean(teacher.argmax(1) == labels[batches.order[:32]]) > 0.5  # the real model, mostly right


def test_teacher_views_cache_resumes_and_a_student_trains_on_it_with_ema(small_data, tmp_path, monkeypatch):
    """The cache holds K views per face and the teacher's answers on exactly those pixels; an interrupted
    cache is finished by the same command; a student trains on it, validated with averaged weights."""
    from fer_app.ensemble import accurate_classifier
    from fer_app.training import data, teacher_views

    train_dir, val_dir = small_data
    monkeypatch.setattr(teacher_views, "CHUNK", 64)  # 210 faces: 4 chunks
    monkeypatch.setattr(teacher_views, "TEACHER_BATCH", 50)  # several runtime calls per chunk
    recipe = teacher_views.ViewRecipe(views=3, seed=5)
    cache = tmp_path / "cache"

    class StopAfterTwo:
        """The teacher, failing once it has seen two chunks' views: an interrupted build."""

        def __init__(self):
            self.teacher, self.seen = accurate_classifier(threads=1, tta="none"), 0

        def predict(self, faces):
            self.seen += len(faces)
            if self.seen > 2 * 64 * 3:
                raise KeyboardInterrupt
            return self.teacher.predict(faces)

    teacher_id = {"name": "accurate", "tta": "none"}
    with pytest.raises(KeyboardInterrupt):
        teacher_views.build(str(train_dir), cache, recipe, StopAfterTwo(), teacher_id, threads=1, progress=None)
    with pytest.raises(Exception, match="unfinished"):
        teacher_views.load(cache, data.load(train_dir))
    result = teacher_views.build(str(train_dir), cache, recipe, accurate_classifier(threads=1, tta="none"), teacher_id,
                                 threads=2, progress=None)
    assert result["complete"] and result["faces"] == 210

    cached = teacher_views.load(cache, data.load(train_dir))
    assert cached.views.shape == (210, 3, 48, 48) and cached.probs.shape == (210, 3, 7)
    # Views differ from each other and from the face; the answers are the teacher's on the stored pixels.
    faces = data.load(train_dir).images
    assert not np.array_equal(cached.views[0, 0], cached.views[0, 1]) and not np.array_equal(cached.views[0, 0], faces[0])
    answers = accurate_classifier(threads=1, tta="none").predict(np.asarray(cached.views[:8, 2]))
    np.testing.assert_allclose(cached.probs[:8, 2].astype(np.float32), answers, atol=2e-3)
    with pytest.raises(Exception, match="other data"):
        teacher_views.build(str(val_dir), cache, recipe, accurate_classifier(threads=1, tta="none"), teacher_id, progress=None)

    out = tmp_path / "student"
    run = _cli("train", "--arch", "vgg_fast", "--data", str(train_dir), "--val", str(val_dir), "--out", str(out),
               "--epochs", "2", "--batch-size", "32", "--warmup-epochs", "0", "--teacher-views", str(cache), "--ema", "0.9")
    assert run.returncode == 0, run.stdout + run.stderr
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 3 and "val_accuracy" in rows[0]
    # The checkpoint holds the weights that were validated (the averaged ones).
    logged = max(float(r["val_accuracy"]) for r in csv.DictReader((out / "log.csv").open()))
    evaluated = _cli("evaluate", "--data", str(val_dir), "--model", str(out / "best.keras"), "--json")
    assert abs(json.loads(evaluated.stdout)["accuracy"] - logged) < 1e-6
    refused = _cli("train", "--arch", "vgg_fast", "--data", str(train_dir), "--val", "", "--out", str(tmp_path / "x"),
                   "--teacher-views", str(cache), "--mixup", "0.2")
    assert refused.returncode != 0 and "--teacher-views" in refused.stderr and "Traceback" not in refused.stderr
