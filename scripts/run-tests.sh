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
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@"
