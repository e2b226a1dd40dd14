#!/usr/bin/env bash
# Installs what is missing, builds vfiod, and shows its main job on a
# simulated host: list devices, bind one to vfio-pci, give it back to its
# original driver, refuse a non-viable IOMMU group, and more.
#
# Nothing here touches this machine's own PCI devices: vfiod runs on the
# simulated host of conf/sim-host.toml, on a private bus that carries the
# shipped bus policy (dbus/org.vfiod1.conf), so the machine's system bus is
# left alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

scripts/install-deps.sh

builddir=${VFIOD_DEMO_BUILDDIR:-build-demo}
if [ ! -d "$builddir" ]; then
    meson setup "$builddir" -Dtests=disabled >/dev/null
fi
ninja -C "$builddir" daemon/vfiod cli/vfioctl tools/vfiod-sim >/dev/null

tmp=$(mktemp -d /tmp/vfiod-demo.XXXXXX)
bus_pid=
vfiod_pid=
cleanup()
{
    [ -n "$vfiod_pid" ] && kill "$vfiod_pid" 2>/dev/null
    [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# A system-bus-like private bus: deny by default, plus vfiod's own policy.
cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <include>$src/tests/files/system-bus-default-policy.conf</include>
  <include>$src/dbus/org.vfiod1.conf</include>
</busconfig>
CONF
# (As root, dbus-daemon warns that it cannot raise its fd limit; harmless.)
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile 2>/dev/null &
bus_pid=$!
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
# dbus-daemon listens only once it has read its configuration.
for _ in $(seq 100); do
    [ -S "$tmp/bus" ] && break
    sleep 0.05
done
[ -S "$tmp/bus" ] || { echo "demo: the private bus did not start" >&2; exit 1; }

# vfiod.toml with defaults, its simulated kernel state in $tmp/sim.
"$builddir/daemon/vfiod" --config "$src/conf/vfiod.toml" \
    --sim "$src/conf/sim-host.toml" --sim-state "$tmp/sim" \
    2>"$tmp/vfiod.log" &
vfiod_pid=$!

vfioctl="$builddir/cli/vfioctl"
sim="$builddir/tools/vfiod-sim --state $tmp/sim"
# vfiod owns its name only once every device is exported.
for _ in $(seq 100); do
    busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" status org.vfiod1 \
        >/dev/null 2>&1 && break
    sleep 0.1
done
if ! busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" status org.vfiod1 >/dev/null 2>&1; then
    echo "demo: vfiod did not come up:" >&2
    cat "$tmp/vfiod.log" >&2
    exit 1
fi

step()
{
    printf '\n\033[1m$ %s\033[0m\n' "$*"
    "$@" || echo "(exit status $?)"
}

nvme=0000:02:00.0
gpu=0000:01:00.0

echo "vfiod is running on a simulated host (log: vfiod.log below)."
step "$vfioctl" list
step "$vfioctl" show $nvme
echo
echo "# Bind the NVMe drive to vfio-pci: modprobe, driver_override, unbind,"
echo "# drivers_probe, verify, wait for /dev/vfio/N."
step "$vfioctl" bind $nvme
echo
echo "# Give it back: the original driver (nvme) is restored and verified."
step "$vfioctl" unbind $nvme
echo
echo "# The GPU shares IOMMU group 2 with its HDMI audio function on"
echo "# snd_hda_intel: binding it alone is refused, naming the blocker."
step "$vfioctl" bind $gpu
echo
echo "# The whole group can go together, all or nothing."
step "$vfioctl" bind $gpu --group
step "$vfioctl" unbind 0000:01:00.1
step "$vfioctl" unbind $gpu
echo
echo "# A bridge is never bound to vfio."
step "$vfioctl" bind 0000:00:01.0
echo
echo "# Assign for the lifetime of a command (a VM, say): the lease ends with it."
step "$vfioctl" assign $nvme -- "$vfioctl" show $nvme
step "$vfioctl" show $nvme
echo
echo "# Reset with a chosen method; the device's reset_method list is restored."
step "$vfioctl" reset 0000:03:00.0 --method pm
echo
echo "# A bind done behind vfiod's back (driverctl, echo into sysfs) shows at once."
step $sim override $nvme vfio-pci
step $sim unbind $nvme
step $sim probe $nvme
sleep 0.3
step "$vfioctl" show $nvme
step "$vfioctl" unbind $nvme
echo
echo "--- vfiod.log ---"
cat "$tmp/vfiod.log"
