# 3. Refusals:
#  - one edu behind the PCIe-to-PCI bridge, while the other edu of its
#    IOMMU group is on a host DMA driver (uio_pci_generic, set up the way an
#    administrator would): Bind is refused with NotViable naming the other
#    device, exit status 4, and nothing changes; once the other device is
#    released by its driver, the same bind succeeds;
#  - the bridge itself and a PCIe root port: NotSupported, exit status 4.
. /e2e/lib.sh
e2e_begin

set -- $(edu_pair)
first=$1
second=$2
bridge=$(pci_find $PCI_BRIDGE_IDS)
if [ -z "$first" ] || [ -z "$second" ] || [ -z "$bridge" ]; then
    fail "layout: edu pair '$first' '$second', bridge '$bridge'"
    e2e_end
    exit 0
fi
log "edu pair $first $second behind bridge $bridge, group $(sysfs_group "$first")"

# The other edu on a host driver that is not vfio (a DMA-API driver).
modprobe uio_pci_generic
echo uio_pci_generic >"$(sysfs_dev "$second")/driver_override"
echo "$second" >/sys/bus/pci/drivers_probe
expect_eq "setup: $second on" "$(sysfs_driver "$second")" uio_pci_generic
wait_until 5 sh -c "[ \"\$(vfioctl --json show $second | jq -r .Driver)\" = uio_pci_generic ]" ||
    log "vfiod has not seen $second's bind (Driver=$(prop "$second" Driver))"

run vfioctl bind "$first"
expect_status "bind $first with $second on uio_pci_generic" 4
expect_contains "refusal names the device in the way" "$OUT" "$second"
expect_contains "refusal names its driver" "$OUT" uio_pci_generic
bus_call "$first" Bind
expect_contains "Bind error name" "$OUT" org.vfiod1.Error.NotViable
expect_eq "$first driver unchanged" "$(sysfs_driver "$first")" ""
expect_eq "$first driver_override unchanged" \
    "$(cat "$(sysfs_dev "$first")/driver_override")" "(null)"
expect_eq "$second driver unchanged" "$(sysfs_driver "$second")" uio_pci_generic
expect_eq "$first State" "$(prop "$first" State)" host
expect_contains "$first LastError" "$(prop "$first" LastError)" "$second"

# Assign is refused the same way.
run vfioctl assign "$first" -- true
expect_status "assign $first with $second on uio_pci_generic" 4

# The administrator takes the other edu off its driver: now viable.
echo "$second" >/sys/bus/pci/drivers/uio_pci_generic/unbind
echo >"$(sysfs_dev "$second")/driver_override"
expect_eq "setup: $second unbound" "$(sysfs_driver "$second")" ""
run vfioctl bind "$first"
expect_status "bind $first once the group is viable" 0
expect_eq "$first on" "$(sysfs_driver "$first")" vfio-pci
run vfio_open "$first"
expect_status "vfio_open $first" 0
run vfioctl unbind "$first"
expect_status "unbind $first" 0
expect_eq "$first back to no driver" "$(sysfs_driver "$first")" ""

# Bridges are never bound.
run vfioctl bind "$bridge"
expect_status "bind the PCIe-to-PCI bridge $bridge" 4
bus_call "$bridge" Bind
expect_contains "bridge Bind error name" "$OUT" org.vfiod1.Error.NotSupported
expect_eq "bridge driver unchanged" "$(sysfs_driver "$bridge")" ""

port=$(basename "$(readlink -f "$(sysfs_dev "$bridge")/..")")
run vfioctl bind "$port"
expect_status "bind the root port $port" 4
bus_call "$port" Bind
expect_contains "root port Bind error name" "$OUT" org.vfiod1.Error.NotSupported
expect_eq "root port driver unchanged" "$(sysfs_driver "$port")" pcieport

e2e_end
