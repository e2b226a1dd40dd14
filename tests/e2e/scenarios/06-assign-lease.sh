# 6. Assign with a lease. When an assignment ends (Release, the lease
# closed, its holder killed) vfiod resets the device when it has a reset
# method (reset_on_release, true by default) and applies the policy's
# on_release:
#  - the edu behind a root port (no rule: on_release "vfio"):
#    `vfioctl assign ADDR -- sleep 1000` holds it (State assigned, Owner
#    set, bound to vfio-pci); it cannot be unbound (Busy); kill -9 of that
#    vfioctl: vfiod sees the lease hang up, releases the device (State
#    "vfio", Owner empty), resets it ("reset after release" in its log) and
#    leaves it on vfio-pci, where it opens;
#  - the same through busctl: Assign returns a lease fd, busctl exits and
#    closes it, the device is released and reset; an explicit release
#    resets it before the call returns;
#  - virtio-net, whose rule in tests/e2e/etc/policy.d/50-e2e.toml
#    ("e2e-virtio-net-release-to-host") says on_release = "host": assigned
#    from virtio-pci, its holder killed: vfiod resets it, then returns it to
#    virtio-pci (State "host", driver_override cleared, its network
#    interface back).
. /e2e/lib.sh
e2e_begin

a=$(edu_port)
host=$(sysfs_driver "$a")

state_is() { [ "$(prop "$1" State)" = "$2" ]; }
# logged_times N PATTERN: vfiod's log has at least N lines with PATTERN.
logged_times() { [ "$(grep -c -- "$2" /run/vfiod.log)" -ge "$1" ]; }
# expect_logged N PATTERN WHAT: waits up to 30 s for the Nth such line.
expect_logged()
{
    if wait_until 30 logged_times "$1" "$2"; then
        pass "$3"
    else
        fail "$3: vfiod logged '$2' $(grep -c -- "$2" /run/vfiod.log) times, expected $1"
    fi
}
reset_line="policy: $a: reset after release"

vfioctl assign "$a" -- sleep 1000 >/run/e2e/assign.out 2>&1 &
holder=$!
if wait_until 30 state_is "$a" assigned; then
    pass "$a assigned by vfioctl (pid $holder)"
else
    fail "$a not assigned: State=$(prop "$a" State), vfioctl: $(cat /run/e2e/assign.out)"
fi
owner=$(prop "$a" Owner)
expect_contains "$a Owner" "$owner" "uid=0"
expect_eq "$a driver while assigned" "$(sysfs_driver "$a")" vfio-pci

run vfioctl unbind "$a"
expect_status "unbind while assigned" 4
bus_call "$a" Unbind
expect_contains "Unbind error name while assigned" "$OUT" org.vfiod1.Error.Busy

# The holder dies without a word.
sleeper=$(child_pids "$holder")
kill -9 "$holder"
wait "$holder" 2>/dev/null
if wait_until 15 state_is "$a" vfio; then
    pass "$a released after its holder was killed"
else
    fail "$a not released after kill -9 of its holder: State=$(prop "$a" State) Owner=$(prop "$a" Owner)"
fi
expect_eq "$a Owner after the hang-up" "$(prop "$a" Owner)" ""
expect_eq "$a driver after the hang-up" "$(sysfs_driver "$a")" vfio-pci
if grep -q "$a released: its holder" /run/vfiod.log; then
    pass "vfiod logged the release"
else
    fail "vfiod did not log the release of $a"
fi
expect_logged 1 "$reset_line" "$a reset after the hang-up"
expect_eq "$a driver after the reset" "$(sysfs_driver "$a")" vfio-pci
[ -z "$sleeper" ] || kill $sleeper 2>/dev/null

# The device is usable by the next one.
run vfio_open "$a"
expect_status "vfio_open $a after the release" 0

# busctl: the lease fd dies with busctl.
run busctl call org.vfiod1 "$(object_path "$a")" org.vfiod1.Device Assign 'a{sv}' 0
expect_status "busctl Assign" 0
expect_contains "busctl Assign returns a fd" "$OUT" "h "
if wait_until 15 state_is "$a" vfio; then
    pass "$a released when busctl closed the lease"
else
    fail "$a still assigned after busctl exited: Owner=$(prop "$a" Owner)"
fi
expect_logged 2 "$reset_line" "$a reset after busctl closed the lease"

# An explicit release by a live holder.
vfioctl assign "$a" -- sleep 1000 >/run/e2e/assign.out 2>&1 &
holder=$!
wait_until 30 state_is "$a" assigned || fail "second assign of $a did not happen"
run vfioctl release "$a"
expect_status "vfioctl release" 0
expect_eq "$a State after release" "$(prop "$a" State)" vfio
# The reply comes once the on-release steps are done.
if logged_times 3 "$reset_line"; then
    pass "$a reset before vfioctl release returned"
else
    fail "$a not reset by the time vfioctl release returned ($(grep -c -- "$reset_line" /run/vfiod.log) resets logged, expected 3)"
fi
wait_until 10 sh -c "! kill -0 $holder" || { kill $(child_pids "$holder") "$holder"; }
wait "$holder" 2>/dev/null

run vfioctl unbind "$a"
expect_status "unbind $a" 0
expect_eq "$a back on its driver" "$(sysfs_driver "$a")" "$host"

# on_release = "host": virtio-net goes back to virtio-pci after a reset.
n=$(pci_find $VIRTIO_NET_IDS)
expect_eq "virtio-net address (named by the policy)" "$n" 0000:03:00.0
expect_eq "$n starts on" "$(sysfs_driver "$n")" virtio-pci
run vfioctl explain "$n"
expect_contains "explain $n" "$OUT" 'rule "e2e-virtio-net-release-to-host" ('
expect_contains "explain $n" "$OUT" "back to its host driver, after a reset"

vfioctl assign "$n" -- sleep 1000 >/run/e2e/assign.out 2>&1 &
holder=$!
if wait_until 30 state_is "$n" assigned; then
    pass "$n assigned by vfioctl (pid $holder)"
else
    fail "$n not assigned: State=$(prop "$n" State), vfioctl: $(cat /run/e2e/assign.out)"
fi
expect_eq "$n driver while assigned" "$(sysfs_driver "$n")" vfio-pci
sleeper=$(child_pids "$holder")
kill -9 "$holder"
wait "$holder" 2>/dev/null
[ -z "$sleeper" ] || kill $sleeper 2>/dev/null
returned_line="policy: $n: returned to virtio-pci after release"
expect_logged 1 "$returned_line" "$n returned to virtio-pci after the hang-up"
expect_eq "$n driver after the hang-up" "$(sysfs_driver "$n")" virtio-pci
# The reset comes first, then the return to the host driver.
order=$(grep -n -e "policy: $n: reset after release" -e "$returned_line" /run/vfiod.log |
    sed 's/^[0-9]*:.*policy: [^ ]* //' | tr '\n' '|')
expect_eq "$n on-release steps, in order" "$order" \
    "reset after release|returned to virtio-pci after release|"
run vfioctl --json show "$n"
expect_eq "$n State, Owner, Driver after the hang-up" \
    "$(echo "$OUT" | jq -r '"\(.State)|\(.Owner)|\(.Driver)"')" "host||virtio-pci"
expect_eq "$n driver_override after the hang-up" \
    "$(cat "$(sysfs_dev "$n")/driver_override")" "(null)"
if wait_until 10 sh -c "ls $(sysfs_dev "$n")/virtio*/net/* >/dev/null 2>&1"; then
    pass "$n has its network interface again"
else
    fail "$n has no network interface after the return to virtio-pci"
fi

e2e_end
