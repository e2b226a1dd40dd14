# 9. A VMM vfiod did not start: the edu behind a root port, bound to
# vfio-pci by vfiod, is then held open by `vfio_open --hold` (the container,
# its group and its device fd, as QEMU holds them):
#  - Assign, Reset and Unbind are refused with InUse naming the process
#    (pid and command), exit status 4; the device stays where it is;
#  - Holders and `vfioctl list` name it;
#  - `vfioctl unbind --force`: the kernel's unbind waits for the VMM, so
#    the call fails with TimedOut after unbind_ms (10 s by default) while
#    the VMM still runs, and vfiod does not sit in D state reading
#    driver_override (the kernel holds the device lock); a Bind right after
#    is answered Busy at once, naming the blocked unbind;
#  - the VMM quits: the kernel finishes the unbind and vfiod the give-back
#    (State "host", no override).
. /e2e/lib.sh
e2e_begin

a=$(edu_port)
host=$(sysfs_driver "$a")
if [ -z "$a" ]; then
    fail "layout: no edu behind a root port"
    e2e_end
    exit 0
fi

run vfioctl bind "$a"
expect_status "bind $a" 0

vfio_open --hold "$a" >/run/e2e/vmm.out 2>&1 &
vmm=$!
held() { grep -q "$a ok" /run/e2e/vmm.out; }
if wait_until 30 held; then
    pass "vfio_open (pid $vmm) holds $a"
else
    fail "vfio_open --hold $a: $(cat /run/e2e/vmm.out)"
fi

run vfioctl assign "$a" -- true
expect_status "assign $a held by an outside VMM" 4
expect_contains "assign refusal names the VMM" "$OUT" "pid $vmm (vfio_open)"
bus_call "$a" Assign
expect_contains "Assign error name" "$OUT" org.vfiod1.Error.InUse
run vfioctl reset "$a"
expect_status "reset $a held by an outside VMM" 4
expect_contains "reset refusal names the VMM" "$OUT" "pid $vmm"
run vfioctl unbind "$a"
expect_status "unbind $a held by an outside VMM" 4
expect_contains "unbind refusal names the VMM" "$OUT" "held open by pid $vmm"
bus_call "$a" Unbind
expect_contains "Unbind error name" "$OUT" org.vfiod1.Error.InUse
expect_eq "$a driver after the refusals" "$(sysfs_driver "$a")" vfio-pci
expect_eq "$a State after the refusals" "$(prop "$a" State)" vfio
expect_contains "$a Holders" "$(prop "$a" Holders)" "$vmm vfio_open"
run vfioctl list
expect_contains "vfioctl list HELD BY" "$OUT" "$vmm vfio_open"

# Forced: the kernel waits for the VMM. The answer must come while it
# still runs; how long it took is reported against unbind_ms + 1 s.
start=$(date +%s)
run vfioctl unbind --force "$a"
took=$(($(date +%s) - start))
expect_status "unbind --force $a while the VMM runs" 1
expect_contains "forced unbind error (TimedOut)" "$OUT" "did not complete within"
log "forced unbind answered after ${took} s (unbind_ms 10 s; the issue asks for at most 11 s)"
if kill -0 "$vmm" 2>/dev/null; then
    pass "the TimedOut came while the VMM still held $a"
else
    fail "the VMM was gone before the forced unbind was answered"
fi
run vfioctl bind "$a"
expect_status "bind right after, while the unbind blocks" 4
expect_contains "bind refusal names the blocked call" "$OUT" "still blocked"
if kill -0 "$vmm" 2>/dev/null; then
    pass "Busy came while the unbind still blocked"
else
    fail "the VMM was gone before the Busy"
fi
if grep -q "forced\|force, the in-use check is skipped" /run/vfiod.log; then
    pass "vfiod logged the force"
else
    fail "no log line for the forced unbind"
fi

# The VMM quits: the kernel finishes the unbind, vfiod the give-back.
kill "$vmm"
wait "$vmm" 2>/dev/null
given_back() { [ "$(prop "$a" State)" = host ] && [ "$(sysfs_driver "$a")" = "$host" ]; }
if wait_until 30 given_back; then
    pass "$a given back once the VMM quit"
else
    fail "$a not given back: State=$(prop "$a" State) driver=$(sysfs_driver "$a")"
fi
expect_eq "$a driver_override after the give-back" \
    "$(cat "$(sysfs_dev "$a")/driver_override")" "(null)"

e2e_end
