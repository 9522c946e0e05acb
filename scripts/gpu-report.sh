#!/usr/bin/env bash
# The figures of a GPU in one run, for docs/performance.md and cross-vendor comparison:
#   1. `info` (the adapters, their limits and features);
#   2. `conform` (every kernel variant on every case against the CPU reference);
#   3. `bench --batch 1,8,64,256 --seq 100` at I = H = 1024, 256 and 128 (autotuned, choices kept in
#      a tune cache), in f32 and at H = 1024 in f16;
#   3b. the small-batch shapes of the sequence kernels: B = 1 and 4 at T = 100, I = H = 256; B = 1 at
#      T = 100, I = H = 512; silero-vad's B = 1, T = 307, I = H = 128 (with onnxruntime's CPU LSTM
#      beside each when ORT_PYTHON names a Python with onnxruntime and onnx);
#   4. every kernel variant forced in turn (`bench --all-variants`) at B = 1 and B = 256, I = H = 1024;
#   5. `report` setting the runs side by side;
#   6. training steps (`bench --train`: forward with tape, backward, Adam) at T = 100, I = H = 256
#      (the smallest size of the sweep in quick mode), B = 1 and 64.
# Each run writes one JSON report (schema wgpu-lstm-bench/2) and its printed table into OUT_DIR.
#
#   scripts/gpu-report.sh [OUT_DIR] [ADAPTER FLAGS, e.g. --backend vulkan --adapter NVIDIA]
#
# WGPU_LSTM_BIN names the binary (default target/release/wgpu-lstm, built if cargo is there);
# REPORT_QUICK=1 shrinks the sweeps (for a try on a software adapter: conform with the
# autotune's kernels only, T = 20, small batches). On a machine without a
# Vulkan loader (a bare GPU server), install libvulkan1 first, or unpack its .deb and run
# `ldconfig`. Exit status is conform's: non-zero when a variant disagrees with the CPU reference.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-report}
shift || true
bin=${WGPU_LSTM_BIN:-target/release/wgpu-lstm}
if [ ! -x "$bin" ] && command -v cargo >/dev/null; then
    cargo build --release --quiet
fi
mkdir -p "$out"
reps=(--warmup 2 --reps 10)
sizes=(1024 256 128)
batches=1,8,64,256
train_batches=1,64
seq=100
cases=40
checks=()
if [ "${REPORT_QUICK:-0}" = 1 ]; then
    # A try of every step on a software adapter: the strata with the autotune's kernels only,
    # short sequences, small batches.
    reps=(--warmup 1 --reps 2)
    sizes=(128)
    batches=1,8
    train_batches=1,8
    seq=20
    cases=1
    checks=(--autotuned)
fi
run() {
    local name=$1
    shift
    echo "== $name: $bin $*"
    "$bin" "$@" 2>&1 | tee "$out/$name.txt"
    return "${PIPESTATUS[0]}"
}

run info info "$@"
run conform conform --cases "$cases" --seed 0 "${checks[@]}" --json "$out/conform.json" "$@"
status=$?
for h in "${sizes[@]}"; do
    run "bench-h$h" bench --batch "$batches" --seq "$seq" --input "$h" --hidden "$h" "${reps[@]}" \
        --tune-cache "$out/tuning.json" --json "$out/bench-h$h.json" "$@"
done
ort=()
if [ -n "${ORT_PYTHON:-}" ]; then
    ort=(--ort-python "$ORT_PYTHON")
fi
# Quick mode keeps its short sequences here too.
small_seq=$seq silero_seq=$seq
[ "${REPORT_QUICK:-0}" = 1 ] || { small_seq=100; silero_seq=307; }
run small-h256 bench --batch 1,4 --seq "$small_seq" --input 256 --hidden 256 "${reps[@]}" "${ort[@]}" \
    --tune-cache "$out/tuning.json" --json "$out/small-h256.json" "$@"
run small-h512 bench --batch 1 --seq "$small_seq" --input 512 --hidden 512 "${reps[@]}" "${ort[@]}" \
    --tune-cache "$out/tuning.json" --json "$out/small-h512.json" "$@"
run small-silero bench --batch 1 --seq "$silero_seq" --input 128 --hidden 128 "${reps[@]}" "${ort[@]}" \
    --tune-cache "$out/tuning.json" --json "$out/small-silero.json" "$@"
run "bench-h${sizes[0]}-f16" bench --batch "$batches" --seq "$seq" --input "${sizes[0]}" --hidden "${sizes[0]}" \
    --weights-precision f16 "${reps[@]}" --tune-cache "$out/tuning.json" --json "$out/bench-h${sizes[0]}-f16.json" "$@"
run variants bench --all-variants --batch "1,${batches##*,}" --seq "$seq" --input "${sizes[0]}" --hidden "${sizes[0]}" \
    "${reps[@]}" --json "$out/variants.json" "$@"
run report report "$out"/bench-h*.json --plot "$out/throughput.svg"
train=${sizes[1]:-${sizes[0]}}
run train bench --train --batch "$train_batches" --seq "$seq" --input "$train" --hidden "$train" "${reps[@]}" "$@"
echo "== wrote $out/"
exit "$status"
