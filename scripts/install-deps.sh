#!/usr/bin/env bash
# Installs the Debian 12 packages vfiod needs to build, test and run its demo.
# Only what is missing is installed; run as root.
set -euo pipefail

packages=(
    build-essential g++ meson ninja-build pkg-config
    libsdbus-c++-dev libsdbus-c++-bin libsystemd-dev libudev-dev
    libtomlplusplus-dev libcli11-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    umockdev libumockdev-dev
    dbus systemd util-linux python3 man-db groff-base
    clang-14 libclang-rt-14-dev  # fuzz/: the libFuzzer build (fuzz_smoke)
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
