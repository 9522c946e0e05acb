#!/usr/bin/env bash
# Two builds of wgpu-lstm timed side by side in one run on this machine: for each shape and each
# backend, the old and the new binary's `bench` (autotuned kernels, tune cache cold) alternate
# ROUNDS times, and the median of their medians is printed per build, with the kernels each chose.
#   [BACKENDS="vulkan gl"] scripts/compare-builds.sh OLD_BINARY NEW_BINARY [ROUNDS]
# OLD_BINARY is typically main's release build from a worktree:
#   git worktree add ../main-old origin/main && (cd ../main-old && cargo build --release)
# Nothing is asserted; the figures go into docs/performance.md.
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
shapes=(
    "--batch 1 --seq 307 --input 128 --hidden 128"
    "--batch 1 --seq 100 --input 256 --hidden 256"
    "--batch 4 --seq 100 --input 256 --hidden 256"
    "--batch 1 --seq 100 --input 512 --hidden 512"
    "--batch 64 --seq 100 --input 256 --hidden 256"
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for backend in ${BACKENDS:-vulkan gl}; do
    for shape in "${shapes[@]}"; do
        declare -A times=() kernels=()
        for round in $(seq "$rounds"); do
            for build in old new; do
                bin=${!build}
                # shellcheck disable=SC2086
                "$bin" bench $shape --reps 7 --warmup 2 --backend "$backend" --json "$tmp/r.json" >/dev/null 2>&1
                read -r ms kernel < <(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["forward_ms"]["median"], r["variant"].replace(" ", ""))' "$tmp/r.json")
                times[$build]+="$ms"$'\n'
                kernels[$build]=$kernel
            done
        done
        for build in old new; do
            printf '%-6s %-8s %-46s median ms %8.2f  %s\n' "$backend" "$build" "$shape" \
                "$(printf '%s' "${times[$build]}" | median)" "${kernels[$build]}"
        done
    done
done
