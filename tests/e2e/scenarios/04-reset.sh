# 4. Reset through vfiod:
#  - every method each device of the layout offers (edu behind a root port:
#    bus; e1000e: pm bus; virtio-net: flr pm bus; nvme: flr bus), with
#    `vfioctl reset --method M`, on the device bound to vfio-pci as an
#    administrator would before handing it to a VM; then the default order;
#    the device's reset_method list is the same afterwards;
#  - a method the device does not offer: NotSupported (exit 4);
#  - the edu on the root bus (no reset method at all): NotSupported;
#  - the edu pair behind the PCIe-to-PCI bridge: the first lists "bus" but
#    the kernel fails it: exit 1, Failed, a clear message, and the device is
#    still usable (listed, reset_method intact, bindable and openable);
#    the second lists nothing: NotSupported.
. /e2e/lib.sh
e2e_begin

# reset_all ADDRESS: every listed method, then the default.
reset_all()
{
    local a=$1 methods m
    methods=$(sysfs_reset_methods "$a")
    expect_eq "$a ResetMethods" "$(prop "$a" ResetMethods)" "$methods"
    if [ -z "$methods" ]; then
        fail "$a lists no reset method"
        return
    fi
    for m in $methods; do
        run vfioctl reset "$a" --method "$m"
        expect_status "reset $a --method $m" 0
    done
    run vfioctl reset "$a"
    expect_status "reset $a (default order)" 0
    expect_eq "$a reset_method after resets" "$(sysfs_reset_methods "$a")" "$methods"
    expect_eq "$a config space readable" \
        "$(cat "$(sysfs_dev "$a")/vendor")" "$(prop "$a" VendorId | awk '{printf "0x%04x", $1}')"
}

for ids in "$EDU_IDS port" "$E1000E_IDS" "$VIRTIO_NET_IDS" "$NVME_IDS"; do
    set -- $ids
    if [ "${3:-}" = port ]; then
        a=$(edu_port)
    else
        a=$(pci_find "$1" "$2" | head -n 1)
    fi
    if [ -z "$a" ]; then
        fail "no device $ids"
        continue
    fi
    host=$(sysfs_driver "$a")
    run vfioctl bind "$a"
    expect_status "bind $a before resetting it" 0
    reset_all "$a"
    run vfio_open "$a"
    expect_status "vfio_open $a after the resets" 0
    run vfioctl unbind "$a"
    expect_status "unbind $a" 0
    expect_eq "$a back on" "$(sysfs_driver "$a")" "$host"
done

# A method the device does not offer.
a=$(edu_port)
run vfioctl reset "$a" --method flr
expect_status "reset $a --method flr (offers only bus)" 4
bus_call "$a" Reset "{'method': <'flr'>}"
expect_contains "Reset error name" "$OUT" org.vfiod1.Error.NotSupported

# No reset method at all.
root=$(edu_root)
expect_eq "$root has no reset file" "$(ls "$(sysfs_dev "$root")/reset" 2>/dev/null)" ""
run vfioctl reset "$root"
expect_status "reset $root (no method)" 4
bus_call "$root" Reset
expect_contains "Reset error name for $root" "$OUT" org.vfiod1.Error.NotSupported
run vfioctl reset "$root" --method bus
expect_status "reset $root --method bus" 4

# Listed but failing: the first edu behind the PCIe-to-PCI bridge.
set -- $(edu_pair)
first=$1
second=$2
methods=$(sysfs_reset_methods "$first")
expect_eq "$first lists" "$methods" bus
run vfioctl reset "$first" --method bus
expect_status "reset $first --method bus (fails in the kernel)" 1
expect_contains "the error names the device" "$OUT" "$first"
expect_contains "the error names the method" "$OUT" bus
log "message: $OUT"
bus_call "$first" Reset "{'method': <'bus'>}"
expect_contains "Reset error name for $first" "$OUT" org.vfiod1.Error.Failed
run vfioctl reset "$first"
expect_status "reset $first (default order)" 1
# ... and the device is still usable.
expect_eq "$first reset_method intact" "$(sysfs_reset_methods "$first")" "$methods"
expect_eq "$first still listed" "$(vfioctl --json list | jq -r --arg a "$first" \
    '.devices[] | select(.Address == $a) | .Address')" "$first"
expect_eq "$first driver unchanged" "$(sysfs_driver "$first")" ""
expect_contains "$first LastError" "$(prop "$first" LastError)" bus
run vfioctl bind "$first"
expect_status "bind $first after the failed reset" 0
run vfio_open "$first"
expect_status "vfio_open $first after the failed reset" 0
run vfioctl unbind "$first"
expect_status "unbind $first" 0
expect_eq "$first LastError cleared by a success" "$(prop "$first" LastError)" ""

expect_eq "$second lists" "$(sysfs_reset_methods "$second")" ""
run vfioctl reset "$second"
expect_status "reset $second (no method)" 4

e2e_end
