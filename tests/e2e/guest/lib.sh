# Helpers for the e2e scenarios (busybox sh, sourced). A scenario:
#
#   . /e2e/lib.sh
#   e2e_begin            # name from $E2E_NAME (set by /init)
#   expect_eq "what" "$actual" "$expected"
#   run vfioctl bind "$a"; expect_status "bind" 0
#   ...
#   e2e_end              # prints the one E2E-RESULT line
#
# Every check logs one "e2e[name]: ok|FAIL ..." line; the first failure is
# the reason on the result line. A scenario that dies before e2e_end gets a
# FAIL line from /init.

E2E_FAILURES=0
E2E_FIRST_FAILURE=
E2E_CHECKS=0

log() { echo "e2e[${E2E_NAME:-?}]: $*"; }

e2e_begin()
{
    log "begin"
}

# fail REASON: records a failure (the scenario goes on).
fail()
{
    E2E_FAILURES=$((E2E_FAILURES + 1))
    [ -n "$E2E_FIRST_FAILURE" ] || E2E_FIRST_FAILURE=$*
    log "FAIL $*"
}

pass()
{
    E2E_CHECKS=$((E2E_CHECKS + 1))
    log "ok $*"
}

# e2e_end: prints the result line once.
e2e_end()
{
    mkdir -p /run/e2e
    if [ "$E2E_FAILURES" -eq 0 ]; then
        echo "E2E-RESULT $E2E_NAME PASS $E2E_CHECKS checks"
    else
        echo "E2E-RESULT $E2E_NAME FAIL $E2E_FIRST_FAILURE ($E2E_FAILURES failures)"
    fi
    touch "/run/e2e/result.$E2E_NAME"
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq()
{
    if [ "$2" = "$3" ]; then
        pass "$1: $2"
    else
        fail "$1: got '$2', expected '$3'"
    fi
}

# expect_contains WHAT TEXT NEEDLE
expect_contains()
{
    case $2 in
        *"$3"*) pass "$1: contains '$3'" ;;
        *) fail "$1: '$2' does not contain '$3'" ;;
    esac
}

# run CMD...: runs CMD, keeps its output (stdout and stderr) in $OUT and its
# status in $RC, and logs both.
run()
{
    OUT=$("$@" 2>&1)
    RC=$?
    log "\$ $* -> $RC"
    [ -z "$OUT" ] || echo "$OUT" | sed "s/^/    /"
    return 0
}

# expect_status WHAT STATUS: checks $RC of the last run.
expect_status()
{
    if [ "$RC" = "$2" ]; then
        pass "$1: exit status $RC"
    else
        fail "$1: exit status $RC, expected $2 ($(echo "$OUT" | tail -n 1))"
    fi
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s until it succeeds (0) or
# SECONDS of wall time have passed (1). Time-based: under TCG every command
# started costs a lot more than the sleep.
wait_until()
{
    local deadline=$(($(date +%s) + $1))
    shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# child_pids PID: the processes whose parent is PID (busybox has no pgrep).
child_pids()
{
    awk -v p="$1" '$4 == p { print $1 }' /proc/[0-9]*/stat 2>/dev/null
}

# --- sysfs ------------------------------------------------------------------

sysfs_dev() { echo "/sys/bus/pci/devices/$1"; }

# The bound driver's name, "" when unbound.
sysfs_driver()
{
    local link
    link=$(readlink "$(sysfs_dev "$1")/driver" 2>/dev/null) || return 0
    basename "$link"
}

# The IOMMU group number, -1 without one.
sysfs_group()
{
    local link
    link=$(readlink "$(sysfs_dev "$1")/iommu_group" 2>/dev/null) ||
        { echo -1; return 0; }
    basename "$link"
}

sysfs_reset_methods()
{
    cat "$(sysfs_dev "$1")/reset_method" 2>/dev/null || true
}

# pci_find VENDOR DEVICE: the addresses of every function with these ids
# ("0x8086" "0x10d3"), in address order.
pci_find()
{
    local d
    for d in /sys/bus/pci/devices/*; do
        if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then
            basename "$d"
        fi
    done
}

# The other members of a device's IOMMU group.
group_peers()
{
    local d
    for d in /sys/bus/pci/devices/$1/iommu_group/devices/*; do
        [ "$(basename "$d")" = "$1" ] || basename "$d"
    done
}

# Well-known devices of the guest's layout (see run-e2e.sh).
EDU_IDS="0x1234 0x11e8"
E1000E_IDS="0x8086 0x10d3"
VIRTIO_NET_IDS="0x1af4 0x1041"
NVME_IDS="0x1b36 0x0010"
PCI_BRIDGE_IDS="0x1b36 0x000e"

# The edu on the root bus (bus 00), the edu alone behind a root port, and
# the pair behind the PCIe-to-PCI bridge (sharing the bridge's group).
edu_root() { pci_find $EDU_IDS | grep '^0000:00:' | head -n 1; }
edu_port()
{
    local a
    for a in $(pci_find $EDU_IDS | grep -v '^0000:00:'); do
        [ -z "$(group_peers "$a")" ] && echo "$a" && return 0
    done
}
edu_pair()
{
    local a
    for a in $(pci_find $EDU_IDS | grep -v '^0000:00:'); do
        [ -n "$(group_peers "$a")" ] && echo "$a"
    done
}

# --- vfiod ------------------------------------------------------------------

# D-Bus object path of a device.
object_path()
{
    echo "/org/vfiod1/devices/pci_$(echo "$1" | tr ':.' '__')"
}

# prop ADDRESS NAME: a property as vfioctl show --json reports it (arrays
# joined with spaces).
prop()
{
    vfioctl --json show "$1" 2>/dev/null |
        jq -r --arg k "$2" '.[$k] | if type == "array" then join(" ") else . end'
}

# bus_call ADDRESS METHOD [GVARIANT_OPTIONS]: calls a Device method with
# gdbus, which reports the D-Bus error name: $OUT, $RC as for run.
bus_call()
{
    local options=${3:-}
    [ -n "$options" ] || options='@a{sv} {}'
    run gdbus call --system --dest org.vfiod1 --object-path "$(object_path "$1")" \
        --method "org.vfiod1.Device.$2" "$options"
}

# vfiod owns its name only once every device is exported.
vfiod_running()
{
    busctl --no-legend list 2>/dev/null | grep -q '^org\.vfiod1 '
}

# vfiod_start: starts vfiod (log in /run/vfiod.log) and waits for its name.
vfiod_start()
{
    vfiod --config /etc/vfiod/vfiod.toml >>/run/vfiod.log 2>&1 &
    echo $! >/run/vfiod.pid
    wait_until 60 vfiod_running
}

# vfiod_gone PID: the process has exited (a zombie counts: a vfiod that
# a scenario restarted is nobody's child once that scenario has ended).
vfiod_gone()
{
    [ ! -e "/proc/$1/stat" ] ||
        [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

vfiod_stop()
{
    local pid
    pid=$(cat /run/vfiod.pid 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null
    wait_until 10 vfiod_gone "$pid" || kill -9 "$pid" 2>/dev/null
    rm -f /run/vfiod.pid
}

# vfiod_crash: kill -9 of vfiod (no clean-up of any kind), and waits until
# it is gone. Start it again with vfiod_start, exactly as /init does.
vfiod_crash()
{
    local pid
    pid=$(cat /run/vfiod.pid 2>/dev/null) || return 1
    kill -9 "$pid" 2>/dev/null
    wait_until 10 vfiod_gone "$pid" || return 1
    rm -f /run/vfiod.pid
}

# vfiod_restart: after a scenario changed /etc/vfiod (vfioctl reload covers
# what applies at once).
vfiod_restart()
{
    vfiod_stop
    vfiod_start
}
