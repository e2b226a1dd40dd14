# 2. Bind to vfio-pci and give back: the e1000e NIC and the virtio-net
# device start on their host drivers, `vfioctl bind` moves them to vfio-pci,
# /dev/vfio/N appears, the device opens through the VFIO group API
# (vfio_open), and `vfioctl unbind` gives them back to e1000e / virtio-pci.
. /e2e/lib.sh
e2e_begin

check_round_trip()
{
    local a=$1 host=$2 group
    if [ -z "$a" ]; then
        fail "no $host device in the guest"
        return
    fi
    group=$(sysfs_group "$a")
    expect_eq "$a starts on" "$(sysfs_driver "$a")" "$host"
    expect_eq "$a State before" "$(prop "$a" State)" host

    run vfioctl bind "$a"
    expect_status "bind $a" 0
    expect_eq "$a driver after bind (sysfs)" "$(sysfs_driver "$a")" vfio-pci
    expect_eq "$a Driver after bind" "$(prop "$a" Driver)" vfio-pci
    expect_eq "$a State after bind" "$(prop "$a" State)" vfio
    expect_eq "$a OriginalDriver" "$(prop "$a" OriginalDriver)" "$host"
    if [ -c "/dev/vfio/$group" ]; then
        pass "/dev/vfio/$group appeared"
    else
        fail "/dev/vfio/$group missing after bind of $a"
    fi
    expect_eq "$a driver_override" "$(cat "$(sysfs_dev "$a")/driver_override")" vfio-pci

    run vfio_open "$a"
    expect_status "vfio_open $a" 0
    expect_contains "vfio_open $a" "$OUT" "$a ok"

    # Idempotent: a second bind succeeds and changes nothing.
    run vfioctl bind "$a"
    expect_status "second bind $a" 0

    run vfioctl unbind "$a"
    expect_status "unbind $a" 0
    expect_eq "$a driver after unbind (sysfs)" "$(sysfs_driver "$a")" "$host"
    expect_eq "$a Driver after unbind" "$(prop "$a" Driver)" "$host"
    expect_eq "$a State after unbind" "$(prop "$a" State)" host
    expect_eq "$a driver_override after unbind" \
        "$(cat "$(sysfs_dev "$a")/driver_override")" "(null)"
    if [ -e "/dev/vfio/$group" ]; then
        fail "/dev/vfio/$group still there after unbind of $a"
    else
        pass "/dev/vfio/$group gone"
    fi
}

nic=$(pci_find $E1000E_IDS)
check_round_trip "$nic" e1000e
# The NIC's network interface is back with its driver.
if wait_until 10 sh -c "ls /sys/bus/pci/devices/$nic/net/* >/dev/null 2>&1"; then
    pass "$nic has its network interface again: $(ls "/sys/bus/pci/devices/$nic/net")"
else
    fail "$nic has no network interface after unbind"
fi

check_round_trip "$(pci_find $VIRTIO_NET_IDS)" virtio-pci

e2e_end
