"""The Keras pieces of a training run: the batch feeder and the per-epoch schedule.

They import Keras at the top, so train.py loads this module only when it trains
(the command line builds its options from TrainConfig without Keras).
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import keras
import numpy as np

from fer_app.labels import NUM_CLASSES
from fer_app.training.augment import augment_batch, mix_batch


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches, prepared by `config.workers` threads.

    With teachers, each target mixes the one-hot label with the teachers' mean
    probabilities for the same augmented faces (knowledge distillation); with
    `soft` ((N, 7) rows aligned with `images`, from --soft-targets), with each
    image's precomputed row instead. With --mixup or --cutmix, faces and their
    label (and precomputed) targets are mixed in pairs before the teachers see
    them. Batch contents depend only on the seed, the epoch and the batch index.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, config, teachers: list, soft: np.ndarray | None = None,
                 cached=None):
        super().__init__(workers=config.workers, use_multiprocessing=False, max_queue_size=16)
        self.images, self.labels, self.config, self.teachers = images, labels, config, teachers
        self.soft = soft
        self.cached = cached  # teacher_views.TeacherViews: fixed views with the teacher's answers
        self.steps = config.steps_per_epoch or int(np.ceil(len(labels) / config.batch_size))
        self.round = 0
        self.order = self._shuffled()
        self.teacher_lock = threading.Lock()  # predict_on_batch is not thread-safe on the JAX backend

    def _shuffled(self) -> np.ndarray:
        return np.random.default_rng((self.config.seed, self.round)).permutation(len(self.labels))

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        c = self.config
        rng = np.random.default_rng((c.seed, self.round, index))
        picked = np.take(self.order, np.arange(index * c.batch_size, (index + 1) * c.batch_size), mode="wrap")
        if self.cached is not None:
            return self._cached_batch(picked, rng)
        x = augment_batch(self.images[picked], rng, c.rotation, c.shift, c.zoom, c.erase_prob)
        x, partner, lam = mix_batch(x, rng, c.mixup, c.cutmix)
        y = np.eye(NUM_CLASSES, dtype=np.float32)[self.labels[picked]]
        if self.soft is not None:
            y = (1 - c.kd_weight) * y + c.kd_weight * self.soft[picked]
        y = lam * y + (1 - lam) * y[partner]
        if self.teachers:  # the teachers see the same (mixed) faces as the student
            with self.teacher_lock:
                soft = np.mean([np.asarray(t.predict_on_batch(x)) for t in self.teachers], axis=0)
            y = (1 - c.kd_weight) * y + c.kd_weight * soft
        return x, y.astype(np.float32)

    def _cached_batch(self, picked: np.ndarray, rng: np.random.Generator):
        """One of each face's cached views, and the target mixing its label with the teacher's answer on that view."""
        view = rng.integers(self.cached.views.shape[1], size=len(picked))
        x = self.cached.views[picked, view].astype(np.float32)[..., None]
        y = np.eye(NUM_CLASSES, dtype=np.float32)[self.labels[picked]]
        teacher = self.cached.probs[picked, view].astype(np.float32)
        teacher /= teacher.sum(axis=1, keepdims=True)  # float16 rounding
        kd = self.config.kd_weight
        return x, ((1 - kd) * y + kd * teacher).astype(np.float32)

    def on_epoch_end(self) -> None:
        self.round += 1
        self.order = self._shuffled()


class EpochSchedule(keras.callbacks.Callback):
    """Sets the learning rate at each epoch (linear warmup, then cosine to zero at the last epoch).

    With a time budget, the last epoch is chosen after epoch 2 from its
    duration, remembered in `budget_file` for a resumed run, and training
    stops there. Also adds `epoch_seconds` and `learning_rate` to the logs.
    """

    def __init__(self, config, budget_file: Path):
        super().__init__()
        self.config = config
        self.budget_file = budget_file
        self.total = json.loads(budget_file.read_text())["epochs"] if budget_file.exists() else config.epochs
        self.train_start = time.time()

    def lr_at(self, epoch: int) -> float:
        lr, warmup = self.config.lr, self.config.warmup_epochs
        if epoch < warmup:
            return lr * (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(1, self.total - warmup)
        return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()
        if self.config.schedule == "cosine":
            self.model.optimizer.learning_rate = self.lr_at(epoch)

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self._start
        if logs is not None:
            logs["epoch_seconds"] = round(seconds, 2)
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        budget = self.config.time_budget
        if budget and epoch == 1 and not self.budget_file.exists():
            left = budget * 60 - (time.time() - self.train_start)
            self.total = min(self.config.epochs, epoch + 1 + max(0, int(left // seconds)))
            self.budget_file.write_text(json.dumps({"epochs": self.total, "epoch_seconds": seconds}))
            print(f"time budget {budget:g} min: training {self.total} epochs")
        if epoch + 1 >= self.total:
            self.model.stop_training = True
