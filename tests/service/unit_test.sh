#!/bin/bash
# vfiod.service as built: systemd accepts it (systemd-analyze verify), its
# sandbox scores as systemd-analyze security expects, it has what the
# service needs (Type=notify, BusName, WatchdogSec, ...), none of the
# settings that would break binding devices, and a comment before every
# group of settings, since each choice must say why.
#
# usage: unit_test.sh UNIT VFIOD
#
# ExecStart names the installed vfiod, which need not exist here: the test
# verifies a copy whose ExecStart is the vfiod just built.

set -u
. "$(dirname "$0")/../support/lib.sh"

UNIT=$1
VFIOD=$2

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "skipped: systemd-analyze is not installed"
    exit 77
fi

temp_dir TMP unit-test

# The unit's own name matters to verify (BusName, Alias): keep it.
sed -E "s|^ExecStart=.*|ExecStart=$VFIOD|" "$UNIT" >"$TMP/vfiod.service"

# --man=no: the pages are not installed where man(1) looks, and the man
# suite checks them.
out=$(cd "$TMP" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
    --man=no ./vfiod.service 2>&1)
rc=$?
if [[ $rc -eq 0 && -z $out ]]; then
    pass "systemd-analyze verify accepts the unit, without a warning"
else
    fail "systemd-analyze verify accepts the unit, without a warning" \
        "exit $rc" "$out"
fi

# What the service needs.
value()
{
    sed -n -E "s/^$1=(.*)$/\1/p" "$UNIT" | tail -1
}
# expect_setting KEY VALUE: the last KEY= line of the unit says VALUE.
expect_setting()
{
    local got
    got=$(value "$1")
    if [[ $got == "$2" ]]; then
        pass "$1=$2"
    else
        fail "$1=$2" "got '$got'"
    fi
}
expect_setting Type notify
expect_setting BusName org.vfiod1
expect_setting Restart on-failure
expect_setting StateDirectory vfiod
expect_setting RuntimeDirectory vfiod
expect_setting ConfigurationDirectory vfiod
expect_setting NoNewPrivileges yes
expect_setting ProtectHome yes
expect_setting PrivateTmp yes
expect_setting ProtectSystem strict
expect_setting RestrictAddressFamilies "AF_UNIX AF_NETLINK"
expect_setting CapabilityBoundingSet CAP_SYS_MODULE
expect_setting DevicePolicy closed
expect_setting SystemCallArchitectures native
expect_setting MemoryDenyWriteExecute yes

exec_start=$(value ExecStart)
if [[ $exec_start == /*/vfiod ]]; then
    pass "ExecStart is the installed vfiod ($exec_start)"
else
    fail "ExecStart is the installed vfiod" "got '$exec_start'"
fi
if [[ -n $(value WatchdogSec) && $(value WatchdogSec) != 0 ]]; then
    pass "WatchdogSec is set ($(value WatchdogSec))"
else
    fail "WatchdogSec is set"
fi
if [[ -n $(value ExecReload) ]]; then
    pass "ExecReload is set"
else
    fail "ExecReload is set"
fi
if grep -q '^DeviceAllow=char-vfio rw$' "$UNIT"; then
    pass "DeviceAllow=char-vfio rw"
else
    fail "DeviceAllow=char-vfio rw"
fi

# Settings that would break what vfiod is for (see the unit's comments).
for setting in ProtectKernelTunables ProtectKernelModules PrivateDevices \
    PrivateUsers PrivateNetwork ProcSubset; do
    if grep -q "^$setting=" "$UNIT"; then
        fail "$setting is not set" "$(grep "^$setting=" "$UNIT")"
    else
        pass "$setting is not set"
    fi
done

# Every group of settings (lines between blank lines or comments) has a
# comment right before it; Description= and Documentation= speak for
# themselves.
uncommented=$(awk '
    /^[[:space:]]*$/ { commented = 0; next }
    /^#/ { commented = 1; next }
    /^\[/ { commented = 0; next }
    /^(Description|Documentation)=/ { next }
    !commented { print FNR ": " $0 }
' "$UNIT")
if [[ -z $uncommented ]]; then
    pass "every setting is explained by a comment"
else
    fail "every setting is explained by a comment" "$uncommented"
fi

# The sandbox as systemd rates it (0 = best, 10 = unprotected). 2.5 at the
# time of writing; more than 3 means something was loosened.
if out=$(cd "$TMP" && systemd-analyze security --offline=yes \
    ./vfiod.service 2>&1); then
    score=$(sed -n -E 's/.*Overall exposure level for vfiod.service: ([0-9.]+).*/\1/p' <<<"$out")
    if [[ -n $score ]] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
        pass "systemd-analyze security: exposure $score (at most 3.0)"
    else
        fail "systemd-analyze security: exposure at most 3.0" \
            "score '${score}'" "$(tail -5 <<<"$out")"
    fi
else
    echo "# skipped: systemd-analyze security --offline is not supported"
fi

finish
