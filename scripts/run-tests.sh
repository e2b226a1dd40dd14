#!/usr/bin/env bash
# Installs what is missing, builds vfiod with warnings as errors and with
# AddressSanitizer/UBSan, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

builddir=${VFIOD_TEST_BUILDDIR:-build-test}
if [ ! -d "$builddir" ]; then
    meson setup "$builddir" -Dwerror=true -Dbuildtype=debug \
        -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$builddir"

status=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" \
    | tee "$builddir/test-summary.txt" || status=$?
# One closing line in the plain form any CI reader understands.
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$builddir/test-summary.txt")
failed=0
for key in Fail Timeout 'Unexpected Pass'; do
    n=$(sed -n "s/^$key: *\([0-9]*\).*/\1/p" "$builddir/test-summary.txt")
    failed=$((failed + ${n:-0}))
done
skipped=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$builddir/test-summary.txt")
echo "${ok:-0} passed, $failed failed, ${skipped:-0} skipped"
exit "$status"
