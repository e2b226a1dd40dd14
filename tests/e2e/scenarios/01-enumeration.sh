# 1. Enumeration matches sysfs: for every PCI function of the guest,
# `vfioctl list --json` and `vfioctl show --json` agree with sysfs on the
# address, vendor/device and subsystem ids, class, driver, IOMMU group and
# reset methods; the State follows the driver; nothing extra is listed.
. /e2e/lib.sh
e2e_begin

run vfioctl --json list
expect_status "vfioctl --json list" 0
list=$OUT

listed=$(echo "$list" | jq '.devices | length')
present=$(ls /sys/bus/pci/devices | wc -l)
expect_eq "number of devices listed" "$listed" "$present"

# One line per device, as vfioctl reports it: "ADDRESS field field ...".
fields='[.Address, .VendorId, .DeviceId, .SubsystemVendorId,
         .SubsystemDeviceId, .Class, .Driver, .IommuGroup,
         (.ResetMethods | join(",")), .State, .ObjectPath]
        | map(tostring) | join(" ")'
echo "$list" | jq -r ".devices[] | $fields" >/tmp/listed
for d in /sys/bus/pci/devices/*; do
    vfioctl --json show "$(basename "$d")"
done | jq -r "$fields" >/tmp/shown

for d in /sys/bus/pci/devices/*; do
    a=$(basename "$d")
    driver=$(sysfs_driver "$a")
    case $driver in
        vfio-pci | *_vfio_pci) state=vfio ;;
        *) state=host ;;
    esac
    methods=$(sysfs_reset_methods "$a" | tr ' ' ',')
    want="$a $(($(cat "$d/vendor"))) $(($(cat "$d/device"))) \
$(($(cat "$d/subsystem_vendor"))) $(($(cat "$d/subsystem_device"))) \
$(($(cat "$d/class"))) $driver $(sysfs_group "$a") $methods $state $(object_path "$a")"
    # Empty fields (no driver, no reset method) collapse with echo.
    got=$(grep "^$a " /tmp/listed)
    if [ -z "$got" ]; then
        fail "$a is in sysfs but not listed"
    else
        expect_eq "list $a" "$(echo $got)" "$(echo $want)"
    fi
    expect_eq "show $a" "$(echo $(grep "^$a " /tmp/shown))" "$(echo $want)"
done

# Every listed device exists in sysfs.
for a in $(echo "$list" | jq -r '.devices[].Address'); do
    [ -e "/sys/bus/pci/devices/$a" ] || fail "$a is listed but not in sysfs"
done

# The layout's known facts, seen through vfiod.
pair=$(edu_pair)
set -- $pair
if [ $# -eq 2 ]; then
    expect_eq "edu pair shares a group" "$(prop "$1" IommuGroup)" "$(prop "$2" IommuGroup)"
else
    fail "expected two edu devices behind the PCIe-to-PCI bridge, found '$pair'"
fi
expect_eq "edu on the root bus has no reset method" "$(prop "$(edu_root)" ResetMethods)" ""
expect_eq "e1000e starts on e1000e" "$(prop "$(pci_find $E1000E_IDS)" Driver)" e1000e
expect_eq "virtio-net starts on virtio-pci" "$(prop "$(pci_find $VIRTIO_NET_IDS)" Driver)" virtio-pci

# A function that does not exist: exit status 3.
run vfioctl show 0000:7f:1f.7
expect_status "show of a missing device" 3

e2e_end
