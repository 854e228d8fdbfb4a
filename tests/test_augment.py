"""Training-time augmentation and the data packing for GPU machines, on real faces."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from fer_app.preprocess import to_model_input
from fer_app.training.augment import augment_batch, mix_batch, random_erasing


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


def test_cutmix_pastes_one_box_of_the_partner_face_and_weighs_it_by_area(val_faces):
    faces = to_model_input(val_faces.images[:32])
    for seed in range(5):
        mixed, partner, lam = mix_batch(faces, np.random.default_rng(seed), cutmix_alpha=1.0)
        assert sorted(partner) == list(range(32)) and 0.0 <= lam <= 1.0
        pasted = (mixed != faces)[..., 0] & (mixed == faces[partner])[..., 0]
        kept = (mixed == faces)[..., 0]
        assert np.all(pasted | kept)  # every pixel is the face's own or its partner's
        rows, cols = np.nonzero(pasted.any(axis=0))
        if rows.size:  # one box, the same for the whole batch, whose area sets lam
            box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            assert box <= (1 - lam) * 48 * 48 + 1e-6
            assert abs((1 - lam) * 48 * 48 - box) <= 2 * 48  # a box edge may coincide with equal pixels


def test_mixup_blends_each_face_with_its_partner(val_faces):
    faces = to_model_input(val_faces.images[:32])
    mixed, partner, lam = mix_batch(faces, np.random.default_rng(3), mixup_alpha=0.4)
    assert 0.0 < lam < 1.0 and mixed.dtype == np.float32
    np.testing.assert_allclose(mixed, lam * faces + (1 - lam) * faces[partner], atol=1e-3)
    same, _, one = mix_batch(faces, np.random.default_rng(3))
    assert same is faces and one == 1.0  # neither alpha: nothing mixed
    kinds = {"cutmix" if np.array_equal(np.round(m), m) else "mixup"
             for m in (mix_batch(faces, np.random.default_rng(s), 0.4, 1.0)[0] for s in range(12))}
    assert kinds == {"mixup", "cutmix"}  # with both, batches use either


def test_packed_data_unpacks_to_the_same_pixels(val_faces, tmp_path):
    pack_data = _load_script("pack_data")
    faces = val_faces.images[:500]
    assert np.array_equal(pack_data.decode(pack_data.encode(faces)), faces)
