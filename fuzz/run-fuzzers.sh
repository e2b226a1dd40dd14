#!/usr/bin/env bash
# Builds the fuzz targets with clang-14 and libFuzzer in BUILDDIR (a meson
# build of its own, -Dfuzzing=true) and runs each for SECONDS, then prints
# per target how many inputs it ran. Fails when a target crashes, leaving
# the input in BUILDDIR/artifacts/NAME/ (add it to fuzz/regressions/NAME/
# with the fix). Exits 77 (skipped) without clang-14 or libFuzzer.
#
#   fuzz/run-fuzzers.sh BUILDDIR SECONDS [TARGET...]
#
# New inputs go to BUILDDIR/corpus/NAME, never into the source tree; the
# seed corpus (fuzz/corpus/NAME) and fuzz/regressions/NAME are read only.
# FUZZ_PARALLEL (default: the number of CPUs, at most 2) targets run at once.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILDDIR SECONDS [TARGET...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v clang++-14 >/dev/null || ! command -v clang-14 >/dev/null; then
    echo "run-fuzzers: SKIP: clang-14 is not installed (scripts/install-deps.sh)"
    exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' \
    >"$probe/probe.cpp"
if ! clang++-14 -fsanitize=fuzzer "$probe/probe.cpp" -o "$probe/probe" 2>"$probe/log"; then
    echo "run-fuzzers: SKIP: clang-14 cannot link libFuzzer (libclang-rt-14-dev):"
    cat "$probe/log"
    exit 77
fi

# The core libraries with the fuzzer's coverage, ASan and UBSan, optimized
# as libFuzzer wants them; only what the targets link is built.
# meson looks for ccache only when CC and CXX are not given.
cc=clang-14
cxx=clang++-14
if command -v ccache >/dev/null; then
    cc="ccache clang-14"
    cxx="ccache clang++-14"
fi
if [ ! -f "$build/build.ninja" ]; then
    CC=$cc CXX=$cxx meson setup "$build" "$src" \
        -Dfuzzing=true -Dtests=disabled -Dwerror=true \
        -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
        -Db_lundef=false >"$probe/setup.log" ||
        { cat "$probe/setup.log"; exit 1; }
fi
start=$(date +%s)
nice ninja -C "$build" fuzz-targets >"$probe/build.log" ||
    { cat "$probe/build.log"; exit 1; }
echo "run-fuzzers: built the targets in $(($(date +%s) - start)) s"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$src"/fuzz/*_fuzzer.cpp; do
        name=$(basename "$f" _fuzzer.cpp)
        targets+=("$name")
    done
fi

# UBSan findings are crashes too, not messages to read past.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1}

run_target() {
    local name=$1
    local exe="$build/fuzz/${name}_fuzzer"
    local log="$build/logs/$name.log"
    mkdir -p "$build/corpus/$name" "$build/artifacts/$name" "$build/logs"
    local seeds=("$src/fuzz/corpus/$name")
    if [ -d "$src/fuzz/regressions/$name" ]; then
        seeds+=("$src/fuzz/regressions/$name")
    fi
    local dict=()
    if [ -f "$src/fuzz/dict/$name.dict" ]; then
        dict=("-dict=$src/fuzz/dict/$name.dict")
    fi
    rm -f "$build/logs/$name.failed"
    local rc=0
    nice "$exe" -max_total_time="$seconds" -print_final_stats=1 \
        -timeout=25 -rss_limit_mb=2048 \
        -artifact_prefix="$build/artifacts/$name/" "${dict[@]}" \
        "$build/corpus/$name" "${seeds[@]}" >"$log" 2>&1 || rc=$?
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    if [ -z "$runs" ]; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    fi
    local corpus
    corpus=$(find "$build/corpus/$name" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        printf 'run-fuzzers: %-18s %12s executions in %s s, corpus %s: ok\n' \
            "$name" "${runs:-?}" "$seconds" "$corpus"
    else
        printf 'run-fuzzers: %-18s CRASHED (exit %s) after %s executions; log %s\n' \
            "$name" "$rc" "${runs:-?}" "$log"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error|artifact_prefix|Test unit written)' \
            "$log" | head -20 | sed 's/^/    /'
        touch "$build/logs/$name.failed"
    fi
}

parallel=${FUZZ_PARALLEL:-$(nproc)}
[ "$parallel" -gt 2 ] && [ -z "${FUZZ_PARALLEL:-}" ] && parallel=2
failed=0
for name in "${targets[@]}"; do
    if [ ! -x "$build/fuzz/${name}_fuzzer" ]; then
        echo "run-fuzzers: no target $name" >&2
        failed=1
        continue
    fi
    run_target "$name" &
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
        wait -n || true
    done
done
wait
for name in "${targets[@]}"; do
    if [ -e "$build/logs/$name.failed" ]; then
        failed=1
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "run-fuzzers: FAIL: crash inputs are under $build/artifacts/; fix the parser and add the input to fuzz/regressions/NAME/"
    exit 1
fi
echo "run-fuzzers: no crash"
