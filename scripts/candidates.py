"""The candidates table of the model card and docs/models.md: every model and ensemble tried, measured here.

    python scripts/candidates.py [--val ../shared/datasets/fer2013/val] [--out models/candidates.json]
    python scripts/candidates.py --update NAME ...   # re-measure only these candidates, keep the other rows
    python scripts/candidates.py --retime            # only re-time every row (needs no run folder)

All three refresh the candidates table in the model card beside --out (card.json, card.md) and in
docs/models.md (between its candidates-table markers).

Reads the runs listed in CANDIDATES (runs/<name>/best.keras and best.onnx, made by
scripts/gpu_pipeline.sh and `python -m fer_app export`), measures parameters,
MFLOPs and validation accuracy, macro-F1 and calibration error, single pass and
with flip TTA. The ms per face of every row is re-timed in each run, all in
the same minutes, so the column compares like with like: a time depends on the
architecture, not the weights, so each architecture is timed once (untrained,
exported to ONNX) in interleaved rounds.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_app.classify import EmotionClassifier, median_predict_ms  # noqa: E402
from fer_app.ensemble import accurate_classifier, apply_temperature, fit_temperature  # noqa: E402
from fer_app.training import data, evaluate  # noqa: E402
from fer_app.training.card import count_flops  # noqa: E402
from fer_app.training.export import load_keras  # noqa: E402

SHIPPED = "accurate mode as shipped:"
LATENCY = ("ONNX Runtime, 1 thread, median per face in batches of 8, every row timed in the same run (a single "
           "model: its architecture, float32; an ensemble: the sum of its members; the accurate mode as shipped: "
           "measured, int8 with its test-time crops)")
PIPELINE = "scripts/gpu_pipeline.sh WORK 12 8.5 on one H100 (Keras 3.15 on JAX 0.11)"


def _cpu_run(minutes: int, epochs: int, start: str, how: str, last: str) -> str:
    """How a CPU run of issue 5 was trained; `last` is its last epoch's figures (best.keras is the best epoch)."""
    return (f"2-core CPU, TensorFlow, {minutes} min, {epochs} epochs from {start} {how}; figures of the best "
            f"validation epoch (picked on the split they are measured on); the last epoch scored {last}. Not shipped")


def _on_soft_targets(flags: str) -> str:
    return f"on soft targets from `scripts/soft_targets.py --data ../shared/datasets/fer2013/train {flags}`"


DEFAULT = "models/default.keras"
ENSEMBLE_TEACHES = ("with the accurate mode's six int8 models as `--teachers` (they see every augmented batch the "
                    "student sees)")
SCORES = "(accuracy, macro-F1, ECE)"
# name: (run folder, how it was trained)
CANDIDATES = {
    "vgg_small (previous default)": ("runs/vgg_small_ft", "2-core CPU, TensorFlow, 112 min: `python -m fer_app train --arch vgg_small --out runs/vgg_small --epochs 36`, then the fine-tuning below (an earlier version of the trainer)"),
    "vgg_fast, distilled": ("runs/gpu/s_vgg_fast_kd", PIPELINE),
    "vgg_narrow, distilled": ("runs/gpu/s_vgg_narrow_kd", PIPELINE),
    "vgg_small, distilled": ("runs/gpu/s_vgg_small_kd", PIPELINE),
    "vgg_wide, SGD (teacher)": ("runs/gpu/t_vgg_wide_sgd", PIPELINE),
    "vgg_wide, AdamW (teacher)": ("runs/gpu/t_vgg_wide_adamw", PIPELINE),
    "resnet, SGD (teacher)": ("runs/gpu/t_resnet_sgd", PIPELINE),
    # CPU runs of issue 5 (fine-tunes of the shipped default and resnet_slim), taught by soft targets or the
    # ensemble; none was shipped. best.keras is the best validation epoch, so its figures are optimistic.
    "vgg_fast fine-tuned on ensemble targets (not shipped)": ("runs/ft_ens", _cpu_run(
        18, 16, DEFAULT, _on_soft_targets("--ensemble (the accurate ensemble, flip TTA, on the clean training faces)"),
        f"68.43% (0.659, 0.044) {SCORES}")),
    "vgg_fast fine-tuned on ensemble + FER+ targets (not shipped)": ("runs/ft_ens_ferplus", _cpu_run(
        15, 16, DEFAULT, _on_soft_targets("--ferplus ../shared/datasets/fer2013/ferplus_votes.csv --average runs/soft/ensemble_flip.npz (FER+ votes and the ensemble targets, averaged)"),
        f"67.54% (0.652, 0.052) {SCORES}")),
    "vgg_fast fine-tuned on ensemble targets, low rate (not shipped)": ("runs/ft_ens_lowlr", _cpu_run(
        13, 12, DEFAULT, _on_soft_targets("--ensemble"), f"68.65% (0.664, 0.044) {SCORES}")),
    "vgg_fast fine-tuned on ensemble targets with CutMix (not shipped)": ("runs/ft_ens_cutmix", _cpu_run(
        13, 16, DEFAULT, _on_soft_targets("--ensemble"), f"68.04% (0.651, 0.170) {SCORES}")),
    "vgg_fast fine-tuned on ensemble targets with MixUp (not shipped)": ("runs/ft_ens_mixup", _cpu_run(
        13, 16, DEFAULT, _on_soft_targets("--ensemble"), f"67.40% (0.656, 0.111) {SCORES}")),
    "resnet_slim, from scratch on ensemble targets (not shipped)": ("runs/resnet_slim_kd", _cpu_run(
        68, 26, "random weights", _on_soft_targets("--ensemble"), f"66.29% (0.623, 0.060) {SCORES}")),
    "vgg_fast fine-tuned with the accurate ensemble as teacher (not shipped)": ("runs/ft_consistent", _cpu_run(
        35, 14, DEFAULT, ENSEMBLE_TEACHES, "68.79% (log.csv)")),
    "resnet_slim continued with the accurate ensemble as teacher (not shipped)": ("runs/slim_consistent", _cpu_run(
        62, 18, "the resnet_slim run above (runs/resnet_slim_kd/best.keras)", ENSEMBLE_TEACHES, "67.96% (log.csv)")),
    # Issue 16: patient, consistent distillation from cached teacher views (docs/models.md), from scratch.
    "vgg_fast, 300 epochs on cached teacher views (not shipped)": ("runs/vgg_fast_fkd", _cpu_run(
        545, 300, "random weights", "on the accurate ensemble's probabilities for 16 cached augmented views of every "
        "training face (`scripts/distill.sh`: `python -m fer_app teacher-views --views 16`, then `--teacher-views "
        "--kd-weight 0.9 --ema 0.999`; the EMA weights are validated and saved; best epoch 98)", "67.99% (epoch 300, EMA weights; 69.27% as an int8 mirror-averaged graph, McNemar p = 0.19 against the default; docs/models.md)")),
}
ENSEMBLES = {
    "3 teachers": ["vgg_wide, SGD (teacher)", "vgg_wide, AdamW (teacher)", "resnet, SGD (teacher)"],
    "3 teachers + 3 students": ["vgg_wide, SGD (teacher)", "vgg_wide, AdamW (teacher)", "resnet, SGD (teacher)",
                                "vgg_fast, distilled", "vgg_narrow, distilled", "vgg_small, distilled"],
}


def _scores(labels, probs) -> dict:
    m = evaluate.metrics(labels, probs)
    return {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4), "ece": round(m["ece"], 4)}


def _cross_fitted(labels, probs):
    """Temperature-scaled probabilities where each half of the data is scaled by the temperature fitted on the
    other half, so the calibration error reported is not measured on the data the temperature was fitted to."""
    out = np.empty_like(probs)
    halves = np.arange(len(labels)) % 2
    for h in (0, 1):
        t = fit_temperature(labels[halves != h], probs[halves != h])
        out[halves == h] = apply_temperature(probs[halves == h], t)
    return out


def _train_command(run: Path) -> str:
    """The command that repeats a run here: its settings that differ from the defaults, and the epochs it trained."""
    from dataclasses import asdict

    from fer_app.training.train import TrainConfig

    config = json.loads((run / "run.json").read_text())
    budget = run / "budget.json"
    epochs = json.loads(budget.read_text())["epochs"] if budget.exists() else config["epochs"]
    defaults = asdict(TrainConfig())
    flags = [f"--out {run}", f"--epochs {epochs}"] + (['--val ""'] if config["val"] == "" else [])
    for key, value in config.items():
        if key in ("data", "val", "out", "epochs", "time_budget", "workers") or value == defaults.get(key):
            continue
        if isinstance(value, bool):
            flags.append(f"--{'' if value else 'no-'}{key.replace('_', '-')}")
        else:
            flags.append(f"--{key.replace('_', '-')} {str(value).replace('/root/fer/', 'runs/gpu/').replace('/root/fer_runs/', 'runs/')}")
    return "python -m fer_app train " + " ".join(flags)


def _architecture_ms(architectures: list[str], faces: np.ndarray, rounds: int = 5) -> dict[str, float]:
    """Median ms per face (ONNX Runtime, 1 thread, batches of 8) of each architecture, timed in interleaved rounds
    so that a busy spell of a shared machine falls on all of them alike."""
    import statistics
    import tempfile

    from fer_app.training.architectures import build
    from fer_app.training.export import export_onnx

    classifiers = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in architectures:
            build(arch).save(Path(tmp) / f"{arch}.keras")
            export_onnx(Path(tmp) / f"{arch}.keras", faces)
            classifiers[arch] = EmotionClassifier(Path(tmp) / f"{arch}.onnx", threads=1)
    times = {arch: [] for arch in architectures}
    for _ in range(rounds):
        for arch, classifier in classifiers.items():
            times[arch].append(median_predict_ms(classifier, faces[:8], 40) / 8)
    return {arch: statistics.median(t) for arch, t in times.items()}


def _retime(result: dict, faces: np.ndarray) -> None:
    """Set the ms per face of every row of `result` from timings made now, in one run."""
    rows = result["candidates"]
    ms = _architecture_ms(sorted({r["architecture"] for r in rows if "architecture" in r}), faces)
    singles = {row["name"]: row for row in rows if "architecture" in row}
    for row in singles.values():
        row["ms_per_face"] = round(ms[row["architecture"]], 3)
    shipped_ms = median_predict_ms(accurate_classifier(threads=1), faces[:8], 20) / 8
    for row in rows:
        if "members" in row:
            row["ms_per_face"] = round(shipped_ms if row["name"].startswith(SHIPPED) else
                                       sum(singles[m]["ms_per_face"] for m in row["members"]), 3)
    result["latency"] = LATENCY
    for arch, t in ms.items():
        print(f"{arch:<14}{t:8.3f} ms/face")
    print(f"{'accurate mode':<14}{shipped_ms:8.3f} ms/face")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", default="../shared/datasets/fer2013/val")
    parser.add_argument("--out", default="models/candidates.json")
    parser.add_argument("--update", nargs="+", metavar="NAME", choices=list(CANDIDATES),
                        help="measure only these candidates and replace (or add) their rows in --out, keeping the rest "
                             "(for when the other runs are no longer on this machine)")
    parser.add_argument("--retime", action="store_true", help="only re-time every row of --out")
    args = parser.parse_args()
    val = data.load(args.val)
    if args.retime:
        _merge(Path(args.out), [], val.images)
        return
    rows, probs = [], {}
    for name, (run, trained) in CANDIDATES.items():
        if args.update and name not in args.update:
            continue
        run = Path(run)
        model = load_keras(run / "best.keras")
        predictor = evaluate.load_predictor(run / "best.onnx")
        for tta in ("none", "flip"):
            probs[name, tta] = evaluate.predict_probabilities([predictor], val.images, tta)
        rows.append({"name": name, "architecture": model.name, "parameters": int(model.count_params()),
                     "mflops": round(count_flops(model) / 1e6, 1),
                     "single": _scores(val.labels, probs[name, "none"]), "flip": _scores(val.labels, probs[name, "flip"]),
                     "trained": trained, "command": _train_command(run)})
        print(rows[-1]["name"], rows[-1]["single"], rows[-1]["flip"], flush=True)
    if args.update:
        _merge(Path(args.out), rows, val.images)
        return
    by_name = {r["name"]: r for r in rows}
    for name, members in ENSEMBLES.items():
        row = {"name": f"ensemble: {name}", "members": members,
               "parameters": sum(by_name[m]["parameters"] for m in members),
               "mflops": round(sum(by_name[m]["mflops"] for m in members), 1)}
        for tta in ("none", "flip"):
            p = np.mean([probs[m, tta] for m in members], axis=0)
            row["single" if tta == "none" else "flip"] = _scores(val.labels, p)
        flip = np.mean([probs[m, "flip"] for m in members], axis=0)
        t = fit_temperature(val.labels, flip)
        row["flip_temperature"] = round(t, 3)
        row["flip_calibrated"] = _scores(val.labels, _cross_fitted(val.labels, flip))
        rows.append(row)
        print(row["name"], row["single"], row["flip"], row["flip_calibrated"], t, flush=True)
    shipped = accurate_classifier(threads=2)
    p = evaluate.batched(shipped)(val.images)
    rows.append({"name": f"{SHIPPED} the 6 above, int8, {shipped.tta} TTA, temperature {shipped.temperature:g}",
                 "members": ENSEMBLES["3 teachers + 3 students"],
                 "parameters": rows[-1]["parameters"], "mflops": rows[-1]["mflops"],
                 "single": _scores(val.labels, p), "flip": _scores(val.labels, p),
                 "note": "its TTA is built in: both columns are the same evaluation"})
    print(rows[-1]["name"], rows[-1]["single"], flush=True)
    result = {"split": "FER2013 PublicTest (validation, 3,589 images)", "machine": platform.processor() or platform.machine(),
              "candidates": rows}
    _save(result, Path(args.out), val.images)


def _merge(path: Path, measured: list[dict], faces: np.ndarray) -> None:
    """Replace the measured rows in `path`, or add them after the other single models, in CANDIDATES order;
    then re-time every row."""
    result = json.loads(path.read_text())
    new = {r["name"]: r for r in measured}
    kept = [r for r in result["candidates"] if r["name"] not in new]
    singles = [r for r in kept if r["name"] in CANDIDATES] + measured
    singles.sort(key=lambda r: list(CANDIDATES).index(r["name"]))
    result["candidates"] = singles + [r for r in kept if r["name"] not in CANDIDATES]
    _save(result, path, faces)


MODELS_DOC = Path(__file__).resolve().parents[1] / "docs" / "models.md"
TABLE_MARKERS = ("<!-- candidates-table: made by scripts/candidates.py -->", "<!-- /candidates-table -->")


def _save(result: dict, path: Path, faces: np.ndarray) -> None:
    """Re-time every row, write `result` to `path`, and put its table into docs/models.md and the model card beside
    `path` (card.json and card.md), if there is one."""
    from fer_app.training.card import candidates_table, render_markdown

    _retime(result, faces)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    start, end = TABLE_MARKERS
    before, rest = MODELS_DOC.read_text().split(start)
    MODELS_DOC.write_text("\n".join([before + start, *candidates_table(result["candidates"]), end]) + rest.split(end)[1])
    card_path = path.with_name("card.json")
    if not card_path.exists():
        return
    card = json.loads(card_path.read_text())
    card["candidates"] = result
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    card_path.with_suffix(".md").write_text(render_markdown(card))
    print(f"updated the candidates in {card_path} and {card_path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
