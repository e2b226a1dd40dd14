# 7. Restart while assigned: vfiod keeps a ledger in state_dir/devices and
# reconciles it at start-up; an assignment survives a restart for
# lease_grace_ms (3000 in tests/e2e/etc/vfiod.toml) while its holder
# re-attaches with its lease token (`vfioctl assign` does it by itself).
#  - virtio-net is bound (not assigned) before the crash;
#  - the edu behind a root port is assigned by `vfioctl assign ADDR`, which
#    stays alive through the crash;
#  - e1000e is assigned by a vfioctl that is killed while vfiod is down;
#  - kill -9 of vfiod, then vfiod started again exactly as /init does.
# Then: the log shows the reconciliation ("ledger:" lines); the live holder
# re-attached and the edu is still assigned past the grace; e1000e is
# released after the grace, reset and left on vfio-pci (no rule:
# on_release "vfio"); virtio-net is still managed with OriginalDriver
# virtio-pci and `vfioctl unbind` returns it there.
. /e2e/lib.sh
e2e_begin

grace_ms=3000
a=$(edu_port)
a_host=$(sysfs_driver "$a")
e=$(pci_find $E1000E_IDS)
n=$(pci_find $VIRTIO_NET_IDS)
expect_eq "e1000e starts on" "$(sysfs_driver "$e")" e1000e
expect_eq "virtio-net starts on" "$(sysfs_driver "$n")" virtio-pci

# One vfioctl and one jq for every device's State, Owner, Driver and
# OriginalDriver: "ADDR|State|Owner|Driver|OriginalDriver" lines.
snapshot()
{
    vfioctl --json list 2>/dev/null | jq -r '.devices[] |
        "\(.Address)|\(.State)|\(.Owner)|\(.Driver)|\(.OriginalDriver)"'
}
row() { echo "$SNAP" | grep "^$1|"; }
# states_are ADDR STATE ...: every ADDR is in its STATE.
states_are()
{
    SNAP=$(snapshot)
    while [ $# -ge 2 ]; do
        [ "$(row "$1" | cut -d'|' -f2)" = "$2" ] || return 1
        shift 2
    done
}
new_log() { tail -n "+$((mark + 1))" /run/vfiod.log; }
new_logged() { new_log | grep -q -- "$1"; }

run vfioctl bind "$n"
expect_status "bind $n" 0
vfioctl assign "$a" >/run/e2e/live.out 2>&1 &
live=$!
vfioctl assign "$e" >/run/e2e/orphan.out 2>&1 &
orphan=$!
if wait_until 30 states_are "$a" assigned "$e" assigned "$n" vfio; then
    pass "$a and $e assigned, $n bound"
else
    fail "before the crash: $(echo "$SNAP" | tr '\n' ' ')"
fi

# The crash, and the orphan's holder dies while vfiod is down.
if vfiod_crash; then
    pass "vfiod killed with SIGKILL"
else
    fail "vfiod did not die on SIGKILL"
fi
kill -9 "$orphan"
wait "$orphan" 2>/dev/null
mark=$(wc -l </run/vfiod.log)
restarted=$(date +%s)
if vfiod_start; then
    pass "vfiod started again"
else
    fail "vfiod did not come back within 60 s"
fi

# Reconciliation, before any device is announced.
lines=$(new_log | grep 'ledger: ')
echo "$lines" | sed 's/^/    /'
expect_contains "ledger: $a" "$lines" "ledger: $a: on vfio-pci, managed (original driver none, assigned to "
expect_contains "ledger: $e" "$lines" "ledger: $e: on vfio-pci, managed (original driver e1000e, assigned to "
expect_contains "ledger: $n" "$lines" "ledger: $n: on vfio-pci, managed (original driver virtio-pci)"
expect_contains "grace for $a" "$(new_log)" "lease of $a ("
expect_contains "grace of $grace_ms ms" "$(new_log | grep "lease of $e (")" "re-attach for $grace_ms ms"

# The live holder re-attaches by itself.
if wait_until 30 grep -q "re-attached to the assignment of $a" /run/e2e/live.out; then
    pass "vfioctl re-attached to $a"
else
    fail "vfioctl did not re-attach to $a: $(cat /run/e2e/live.out)"
fi
if new_logged "$a: re-attached by "; then
    pass "vfiod logged the re-attach of $a"
else
    fail "vfiod did not log a re-attach of $a"
fi

# The orphan is released once the grace is over, then reset, on vfio-pci.
released="of $e did not re-attach in time: releasing the device"
if wait_until 30 new_logged "$released"; then
    pass "$e released after the grace"
else
    fail "$e not released after the grace: $(snapshot | grep "^$e|")"
fi
if wait_until 30 new_logged "policy: $e: reset after release"; then
    pass "$e reset after release"
else
    fail "$e not reset after release"
fi

# Past the grace (with a second to spare), everything as it should be.
while [ $(($(date +%s) - restarted)) -le $((grace_ms / 1000 + 1)) ]; do
    sleep 0.5
done
SNAP=$(snapshot)
expect_eq "$a past the grace (State|Driver|OriginalDriver)" \
    "$(row "$a" | cut -d'|' -f2,4,5)" "assigned|vfio-pci|"
expect_contains "$a Owner past the grace" "$(row "$a" | cut -d'|' -f3)" "uid=0"
expect_eq "$e past the grace (State|Owner|Driver|OriginalDriver)" \
    "$(row "$e" | cut -d'|' -f2-5)" "vfio||vfio-pci|e1000e"
expect_eq "$n past the grace (State|Owner|Driver|OriginalDriver)" \
    "$(row "$n" | cut -d'|' -f2-5)" "vfio||vfio-pci|virtio-pci"
if new_logged "of $a did not re-attach in time"; then
    fail "vfiod released $a although its holder re-attached"
else
    pass "$a not released by the grace timer"
fi
if kill -0 "$live" 2>/dev/null; then
    pass "the holder of $a is still running"
else
    fail "the holder of $a exited: $(cat /run/e2e/live.out)"
fi
expect_eq "$a driver (sysfs)" "$(sysfs_driver "$a")" vfio-pci
expect_eq "$e driver (sysfs)" "$(sysfs_driver "$e")" vfio-pci

# Back as found: the re-attached lease releases as the first one would.
kill "$live"
wait "$live"
expect_eq "holder of $a exit status on SIGTERM" "$?" 0
if wait_until 30 new_logged "policy: $a: reset after release"; then
    pass "$a released and reset by its re-attached holder"
else
    fail "$a not reset after its holder released it: $(cat /run/e2e/live.out)"
fi
run vfioctl unbind "$n"
expect_status "unbind $n" 0
run vfioctl unbind "$e"
expect_status "unbind $e" 0
run vfioctl unbind "$a"
expect_status "unbind $a" 0
expect_eq "drivers after the unbinds ($n $e $a)" \
    "$(sysfs_driver "$n") $(sysfs_driver "$e") $(sysfs_driver "$a")" \
    "virtio-pci e1000e $a_host"

e2e_end
