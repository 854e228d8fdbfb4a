"""Per-image soft targets for `train --soft-targets FILE.npz`, keyed by file name so order cannot drift.

The file holds `files` (each training image's path relative to the training
folder, e.g. "angry/Training_3908.png"), `probs` (N, 7) float32 rows that sum
to 1 in FER2013 class order, and `source` (how the file was made). Written by
scripts/soft_targets.py; no TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_app.errors import DatasetError
from fer_app.labels import NUM_CLASSES


def save(path: str | Path, files: list[str] | tuple[str, ...], probs: np.ndarray, source: str) -> None:
    path, files, probs = Path(path), np.asarray(files, dtype=str), np.asarray(probs, dtype=np.float32)
    _check(path, files, probs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, files=files, probs=probs, source=np.asarray(source))


def load(path: str | Path) -> tuple[dict[str, int], np.ndarray, str]:
    """(file name -> row, probs, source) from a soft-target file, checked."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: soft-target file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            files, probs = data["files"].astype(str), data["probs"].astype(np.float32)
            source = str(data["source"]) if "source" in data else ""
    except (OSError, ValueError, KeyError) as e:
        raise DatasetError(f"{path}: not a soft-target .npz with 'files' and 'probs' arrays ({e})") from None
    _check(path, files, probs)
    return {name: i for i, name in enumerate(files)}, probs, source


def aligned(path: str | Path, files: tuple[str, ...] | None, count: int) -> np.ndarray:
    """The (count, 7) soft targets of the first `count` training images, in the training data's order.

    Refuses a file that lacks any of those images: a target silently taken from
    another image would be worse than none.
    """
    if files is None:
        raise DatasetError("--soft-targets needs the training data as a folder of <class>/ images (the file is keyed by their names)")
    index, probs, _ = load(path)
    wanted = files[:count]
    missing = [name for name in wanted if name not in index]
    if missing:
        raise DatasetError(f"{path}: no soft targets for {len(missing)} of the {len(wanted)} training images "
                           f"(e.g. {missing[0]}); was it made for this training folder?")
    return probs[[index[name] for name in wanted]]


def _check(path: Path, files: np.ndarray, probs: np.ndarray) -> None:
    if files.ndim != 1 or probs.shape != (len(files), NUM_CLASSES):
        raise DatasetError(f"{path}: expected N file names and (N, {NUM_CLASSES}) probabilities, found {files.shape} and {probs.shape}")
    if len(set(files.tolist())) != len(files):
        raise DatasetError(f"{path}: a file name appears twice")
    if len(files) and (not np.all(np.isfinite(probs)) or probs.min() < 0 or np.abs(probs.sum(axis=1) - 1).max() > 1e-3):
        raise DatasetError(f"{path}: each row of probs must be non-negative and sum to 1")
