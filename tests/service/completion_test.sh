#!/bin/bash
# The bash completion of vfioctl, sourced into this shell and driven as
# readline would: COMP_LINE/COMP_POINT and COMP_WORDS/COMP_CWORD (split at
# ':' too, as COMP_WORDBREAKS makes bash do), then _vfioctl.
#
# usage: completion_test.sh COMPLETION VFIOCTL
#
# Two vfioctls: the real one, whose --help lists the subcommands and
# options (list fails: no vfiod here), and a fake one whose `--json list`
# prints devices, to complete addresses from.

set -u
. "$(dirname "$0")/../support/lib.sh"

COMPLETION=$1
VFIOCTL=$2

temp_dir TMP completion-test

# A sysfs PCI device directory of our own, for the fallback.
mkdir -p "$TMP/pci/0000:00:1f.3" "$TMP/pci/0000:3b:00.0"
_vfioctl_pci_devices_dir=$TMP/pci

# shellcheck source=/dev/null
source "$COMPLETION"

if [[ $(complete -p vfioctl 2>/dev/null) == *"-F _vfioctl"* ]]; then
    pass "sourcing registers _vfioctl for vfioctl"
else
    fail "sourcing registers _vfioctl for vfioctl" "$(complete -p vfioctl 2>&1)"
fi

# A fake vfioctl: the real one's help, plus a device list. It records the
# arguments of list calls, to check that --bus-address is passed on.
cat >"$TMP/fake-vfioctl" <<FAKE
#!/bin/bash
for arg in "\$@"; do
    if [[ \$arg == list ]]; then
        echo "\$*" >>"$TMP/list-calls"
        echo '{"devices":[{"Address":"0000:01:00.0","State":"host"},{"Address":"0000:01:00.1","State":"vfio"},{"Address":"0000:02:00.0","State":"host"}]}'
        exit 0
    fi
done
exec "$VFIOCTL" "\$@"
FAKE
chmod +x "$TMP/fake-vfioctl"

# complete PROGRAM LINE: runs the completion with the cursor at the end of
# LINE; sets REPLY_TEXT to the sorted candidates, one per line.
complete_line()
{
    local program=$1 line=$2
    COMP_LINE="$program $line"
    COMP_POINT=${#COMP_LINE}
    # COMP_WORDS as bash builds them: split at blanks and at each ':' (a
    # word break of its own).
    local spaced=${COMP_LINE//:/ : }
    read -r -a COMP_WORDS <<<"$spaced"
    if [[ $COMP_LINE == *" " ]]; then
        COMP_WORDS+=("")
    fi
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _vfioctl "$program" "${COMP_WORDS[COMP_CWORD]}" \
        "${COMP_WORDS[COMP_CWORD - 1]-}" 2>"$TMP/stderr"
    REPLY_TEXT=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
}

# expect_exactly NAME PROGRAM LINE WANT...: the candidates are exactly WANT.
expect_exactly()
{
    local name=$1 program=$2 line=$3
    shift 3
    complete_line "$program" "$line"
    local want
    want=$(printf '%s\n' "$@" | sort)
    if [[ $REPLY_TEXT == "$want" && ! -s $TMP/stderr ]]; then
        pass "$name"
    else
        fail "$name" "line: '$line'" "got: $(echo $REPLY_TEXT)" \
            "want: $(echo $want)" "$(cat "$TMP/stderr")"
    fi
}

# expect_has NAME PROGRAM LINE WANT...: the candidates include WANT.
expect_has()
{
    local name=$1 program=$2 line=$3
    shift 3
    complete_line "$program" "$line"
    local missing=() word
    for word in "$@"; do
        grep -qxF -- "$word" <<<"$REPLY_TEXT" || missing+=("$word")
    done
    if [[ ${#missing[@]} -eq 0 && ! -s $TMP/stderr ]]; then
        pass "$name"
    else
        fail "$name" "line: '$line'" "missing: ${missing[*]}" \
            "got: $(echo $REPLY_TEXT)" "$(cat "$TMP/stderr")"
    fi
}

FAKE=$TMP/fake-vfioctl

# Subcommands: every one `vfioctl --help` lists.
mapfile -t subcommands < <("$VFIOCTL" --help | awk '
    /^Subcommands:/ { inside = 1; next }
    inside && /^[[:space:]]*$/ { exit }
    inside { print $1 }')
expect_exactly "all subcommands of vfioctl --help (${#subcommands[@]})" \
    "$VFIOCTL" "" "${subcommands[@]}"
expect_has "the subcommands of the issue" "$VFIOCTL" "" list show bind \
    unbind assign release reset monitor reload check-config
expect_exactly "a prefix: un" "$VFIOCTL" "un" unbind
expect_exactly "a prefix: re" "$VFIOCTL" "re" $(printf '%s\n' "${subcommands[@]}" |
    grep '^re')
expect_has "global options" "$VFIOCTL" "--" --json --bus-address --help \
    --version

# Options of a subcommand, and the global ones after it.
expect_has "bind options" "$VFIOCTL" "bind 0000:01:00.0 --" --driver \
    --group --json
expect_has "reset options" "$VFIOCTL" "reset 0000:01:00.0 --" --method
expect_has "assign options" "$VFIOCTL" "assign --" --driver
expect_exactly "--driver values: vfio-pci and the variants" "$VFIOCTL" \
    "bind 0000:01:00.0 --driver mlx" mlx5_vfio_pci
expect_exactly "--method values" "$VFIOCTL" "reset 0000:01:00.0 --method f" flr

# Addresses from vfioctl --json list.
expect_exactly "addresses from list --json" "$FAKE" "show " 0000:01:00.0 \
    0000:01:00.1 0000:02:00.0
# Across ':' word breaks, bash replaces only the part after the last ':'.
expect_exactly "a prefix with colons: 0000:01:" "$FAKE" "bind 0000:01:" 00.0 00.1
expect_exactly "a prefix with colons: 0000:0" "$FAKE" "unbind 0000:0" \
    01:00.0 01:00.1 02:00.0
expect_exactly "only the first positional is an address" "$FAKE" \
    "show 0000:01:00.0 " ""
expect_exactly "--bus-address is passed on to list" "$FAKE" \
    "--bus-address unix:path=/x show 0000:02" 02:00.0
if grep -q -- "--bus-address unix:path=/x" "$TMP/list-calls" 2>/dev/null; then
    pass "list was asked on the given bus"
else
    fail "list was asked on the given bus" "$(cat "$TMP/list-calls" 2>&1)"
fi
expect_exactly "an option value is not taken for the address" "$FAKE" \
    "bind --driver vfio-pci 0000:01:00." 00.0 00.1

# Without vfiod: the PCI devices of sysfs.
expect_exactly "without vfiod: sysfs names" "$VFIOCTL" "reset " 0000:00:1f.3 \
    0000:3b:00.0
expect_exactly "without vfiod: sysfs names, colon prefix" "$VFIOCTL" \
    "reset 0000:3b:" 00.0

# assign ADDR -- CMD.
expect_exactly "assign ADDR: then --" "$FAKE" "assign 0000:01:00.0 " --
expect_has "assign ADDR -- CMD: commands" "$FAKE" \
    "assign 0000:01:00.0 -- bas" bash
# check-config DIR: directories.
mkdir -p "$TMP/confdir"
expect_exactly "check-config: a directory" "$VFIOCTL" "check-config $TMP/confd" \
    "$TMP/confdir"
# Nothing to complete after list.
expect_exactly "list takes no positional" "$FAKE" "list " ""

# A subcommand the fallback list names but this vfioctl may not have yet
# completes its address when vfioctl cannot be run at all.
expect_has "fallback: a vfioctl that cannot run" "/nonexistent/vfioctl" "" \
    list show explain plugins migrate

finish
