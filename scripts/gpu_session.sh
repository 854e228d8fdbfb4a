#!/usr/bin/env bash
# One device call that fits a 15-minute GPU allowance: three new teachers side by side
# (scripts/gpu_pipeline.sh with no students), bundled into $OUT for the trip back.
#
#   scripts/gpu_session.sh TEACHER_MINUTES [TRAIN FLAGS...]     e.g.  7 --seed 5 --cutmix 1.0
#
# Before the call (the tree that travels is capped at 64 MiB): pack the data and move the
# shipped models aside, then call `run` with carry [".devdata"] and timeout_s 600:
#   python scripts/pack_data.py pack ../shared/datasets/fer2013/train .devdata/train.xz
#   mkdir -p /tmp/models_aside && mv models/accurate models/default.keras /tmp/models_aside/
# After it: `git checkout -- models`, then join the parts and add the teachers to the ensemble:
#   mkdir -p runs/gpu2 && cat FILES_AT/part-* | tar xf - -C runs/gpu2
#   python -m fer_app export --model runs/gpu2/t_X/best.keras --out runs/gpu2/t_X/best.onnx
#   python scripts/quantize.py runs/gpu2/t_X/best.onnx models/accurate/X_2.int8.onnx
#   python scripts/make_ensemble.py --tta tencrop models/accurate/*.int8.onnx
set -u
minutes=$1
shift
work=/tmp/gpu_session
out=${OUT:?run this through the device tool, which sets OUT}
start=$(date +%s)
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
python3 -c "import keras, jax; print('keras', keras.__version__, 'jax', jax.__version__, jax.devices())"
scripts/gpu_pipeline.sh "$work" "$minutes" 0 "$@"
runs=("$work"/t_*/)  # the teachers gpu_pipeline.sh trained
runs=("${runs[@]%/}")
runs=("${runs[@]##*/}")
for run in "${runs[@]}"; do
    tail -n 3 "$work/$run.log"
done
scripts/gpu_collect.sh "$work" "$out" "${runs[@]}"
echo "session took $(( $(date +%s) - start )) s"
