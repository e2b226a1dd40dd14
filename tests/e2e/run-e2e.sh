#!/usr/bin/env bash
# End-to-end test: boots Debian's stock kernel under QEMU (TCG, q35, emulated
# Intel IOMMU, emulated PCI devices) with an initramfs holding the freshly
# built vfiod and vfioctl, and runs tests/e2e/scenarios/*.sh inside the guest
# against real sysfs, real vfio-pci and real /dev/vfio. Reads the results
# back from the serial console.
#
# Usage: run-e2e.sh VFIOD VFIOCTL VFIO_OPEN SOURCE_ROOT WORK_DIR
#
# Environment:
#   VFIOD_E2E_TIMEOUT   seconds before QEMU is killed (default 420)
#   VFIOD_E2E_ETC       extra directories (colon-separated) copied over the
#                       guest's /etc/vfiod after tests/e2e/etc (policy.d, ...)
#   VFIOD_E2E_ONLY      run only scenarios whose file name matches this
#                       shell pattern (e.g. '02-*')
#   VFIOD_E2E_ACCEL     QEMU accelerator (default tcg; kvm does not work on
#                       the project's machines)
#   VFIOD_E2E_KERNEL    a vmlinuz to boot instead of the newest in /boot
#   VFIOD_E2E_DEBUG     a shell script the guest runs before starting vfiod
#   VFIOD_E2E_PROGRAMS  host programs (absolute paths) copied into the guest
#                       with their libraries, e.g. /usr/bin/gdb /usr/bin/strace
#
# Nothing here touches the host's own PCI devices: vfiod and vfioctl run
# only inside the guest. The host's boot configuration is never changed (the
# kernel is read from /boot; linux-image-amd64 is installed only if /boot
# has no kernel at all).
set -euo pipefail

if [ $# -ne 5 ]; then
    echo "usage: $0 VFIOD VFIOCTL VFIO_OPEN SOURCE_ROOT WORK_DIR" >&2
    exit 2
fi
vfiod=$1
vfioctl=$2
vfio_open=$3
src=$4
work=$5
e2e=$src/tests/e2e
timeout_s=${VFIOD_E2E_TIMEOUT:-420}
accel=${VFIOD_E2E_ACCEL:-tcg}
started=$(date +%s)

say() { echo "e2e: $*"; }
elapsed() { echo "$(($(date +%s) - started)) s"; }

# --- packages ---------------------------------------------------------------
# What the harness needs on the host, beyond scripts/install-deps.sh.
packages=(qemu-system-x86 busybox-static cpio kmod xz-utils jq
    libglib2.0-bin dbus-daemon dbus-bin udev systemd)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ! compgen -G '/boot/vmlinuz-*-amd64' >/dev/null &&
    [ -z "${VFIOD_E2E_KERNEL:-}" ]; then
    missing+=(linux-image-amd64)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "missing packages ${missing[*]} and not root: skipping"
        exit 77
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- kernel -----------------------------------------------------------------
kernel=${VFIOD_E2E_KERNEL:-$(ls /boot/vmlinuz-*-amd64 | sort -V | tail -n 1)}
kver=${kernel##*/vmlinuz-}
if [ ! -r "$kernel" ] && [ "$(id -u)" -ne 0 ]; then
    # Debian's /boot/vmlinuz-* are readable by root only.
    say "cannot read $kernel as uid $(id -u): skipping"
    exit 77
fi
if [ ! -r "$kernel" ] || [ ! -d "/lib/modules/$kver" ]; then
    say "no readable kernel $kernel with modules in /lib/modules/$kver"
    exit 1
fi
say "kernel $kernel"

mkdir -p "$work"
work=$(cd "$work" && pwd)

# Copies a file to the same path under a staging root.
put()
{
    local root=$1 file=$2
    mkdir -p "$root$(dirname "$file")"
    cp -L --preserve=mode "$file" "$root$file"
}

# Copies a program to DEST under a staging root, with every library ldd
# lists (and the dynamic loader) at its own path.
put_program()
{
    local root=$1 program=$2 dest=$3 lib
    mkdir -p "$root$(dirname "$dest")"
    cp -L --preserve=mode "$program" "$root$dest"
    for lib in $(ldd "$program" 2>/dev/null |
        sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
        [ -e "$root$lib" ] || put "$root" "$lib"
    done
}

# Debian's merged /usr, so that ldd's paths and /usr paths agree.
merged_usr()
{
    local root=$1
    mkdir -p "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib "$root"/usr/lib64
    ln -sfn usr/bin "$root/bin"
    ln -sfn usr/sbin "$root/sbin"
    ln -sfn usr/lib "$root/lib"
    ln -sfn usr/lib64 "$root/lib64"
    mkdir -p "$root/var"
    ln -sfn /run "$root/var/run"
}

# --- base layer: busybox, modules, system programs (cached) ---------------
modules=(vfio vfio_iommu_type1 vfio_virqfd vfio_pci_core vfio_pci irqbypass
    mdev e1000e virtio_pci virtio_net nvme uio uio_pci_generic)
system_programs=(/usr/bin/dbus-daemon /usr/bin/busctl /usr/bin/gdbus
    /usr/bin/jq /bin/kmod /bin/udevadm)
base_key=$(
    {
        echo "base layer v1 $kver ${modules[*]} ${system_programs[*]}"
        dpkg-query -W busybox-static dbus-daemon systemd udev kmod jq \
            libglib2.0-bin 2>/dev/null
        stat -c '%n %s %Y' "$kernel"
    } | sha256sum | cut -c1-16
)
base=$work/base-$base_key.cpio
if [ ! -s "$base" ]; then
    say "building the base layer ($base)"
    rm -f "$work"/base-*.cpio
    stage=$work/base-stage
    rm -rf "$stage"
    merged_usr "$stage"

    # Modules: the closure modprobe resolves, unpacked, with depmod's index.
    mdir=/lib/modules/$kver
    for m in "${modules[@]}"; do
        modprobe -S "$kver" --show-depends "$m" |
            sed -n 's/^insmod \([^ ]*\).*/\1/p'
    done | sort -u | while read -r ko; do
        put "$stage" "$ko"
        case $ko in *.xz) xz -d -f "$stage$ko" ;; esac
    done
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        [ -e "$mdir/$f" ] && put "$stage" "$mdir/$f"
    done
    depmod -b "$stage" "$kver"

    # System programs: kmod as modprobe/insmod/..., udevd, the bus, tools.
    for p in "${system_programs[@]}"; do
        put_program "$stage" "$p" "$p"
    done
    for tool in modprobe insmod rmmod lsmod depmod modinfo; do
        ln -sfn /bin/kmod "$stage/sbin/$tool"
    done
    mkdir -p "$stage/lib/systemd"
    ln -sfn /bin/udevadm "$stage/lib/systemd/systemd-udevd"

    # busybox for everything else, where nothing else is.
    cp /bin/busybox "$stage/bin/busybox"
    /bin/busybox --list-full | while read -r applet; do
        [ -e "$stage/$applet" ] || [ -L "$stage/$applet" ] ||
            { mkdir -p "$stage/$(dirname "$applet")" &&
                ln -s /bin/busybox "$stage/$applet"; }
    done

    (cd "$stage" && find . | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0) >"$base.tmp"
    mv "$base.tmp" "$base"
    rm -rf "$stage"
    say "base layer $(du -h "$base" | cut -f1) in $(elapsed)"
fi

# --- project layer: vfiod, vfioctl, the test program, scripts (each run) ----
stage=$work/project-stage
rm -rf "$stage"
merged_usr "$stage"
put_program "$stage" "$vfiod" /usr/sbin/vfiod
put_program "$stage" "$vfioctl" /usr/bin/vfioctl
put_program "$stage" "$vfio_open" /usr/bin/vfio_open
# The sanitizer runtimes are large: drop their debug info (symbols stay, so
# sanitizer reports still name functions).
for f in "$stage"/usr/sbin/vfiod "$stage"/usr/bin/vfioctl \
    "$stage"/usr/bin/vfio_open; do
    strip --strip-debug "$f"
done

install -D -m 0755 "$e2e/guest/init" "$stage/init"
install -D -m 0644 "$e2e/guest/lib.sh" "$stage/e2e/lib.sh"
mkdir -p "$stage/e2e/scenarios"
for s in "$e2e"/scenarios/*.sh; do
    name=$(basename "$s")
    # shellcheck disable=SC2053
    if [ -n "${VFIOD_E2E_ONLY:-}" ] && [[ $name != ${VFIOD_E2E_ONLY} ]]; then
        continue
    fi
    install -m 0644 "$s" "$stage/e2e/scenarios/$name"
done
install -D -m 0644 "$src/tests/lsan.supp" "$stage/e2e/lsan.supp"
if [ -n "${VFIOD_E2E_DEBUG:-}" ]; then
    install -m 0644 "$VFIOD_E2E_DEBUG" "$stage/e2e/debug.sh"
fi
for p in ${VFIOD_E2E_PROGRAMS:-}; do
    put_program "$stage" "$p" "$p"
done

# The bus: a system bus with the shipped policy, at the standard socket.
install -D -m 0644 "$src/tests/files/system-bus-default-policy.conf" \
    "$stage/etc/dbus-1/system-default-policy.conf"
install -D -m 0644 "$src/dbus/org.vfiod1.conf" \
    "$stage/etc/dbus-1/system.d/org.vfiod1.conf"
cat >"$stage/etc/dbus-1/system.conf" <<'CONF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <include>/etc/dbus-1/system-default-policy.conf</include>
  <include>/etc/dbus-1/system.d/org.vfiod1.conf</include>
</busconfig>
CONF

# Users, groups and a machine id, as on any host.
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
messagebus:x:100:101::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
messagebus:x:101:
nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nshadow: files\n' >"$stage/etc/nsswitch.conf"
echo 0123456789abcdef0123456789abcdef >"$stage/etc/machine-id"

# vfiod's configuration: tests/e2e/etc, then any extra directories.
mkdir -p "$stage/etc/vfiod"
cp -r "$e2e/etc/." "$stage/etc/vfiod/"
IFS=: read -r -a extra_etc <<<"${VFIOD_E2E_ETC:-}"
for d in "${extra_etc[@]}"; do
    [ -n "$d" ] && cp -r "$d/." "$stage/etc/vfiod/"
done

project=$work/project.cpio
(cd "$stage" && find . | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0) >"$project"
cat "$base" "$project" >"$work/initramfs.cpio"
scenarios=$(cd "$stage/e2e/scenarios" && ls -- *.sh 2>/dev/null || true)
rm -rf "$stage" "$project"
say "initramfs $(du -h "$work/initramfs.cpio" | cut -f1) ready in $(elapsed)"

# --- boot -------------------------------------------------------------------
log=$work/serial.log
rm -f "$log"
qemu=(
    qemu-system-x86_64 -machine q35,kernel-irqchip=split -accel "$accel"
    -cpu max -m 1G -smp 1 -nodefaults -no-user-config
    -device intel-iommu,intremap=on,caching-mode=on
    -global pcie-root-port.x-speed=2_5 -global pcie-root-port.x-width=1
    # root bus: no reset method at all
    -device edu,addr=0x5
    -device pcie-root-port,id=rp1,chassis=1,slot=1,addr=0x10
    -device edu,bus=rp1
    -device pcie-root-port,id=rp2,chassis=2,slot=2,addr=0x11
    -device e1000e,bus=rp2,netdev=n0 -netdev user,id=n0,restrict=on
    -device pcie-root-port,id=rp3,chassis=3,slot=3,addr=0x12
    -device virtio-net-pci,bus=rp3,netdev=n1 -netdev user,id=n1,restrict=on
    -device pcie-root-port,id=rp4,chassis=4,slot=4,addr=0x13
    -device nvme-subsys,id=subsys0
    -device nvme,serial=deadbeef,subsys=subsys0,bus=rp4,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=6
    # two devices and the bridge share one IOMMU group
    -device pcie-root-port,id=rp5,chassis=5,slot=5,addr=0x14
    -device pcie-pci-bridge,id=br1,bus=rp5
    -device edu,bus=br1,addr=1 -device edu,bus=br1,addr=2
    -kernel "$kernel" -initrd "$work/initramfs.cpio"
    -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet"
    -display none -monitor none -serial "file:$log" -no-reboot
)
say "booting (${accel}, time-out ${timeout_s} s; serial log $log)"
boot_started=$(date +%s)
qemu_status=0
timeout --kill-after=10 "$timeout_s" "${qemu[@]}" </dev/null ||
    qemu_status=$?
boot_time=$(($(date +%s) - boot_started))
say "guest ran ${boot_time} s (QEMU status $qemu_status)"

# --- verdict ----------------------------------------------------------------
. "$(dirname "$0")/verdict.sh"
serial_verdict "$log" "$work" "$qemu_status" "$timeout_s"
check_pattern "IOMMU fault" 'DMAR: DRHD: handling fault|DMAR: \[DMA'

passed=0
failed=0
for s in $scenarios; do
    name=${s%.sh}
    lines=$(grep -c "^E2E-RESULT $name " "$clean" || true)
    line=$(grep -m1 "^E2E-RESULT $name " "$clean" || true)
    if [ "$lines" -eq 0 ]; then
        problems+=("$name: no result line")
        failed=$((failed + 1))
    elif [ "$lines" -gt 1 ]; then
        problems+=("$name: $lines result lines")
        failed=$((failed + 1))
    elif [[ $line == "E2E-RESULT $name PASS"* ]]; then
        passed=$((passed + 1))
    else
        problems+=("$name: ${line#E2E-RESULT }")
        failed=$((failed + 1))
    fi
    echo "${line:-E2E-RESULT $name MISSING}"
done

say "$passed scenarios passed, $failed failed, total $(elapsed)"
if [ ${#problems[@]} -gt 0 ]; then
    echo "----- guest log (last 200 lines of $log) -----"
    tail -n 200 "$clean"
    echo "----- end of guest log -----"
    for p in "${problems[@]}"; do
        echo "e2e: FAILED: $p"
    done
    exit 1
fi
exit 0
