"""Command line: python -m fer_app {train,evaluate,export,...} (also installed as `fer-app`)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields

from fer_app import analyze_cli, batch
from fer_app.errors import FerError

SHARED_TRAIN = "../shared/datasets/fer2013/train"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_train(sub) -> None:
    from fer_app.training.train import TrainConfig

    p = sub.add_parser("train", help="train a model on FER2013 (resumes an interrupted run in --out)")
    comments = _field_comments(TrainConfig)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        text = f"{comments[f.name]} (default: {f.default!r})" if f.name in comments else f"default: {f.default!r}"
        text = text.replace("%", "%%")  # argparse formats help with %
        if f.type in ("bool", bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=text)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            p.add_argument(flag, type=kind, default=f.default, help=text)
    p.set_defaults(func=_run_train)


def _field_comments(cls) -> dict[str, str]:
    """Field name -> the comment after its declaration in `cls`'s source: the options' help, kept in one place."""
    import inspect
    import re

    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source shipped
        return {}
    return dict(re.findall(r"^\s+(\w+): [^#\n]+#\s*(.+)$", source, re.MULTILINE))


def _run_train(args) -> int:
    from fer_app.training.train import TrainConfig, train

    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    train(config)
    return 0


def _add_teacher_views(sub) -> None:
    from fer_app.training.teacher_views import ViewRecipe

    p = sub.add_parser("teacher-views", help="cache the accurate ensemble's answers on K augmented views of every "
                                             "training face, for train --teacher-views (resumes)")
    p.add_argument("--data", default=SHARED_TRAIN, help=f"the training data (default: {SHARED_TRAIN})")
    p.add_argument("--out", required=True, help="the cache folder; the same command again finishes an interrupted cache")
    p.add_argument("--threads", type=int, default=2, help="faces scored in parallel, one runtime thread each (default: 2)")
    comments = _field_comments(ViewRecipe)
    for f in fields(ViewRecipe):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                       help=f"{comments.get(f.name, '')} (default: {f.default!r})".strip())
    p.set_defaults(func=_run_teacher_views)


def _run_teacher_views(args) -> int:
    import json

    from fer_app.training.teacher_views import ViewRecipe, build

    recipe = ViewRecipe(**{f.name: getattr(args, f.name) for f in fields(ViewRecipe)})
    print(json.dumps(build(args.data, args.out, recipe, threads=args.threads), indent=2))
    return 0


def _add_evaluate(sub) -> None:
    from fer_app.ensemble import TTA_MODES

    p = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class figures and confusion matrix of a model")
    p.add_argument("--data", required=True, help="folder of <class>/*.png|jpg, or a fer2013.csv")
    p.add_argument("--usage", help="with a CSV: the Usage rows to evaluate (Training, PublicTest, PrivateTest)")
    p.add_argument("--model", action="append", help=".onnx or .keras; repeat to average an ensemble (default: the shipped model)")
    p.add_argument("--tta", choices=TTA_MODES, default="none", help="test-time augmentation (default: none)")
    p.add_argument("--accurate", action="store_true",
                   help="evaluate the accurate mode (models/accurate: an ensemble with its own TTA) instead of --model")
    p.add_argument("--exclude-seen", metavar="DATA",
                   help="leave out the images whose pixels equal one in DATA (e.g. the training folder)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--plot", metavar="PATH", default="",
                   help="also write the confusion matrix as a PNG to PATH (default: no file is written)")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args) -> int:
    import json

    from fer_app.classify import DEFAULT_MODEL
    from fer_app.training import data, evaluate

    dataset = data.load(args.data, usage=args.usage)
    excluded = None
    if args.exclude_seen:
        dataset, excluded = data.without_images_in(dataset, data.load(args.exclude_seen))
    if args.accurate:
        if args.model or args.tta != "none":
            raise FerError("--accurate evaluates the shipped ensemble with its own TTA: leave out --model and --tta")
        from fer_app.ensemble import ACCURATE_MANIFEST, accurate_classifier

        models = [str(ACCURATE_MANIFEST)]
        ensemble = accurate_classifier(threads=2)
        predictors = [evaluate.batched(ensemble)]
        tta_run, tta_inside = "none", ensemble.tta  # the ensemble applies its own views to every face
    else:
        models = args.model or [str(DEFAULT_MODEL)]
        predictors = [evaluate.load_predictor(m) for m in models]
        tta_run = tta_inside = args.tta
    probs = evaluate.predict_probabilities(predictors, dataset.images, tta_run)
    result = {"data": dataset.source, "usage": args.usage, "models": models, "tta": tta_inside}
    if excluded is not None:
        result |= {"excluded_seen_in": args.exclude_seen, "excluded": excluded}
    result |= evaluate.metrics(dataset.labels, probs)
    if args.plot:
        from fer_app.labels import EMOTIONS
        from fer_app.training.report import plot_confusion

        title = f"accuracy {result['accuracy']:.1%}, n={result['n']}, tta={tta_inside}"
        plot_confusion(result["confusion_matrix"], list(EMOTIONS), args.plot, title)
        result["confusion_png"] = args.plot
    if args.json:
        print(json.dumps(result))
    else:
        print(evaluate.format_report(result))
        if args.plot:
            print(f"\nconfusion matrix written to {args.plot}")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write the ONNX serving model beside a .keras file and check they agree")
    p.add_argument("--model", required=True, help="the .keras file")
    p.add_argument("--out", help="the .onnx path (default: beside the .keras file)")
    p.add_argument("--slim-copy", help="first copy the .keras file here without optimizer state, and export beside the copy")
    p.add_argument("--check-data", default="../shared/datasets/fer2013/val",
                   help="real faces to compare both models on (folder or CSV); default: FER2013 val")
    p.add_argument("--check-count", type=int, default=512)
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    import json

    from fer_app.training import data
    from fer_app.training.export import export_onnx, save_slim

    faces = data.load(args.check_data).images[: args.check_count]
    model = args.model
    if args.slim_copy:
        save_slim(model, args.slim_copy)
        model = args.slim_copy
    print(json.dumps(export_onnx(model, faces, args.out), indent=2))
    return 0


def _add_card(sub) -> None:
    p = sub.add_parser("card", help="write the model card (card.json, card.md) for a trained, exported model")
    p.add_argument("--run", required=True, action="append", help="a training run folder (holds summary.json); repeat for stages, in order")
    p.add_argument("--keras", required=True, help="the .keras model")
    p.add_argument("--onnx", required=True, help="the exported .onnx model")
    p.add_argument("--val", default="../shared/datasets/fer2013/val", help="validation folder or CSV")
    p.add_argument("--train", help="the training data, to also report accuracy without its copies in --val "
                                    f"(default: {SHARED_TRAIN} where it exists; '' to skip)")
    p.add_argument("--command", required=True, help="the training command, as the card should quote it")
    p.add_argument("--out", default="models", help="folder for card.json and card.md")
    p.add_argument("--machine", default="", help="where it was trained (default: this machine, CPU)")
    p.set_defaults(func=_run_card)


def _run_card(args) -> int:
    import json
    from pathlib import Path

    from fer_app.training import card, data, evaluate

    dataset = data.load(args.val)
    probs = evaluate.predict_probabilities([evaluate.load_predictor(args.onnx)], dataset.images)
    result = {"data": args.val} | evaluate.metrics(dataset.labels, probs)
    train = SHARED_TRAIN if args.train is None and Path(SHARED_TRAIN).is_dir() else args.train
    if train:
        result["unseen"] = card.unseen_validation(dataset, probs, train, Path(args.onnx).name)
    out = Path(args.out)
    extras = {}
    for key, path in (("accurate", out / "accurate" / "ensemble.json"), ("candidates", out / "candidates.json")):
        if path.exists():
            extras[key] = json.loads(path.read_text())
    model_card = card.build_card([Path(r) for r in args.run], Path(args.keras), Path(args.onnx), result, args.command,
                                 args.machine, extras)
    (out / "card.json").write_text(json.dumps(model_card, indent=2) + "\n")
    (out / "card.md").write_text(card.render_markdown(model_card))
    print(f"validation accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}; wrote {out}/card.json and card.md")
    return 0


def _add_serve(sub) -> None:
    from fer_app.api.serve import add_command

    add_command(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer-app", description="Facial emotion recognition: train, evaluate, export, analyse.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_teacher_views(sub)
    _add_evaluate(sub)
    _add_export(sub)
    _add_card(sub)
    analyze_cli.add_commands(sub)
    _add_serve(sub)
    batch.add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
