"""`python -m fer_app card`: the model card (card.json + card.md) from a training run and measurements.

Every figure in the card is computed here from files and the model itself:
the run's summary.json and log, an evaluation on the validation split, the
model's parameter and FLOP counts, and its measured CPU latency per face.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

from fer_app.labels import EMOTIONS

INTENDED_USES = [
    "Presenters rehearsing with their own camera, who want to see which expressions they show.",
    "Researchers analysing recordings of people who consented to emotion analysis.",
    "Learning how facial-expression classifiers work, and where they fail.",
]
OUT_OF_SCOPE = [
    "Any use in workplaces or education institutions: emotion inference there is prohibited in the EU "
    "(AI Act Art. 5(1)(f)), except for medical or safety reasons.",
    "Judging a person's inner state, honesty, interest, suitability or performance: "
    "the model labels the appearance of a face in one frame, not what someone feels.",
    "Analysing people who have not consented, surveillance, or decisions about individuals.",
]
LIMITATIONS = [
    "FER2013 was scraped from web image searches: faces are skewed in age and ethnicity, and many are posed "
    "or exaggerated. Its labels are noisy: for 37% of the images the majority of FER+'s 10 annotators chose "
    "another label (counted from ferplus_votes.csv, contempt/unknown/not-a-face votes included).",
    "Disgust has 436 training images (1.5% of the data); its recall is the least reliable.",
    "280 of the 3,589 public test (validation) images are pixel copies of training images, which a model may "
    "have learnt, so the validation figures are optimistic: the Validation section gives the accuracy without "
    "them. The held-out PrivateTest split was not used here.",
    "48x48 grey crops: expressions that need colour or fine detail are lost; strong head turns, occlusion "
    "(masks, hands) and poor light lower accuracy; the Haar detector finds mostly frontal faces.",
]


def count_flops(model) -> int:
    """Multiply-adds x 2 of the convolution and dense layers for one 48x48 face."""
    from keras import layers

    flops = 0
    for layer in model.layers:
        if isinstance(layer, layers.SeparableConv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1]
            flops += 2 * h * w * (kh * kw * c_in + c_in * c_out)
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            flops += 2 * h * w * kh * kw * layer.input.shape[-1] * c_out
        elif isinstance(layer, layers.Dense):
            flops += 2 * layer.input.shape[-1] * layer.units
    return int(flops)


def measure_latency(onnx_path: Path, faces: np.ndarray, repeats: int = 300) -> dict:
    """Median ms per face on one CPU thread: batch 1, and per face in a batch of 8."""
    from fer_app.classify import EmotionClassifier, median_predict_ms

    classifier = EmotionClassifier(onnx_path, threads=1)
    return {"batch1_ms_per_face": round(median_predict_ms(classifier, faces[:1], repeats), 3),
            "batch8_ms_per_face": round(median_predict_ms(classifier, faces[:8], repeats) / 8, 3)}


def build_card(run_dirs: list[Path], keras_path: Path, onnx_path: Path, evaluation: dict, command: str,
               machine: str = "", extras: dict | None = None) -> dict:
    """`run_dirs`: the training stages in order (e.g. a run and its fine-tuning); the last made the model."""
    from fer_app.training.export import load_keras

    stages = [json.loads((Path(d) / "summary.json").read_text()) for d in run_dirs]
    summary = stages[-1]
    model = load_keras(keras_path)
    return {
        "name": onnx_path.stem,
        "architecture": summary["arch"],
        "parameters": int(model.count_params()),
        "mflops_per_face": round(count_flops(model) / 1e6, 1),
        "input": "48x48 grey face crop, raw 0-255 pixels (scaling is inside the model)",
        "classes": list(EMOTIONS),
        "files": {"onnx": onnx_path.name, "keras": keras_path.name,
                  "onnx_bytes": onnx_path.stat().st_size, "keras_bytes": keras_path.stat().st_size},
        "training": {
            "command": command,
            "data": "FER2013 Training usage (28,709 images), ../shared/datasets/fer2013/train",
            "data_sha256": summary["train_data_sha256"],
            "epochs": sum(st["epochs_done"] for st in stages),
            "best_epoch": summary["best_epoch"],
            "selection": (f"the weights of its best validation epoch ({summary['best_epoch']})"
                          if summary.get("best_val_accuracy") is not None else
                          "the weights of its last epoch (no validation data was used in training)"),
            "stages": len(stages),
            "wall_minutes": round(sum(st["train_wall_s"] for st in stages) / 60, 1),
            "machine": machine or f"{platform.machine()}, {_cpu_count()} CPU cores, no GPU (TensorFlow CPU)",
            "settings": [st["config"] for st in stages],
        },
        "validation": {
            "split": "FER2013 PublicTest (3,589 images), single pass, no test-time augmentation",
            "accuracy": round(evaluation["accuracy"], 4),
            "macro_f1": round(evaluation["macro_f1"], 4),
            "ece": round(evaluation["ece"], 4),
            "per_class": {k: {m: round(v, 4) if isinstance(v, float) else v for m, v in c.items()}
                          for k, c in evaluation["per_class"].items()},
            "confusion_matrix": evaluation["confusion_matrix"],
            "command": f"python -m fer_app evaluate --data ../shared/datasets/fer2013/val --model models/{onnx_path.name}",
            **({"unseen": evaluation["unseen"]} if "unseen" in evaluation else {}),
        },
        "latency": {**measure_latency(onnx_path, _sample_faces(evaluation)),
                    "runtime": "ONNX Runtime, 1 thread", "machine": platform.processor() or platform.machine()},
        **(extras or {}),
        "intended_uses": INTENDED_USES,
        "out_of_scope": OUT_OF_SCOPE,
        "limitations": LIMITATIONS,
    }


def unseen_validation(val, probs: np.ndarray, train_path: str, model_name: str) -> dict:
    """Accuracy on the validation images that are not pixel copies of training images, and on the copies."""
    from fer_app.training import data

    copies = data.seen_in(val, data.load(train_path))
    right = probs.argmax(axis=1) == val.labels
    return {"excluded": int(copies.sum()), "n": int((~copies).sum()),
            "accuracy": round(float(right[~copies].mean()), 4), "accuracy_on_copies": round(float(right[copies].mean()), 4),
            "command": f"python -m fer_app evaluate --data ../shared/datasets/fer2013/val --exclude-seen {train_path} "
                       f"--model models/{model_name}"}


def _sample_faces(evaluation: dict) -> np.ndarray:
    from fer_app.training import data

    return data.load(evaluation["data"]).images[:8]


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


def render_markdown(card: dict) -> str:
    t, v, lat = card["training"], card["validation"], card["latency"]
    lines = [
        f"# Model card: {card['name']}",
        "",
        "Classifies a face crop into one of the seven FER2013 expressions: " + ", ".join(card["classes"]) + ".",
        "It labels how a face looks in one frame. It does not measure what a person feels or thinks.",
        "",
        "## Model",
        f"- Architecture: `{card['architecture']}` (fer_app/training/architectures.py), "
        f"{card['parameters']:,} parameters, {card['mflops_per_face']} MFLOPs per face",
        f"- Input: {card['input']}",
        f"- Files: `models/{card['files']['onnx']}` (served by ONNX Runtime, {card['files']['onnx_bytes'] / 1e6:.1f} MB), "
        f"`models/{card['files']['keras']}` (Keras, for fine-tuning and re-export)",
        f"- CPU latency per face ({lat['runtime']}, {lat['machine']}): {lat['batch1_ms_per_face']} ms alone, "
        f"{lat['batch8_ms_per_face']} ms each in a batch of 8 (medians)",
        "",
        "## Training",
        f"- Data: {t['data']}; SHA-256 of pixels and labels `{t['data_sha256'][:16]}...`",
        f"- Command: `{t['command']}`",
        f"- {t['epochs']} epochs in {t['stages']} stage(s), shipped with {t['selection']}; "
        f"{t['wall_minutes']} minutes of training on {t['machine']}",
        "",
        "## Validation",
        f"Split: {v['split']}. Reproduce with `{v['command']}`.",
        "",
        f"- Accuracy: **{v['accuracy']:.2%}**",
        f"- Macro-F1: {v['macro_f1']:.4f}",
        f"- Expected calibration error (15 bins): {v['ece']:.4f}",
        *([f"- Without the {u['excluded']} images that are pixel copies of training images ({u['n']} left): "
           f"accuracy {u['accuracy']:.2%}, {u['accuracy_on_copies']:.1%} on the copies (`{u['command']}`)"]
          if (u := v.get("unseen")) else []),
        "",
        "| class | precision | recall | F1 | images |",
        "|---|---|---|---|---|",
    ]
    for name, c in v["per_class"].items():
        lines.append(f"| {name} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    lines += _accurate_section(card.get("accurate")) + _candidates_section(card.get("candidates"))
    lines += ["", "## Intended uses"] + [f"- {u}" for u in card["intended_uses"]]
    lines += ["", "## Out of scope"] + [f"- {u}" for u in card["out_of_scope"]]
    lines += ["", "## Known limitations and biases"] + [f"- {u}" for u in card["limitations"]]
    return "\n".join(lines) + "\n"


VIEWS = {"none": "once on the face", "flip": "on the face and its mirror image",
         "tencrop": "on ten crops (five positions, each also mirrored)"}


def _accurate_section(accurate: dict | None) -> list[str]:
    if not accurate:
        return []
    v = accurate["validation"]
    return [
        "", "## Accurate mode (photos and videos)",
        f"An ensemble of {len(accurate['models'])} models (" + ", ".join(f"`{m}`" for m in accurate["models"])
        + ") in `models/accurate/`"
        + (", quantized to int8 by `scripts/quantize.py`" if all(".int8." in m for m in accurate["models"]) else "")
        + f", each run {VIEWS[accurate['tta']]}, probabilities averaged, then rescaled "
        f"with temperature {accurate['temperature']} (fitted on validation; below 1 sharpens, above 1 softens). "
        "Choose it with `--accurate` on the command line or 'Accurate' in the app.",
        "",
        f"- Validation accuracy: **{v['accuracy']:.2%}**, macro-F1 {v['macro_f1']:.4f} (`{v['command']}`)",
        f"- Expected calibration error: {v['ece_before_temperature']:.4f} before the temperature, "
        f"{v['ece_after_temperature']:.4f} after (fitted and measured on the same split)",
    ]


def _candidates_section(candidates: dict | None) -> list[str]:
    if not candidates:
        return []
    lines = [
        "", "## Candidates",
        f"Every model and ensemble tried, on {candidates['split']}; latency: {candidates['latency']}. "
        "Produced by `python scripts/candidates.py`; the training commands are in `models/candidates.json`.",
        "",
    ]
    return lines + candidates_table(candidates["candidates"])


def candidates_table(rows: list[dict]) -> list[str]:
    """The markdown table of candidates (the model card's, and docs/models.md's)."""
    lines = ["| candidate | parameters | MFLOPs | ms/face | accuracy | macro-F1 | ECE | accuracy, flip TTA |",
             "|---|---|---|---|---|---|---|---|"]
    for c in rows:
        single, flip = c["single"], c["flip"]
        lines.append(f"| {c['name']} | {c['parameters'] / 1e6:.2f}M | {c['mflops']:.0f} | {c['ms_per_face']:.2f} | "
                     f"{single['accuracy']:.2%} | {single['macro_f1']:.3f} | {single['ece']:.3f} | {flip['accuracy']:.2%} |")
    return lines
