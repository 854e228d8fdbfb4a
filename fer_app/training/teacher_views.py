"""A cache of the teacher's answers on fixed augmented views of every training face (FKD, Shen & Xing 2022).

`python -m fer_app teacher-views --data TRAIN --out DIR --views 16` draws K augmented views of each
face (the training augmentation: one affine plus random erasing), runs the teacher on each (by default
the shipped accurate ensemble's int8 models, one pass, its temperature), and stores

    DIR/views.npy    (N, K, 48, 48) uint8, the views themselves
    DIR/probs.npy    (N, K, 7) float16, the teacher's probabilities for each view
    DIR/recipe.json  the data's checksum, K, the seed, the augmentation, the teacher's SHA-256
    DIR/progress.json how many chunks of faces are done (the same command resumes)

A student then trains on it with `train --teacher-views DIR`: each epoch shows it one cached view of
each face with that view's teacher probabilities, so student and teacher always see the same pixels
(Beyer et al. 2022, "patient and consistent") while the teacher never runs during training.
No TensorFlow here: the teacher runs under ONNX Runtime.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer_app.errors import DatasetError, FerError
from fer_app.labels import NUM_CLASSES
from fer_app.training.augment import augment_batch

CHUNK = 512  # faces per unit of work (and of resumption)
TEACHER_BATCH = 256  # views per runtime call


@dataclass
class ViewRecipe:
    views: int = 16  # K, the augmented views cached per face
    seed: int = 0  # of the views' random draws
    rotation: float = 10.0  # degrees, either way (as in training)
    shift: float = 0.1  # fraction of the width / height (as in training)
    zoom: float = 0.1  # scale change, either way (as in training)
    erase_prob: float = 0.5  # probability of random erasing, per view (as in training)


def _draw_views(faces: np.ndarray, recipe: ViewRecipe, chunk_index: int) -> np.ndarray:
    """(n, 48, 48) uint8 -> (n, K, 48, 48) uint8; each chunk has its own random stream, so chunks can run in any order."""
    out = np.empty((len(faces), recipe.views, *faces.shape[1:]), np.uint8)
    for k in range(recipe.views):
        rng = np.random.default_rng((recipe.seed, chunk_index, k))
        view = augment_batch(faces[..., None], rng, recipe.rotation, recipe.shift, recipe.zoom, recipe.erase_prob)
        out[:, k] = np.clip(np.rint(view[..., 0]), 0, 255).astype(np.uint8)
    return out


def build(data: str, out: str | Path, recipe: ViewRecipe, teacher=None, teacher_id: dict | None = None,
          threads: int = 2, progress=sys.stderr) -> dict:
    """Fill (or finish filling) the cache in `out`. `teacher` has predict((n,48,48) uint8) -> (n,7); default:
    the accurate ensemble without test-time views."""
    from fer_app.training import data as fer_data

    out = Path(out)
    dataset = fer_data.load(data)
    if teacher is None:
        from fer_app.engine import model_identity
        from fer_app.ensemble import accurate_classifier

        teacher = accurate_classifier(threads=1, tta="none")
        teacher_id = model_identity(teacher) | {"tta": "none", "temperature": teacher.temperature}
    header = {"data": str(data), "data_sha256": fer_data.data_checksum(dataset), "faces": len(dataset),
              "recipe": asdict(recipe), "teacher": teacher_id or {}}
    recipe_file = out / "recipe.json"
    n, k = len(dataset), recipe.views
    if recipe_file.exists():
        previous = json.loads(recipe_file.read_text())
        if previous != header:
            raise FerError(f"{out} holds a cache made with other data, views or teacher; use another --out")
        mode = "r+"
    else:
        out.mkdir(parents=True, exist_ok=True)
        mode = "w+"
    views = np.lib.format.open_memmap(out / "views.npy", mode=mode, dtype=np.uint8, shape=(n, k, *dataset.images.shape[1:]))
    probs = np.lib.format.open_memmap(out / "probs.npy", mode=mode, dtype=np.float16, shape=(n, k, NUM_CLASSES))
    recipe_file.write_text(json.dumps(header, indent=2))

    progress_file = out / "progress.json"
    done = set(json.loads(progress_file.read_text())["chunks_done"]) if progress_file.exists() else set()
    todo = [c for c in range(-(-n // CHUNK)) if c not in done]
    start, finished = time.time(), 0

    def work(chunk: int) -> int:
        rows = slice(chunk * CHUNK, min(n, (chunk + 1) * CHUNK))
        chunk_views = _draw_views(dataset.images[rows], recipe, chunk)
        flat = chunk_views.reshape(-1, *chunk_views.shape[2:])
        # Small runtime batches: the widest member's activations for thousands of faces take gigabytes.
        answers = np.concatenate([teacher.predict(flat[i : i + TEACHER_BATCH]) for i in range(0, len(flat), TEACHER_BATCH)])
        views[rows] = chunk_views
        probs[rows] = answers.reshape(len(chunk_views), k, NUM_CLASSES).astype(np.float16)
        return chunk

    with ThreadPoolExecutor(max_workers=threads) as pool:  # ONNX Runtime and OpenCV release the GIL
        for chunk in pool.map(work, todo):
            views.flush()
            probs.flush()
            done.add(chunk)
            tmp = progress_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"chunks_done": sorted(done), "chunks": -(-n // CHUNK)}))
            os.replace(tmp, progress_file)
            finished += 1
            if progress is not None:
                rate = finished * CHUNK * k / (time.time() - start)
                left = (len(todo) - finished) * CHUNK * k / rate
                progress.write(f"\rteacher views: {len(done)}/{-(-n // CHUNK)} chunks, {rate:.0f} views/s, {left / 60:.0f} min left ")
                progress.flush()
    if progress is not None:
        progress.write("\n")
    return header | {"chunks_done": len(done), "complete": len(done) == -(-n // CHUNK)}


@dataclass
class TeacherViews:
    views: np.ndarray  # (N, K, 48, 48) uint8, memory-mapped
    probs: np.ndarray  # (N, K, 7) float16


def load(path: str | Path, dataset) -> TeacherViews:
    """The cache in `path`, checked against the training data it must belong to and for completeness."""
    from fer_app.training import data as fer_data

    path = Path(path)
    try:
        header = json.loads((path / "recipe.json").read_text())
        progress = json.loads((path / "progress.json").read_text())
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: not a teacher-views cache ({e})") from None
    if header["data_sha256"] != fer_data.data_checksum(dataset):
        raise DatasetError(f"{path}: the cache was made from other training data ({header['data']})")
    if len(progress["chunks_done"]) != progress["chunks"]:
        raise DatasetError(f"{path}: the cache is unfinished ({len(progress['chunks_done'])} of {progress['chunks']} chunks); "
                           "run the same teacher-views command again to finish it")
    return TeacherViews(np.load(path / "views.npy", mmap_mode="r"), np.load(path / "probs.npy", mmap_mode="r"))
