#!/usr/bin/env bash
# Issue 16's recipe in one resumable command (docs/models.md, "Distillation from cached teacher views"):
# the teacher-views cache (built, or finished if interrupted), then a 300-epoch vgg_fast student on it.
# Run the same command again after any stop and it continues where it was. One run per RUNS folder
# (a lock); idle CPU priority, so it takes only what the rest of the machine leaves.
#
#   setsid nohup scripts/distill.sh [RUNS] > distill.log 2>&1 &     # RUNS: default runs/
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=$(realpath -m "${1:-runs}")
DATA=$(realpath "${FER2013_DIR:-../shared/datasets/fer2013}")
PY="$PWD/.venv/bin/python"  # not realpath: that resolves the venv link to the bare interpreter
mkdir -p "$RUNS"
exec flock -n "$RUNS/vgg_fast_fkd.lock" chrt -i 0 bash -c '
  set -e
  "$0" -m fer_app teacher-views --data "$2/train" --out "$1/views16" --views 16
  "$0" -m fer_app train --arch vgg_fast --data "$2/train" --val "$2/val" --out "$1/vgg_fast_fkd" \
      --teacher-views "$1/views16" --kd-weight 0.9 --ema 0.999 --epochs 300
' "$PY" "$RUNS" "$DATA"
