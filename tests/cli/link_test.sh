#!/bin/bash
# vfioctl links only core's config layer and what it rests on: no simulated
# kernel, no libudev, no libdl (issue: layers the build enforces).
#
# usage: link_test.sh VFIOCTL VFIOD

set -u
. "$(dirname "$0")/../support/lib.sh"

VFIOCTL=$1
VFIOD=$2
SIM='vfiod::sim::|vfiod::SimHost'

needed=$(readelf -d "$VFIOCTL" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for library in libudev libdl; do
    if grep -q "^$library\." <<<"$needed"; then
        fail "vfioctl does not need $library" "$needed"
    else
        pass "vfioctl does not need $library"
    fi
done

# A simulated-kernel symbol would mean the sim library was linked in.
symbols=$(nm -C "$VFIOCTL")
if grep -qE "$SIM" <<<"$symbols"; then
    fail "vfioctl carries no simulated kernel" \
        "$(grep -E "$SIM" <<<"$symbols" | head -3)"
else
    pass "vfioctl carries no simulated kernel"
fi
# The same look finds the simulated kernel where it is linked: the daemon.
if nm -C "$VFIOD" | grep -qE "$SIM"; then
    pass "the symbol check finds the simulated kernel in vfiod"
else
    fail "the symbol check finds the simulated kernel in vfiod"
fi

finish
