"""Load FER2013-style data: the Kaggle `fer2013.csv`, `<class>/*.png|jpg` folders, or an .npz of arrays.

Returns grey uint8 arrays (N, 48, 48) and FER2013 class indices, whatever the
folder order. Decoded folders are cached as .npz so a second run starts in
seconds. No TensorFlow here: evaluation of an exported model runs without it.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_app.errors import DatasetError
from fer_app.labels import EMOTIONS, class_index
from fer_app.preprocess import INPUT_SIZE

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CSV_COLUMNS = ("emotion", "pixels")
CSV_USAGES = ("Training", "PublicTest", "PrivateTest")
CACHE_VERSION = "1"


@dataclass
class Dataset:
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64, FER2013 indices
    source: str
    files: tuple[str, ...] | None = None  # a folder's images, relative to it ("angry/Training_1.png"), in order

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(EMOTIONS))
        return {name: int(n) for name, n in zip(EMOTIONS, counts)}


def load(path: str | os.PathLike, usage: str | None = None, cache_dir: str | None = None) -> Dataset:
    """A `fer2013.csv` (rows of `usage`, or all), a folder of `<class>/` image folders, or an .npz
    holding `images` (N, 48, 48) uint8 and `labels` (N,) (the cache's format, handy to move data around)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() == ".npz" and usage is None:
            return load_npz(path)
        if path.suffix.lower() != ".csv":
            raise DatasetError(f"{path}: expected a fer2013.csv file, an .npz or a folder of <class>/ folders")
        return load_csv(path, usage)
    if usage is not None:
        raise DatasetError(f"{path}: --usage applies to a fer2013.csv, not to a folder")
    return load_folder(path, cache_dir)


def load_csv(path: Path, usage: str | None = None) -> Dataset:
    if usage is not None and usage not in CSV_USAGES:
        raise DatasetError(f"unknown usage {usage!r}: expected one of {', '.join(CSV_USAGES)}")
    images, labels = [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        needed = CSV_COLUMNS + (("Usage",) if usage else ())
        missing = [c for c in needed if c not in columns]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(columns) or 'none'})")
        for line, row in enumerate(reader, start=2):
            if usage and row["Usage"] != usage:
                continue
            images.append(_parse_pixels(row["pixels"], path, line))
            labels.append(_parse_label(row["emotion"], path, line))
    if not labels:
        which = f" with Usage {usage}" if usage else ""
        raise DatasetError(f"{path}: no rows{which}")
    return Dataset(np.stack(images), np.asarray(labels, dtype=np.int64), str(path))


def load_npz(path: Path) -> Dataset:
    try:
        with np.load(path) as data:
            images, labels = data["images"], data["labels"]
    except (OSError, ValueError, KeyError) as e:
        raise DatasetError(f"{path}: not an .npz with 'images' and 'labels' arrays ({e})") from None
    if images.dtype != np.uint8 or images.shape[1:] != (INPUT_SIZE, INPUT_SIZE) or len(images) != len(labels):
        raise DatasetError(f"{path}: expected images (N, 48, 48) uint8 and N labels, found {images.shape} {images.dtype} and {labels.shape}")
    if len(labels) == 0 or labels.min() < 0 or labels.max() >= len(EMOTIONS):
        raise DatasetError(f"{path}: no images, or labels outside 0-6")
    return Dataset(images, labels.astype(np.int64), str(path))


def _parse_pixels(text: str, path: Path, line: int) -> np.ndarray:
    try:
        values = np.array(text.split(), dtype=np.int64)
    except ValueError:
        raise DatasetError(f"{path}:{line}: pixels are not whole numbers") from None
    if values.size != INPUT_SIZE * INPUT_SIZE:
        raise DatasetError(f"{path}:{line}: {values.size} pixels, expected {INPUT_SIZE * INPUT_SIZE} (48x48)")
    if values.min() < 0 or values.max() > 255:
        raise DatasetError(f"{path}:{line}: pixel values outside 0-255")
    return values.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE)


def _parse_label(text: str, path: Path, line: int) -> int:
    try:
        label = int(text)
    except ValueError:
        raise DatasetError(f"{path}:{line}: emotion {text!r} is not a class index 0-6") from None
    if not 0 <= label < len(EMOTIONS):
        raise DatasetError(f"{path}:{line}: emotion {label} is not a class index 0-6")
    return label


def _list_folder(root: Path) -> list[tuple[Path, int]]:
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise DatasetError(f"{root}: no class folders (expected {root}/<class>/*.png, classes: {', '.join(EMOTIONS)})")
    files = []
    for sub in subdirs:
        try:
            label = class_index(sub.name)
        except KeyError:
            hint = ""
            if any(class_index_or_none(p.name) is not None for p in sub.iterdir() if p.is_dir()):
                hint = f"; it holds class folders itself: did you mean {sub}?"
            raise DatasetError(f"{sub}: unknown class {sub.name!r} (expected one of {', '.join(EMOTIONS)}){hint}") from None
        files += [(p, label) for p in sorted(sub.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DatasetError(f"{root}: the class folders hold no .png or .jpg images")
    return files


def class_index_or_none(name: str) -> int | None:
    try:
        return class_index(name)
    except KeyError:
        return None


def load_folder(root: Path, cache_dir: str | None = None) -> Dataset:
    files = _list_folder(root)
    names = tuple(file.relative_to(root).as_posix() for file, _ in files)
    cache = _cache_path(root, files, cache_dir)
    if cache.exists():
        with np.load(cache) as data:
            return Dataset(data["images"], data["labels"], str(root), names)
    images = np.empty((len(files), INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)
    for i, (file, _) in enumerate(files):
        images[i] = _read_face(file)
    labels = np.array([label for _, label in files], dtype=np.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, images=images, labels=labels)
    tmp.replace(cache)
    return Dataset(images, labels, str(root), names)


def _read_face(file: Path) -> np.ndarray:
    image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DatasetError(f"{file}: cannot be read as an image")
    if image.shape != (INPUT_SIZE, INPUT_SIZE):
        raise DatasetError(f"{file}: image is {image.shape[1]}x{image.shape[0]}, expected 48x48")
    return image


def default_cache_dir() -> Path:
    base = os.environ.get("FER_APP_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "fer_app")
    return Path(base)


def _cache_path(root: Path, files: list[tuple[Path, int]], cache_dir: str | None) -> Path:
    """Keyed by the folder and every file's name, size and mtime, so edits invalidate it."""
    digest = hashlib.sha256(f"{CACHE_VERSION}|{root.resolve()}".encode())
    for file, label in files:
        st = file.stat()
        digest.update(f"|{file.relative_to(root)}|{label}|{st.st_size}|{st.st_mtime_ns}".encode())
    return Path(cache_dir or default_cache_dir()) / f"{root.name}-{digest.hexdigest()[:16]}.npz"


def data_checksum(dataset: Dataset) -> str:
    """SHA-256 over pixels and labels: identifies the data a model was trained on."""
    digest = hashlib.sha256(dataset.images.tobytes())
    digest.update(dataset.labels.tobytes())
    return digest.hexdigest()


def seen_in(dataset: Dataset, reference: Dataset) -> np.ndarray:
    """For each image of `dataset`, whether an image of `reference` has exactly its pixels.

    FER2013 holds exact duplicates across its splits (280 PublicTest faces are pixel-identical to
    Training faces): a model may have learnt those answers, so they flatter a validation figure."""
    seen = {image.tobytes() for image in reference.images}
    return np.array([image.tobytes() in seen for image in dataset.images], dtype=bool)


def without_images_in(dataset: Dataset, reference: Dataset) -> tuple[Dataset, int]:
    """`dataset` less the images `seen_in` `reference`, and how many went."""
    keep = ~seen_in(dataset, reference)
    files = tuple(f for f, k in zip(dataset.files, keep) if k) if dataset.files is not None else None
    return Dataset(dataset.images[keep], dataset.labels[keep], dataset.source, files), int((~keep).sum())
