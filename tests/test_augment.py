"""Training-time augmentation and the data packing for GPU machines, on real faces."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from fer_app.preprocess import to_model_input
from fer_app.training.augment import augment_batch, random_erasing


def _load_script(name: str):
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_augmentation_keeps_shape_and_range_and_is_reproducible(val_faces):
    faces = to_model_input(val_faces.images[:64])
    a = augment_batch(faces, np.random.default_rng(5))
    b = augment_batch(faces, np.random.default_rng(5))
    assert a.shape == faces.shape and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 255
    changed = np.mean(np.abs(a - faces), axis=(1, 2, 3))
    assert np.all(changed > 0.5)  # every face moved


def test_without_random_changes_a_face_is_left_as_it_was(val_faces):
    faces = to_model_input(val_faces.images[:8])
    same = augment_batch(faces, np.random.default_rng(0), rotation_deg=0, shift=0, zoom=0, erase_prob=0)
    flipped_or_not = [np.allclose(s, f, atol=1e-3) or np.allclose(s, f[:, ::-1], atol=1e-3) for s, f in zip(same, faces)]
    assert all(flipped_or_not)


def test_random_erasing_blanks_one_rectangle_per_chosen_face(val_faces):
    faces = to_model_input(val_faces.images[:32])
    erased = faces.copy()
    random_erasing(erased, np.random.default_rng(1), prob=1.0)
    for before, after in zip(faces, erased):
        rows, cols = np.nonzero((before != after)[..., 0])
        assert rows.size > 0
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert 0.02 * 48 * 48 * 0.5 <= box <= 0.2 * 48 * 48 * 1.2


def test_packed_data_unpacks_to_the_same_pixels(val_faces, tmp_path):
    pack_data = _load_script("pack_data")
    faces = val_faces.images[:500]
    assert np.array_equal(pack_data.decode(pack_data.encode(faces)), faces)
