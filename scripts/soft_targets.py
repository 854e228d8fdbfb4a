"""Write a soft-target file for `python -m fer_app train --soft-targets FILE.npz`.

One probability row per training image, keyed by its path in the training
folder, from the accurate-mode ensemble's predictions on the clean image
and/or the FER+ crowd votes, and/or earlier soft-target files (averaged when
several are given):

    python scripts/soft_targets.py --data ../shared/datasets/fer2013/train --ensemble --out runs/soft/ensemble_flip.npz
    python scripts/soft_targets.py --data ../shared/datasets/fer2013/train \\
        --ferplus ../shared/datasets/fer2013/ferplus_votes.csv --out runs/soft/ferplus.npz

FER+ votes are mapped to FER2013's classes (contempt, unknown and not-a-face
votes dropped); an image without votes, or with none left, keeps its label.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fer_app.ensemble import ACCURATE_MANIFEST, TTA_MODES, accurate_classifier
from fer_app.errors import FerError
from fer_app.labels import NUM_CLASSES
from fer_app.training import data as fer_data
from fer_app.training import soft_targets

# FER+ vote columns -> FER2013 class index (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral).
FERPLUS_TO_FER2013 = {"anger": 0, "disgust": 1, "fear": 2, "happiness": 3, "sadness": 4, "surprise": 5, "neutral": 6}


def ensemble_probs(faces: np.ndarray, manifest: Path, tta: str, temperature: float, threads: int, chunk: int = 512) -> np.ndarray:
    """The manifest's models on every face (with `tta`), `threads` chunks at a time, one runtime thread each."""
    classifier = accurate_classifier(manifest, threads=1, tta=tta, temperature=temperature)
    starts = range(0, len(faces), chunk)
    out = np.zeros((len(faces), NUM_CLASSES), dtype=np.float32)
    start = time.time()

    def run(i: int) -> int:
        out[i : i + chunk] = classifier.predict(faces[i : i + chunk])
        return i

    with ThreadPoolExecutor(threads) as pool:
        for done, _ in enumerate(pool.map(run, starts), start=1):
            if done % 10 == 0 or done == len(starts):
                print(f"  ensemble: {min(done * chunk, len(faces))}/{len(faces)} faces, {time.time() - start:.0f} s", flush=True)
    return out


def ferplus_probs(dataset: fer_data.Dataset, root: Path, votes_csv: Path) -> tuple[np.ndarray, int]:
    """Vote shares over the 7 classes for each image (its one-hot label where FER+ has no usable votes)."""
    root = root.resolve()
    index = {name: i for i, name in enumerate(dataset.files)}
    probs = np.eye(NUM_CLASSES, dtype=np.float32)[dataset.labels]
    used = 0
    with open(votes_csv, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("file", *FERPLUS_TO_FER2013) if c not in (reader.fieldnames or [])]
        if missing:
            raise FerError(f"{votes_csv}: missing column(s) {', '.join(missing)}")
        for row in reader:
            try:
                name = (votes_csv.parent / row["file"]).resolve().relative_to(root).as_posix()
            except ValueError:
                continue  # another split
            if name not in index:
                continue
            votes = np.zeros(NUM_CLASSES, dtype=np.float32)
            for column, cls in FERPLUS_TO_FER2013.items():
                votes[cls] = float(row[column])
            if votes.sum() > 0:
                probs[index[name]] = votes / votes.sum()
                used += 1
    return probs, used


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the training folder of <class>/*.png (the one train --data gets)")
    p.add_argument("--out", required=True, help="the .npz to write")
    p.add_argument("--ensemble", nargs="?", const=str(ACCURATE_MANIFEST), default="",
                   help=f"an ensemble manifest whose models predict each face (default when given: {ACCURATE_MANIFEST})")
    p.add_argument("--tta", choices=TTA_MODES, default="flip", help="the ensemble's test-time augmentation (default: flip)")
    p.add_argument("--temperature", type=float, default=1.0, help="rescale the ensemble's averaged probabilities (default: 1, none)")
    p.add_argument("--ferplus", default="", help="ferplus_votes.csv: the FER+ crowd votes")
    p.add_argument("--average", action="append", default=[],
                   help="also average in an existing soft-target file (e.g. an earlier --ensemble run's); repeatable")
    p.add_argument("--threads", type=int, default=2, help="faces predicted in parallel chunks, one thread each (default: 2)")
    p.add_argument("--limit", type=int, default=0, help="only the first N images (tests); 0 = all")
    args = p.parse_args(argv)
    if not args.ensemble and not args.ferplus and not args.average:
        p.error("give --ensemble, --ferplus and/or --average")
    try:
        root = Path(args.data)
        if not root.is_dir():
            raise FerError(f"{root}: expected the training folder of <class>/ images")
        dataset = fer_data.load(root)
        if args.limit:
            dataset = fer_data.Dataset(dataset.images[: args.limit], dataset.labels[: args.limit], dataset.source,
                                       dataset.files[: args.limit])
        parts, sources = [], []
        if args.ensemble:
            start = time.time()
            parts.append(ensemble_probs(dataset.images, Path(args.ensemble), args.tta, args.temperature, args.threads))
            agree = float(np.mean(parts[-1].argmax(1) == dataset.labels))
            sources.append(f"ensemble {args.ensemble} (tta {args.tta}, temperature {args.temperature:g})")
            print(f"ensemble: {len(dataset)} faces in {time.time() - start:.0f} s; agrees with the label on {agree:.1%}")
        if args.ferplus:
            probs, used = ferplus_probs(dataset, root, Path(args.ferplus))
            parts.append(probs)
            sources.append(f"FER+ votes {args.ferplus} ({used} images; the rest their label)")
            print(f"FER+: votes for {used} of {len(dataset)} images; majority agrees with the label on "
                  f"{np.mean(probs.argmax(1) == dataset.labels):.1%}")
        for path in args.average:
            parts.append(soft_targets.aligned(path, dataset.files, len(dataset)))
            sources.append(f"{path} ({soft_targets.load(path)[2]})")
        probs = np.mean(parts, axis=0).astype(np.float32)
        probs /= probs.sum(axis=1, keepdims=True)
        source = " averaged with ".join(sources)
        soft_targets.save(args.out, dataset.files, probs, source)
    except FerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(probs)} rows from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
