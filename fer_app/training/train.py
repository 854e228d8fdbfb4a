"""`python -m fer_app train`: train a registered architecture on FER2013, resumably.

Everything a run produces lives in its --out folder: run.json (the settings),
backup/ (the state to resume from), best.keras (best on validation),
last.keras (the last finished epoch, not picked on validation), log.csv
(one row per epoch), curves.png and summary.json. Running the same command
again after an interruption continues from the last finished epoch.
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
from fer_app.training import soft_targets


@dataclass
class TrainConfig:
    arch: str = "vgg_small"  # a name from fer_app/training/architectures.py, e.g. vgg_fast or resnet_slim
    data: str = "../shared/datasets/fer2013/train"  # a <class>/ image folder, a fer2013.csv or a packed .npz
    val: str = "../shared/datasets/fer2013/val"  # "" = no validation: best.keras is then the last epoch
    out: str = "runs/vgg_small"  # the run folder: the same command again resumes the run in it
    epochs: int = 40  # the cosine schedule reaches zero at the last one
    batch_size: int = 128  # faces per step
    optimizer: str = "adamw"  # sgd (Nesterov), adam, adamw
    lr: float = 1e-3  # the peak learning rate
    weight_decay: float = 0.02
    schedule: str = "cosine"  # cosine (per epoch, after a linear warmup) or plateau
    warmup_epochs: int = 2  # epochs of linear learning-rate warm-up
    label_smoothing: float = 0.1  # of the whole target
    class_weights: bool = False  # weigh the loss by inverse class frequency
    rotation: float = 10.0  # degrees, either way
    zoom: float = 0.1  # scale change, either way
    shift: float = 0.1  # fraction of the width / height
    erase_prob: float = 0.5  # probability of random erasing, per face
    mixup: float = 0.0  # Beta(a, a) of MixUp; 0 = off
    cutmix: float = 0.0  # Beta(a, a) of CutMix; 0 = off (with both set, each batch uses one of them)
    patience: int = 0  # early stopping on val accuracy; 0 = off
    seed: int = 1  # of the weights, the shuffling and the augmentation
    init: str = ""  # start from this .keras model's weights (fine-tuning); "" = random
    teachers: str = ""  # comma-separated .keras or .onnx models: distil their averaged probabilities
    soft_targets: str = ""  # .npz of per-image probabilities (scripts/soft_targets.py), mixed in like teachers' ones
    teacher_views: str = ""  # a teacher-views cache folder: train on its fixed views and their cached teacher answers
    ema: float = 0.0  # momentum of an exponential moving average of the weights, used for validation and checkpoints; 0 = off
    kd_weight: float = 0.7  # with teachers or soft targets: their share of the target, the label has the rest
    time_budget: float = 0.0  # minutes: after epoch 2, cut --epochs to what fits (the schedule follows); 0 = off
    workers: int = 2  # threads preparing batches
    limit: int = 0  # use only the first N training images (smoke tests); 0 = all
    steps_per_epoch: int = 0  # 0 = a full pass


RESUMABLE_FIELDS = ("epochs", "workers")  # may change between a run and its resumption


def train(config: TrainConfig) -> dict:
    """Runs on any Keras 3 backend (TensorFlow here, JAX or torch on a GPU machine)."""
    import keras

    from fer_app.training.architectures import build
    from fer_app.training.export import load_keras
    from fer_app.training.loop import AugmentedBatches, EpochSchedule
    from fer_app.training.report import plot_curves

    out = Path(config.out)
    summary_path = out / "summary.json"
    _check_run_folder(out, config)
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        if summary.get("epochs_done", 0) >= config.epochs or summary.get("stopped_by_budget"):
            print(f"{out}: this run already finished ({summary['epochs_done']} epochs); best model in {out / 'best.keras'}")
            return summary

    keras.utils.set_random_seed(config.seed)
    train_set = fer_data.load(config.data)
    x_train, y_train = to_model_input(train_set.images), train_set.labels
    if config.limit:
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
    validation = None
    if config.val:
        val_set = fer_data.load(config.val)
        validation = (to_model_input(val_set.images), np.eye(NUM_CLASSES, dtype=np.float32)[val_set.labels])
    print(f"train: {len(y_train)} images from {config.data}; val: {len(validation[1]) if validation else 'none'}"
          f"; backend {keras.backend.backend()}")

    if config.teachers and config.soft_targets:
        raise FerError("--teachers and --soft-targets both set the soft part of the target: choose one")
    cached = None
    if config.teacher_views:
        if config.teachers or config.soft_targets or config.mixup or config.cutmix:
            raise FerError("--teacher-views brings its own views and teacher answers: leave out --teachers, "
                           "--soft-targets, --mixup and --cutmix")
        from fer_app.training import teacher_views

        cached = teacher_views.load(config.teacher_views, train_set)
    teachers = [_load_teacher(p) for p in config.teachers.split(",") if p]
    soft = soft_targets.aligned(config.soft_targets, train_set.files, len(y_train)) if config.soft_targets else None
    batches = AugmentedBatches(x_train, y_train, config, teachers, soft, cached)
    model = build(config.arch)
    if config.init:
        model.set_weights(load_keras(config.init).get_weights())
    model.compile(
        optimizer=_optimizer(config),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )

    log_path = out / "log.csv"
    monitor = "val_accuracy" if validation else "accuracy"
    schedule = EpochSchedule(config, out / "budget.json")
    callbacks = [
        # Kept after the run ends so that a larger --epochs continues from it.
        keras.callbacks.BackupAndRestore(str(out / "backup"), delete_checkpoint=False),
        schedule,
        # After the backup (which must hold the raw weights to resume exactly), before the checkpoints
        # and validation, which then see the averaged weights.
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema else []),
        keras.callbacks.ModelCheckpoint(
            str(out / "best.keras"), monitor=monitor, mode="max", save_best_only=validation is not None,
            initial_value_threshold=_best_logged(log_path, monitor) if validation else None,
        ),
        keras.callbacks.ModelCheckpoint(str(out / "last.keras")),
        keras.callbacks.CSVLogger(str(log_path), append=True),
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: plot_curves(log_path, out / "curves.png")),
    ]
    if config.schedule == "plateau":
        if not validation:
            raise FerError("--schedule plateau needs validation data (--val)")
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=0.5, patience=5, verbose=1))
    if config.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=config.patience))

    class_weight = _class_weights(y_train) if config.class_weights else None
    start = time.time()
    model.fit(
        batches,
        validation_data=validation,
        validation_batch_size=256,
        epochs=config.epochs,
        class_weight=class_weight,
        callbacks=callbacks,
        verbose="auto" if os.isatty(1) else 2,
    )
    summary = _summarise(log_path, config, train_set, time.time() - start, monitor)
    summary["stopped_by_budget"] = schedule.total < config.epochs
    summary_path.write_text(json.dumps(summary, indent=2))
    best = summary["best_val_accuracy"]
    print(f"best val accuracy {best:.4f} at epoch {summary['best_epoch']}" if best is not None else
          f"{summary['epochs_done']} epochs, no validation", f"; model: {out / 'best.keras'}")
    return summary


def _check_run_folder(out: Path, config: TrainConfig) -> None:
    run_file = out / "run.json"
    settings = asdict(config)
    if run_file.exists():
        previous = json.loads(run_file.read_text())
        defaults = asdict(TrainConfig())  # settings added since the run started count as their defaults
        changed = [k for k in settings if k not in RESUMABLE_FIELDS and previous.get(k, defaults[k]) != settings[k]]
        if changed:
            raise FerError(f"{out} holds a run with other settings ({', '.join(changed)}); use another --out to start a new run")
    out.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(settings, indent=2))


class _OnnxTeacher:
    """An exported model (e.g. an int8 member of the accurate mode) with the Keras method the batch feeder calls."""

    def __init__(self, path: str):
        from fer_app.classify import EmotionClassifier

        self.classifier = EmotionClassifier(path, threads=1)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self.classifier.predict(x)


def _load_teacher(path: str):
    from fer_app.training.export import load_keras

    return _OnnxTeacher(path) if path.endswith(".onnx") else load_keras(path)


def _optimizer(config: TrainConfig):
    import keras

    if config.schedule not in ("cosine", "plateau"):
        raise FerError(f"unknown schedule {config.schedule!r}: choose cosine or plateau")
    lr = config.lr
    ema = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay, **ema)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr, **ema)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay, **ema)
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
        rows = {int(r["epoch"]): {k: float(v) for k, v in r.items() if v not in ("", "NA")} for r in csv.DictReader(f)}
    return [rows[e] for e in sorted(rows)]


def _best_logged(log_path: Path, monitor: str) -> float | None:
    rows = _read_log(log_path)
    return max(r[monitor] for r in rows) if rows else None


def _summarise(log_path: Path, config: TrainConfig, train_set, last_session_s: float, monitor: str) -> dict:
    rows = _read_log(log_path)
    best = max(rows, key=lambda r: r[monitor]) if monitor == "val_accuracy" else rows[-1]
    return {
        "arch": config.arch,
        "epochs_done": len(rows),
        "best_epoch": int(best["epoch"]) + 1,
        "best_val_accuracy": best.get("val_accuracy"),
        "train_wall_s": round(sum(r.get("epoch_seconds", 0.0) for r in rows), 1),
        "last_session_wall_s": round(last_session_s, 1),
        "train_data_sha256": fer_data.data_checksum(train_set),
        "train_images": len(train_set),
        "config": asdict(config),
    }
