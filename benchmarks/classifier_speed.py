"""Speed and validation figures of exported classifiers, measured side by side in one run.

    python benchmarks/classifier_speed.py MODEL.onnx [MODEL.onnx ...] [--val ../shared/datasets/fer2013/val]

For each model: the median time per face in batches of 8 on one ONNX Runtime
thread (300 calls), then accuracy, macro-F1, calibration error and the mean
top probability on validation, and against the first model listed: the
faces only it gets right, only the other gets right, and the exact McNemar
test's two-sided p (a binomial test on those two counts). Compare an int8 copy (scripts/quantize.py) with
its float32 original by listing both: the ratios hold on a busy machine, the
absolute times less so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.stats import binomtest  # noqa: E402

from fer_app.classify import EmotionClassifier, median_predict_ms  # noqa: E402
from fer_app.training import data, evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--val", default="../shared/datasets/fer2013/val")
    args = parser.parse_args()
    val = data.load(args.val)
    print(f"{'model':<48}{'ms/face':>9}{'accuracy':>10}{'macro-F1':>10}{'ECE':>7}{'mean top p':>12}"
          f"   vs the first: it alone right / first alone right, McNemar p")
    reference = None
    for path in args.models:
        classifier = EmotionClassifier(path, threads=1)
        ms = median_predict_ms(classifier, val.images[:8], 300) / 8
        probs = evaluate.batched(classifier)(val.images)
        m = evaluate.metrics(val.labels, probs)
        right = probs.argmax(axis=1) == val.labels
        if reference is None:
            reference, versus = right, ""
        else:
            gained, lost = int((right & ~reference).sum()), int((reference & ~right).sum())
            p = binomtest(gained, gained + lost).pvalue if gained + lost else 1.0
            versus = f"   {gained} / {lost}, p = {p:.2f}"
        print(f"{path:<48}{ms:>9.3f}{m['accuracy']:>10.4f}{m['macro_f1']:>10.3f}{m['ece']:>7.3f}{probs.max(axis=1).mean():>12.3f}"
              f"{versus}", flush=True)


if __name__ == "__main__":
    main()
