#!/usr/bin/env bash
# Side-by-side timing in one run, on this machine: wgpu-lstm bench on Vulkan and GL, Burn's LSTM on
# wgpu's default adapter, and onnxruntime's CPU LSTM, at B ∈ {1, 64}, T=100, I=H=256; then two
# stacked layers on Vulkan under each schedule (layer by layer, wavefront).
#   BURN_PEER=path/to/burn-lstm-peer ORT_PY="python path/to/ort_time.py" scripts/compare-peers.sh
# Either peer may be left unset. Prints one line per measurement; nothing is asserted.
# With --train, training steps instead (forward, backward, Adam) at the same shapes on Vulkan:
# `wgpu-lstm bench --train` beside Burn's autodiff LSTM, the program in scripts/peers/burn-lstm-train
# (build it with `cargo build --release` in a copy of that folder outside the project):
#   BURN_TRAIN_PEER=path/to/burn-lstm-train-peer scripts/compare-peers.sh --train
# With --cell gru (or rnn), that cell at the same shapes on Vulkan and GL beside onnxruntime's
# CPU kernel of the same node (scripts/peers/ort_cell_time.py; ORT_PYTHON names its python) and,
# for the GRU, Burn's nn::Gru on wgpu's default adapter (scripts/peers/burn-gru; build it with
# `cargo build --release` in a copy of that folder outside the project):
#   ORT_PYTHON=path/to/python BURN_GRU_PEER=path/to/burn-gru-peer scripts/compare-peers.sh --cell gru
# With --streams [N,N,..], the stream pool's step latency against N beside onnxruntime's CPU LSTM
# run once per stream per tick and batched over all N (bench --streams --ort-python, which runs
# scripts/peers/ort_streams_time.py in the same run):
#   ORT_PYTHON=path/to/python scripts/compare-peers.sh --streams
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
shape=(--seq 100 --input 256 --hidden 256 --reps 5 --warmup 2)
if [ "${1:-}" = --cell ]; then
    cell=$2
    for backend in vulkan gl; do
        echo "== wgpu-lstm bench --cell $cell ($backend)"
        target/release/wgpu-lstm bench --cell "$cell" --batch 1,64 "${shape[@]}" --backend "$backend" \
            --json "target/peers-$cell-$backend.json"
    done
    peers=target/peers-$cell.txt
    : >"$peers"
    for b in 1 64; do
        if [ -n "${ORT_PYTHON:-}" ]; then
            line=$("$ORT_PYTHON" scripts/peers/ort_cell_time.py "$cell" "$b" 100 256 256)
            echo "onnxruntime $cell B=$b: $line"
            echo "onnxruntime $b ${line##* }" >>"$peers"
        fi
        if [ "$cell" = gru ] && [ -n "${BURN_GRU_PEER:-}" ]; then
            line=$("$BURN_GRU_PEER" "$b" 100 256 256 5)
            echo "burn gru B=$b: $line"
            echo "burn $b ${line##* }" >>"$peers"
        fi
    done
    # Each peer's median over wgpu-lstm's on Vulkan, from this run's figures.
    python3 - "target/peers-$cell-vulkan.json" "$peers" <<'PY'
import json, sys
ours = {r["shape"]["batch"]: r["forward_ms"]["median"] for r in json.load(open(sys.argv[1]))["results"]}
for line in open(sys.argv[2]):
    peer, batch, ms = line.split()
    print(f"ratio {peer} / wgpu-lstm (Vulkan) B={batch}: {float(ms) / ours[int(batch)]:.2f}")
PY
    exit 0
fi
if [ "${1:-}" = --streams ]; then
    # Live streams, one timestep per 32 ms chunk: the stream pool on Vulkan beside onnxruntime's
    # CPU LSTM run per stream and batched (scripts/peers/ort_streams_time.py), same counts.
    counts=${2:-1,10,100,1000,10000}
    echo "== wgpu-lstm bench --streams $counts (vulkan)"
    ort=()
    if [ -n "${ORT_PYTHON:-}" ]; then ort=(--ort-python "$ORT_PYTHON"); fi
    target/release/wgpu-lstm bench --streams "$counts" --reps 20 --warmup 3 --backend vulkan \
        --plot target/peers-streams.svg "${ort[@]}"
    exit 0
fi
if [ "${1:-}" = --train ]; then
    echo "== wgpu-lstm bench --train (vulkan)"
    target/release/wgpu-lstm bench --train --batch 1,64 "${shape[@]}" --backend vulkan
    for b in 1 64; do
        if [ -n "${BURN_TRAIN_PEER:-}" ]; then echo "burn training step B=$b: $("$BURN_TRAIN_PEER" "$b" 100 256 256 5)"; fi
    done
    exit 0
fi
for backend in vulkan gl; do
    echo "== wgpu-lstm bench ($backend)"
    target/release/wgpu-lstm bench --batch 1,64 "${shape[@]}" --backend "$backend" --json "target/peers-$backend.json"
done
echo "== two stacked layers, each schedule (vulkan)"
for schedule in layers wavefront; do
    target/release/wgpu-lstm bench --batch 1 --layers 2 "${shape[@]}" --backend vulkan --variants "regblock,b1,$schedule"
    target/release/wgpu-lstm bench --batch 64 --layers 2 "${shape[@]}" --backend vulkan --variants "regblock,b8u2,$schedule"
done
for b in 1 64; do
    if [ -n "${BURN_PEER:-}" ]; then echo "burn B=$b: $("$BURN_PEER" "$b" 100 256 256 5)"; fi
    if [ -n "${ORT_PY:-}" ]; then echo "onnxruntime B=$b: $($ORT_PY "$b" 100 256 256)"; fi
done
