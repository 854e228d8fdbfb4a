"""Can the accurate mode gain from inference alone? Other test-time views, and member weights and class biases.

    python benchmarks/accurate_tta_study.py [--val ../shared/datasets/fer2013/val] [--cache runs/tta_study.npz]

Runs every member of models/accurate/ on 54 views of each validation face
(the face, 44/42/46/40 px crops at five positions, rotations of 5 and 10
degrees, zooms of +-8%, each also mirrored; about 20 minutes on one thread,
kept in --cache) and prints the ensemble's validation accuracy for sets of
views, averaging probabilities and log-probabilities. Then it fits per-member
weights and per-class biases on log-probabilities (multinomial logistic
regression) and reports their 5-fold cross-validated accuracy (5 shuffles),
since weights fitted and scored on the same faces would flatter them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_app.classify import EmotionClassifier  # noqa: E402
from fer_app.ensemble import ACCURATE_MANIFEST, five_crops  # noqa: E402
from fer_app.training import data  # noqa: E402

POSITIONS = ("tl", "tr", "bl", "br", "c")  # the order of five_crops


def views(faces: np.ndarray) -> dict[str, np.ndarray]:
    """Named batches of transformed faces; a name ending in 'f' is the mirrored face's view."""
    def affine(batch, angle=0.0, scale=1.0):
        matrix = cv2.getRotationMatrix2D((23.5, 23.5), angle, scale)
        return np.stack([cv2.warpAffine(f, matrix, (48, 48), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                         for f in batch])

    out = {}
    for suffix, batch in (("", faces), ("f", np.ascontiguousarray(faces[:, :, ::-1]))):
        out["full" + suffix] = batch
        for size in (40, 42, 44, 46):
            for position, crops in zip(POSITIONS, five_crops(batch, size)):
                out[f"c{size}{position}{suffix}"] = crops
        for angle in (-10, -5, 5, 10):
            out[f"rot{angle}{suffix}"] = affine(batch, angle=angle)
        for scale in (0.92, 1.08):
            out[f"zoom{scale}{suffix}"] = affine(batch, scale=scale)
    return out


def member_probabilities(faces: np.ndarray, members: list[Path]) -> tuple[np.ndarray, list[str]]:
    """(members, views, faces, 7) probabilities."""
    named = views(faces)
    probs = np.zeros((len(members), len(named), len(faces), 7), np.float32)
    for i, path in enumerate(members):
        classifier, start = EmotionClassifier(path, threads=1), time.time()
        for j, batch in enumerate(named.values()):
            probs[i, j] = np.concatenate([classifier.predict(batch[k : k + 512]) for k in range(0, len(batch), 512)])
        print(f"  {path.name}: {time.time() - start:.0f} s", flush=True)
    return probs, list(named)


def view_sets(names: list[str]) -> dict[str, list[int]]:
    def pick(*stems):
        return [i for i, n in enumerate(names) if n.rstrip("f") in stems]

    crops = {size: [f"c{size}{p}" for p in POSITIONS] for size in (40, 42, 44, 46)}
    rotations, zooms = ("rot-5", "rot5", "rot-10", "rot10"), ("zoom0.92", "zoom1.08")
    return {
        "face only": pick("full")[:1],
        "face + mirror (flip)": pick("full"),
        "ten 44 px crops (tencrop, shipped)": pick(*crops[44]),
        "ten 42 px crops": pick(*crops[42]),
        "ten 46 px crops": pick(*crops[46]),
        "ten 40 px crops": pick(*crops[40]),
        "tencrop + face + mirror": pick(*crops[44], "full"),
        "crops of 42, 44 and 46 px": pick(*crops[42], *crops[44], *crops[46]),
        "face + rotations of 5 and 10 deg": pick("full", *rotations),
        "face + zooms of 8%": pick("full", *zooms),
        "tencrop + face + 5 deg + zooms": pick(*crops[44], "full", "rot-5", "rot5", *zooms),
        "all 54 views": list(range(len(names))),
    }


def fit_combination(logp: np.ndarray, labels: np.ndarray, weights: bool, biases: bool, reg: float = 1e-2):
    """Member weights and/or class biases on (members, N, 7) log-probabilities, by regularised NLL."""
    m = len(logp)

    def unpack(t):
        return (t[:m] if weights else np.full(m, 1.0 / m)), (t[m:] if biases else np.zeros(7))

    def loss(t):
        w, b = unpack(t)
        z = np.tensordot(w, logp, 1) + b
        z -= z.max(axis=1, keepdims=True)
        nll = -(z[np.arange(len(labels)), labels] - np.log(np.exp(z).sum(axis=1))).mean()
        return nll + reg * (np.sum((w - w.mean()) ** 2) + np.sum(b**2))

    return unpack(minimize(loss, np.concatenate([np.full(m, 1.2 / m), np.zeros(7)]), method="L-BFGS-B").x)


def cross_validated_accuracy(logp: np.ndarray, labels: np.ndarray, weights: bool, biases: bool, shuffles: int = 5) -> list[float]:
    rng, scores = np.random.default_rng(0), []
    for _ in range(shuffles):
        folds, correct = np.array_split(rng.permutation(len(labels)), 5), 0
        for k, test in enumerate(folds):
            train = np.concatenate([f for j, f in enumerate(folds) if j != k])
            w, b = fit_combination(logp[:, train], labels[train], weights, biases)
            correct += int(((np.tensordot(w, logp[:, test], 1) + b).argmax(axis=1) == labels[test]).sum())
        scores.append(correct / len(labels))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", default="../shared/datasets/fer2013/val")
    parser.add_argument("--cache", default="runs/tta_study.npz", help="member probabilities, reused when present")
    args = parser.parse_args()
    val = data.load(args.val)
    manifest = json.loads(ACCURATE_MANIFEST.read_text())
    members = [ACCURATE_MANIFEST.parent / m for m in manifest["models"]]
    cache = Path(args.cache)
    if cache.exists():
        stored = np.load(cache)
        probs, names = stored["probs"], list(stored["views"])
    else:
        print(f"{len(members)} members x 54 views of {len(val)} faces (about 20 min on one thread)")
        probs, names = member_probabilities(val.images, members)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, probs=probs, views=np.array(names))
    labels = val.labels

    def accuracy(p):
        return float((p.argmax(axis=-1) == labels).mean())

    print(f"\nFER2013 validation ({len(labels)} faces), ensemble of {len(members)}: {', '.join(m.name for m in members)}")
    print(f"{'views':<38}{'n':>3}{'mean p':>9}{'mean log p':>12}   members (mean p)")
    for name, idx in view_sets(names).items():
        chosen = probs[:, idx]
        per_member = " ".join(f"{accuracy(chosen[i].mean(0)):.4f}" for i in range(len(members)))
        print(f"{name:<38}{len(idx):>3}{accuracy(chosen.mean((0, 1))):>9.4f}"
              f"{accuracy(np.log(np.clip(chosen, 1e-7, 1)).mean((0, 1))):>12.4f}   {per_member}")

    tencrop = view_sets(names)["ten 44 px crops (tencrop, shipped)"]
    logp = np.log(np.clip(probs[:, tencrop].mean(axis=1), 1e-7, 1))
    print(f"\nOn tencrop: equal weights, mean p {accuracy(np.exp(logp).mean(0)):.4f}; fitted, 5-fold cross-validated (5 shuffles):")
    for label, w, b in (("member weights", True, False), ("class biases", False, True), ("both", True, True)):
        scores = cross_validated_accuracy(logp, labels, w, b)
        fitted_w, fitted_b = fit_combination(logp, labels, w, b)
        print(f"  {label:<15} {np.mean(scores):.4f} (+-{np.std(scores):.4f})   fitted on all: weights "
              f"{np.round(fitted_w, 2).tolist()}, biases {np.round(fitted_b, 2).tolist()}")
    members_curve(probs[:, tencrop].mean(axis=1), labels)


def members_curve(probs: np.ndarray, labels: np.ndarray) -> None:
    """Accuracy against the number of members (mean over every subset of that size), and where a - b/k levels off.

    probs: (members, faces, 7). A rough guide to what more members of the same kind would bring.
    """
    sizes, means = np.arange(1, len(probs) + 1), []
    print("\nOn tencrop, by number of members (every subset of that size):")
    for k in sizes:
        scores = [float((probs[list(c)].mean(0).argmax(1) == labels).mean()) for c in itertools.combinations(range(len(probs)), k)]
        means.append(np.mean(scores))
        print(f"  {k} members: mean {means[-1]:.4f}, best {max(scores):.4f} ({len(scores)} subsets)")
    b, a = np.polyfit(-1 / sizes, means, 1)
    print(f"  fit a - b/k: a {a:.4f}, b {b:.4f}: 9 members {a - b / 9:.4f}, 12 members {a - b / 12:.4f}, no limit {a:.4f}")


if __name__ == "__main__":
    main()
