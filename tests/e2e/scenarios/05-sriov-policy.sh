# 5. SR-IOV with a policy. tests/e2e/etc/policy.d/50-e2e.toml, rule
# "e2e-nvme-vfs", wants both VFs of the NVMe PF (0000:04:00.0) on vfio-pci
# and says nothing of the PF:
#  - at start-up vfiod turned the PF's sriov_drivers_autoprobe off; the PF
#    stays on nvme, whose sriov_configure creates the VFs;
#  - echo 2 > sriov_numvfs, as an administrator does: both VFs end on
#    vfio-pci (sysfs, State "vfio"), and neither was ever bound to nvme;
#  - vfioctl explain of a VF names the rule;
#  - the generated udev rules (vfiod.toml(5), "Generated udev rules") name
#    the VFs' addresses, from the PF's real VF offset and stride: as
#    `vfioctl udev-rules` prints them, and in
#    /run/udev/rules.d/70-vfiod.rules, which vfiod writes at start-up (the
#    guest's /run is a fresh tmpfs holding /run/udev, as on a host booted
#    with systemd-udevd: no rules.d there until somebody creates it);
#  - echo 0 > sriov_numvfs removes the VFs and their D-Bus objects (vfioctl
#    show: exit 3); the PF is still on nvme.
#
# "Never bound to nvme" is checked on the kernel's own record, not by
# polling the driver link (which would miss a bind undone a moment later):
#  - `udevadm monitor --kernel` listens on the kernel's uevent socket from
#    before the write to sriov_numvfs; the kernel sends a "bind" uevent with
#    DRIVER=... for every driver that binds a device (driver core,
#    driver_bound()). The VFs' "add" and "bind DRIVER=vfio-pci" events must
#    be there (the monitor saw everything), and no other "bind";
#  - the kernel log has no line of the nvme driver about a VF: dev_printk
#    prefixes a device's messages with its driver's name, so "nvme
#    0000:04:00.1:" (or nvme_probe's "pci function 0000:04:00.1") appears
#    only if nvme probed it.
. /e2e/lib.sh
e2e_begin

pf=$(pci_find $NVME_IDS | head -n 1)
pfdir=$(sysfs_dev "$pf")
expect_eq "NVMe PF address (named by the policy)" "$pf" 0000:04:00.0
expect_eq "$pf driver" "$(sysfs_driver "$pf")" nvme
expect_eq "$pf sriov_totalvfs" "$(cat "$pfdir/sriov_totalvfs")" 2
expect_eq "$pf sriov_numvfs before" "$(cat "$pfdir/sriov_numvfs")" 0
expect_eq "$pf sriov_drivers_autoprobe (turned off by vfiod)" \
    "$(cat "$pfdir/sriov_drivers_autoprobe")" 0
if grep -q "$pf: VF driver autoprobe turned off" /run/vfiod.log; then
    pass "vfiod logged turning the PF's autoprobe off"
else
    fail "vfiod did not log turning $pf's sriov_drivers_autoprobe off"
fi

mon=/run/e2e/sriov.uevents
udevadm monitor --kernel --property --subsystem-match=pci >"$mon" 2>&1 &
monitor=$!
wait_until 20 grep -q '^KERNEL - the kernel uevent' "$mon" ||
    fail "udevadm monitor did not start: $(cat "$mon")"

run sh -c "echo 2 >$pfdir/sriov_numvfs"
expect_status "echo 2 > $pf/sriov_numvfs" 0
vfs=
for i in 0 1; do
    link=$(readlink "$pfdir/virtfn$i") && vfs="$vfs ${link##*/}"
done
set -- $vfs
expect_eq "number of VFs" "$#" 2
vf0=${1:-none}

both_on_vfio()
{
    local vf
    for vf in $vfs; do
        [ "$(sysfs_driver "$vf")" = vfio-pci ] || return 1
    done
}
if wait_until 60 both_on_vfio; then
    pass "every VF on vfio-pci:$vfs"
else
    for vf in $vfs; do
        fail "VF $vf on '$(sysfs_driver "$vf")', not vfio-pci"
    done
fi
# The bind events reach the monitor a moment after the links appear.
wait_until 10 sh -c "[ \$(grep -c '^DRIVER=vfio-pci\$' $mon) -ge 2 ]"
kill "$monitor" 2>/dev/null
wait "$monitor" 2>/dev/null

# One line per uevent: "ACTION DEVICE DRIVER".
awk '/^KERNEL\[/ { if (a) print a, d, v; a = $2; d = $3; sub(/.*\//, "", d); v = "" }
     /^DRIVER=/ { v = substr($0, 8) }
     END { if (a) print a, d, v }' "$mon" >/run/e2e/sriov.events
sed 's/^/    uevent: /' /run/e2e/sriov.events
for vf in $vfs; do
    events=$(grep " $vf " /run/e2e/sriov.events | awk '{print $1, $3}' | tr '\n' ',')
    expect_contains "$vf uevents" "$events" "add ,"
    expect_contains "$vf uevents" "$events" "bind vfio-pci,"
    other=$(grep "^bind $vf " /run/e2e/sriov.events | grep -v ' vfio-pci$' || true)
    expect_eq "$vf bound to anything but vfio-pci" "$other" ""
    nvme=$(dmesg | grep -E "nvme $vf:|pci function $vf" || true)
    expect_eq "kernel log of nvme about $vf" "$nvme" ""
done

run vfioctl --json list
expect_status "vfioctl --json list" 0
for vf in $vfs; do
    expect_eq "$vf in vfiod" \
        "$(echo "$OUT" | jq -r --arg a "$vf" \
            '.devices[] | select(.Address == $a) | "\(.Driver) \(.State)"')" \
        "vfio-pci vfio"
done
expect_eq "$pf driver with its VFs" "$(sysfs_driver "$pf")" nvme

rules=/run/udev/rules.d/70-vfiod.rules
run vfioctl udev-rules
expect_status "vfioctl udev-rules" 0
printed=$OUT
for vf in $vfs; do
    expect_contains "vfioctl udev-rules names $vf" "$printed" "$vf"
done
if [ -f "$rules" ]; then
    written=$(cat "$rules")
    for vf in $vfs; do
        expect_contains "$rules names $vf" "$written" "$vf"
    done
else
    fail "vfiod did not write $rules ($(ls -ld /run/udev/rules.d 2>&1)): $(grep -m1 'cannot write udev rules' /run/vfiod.log)"
fi

run vfioctl explain "$vf0"
expect_status "vfioctl explain $vf0" 0
expect_contains "explain $vf0" "$OUT" 'rule "e2e-nvme-vfs" ('
expect_contains "explain $vf0" "$OUT" "50-e2e.toml:"
expect_contains "explain $vf0" "$OUT" "bind:             vfio-pci"

# The VFs go away with their objects.
run sh -c "echo 0 >$pfdir/sriov_numvfs"
expect_status "echo 0 > $pf/sriov_numvfs" 0
gone() { vfioctl show "$1" >/dev/null 2>&1; [ $? -eq 3 ]; }
for vf in $vfs; do
    wait_until 20 gone "$vf"
    run vfioctl show "$vf"
    expect_status "vfioctl show $vf after sriov_numvfs=0" 3
    [ ! -e "$(sysfs_dev "$vf")" ] || fail "$vf still in sysfs"
done
run busctl --list tree org.vfiod1
expect_status "busctl tree" 0
for vf in $vfs; do
    case $OUT in
        *"$(object_path "$vf")"*) fail "$(object_path "$vf") still on the bus" ;;
        *) pass "no object for $vf" ;;
    esac
done
expect_eq "$pf driver at the end" "$(sysfs_driver "$pf")" nvme
dmesg | grep -E "04:00\.[1-7]" | tail -n 20 | sed 's/^/    dmesg: /'

e2e_end
