"""FER2013 loaders: the Kaggle CSV and <class>/ folders, real data and every bad input."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from fer_app.errors import DatasetError
from fer_app.labels import EMOTIONS
from fer_app.training.data import data_checksum, load


def _faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def _write_csv(path, rows, columns=("emotion", "pixels", "Usage")):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def _write_folder(root, faces_by_class: dict[str, np.ndarray], suffix=".png"):
    for name, faces in faces_by_class.items():
        (root / name).mkdir(parents=True)
        for i, face in enumerate(faces):
            cv2.imwrite(str(root / name / f"{i}{suffix}"), face)
    return root


def test_csv_rows_by_usage(tmp_path):
    faces = _faces(4)
    rows = [(label, " ".join(map(str, f.ravel())), usage)
            for label, f, usage in zip([3, 0, 6, 1], faces, ["Training", "PublicTest", "Training", "PrivateTest"])]
    path = _write_csv(tmp_path / "fer2013.csv", rows)
    train = load(path, usage="Training")
    assert train.labels.tolist() == [3, 6]
    np.testing.assert_array_equal(train.images, faces[[0, 2]])
    assert len(load(path)) == 4
    assert load(path, usage="PublicTest").labels.tolist() == [0]


@pytest.mark.parametrize(
    ("columns", "rows", "message"),
    [
        (("emotion", "Usage"), [(0, "Training")], "missing column(s) pixels"),
        (("emotion", "pixels", "Usage"), [(0, "1 2 3", "Training")], "3 pixels, expected 2304"),
        (("emotion", "pixels", "Usage"), [(9, " ".join(["0"] * 2304), "Training")], "emotion 9 is not a class index"),
        (("emotion", "pixels", "Usage"), [(0, " ".join(["300"] * 2304), "Training")], "outside 0-255"),
        (("emotion", "pixels", "Usage"), [(0, " ".join(["x"] * 2304), "Training")], "not whole numbers"),
    ],
)
def test_csv_errors_name_the_file(tmp_path, columns, rows, message):
    path = _write_csv(tmp_path / "bad.csv", rows, columns)
    with pytest.raises(DatasetError, match=r"bad\.csv") as err:
        load(path)
    assert message in str(err.value)


def test_csv_usage_needs_the_column_and_a_known_name(tmp_path):
    path = _write_csv(tmp_path / "f.csv", [(0, " ".join(["0"] * 2304))], ("emotion", "pixels"))
    assert len(load(path)) == 1
    with pytest.raises(DatasetError, match="missing column.*Usage"):
        load(path, usage="Training")
    with pytest.raises(DatasetError, match="unknown usage"):
        load(path, usage="Test")


def test_folder_uses_fer2013_indices_whatever_the_order(tmp_path):
    faces = _faces(3)
    root = _write_folder(tmp_path / "posed", {"Surprise": faces[:1], "happiness": faces[1:3]}, suffix=".jpg")
    data = load(root, cache_dir=str(tmp_path / "cache"))
    assert sorted(data.labels.tolist()) == [EMOTIONS.index("happy")] * 2 + [EMOTIONS.index("surprise")]
    assert data.class_counts()["neutral"] == 0
    assert data.images.shape == (3, 48, 48)


def test_folder_cache_is_used_and_invalidated(tmp_path):
    faces = _faces(2)
    root = _write_folder(tmp_path / "d", {"sad": faces})
    cache = tmp_path / "cache"
    first = load(root, cache_dir=str(cache))
    assert len(list(cache.glob("*.npz"))) == 1
    np.testing.assert_array_equal(load(root, cache_dir=str(cache)).images, first.images)
    cv2.imwrite(str(root / "sad" / "0.png"), np.zeros((48, 48), np.uint8))
    assert load(root, cache_dir=str(cache)).images[0].max() == 0
    assert len(list(cache.glob("*.npz"))) == 2


def test_folder_errors(tmp_path):
    cache = str(tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no class folders"):
        load(tmp_path / "empty", cache_dir=cache)
    _write_folder(tmp_path / "unknown", {"contempt": _faces(1)})
    with pytest.raises(DatasetError, match="unknown class 'contempt'"):
        load(tmp_path / "unknown", cache_dir=cache)
    (tmp_path / "noimages" / "sad").mkdir(parents=True)
    with pytest.raises(DatasetError, match="hold no .png or .jpg"):
        load(tmp_path / "noimages", cache_dir=cache)
    _write_folder(tmp_path / "size", {"sad": [np.zeros((64, 64), np.uint8)]})
    with pytest.raises(DatasetError, match=r"0\.png: image is 64x64, expected 48x48"):
        load(tmp_path / "size", cache_dir=cache)
    (tmp_path / "broken" / "fear").mkdir(parents=True)
    (tmp_path / "broken" / "fear" / "x.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"x\.png: cannot be read"):
        load(tmp_path / "broken", cache_dir=cache)
    with pytest.raises(DatasetError, match="no such file"):
        load(tmp_path / "missing")


def test_dataset_root_instead_of_split_gets_a_hint(tmp_path):
    _write_folder(tmp_path / "root" / "train", {"sad": _faces(1)})
    with pytest.raises(DatasetError, match="did you mean .*train"):
        load(tmp_path / "root", cache_dir=str(tmp_path / "cache"))


def test_real_fer2013_counts(fer2013, val_faces):
    assert len(val_faces) == 3589
    assert val_faces.class_counts() == {"angry": 467, "disgust": 56, "fear": 496, "happy": 895,
                                        "sad": 653, "surprise": 415, "neutral": 607}
    assert val_faces.images.dtype == np.uint8 and val_faces.images.std() > 20
    assert len(data_checksum(val_faces)) == 64
