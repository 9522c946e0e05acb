#!/usr/bin/env bash
# Mutation testing of the conformance tool: apply each WGSL mutant of tests/mutants/ to a copy
# of shaders/, run the default `wgpu-lstm conform` on it (WGPU_LSTM_SHADER_DIR, no rebuild) with
# a fixed seed on the current adapter, and report `N/M mutants caught`.
#   scripts/mutants.sh [adapter flags, e.g. --backend gl]
# A mutant is caught when a conformance run fails its comparison; one whose file no kernel
# compiled on this adapter used is reported as not runnable here and not counted; one that
# conform ran without a difference survived. Exits non-zero if any runnable mutant survived, or
# if a mutant does not apply or does not compile (the catalog has rotted).
# WGPU_LSTM_BIN names the binary (built with `cargo build --release` if missing);
# MUTANT_CONFORM_ARGS overrides the conform options (default: the strata, seed 1); MUTANTS, a
# glob, picks some of the catalog (MUTANTS='tests/mutants/2*.mutant').
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${WGPU_LSTM_BIN:-target/release/wgpu-lstm}
if [ ! -x "$bin" ]; then
    cargo build --release --quiet
fi
read -r -a conform_args <<<"${MUTANT_CONFORM_ARGS:---cases 1 --seed 1}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== clean run: $bin conform ${conform_args[*]} $*"
if ! "$bin" conform "${conform_args[@]}" --json "$tmp/clean.json" "$@" >"$tmp/clean.log" 2>&1; then
    tail -n 30 "$tmp/clean.log"
    echo "the unmutated shaders fail conform; mutants would prove nothing"
    exit 1
fi
grep -m1 '^adapter:' "$tmp/clean.log"

caught=0 survived=0 not_runnable=0 broken=0 total=0
# shellcheck disable=SC2086
for mutant in ${MUTANTS:-tests/mutants/*.mutant}; do
    total=$((total + 1))
    name=$(basename "$mutant" .mutant)
    rm -rf "$tmp/shaders"
    cp -r shaders "$tmp/shaders"
    # Replace the find block with the replace block, exactly once (python3: exact multi-line text).
    if ! file=$(python3 - "$mutant" "$tmp/shaders" <<'EOF'
import sys
text = open(sys.argv[1]).read()
header, rest = text.split("\n--- find\n", 1)
find, replace = rest.split("\n--- replace\n", 1)
replace = replace.rstrip("\n")
file = next(l[5:].strip() for l in header.splitlines() if l.startswith("file:"))
path = f"{sys.argv[2]}/{file}"
source = open(path).read()
if source.count(find) != 1:
    sys.exit(f"found {source.count(find)} times in {file}")
open(path, "w").write(source.replace(find, replace, 1))
print(file)
EOF
    ); then
        echo "BROKEN   $name: does not apply"
        broken=$((broken + 1))
        continue
    fi
    set +e
    WGPU_LSTM_SHADER_DIR="$tmp/shaders" "$bin" conform "${conform_args[@]}" --fail-fast \
        --json "$tmp/mutant.json" "$@" >"$tmp/mutant.log" 2>&1
    status=$?
    set -e
    verdict=$(python3 - "$tmp/mutant.json" "$file" "$status" <<'EOF'
import json, sys
path, file, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    report = json.load(open(path))
except (OSError, ValueError):
    print("broken conform wrote no report (exit status %d)" % status)
    sys.exit()
runs = [(c, r) for c in report["cases"] for r in c["runs"]]
numeric = [(c, r) for c, r in runs if r["verdict"] == "fail" and r["worst_ratio"] is not None]
errors = [r["error"] for c, r in runs if r["verdict"] == "fail" and r["worst_ratio"] is None]
if numeric:
    c, r = numeric[0]
    print("caught case %d [%s] %s: %.3g of the bound" % (c["index"], c["origin"], r["variants"], r["worst_ratio"]))
elif errors:
    print("broken %s" % errors[0].splitlines()[0])
elif file not in report["shader_files"]:
    print("not_runnable no kernel this adapter ran uses %s" % file)
elif report["failed"] == 0:
    print("survived every run passed (%d)" % report["passed"])
else:
    print("broken conform failed without a failing run")
EOF
    )
    kind=${verdict%% *}
    detail=${verdict#* }
    case $kind in
        caught) caught=$((caught + 1)); label="caught  " ;;
        survived) survived=$((survived + 1)); label="SURVIVED" ;;
        not_runnable) not_runnable=$((not_runnable + 1)); label="n/a     " ;;
        *) broken=$((broken + 1)); label="BROKEN  " ;;
    esac
    echo "$label $name ($file): $detail"
done
runnable=$((total - not_runnable - broken))
echo "$caught/$runnable mutants caught ($not_runnable not runnable on this adapter, $broken broken, $survived survived)"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
