"""`python -m fer_app train`: train a registered architecture on FER2013, resumably.

Everything a run produces lives in its --out folder: run.json (the settings),
backup/ (the state to resume from), best.keras (best on validation),
log.csv (one row per epoch), curves.png and summary.json. Running the same
command again after an interruption continues from the last finished epoch.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer_app.errors import FerError
from fer_app.labels import NUM_CLASSES
from fer_app.preprocess import to_model_input
from fer_app.training import data as fer_data


@dataclass
class TrainConfig:
    arch: str = "vgg_small"
    data: str = "../shared/datasets/fer2013/train"
    val: str = "../shared/datasets/fer2013/val"
    out: str = "runs/vgg_small"
    epochs: int = 40
    batch_size: int = 128
    optimizer: str = "adamw"  # sgd (Nesterov), adam, adamw
    lr: float = 1e-3
    weight_decay: float = 0.02
    schedule: str = "cosine"  # cosine (with warmup) or plateau
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    class_weights: bool = False
    erase_prob: float = 0.5
    patience: int = 0  # early stopping on val accuracy; 0 = off
    seed: int = 1
    init: str = ""  # start from this .keras model's weights (fine-tuning); "" = random
    limit: int = 0  # use only the first N training images (smoke tests); 0 = all
    steps_per_epoch: int = 0  # 0 = a full pass


RESUMABLE_FIELDS = ("epochs",)  # may change between a run and its resumption


def train(config: TrainConfig) -> dict:
    import keras
    import tensorflow as tf

    from fer_app.training.architectures import build
    from fer_app.training.augment import make_augmenter
    from fer_app.training.report import plot_curves

    out = Path(config.out)
    summary_path = out / "summary.json"
    _check_run_folder(out, config)
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        if summary.get("epochs_done", 0) >= config.epochs:
            print(f"{out}: this run already finished ({summary['epochs_done']} epochs); best model in {out / 'best.keras'}")
            return summary

    keras.utils.set_random_seed(config.seed)
    train_set = fer_data.load(config.data)
    val_set = fer_data.load(config.val)
    x_train, y_train = to_model_input(train_set.images), train_set.labels
    if config.limit:
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
    x_val, y_val = to_model_input(val_set.images), val_set.labels
    print(f"train: {len(y_train)} images from {config.data}; val: {len(y_val)} from {config.val}")

    def one_hot(x, y):
        return x, tf.one_hot(y, NUM_CLASSES)

    augment = make_augmenter(erase_prob=config.erase_prob)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(y_train), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .map(one_hot)
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(256).map(one_hot).prefetch(2)

    steps = config.steps_per_epoch or int(np.ceil(len(y_train) / config.batch_size))
    if config.steps_per_epoch:
        train_ds = train_ds.repeat()
    model = build(config.arch)
    if config.init:
        from fer_app.training.export import load_keras

        model.set_weights(load_keras(config.init).get_weights())
    model.compile(
        optimizer=_optimizer(config, steps),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )

    log_path = out / "log.csv"
    best_so_far = _best_logged(log_path)
    callbacks = [
        # Kept after the run ends so that a larger --epochs continues from it.
        keras.callbacks.BackupAndRestore(str(out / "backup"), delete_checkpoint=False),
        EpochTimer(),
        keras.callbacks.ModelCheckpoint(
            str(out / "best.keras"), monitor="val_accuracy", mode="max", save_best_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.CSVLogger(str(log_path), append=True),
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: plot_curves(log_path, out / "curves.png")),
    ]
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=0.5, patience=5, verbose=1))
    if config.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.patience))

    class_weight = _class_weights(y_train) if config.class_weights else None
    start = time.time()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        steps_per_epoch=steps,
        class_weight=class_weight,
        callbacks=callbacks,
        verbose="auto" if os.isatty(1) else 2,
    )
    summary = _summarise(log_path, config, train_set, time.time() - start)
    summary_path.write_text(json.dumps(summary, indent=2))
    print(f"best val accuracy {summary['best_val_accuracy']:.4f} at epoch {summary['best_epoch']}; model: {out / 'best.keras'}")
    return summary


def _check_run_folder(out: Path, config: TrainConfig) -> None:
    run_file = out / "run.json"
    settings = asdict(config)
    if run_file.exists():
        previous = json.loads(run_file.read_text())
        changed = [k for k in settings if k not in RESUMABLE_FIELDS and previous.get(k) != settings[k]]
        if changed:
            raise FerError(f"{out} holds a run with other settings ({', '.join(changed)}); use another --out to start a new run")
    out.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(settings, indent=2))


def _optimizer(config: TrainConfig, steps_per_epoch: int):
    import keras

    lr = config.lr
    if config.schedule == "cosine":
        warmup = config.warmup_epochs * steps_per_epoch
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.lr / 100 if warmup else config.lr,
            decay_steps=max(1, config.epochs * steps_per_epoch - warmup),
            warmup_target=config.lr if warmup else None,
            warmup_steps=warmup,
        )
    elif config.schedule != "plateau":
        raise FerError(f"unknown schedule {config.schedule!r}: choose cosine or plateau")
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay)
    raise FerError(f"unknown optimizer {config.optimizer!r}: choose sgd, adam or adamw")


def _class_weights(labels: np.ndarray) -> dict[int, float]:
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(float)
    weights = counts.sum() / (NUM_CLASSES * np.maximum(counts, 1))
    return {i: float(w) for i, w in enumerate(weights)}


def _read_log(log_path: Path) -> list[dict]:
    """Rows of log.csv, one per epoch (the last row wins if an epoch was logged twice)."""
    import csv

    if not log_path.exists():
        return []
    with open(log_path, newline="") as f:
        rows = {int(r["epoch"]): {k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)}
    return [rows[e] for e in sorted(rows)]


def _best_logged(log_path: Path) -> float | None:
    rows = _read_log(log_path)
    return max(r["val_accuracy"] for r in rows) if rows else None


def _summarise(log_path: Path, config: TrainConfig, train_set, last_session_s: float) -> dict:
    rows = _read_log(log_path)
    best = max(rows, key=lambda r: r["val_accuracy"])
    return {
        "arch": config.arch,
        "epochs_done": len(rows),
        "best_epoch": int(best["epoch"]) + 1,
        "best_val_accuracy": best["val_accuracy"],
        "train_wall_s": round(sum(r.get("epoch_seconds", 0.0) for r in rows), 1),
        "last_session_wall_s": round(last_session_s, 1),
        "train_data_sha256": fer_data.data_checksum(train_set),
        "train_images": len(train_set),
        "config": asdict(config),
    }


def EpochTimer():
    """Adds `epoch_seconds` to the logs so log.csv records the wall time of each epoch."""
    import keras

    class _EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.time()

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["epoch_seconds"] = round(time.time() - self._start, 2)

    return _EpochTimer()
