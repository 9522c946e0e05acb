#!/usr/bin/env bash
# Mutation testing of the conformance tool: apply each WGSL mutant of tests/mutants/ to a copy
# of shaders/, run the default `wgpu-lstm conform` on it (forward and training;
# WGPU_LSTM_SHADER_DIR, no rebuild) with a fixed seed on the current adapter, and report
# `N/M mutants caught` with a count per class.
#   scripts/mutants.sh [adapter flags, e.g. --backend gl]
#
# A mutant is caught when a conformance run fails a numeric comparison (forward outputs,
# gradients, finite differences or optimizer weights) or a training kernel stops running.
# A mutant of a file under train/ runs conform --training-only: only the training part compiles
# those files, so the forward part would pass unchanged. A mutant's `conform:` line adds options
# (`--training-only` shows that the training part alone catches a mutant of a shared file).
#
# The run fails (exit status 1) when:
# - a runnable mutant survived, unless tests/mutants/equivalent.txt lists it with the reason it
#   is equivalent or cannot show on this adapter (a listed mutant that is caught fails too: the
#   list has rotted);
# - a mutant does not apply or does not compile (the catalog has rotted);
# - a WGSL file the clean run compiled has no mutant (the list follows the registry: a new
#   kernel file needs mutants), or a mutant names a file that does not exist;
# - a mutant is not runnable here and MUTANTS_NOT_RUNNABLE names a file listing it as not
#   runnable on another backend: a mutant that runs nowhere proves nothing. The file is then
#   rewritten with this run's list, so CI's second backend checks against its first.
#
# Mutants run two at a time (MUTANT_JOBS sets how many), each on its own copy of shaders/; the
# verdicts are printed in the catalog's order.
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
equivalent=tests/mutants/equivalent.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== clean run: $bin conform ${conform_args[*]} $*"
if ! "$bin" conform "${conform_args[@]}" --json "$tmp/clean.json" "$@" >"$tmp/clean.log" 2>&1; then
    tail -n 30 "$tmp/clean.log"
    echo "the unmutated shaders fail conform; mutants would prove nothing"
    exit 1
fi
grep -m1 '^adapter:' "$tmp/clean.log"

# Every file the clean run compiled has a mutant, and every mutant's file exists.
if ! python3 - "$tmp/clean.json" <<'EOF'
import glob, json, os, sys
compiled = set(json.load(open(sys.argv[1]))["shader_files"])
mutated = {}
for path in glob.glob("tests/mutants/*.mutant"):
    header = open(path).read().split("\n--- find\n", 1)[0]
    file = next(l[5:].strip() for l in header.splitlines() if l.startswith("file:"))
    mutated.setdefault(file, []).append(path)
missing = sorted(compiled - set(mutated))
absent = sorted(f for f in mutated if not os.path.exists(os.path.join("shaders", f)))
for f in missing:
    print(f"NO MUTANT shaders/{f}: conform compiled it, and no mutant of tests/mutants/ changes it")
for f in absent:
    print(f"BROKEN   {', '.join(mutated[f])}: shaders/{f} does not exist")
sys.exit(1 if missing or absent else 0)
EOF
then
    exit 1
fi

# Apply one mutant to its own copy of shaders/ and run conform on it, leaving in $tmp/m/NAME its
# file (or nothing: it does not apply), conform's exit status, report and log. Runs
# $MUTANT_JOBS (default 2) at a time; the verdicts below are read in the catalog's order.
run_mutant() {
    local mutant=$1 name dir extra file part=()
    name=$(basename "$mutant" .mutant)
    dir="$tmp/m/$name"
    mkdir -p "$dir"
    extra=$(sed -n 's/^conform: *//p' "$mutant")
    cp -r shaders "$dir/shaders"
    # Replace the find block with the replace block, exactly once (python3: exact multi-line text).
    if ! file=$(python3 - "$mutant" "$dir/shaders" <<'PY'
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
PY
    ); then
        rm -rf "$dir/shaders"
        return 0
    fi
    echo "$file" >"$dir/file"
    if [[ $file == train/* ]] || [[ $extra == *--training-only* ]]; then
        part=(--training-only)
    fi
    # shellcheck disable=SC2086 # the conform and adapter options, word by word
    WGPU_LSTM_SHADER_DIR="$dir/shaders" "$bin" conform $MUTANT_RUN_ARGS "${part[@]}" --fail-fast \
        --json "$dir/mutant.json" $MUTANT_ADAPTER_ARGS >"$dir/mutant.log" 2>&1
    echo $? >"$dir/status"
    rm -rf "$dir/shaders"
}
export -f run_mutant
export tmp bin
export MUTANT_RUN_ARGS="${conform_args[*]}" MUTANT_ADAPTER_ARGS="$*"
# shellcheck disable=SC2086
printf '%s\n' ${MUTANTS:-tests/mutants/*.mutant} |
    xargs -P "${MUTANT_JOBS:-2}" -I{} bash -c 'run_mutant "$1"' _ {}

caught=0 survived=0 not_runnable=0 broken=0 total=0 listed=0
not_runnable_here=()
declare -A class_total class_caught
# shellcheck disable=SC2086
for mutant in ${MUTANTS:-tests/mutants/*.mutant}; do
    total=$((total + 1))
    name=$(basename "$mutant" .mutant)
    class=$(sed -n 's/^class: *//p' "$mutant")
    class=${class:-unclassified}
    class_total[$class]=$(( ${class_total[$class]:-0} + 1 ))
    dir="$tmp/m/$name"
    if [ ! -f "$dir/file" ]; then
        echo "BROKEN   $name: does not apply"
        broken=$((broken + 1))
        continue
    fi
    file=$(cat "$dir/file")
    status=$(cat "$dir/status")
    verdict=$(python3 - "$dir/mutant.json" "$file" "$status" <<'EOF'
import json, sys
path, file, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    report = json.load(open(path))
except (OSError, ValueError):
    print("broken conform wrote no report (exit status %d)" % status)
    sys.exit()
runs = [(c, r) for c in report["cases"] for r in c["runs"]]
numeric = [(c, r) for c, r in runs if r["verdict"] == "fail" and r["worst_ratio"] is not None]
errors = [r["error"] for c, r in runs if r["verdict"] == "fail" and r["worst_ratio"] is None and r.get("error")]
# A failed comparison whose ratio is not a number (JSON null: NaN or infinity in the output, which
# a racing barrier mutant can produce) is a caught mutant too.
non_finite = [(c, r) for c, r in runs if r["verdict"] == "fail" and r["worst_ratio"] is None and not r.get("error")]
training = report.get("training") or {}
train_numeric = [c for c in training.get("cases", []) if c["verdict"] == "fail" and c["worst_ratio"] is not None]
train_numeric += [o for o in training.get("optimizers", []) if o["verdict"] == "fail" and o["worst_ratio"] is not None]
train_errors = [c["error"] for c in training.get("cases", []) + training.get("optimizers", []) if c.get("error")]
train_non_finite = [c for c in training.get("cases", []) + training.get("optimizers", [])
                    if c["verdict"] == "fail" and c["worst_ratio"] is None and not c.get("error")]
if numeric:
    c, r = numeric[0]
    print("caught case %d [%s] %s: %.3g of the bound" % (c["index"], c["origin"], r["variants"], r["worst_ratio"]))
elif train_numeric:
    t = train_numeric[0]
    print("caught training %s: %.3g of the bound" % (t.get("stratum") or t.get("optimizer"), t["worst_ratio"]))
elif non_finite:
    c, r = non_finite[0]
    print("caught case %d [%s] %s: a value that is not finite" % (c["index"], c["origin"], r["variants"]))
elif train_non_finite:
    t = train_non_finite[0]
    print("caught training %s: a value that is not finite" % (t.get("stratum") or t.get("optimizer")))
elif training.get("kernels_not_run"):
    print("caught training kernels that never ran: %s" % ", ".join(training["kernels_not_run"]))
elif errors or train_errors:
    print("broken %s" % (errors + train_errors)[0].splitlines()[0])
elif file not in report["shader_files"]:
    print("not_runnable no kernel this adapter ran uses %s" % file)
elif report["failed"] == 0 and training.get("failed", 0) == 0:
    print("survived every run passed (%d)" % (report["passed"] + training.get("passed", 0)))
else:
    print("broken conform failed without a failing comparison")
EOF
    )
    kind=${verdict%% *}
    detail=${verdict#* }
    reason=$(grep -m1 "^$name:" "$equivalent" 2>/dev/null | cut -d: -f2- || true)
    if [ -n "$reason" ]; then
        listed=$((listed + 1))
        case $kind in
            survived) kind=equivalent; detail="listed:$reason" ;;
            caught) kind=broken; detail="caught, yet $equivalent lists it as equivalent ($detail)" ;;
        esac
    fi
    case $kind in
        caught)
            caught=$((caught + 1))
            class_caught[$class]=$(( ${class_caught[$class]:-0} + 1 ))
            label="caught  " ;;
        equivalent) label="equiv.  " ;;
        survived) survived=$((survived + 1)); label="SURVIVED" ;;
        not_runnable)
            not_runnable=$((not_runnable + 1))
            not_runnable_here+=("$name")
            label="n/a     "
            if [ -n "${MUTANTS_NOT_RUNNABLE:-}" ] && grep -qx "$name" "$MUTANTS_NOT_RUNNABLE" 2>/dev/null; then
                broken=$((broken + 1))
                label="BROKEN  "
                detail="$detail, and not runnable on the backend $MUTANTS_NOT_RUNNABLE recorded either"
            fi ;;
        *) broken=$((broken + 1)); label="BROKEN  " ;;
    esac
    echo "$label $name ($file, $class): $detail"
done
if [ -n "${MUTANTS_NOT_RUNNABLE:-}" ]; then
    printf '%s\n' "${not_runnable_here[@]}" >"$MUTANTS_NOT_RUNNABLE"
fi
runnable=$((total - not_runnable - broken))
equiv_ran=$((runnable - caught - survived))
for class in $(printf '%s\n' "${!class_total[@]}" | sort); do
    echo "    $class: ${class_caught[$class]:-0} caught of ${class_total[$class]}"
done
echo "$caught/$((caught + survived)) mutants caught ($equiv_ran equivalent, listed in $equivalent; $not_runnable not runnable on this adapter, $broken broken, $survived survived; $(ls tests/mutants/*.mutant | wc -l) mutants of $(grep -h '^file:' tests/mutants/*.mutant | sort -u | wc -l) files)"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
