#!/usr/bin/env bash
# The peer of vfiod's bind in bench/run.py: driverctl's sequence for
# `driverctl set-override ADDR vfio-pci` (and `unset-override`), with a
# process per step as driverctl forks one, on the same simulated kernel
# (each step is one vfiod-sim process writing one sysfs file).
#
# usage: driverctl-peer.sh set|unset SIM-COMMAND... -- ADDRESS...
set -euo pipefail

mode=$1
shift
sim=()
while [ "$1" != "--" ]; do
    sim+=("$1")
    shift
done
shift

for address in "$@"; do
    if [ "$mode" = set ]; then
        "${sim[@]}" override "$address" vfio-pci
    else
        "${sim[@]}" override "$address" ''
    fi
    # unbind fails on a device without a driver; driverctl ignores that too.
    "${sim[@]}" unbind "$address" 2>/dev/null || true
    "${sim[@]}" probe "$address"
done
