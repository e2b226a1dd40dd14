#!/bin/bash
# vfioctl check-config: validates a configuration directory without a daemon.
#
# usage: check_config_test.sh VFIOCTL SOURCE_ROOT
#
# Every check prints "ok"/"FAIL"; the last line is "N passed, M failed".
# Exit 0 when all passed, 1 otherwise.

set -u
. "$(dirname "$0")/../support/lib.sh"

VFIOCTL=$1
SRC=$2

temp_dir TMP check-config-test

# check NAME WANT_RC WANT_OUT WANT_ERR DIR: runs check-config on DIR and
# compares the exit status and (exact) stdout and stderr.
check()
{
    local name=$1 want_rc=$2 want_out=$3 want_err=$4 dir=$5
    local out err rc
    out=$("$VFIOCTL" check-config "$dir" 2>"$TMP/stderr")
    rc=$?
    err=$(cat "$TMP/stderr")
    if [[ $rc == "$want_rc" && $out == "$want_out" && $err == "$want_err" ]]
    then
        pass "$name"
    else
        fail "$name" "rc=$rc (want $want_rc)" "stdout: $out" \
            "want:   $want_out" "stderr: $err" "want:   $want_err"
    fi
}

# A good directory: the shipped vfiod.toml and the example policy under a
# .toml name, plus a second file and one that is not loaded.
GOOD=$TMP/good
mkdir -p "$GOOD/policy.d"
cp "$SRC/conf/vfiod.toml" "$GOOD/vfiod.toml"
cp "$SRC/conf/policy.d/50-example.toml.example" "$GOOD/policy.d/50-example.toml"
cat >"$GOOD/policy.d/10-local.toml" <<'TOML'
[[rule]]
name = "local"
match = { vendor = 0x1af4 }
actions = { bind = "vfio-pci" }
TOML
echo 'garbage [' >"$GOOD/policy.d/README"
check good 0 "$GOOD: 6 rules in 2 files: ok" "" "$GOOD"

# No vfiod.toml and no policy.d: vfiod would run on defaults.
mkdir "$TMP/empty"
check empty 0 "$TMP/empty: 0 rules in 0 files: ok" "" "$TMP/empty"

# A policy error: the message starts with FILE:LINE:COLUMN.
BAD=$TMP/bad
mkdir -p "$BAD/policy.d"
cat >"$BAD/policy.d/20-bad.toml" <<'TOML'
[[rule]]
name = "gpu"

[rule.match]
vendor = 0x10de
class = 0x030000
colour = "green"
TOML
check bad-policy 2 "" \
    "$BAD/policy.d/20-bad.toml:7:1: unknown key \"match.colour\" (known: address, all, class, class_mask, device, driver, pf, slot, subsystem_device, subsystem_vendor, vendor, vf_index)" \
    "$BAD"

# A TOML syntax error.
printf '[[rule]]\nname = "x"\nmatch = { vendor = }\n' >"$BAD/policy.d/20-bad.toml"
"$VFIOCTL" check-config "$BAD" >/dev/null 2>"$TMP/stderr"
rc=$?
if [[ $rc == 2 ]] && grep -q "^$BAD/policy.d/20-bad.toml:3:[0-9]*: " "$TMP/stderr"
then
    pass bad-syntax
else
    fail bad-syntax "rc=$rc $(cat "$TMP/stderr")"
fi

# An error in vfiod.toml is found too.
BADCONF=$TMP/badconf
mkdir -p "$BADCONF"
printf '[daemon]\nlog_level = "loud"\n' >"$BADCONF/vfiod.toml"
check bad-daemon-config 2 "" \
    "$BADCONF/vfiod.toml:2:13: \"daemon.log_level\" must be one of error, warning, info, debug, not \"loud\"" \
    "$BADCONF"

# A directory that does not exist is not an empty configuration.
check missing-dir 3 "" "vfioctl: $TMP/none: no such directory" "$TMP/none"

finish
