#!/usr/bin/env bash
# Bundle finished runs from WORK (scripts/gpu_pipeline.sh) for the trip back: each run's
# best.keras without optimizer state, its log, settings and summary, tarred and split into
# 15 MB parts under OUT. Join them with: cat OUT/part-* | tar xf -
#   scripts/gpu_collect.sh WORK OUT RUN...
set -eu
work=$1 out=$2
shift 2
stage=$(mktemp -d)
for run in "$@"; do
    mkdir -p "$stage/$run"
    cp "$work/$run.log" "$stage/" 2>/dev/null || true
    for f in log.csv run.json budget.json summary.json curves.png; do
        cp "$work/$run/$f" "$stage/$run/" 2>/dev/null || true
    done
    if [ -f "$work/$run/summary.json" ]; then
        python3 -c "from fer_app.training.export import save_slim; import sys; save_slim(sys.argv[1], sys.argv[2])" \
            "$work/$run/best.keras" "$stage/$run/best.keras"
    fi
done
tar cf - -C "$stage" . | split -b 15M - "$out/part-"
ls -la "$out"
