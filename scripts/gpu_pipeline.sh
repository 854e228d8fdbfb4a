#!/usr/bin/env bash
# The GPU recipe behind the shipped models (Keras 3 on JAX; no TensorFlow needed):
# three teachers side by side, then three students distilled from the teachers' average.
#
#   scripts/gpu_pipeline.sh WORK TEACHER_MINUTES STUDENT_MINUTES [TRAIN FLAGS...]
#
# Train flags after the minutes go to every run (e.g. `--cutmix 1.0` or `--mixup 0.4`).
# Reads .devdata/train.xz (scripts/pack_data.py pack) and writes one run folder per model
# under WORK. Each run's epochs are set by its time budget (`--time-budget`); the number
# it chose is in WORK/<run>/budget.json, so `python -m fer_app train ... --epochs N` with
# the same flags repeats it on any machine. WORK/DONE appears at the end. STUDENT_MINUTES 0
# trains the teachers alone (new ensemble members; scripts/gpu_session.sh).
set -u
work=$1 teacher_min=$2 student_min=$3
shift 3
extra=("$@")
mkdir -p "$work"
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
[ -f "$work/train.npz" ] || python3 scripts/pack_data.py unpack .devdata/train.xz "$work/train.npz"

train() {
    local name=$1
    shift
    python3 -m fer_app train --data "$work/train.npz" --val "" --epochs 400 --workers 3 --out "$work/$name" "$@" "${extra[@]}" \
        > "$work/$name.log" 2>&1
}

strong_aug=(--rotation 15 --zoom 0.15)
train t_vgg_wide_sgd --arch vgg_wide --optimizer sgd --lr 0.01 --weight-decay 2e-3 "${strong_aug[@]}" --time-budget "$teacher_min" &
train t_resnet_sgd --arch resnet --optimizer sgd --lr 0.05 --weight-decay 2e-3 "${strong_aug[@]}" --time-budget "$teacher_min" &
train t_vgg_wide_adamw --arch vgg_wide --optimizer adamw --lr 1e-3 --weight-decay 0.05 --seed 2 "${strong_aug[@]}" --time-budget "$teacher_min" &
wait

if [ "$student_min" = 0 ]; then
    touch "$work/DONE"
    exit 0
fi
teachers=$work/t_vgg_wide_sgd/best.keras,$work/t_resnet_sgd/best.keras,$work/t_vgg_wide_adamw/best.keras
train s_vgg_small_kd --arch vgg_small --teachers "$teachers" --time-budget "$student_min" &
train s_vgg_narrow_kd --arch vgg_narrow --teachers "$teachers" --time-budget "$student_min" &
train s_vgg_fast_kd --arch vgg_fast --teachers "$teachers" --time-budget "$student_min" &
wait
touch "$work/DONE"
