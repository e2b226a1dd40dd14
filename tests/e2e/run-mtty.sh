#!/usr/bin/env bash
# End-to-end test 08 (meson test e2e_mtty): VFIO migration on a real kernel
# with the kernel's mtty sample driver, as ../../../shared/reference/qemu-e2e.md
# describes it. Debian's kernels do not build mtty, but it builds out of
# tree against the bookworm-backports 6.12 kernel's headers:
#  - the packages below are downloaded from the archive the machine's own
#    apt sources already use (suite bookworm-backports), with a private apt
#    state directory: the machine's sources and installed packages are
#    never changed; nothing is installed from them, they are unpacked with
#    dpkg -x (or only read);
#  - mtty.c is taken from linux-source-6.12 at test time (never committed)
#    and built with gcc-12 against the unpacked headers;
#  - the kernel, its vfio/mdev modules and mtty.ko are cached in WORK_DIR
#    (rebuilt only when the kernel version below changes);
#  - QEMU boots that kernel (TCG, no devices needed: mtty is a mediated
#    device) with an initramfs holding busybox, the modules and the test
#    program, which drives the migration through the vfio-pci plugin's
#    ioctl layer and vfiod's migration state machine (mtty_migration.cpp).
#
# Usage: run-mtty.sh MTTY_MIGRATION SOURCE_ROOT WORK_DIR
#
# Skipped (exit 77) when the packages cannot be downloaded or mtty.ko does
# not build, and when something is missing and we are not root.
#
# Environment:
#   VFIOD_E2E_MTTY_TIMEOUT  seconds before QEMU is killed (default 240)
#
# A regression that lets STOP_COPY->PRE_COPY reach the kernel hangs the
# guest's kernel (soft lockup): the guest runs with softlockup_panic=1 and
# panic=-1 under a host-side time-out, and a soft lockup or panic in the
# serial log fails the test.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 MTTY_MIGRATION SOURCE_ROOT WORK_DIR" >&2
    exit 2
fi
program=$1
src=$2
work=$3
timeout_s=${VFIOD_E2E_MTTY_TIMEOUT:-240}
started=$(date +%s)

kver=6.12.95+deb12-amd64
kabi=6.12.95+deb12
debs=("linux-image-$kver" "linux-headers-$kver" "linux-headers-$kabi-common"
    "linux-kbuild-$kabi" linux-source-6.12)
modules=(vfio vfio_iommu_type1 mdev)

say() { echo "e2e_mtty: $*"; }
skip() { say "SKIPPED: $*"; exit 77; }
elapsed() { echo "$(($(date +%s) - started)) s"; }

# --- host packages ----------------------------------------------------------
packages=(qemu-system-x86 busybox-static cpio xz-utils gcc-12 make pahole
    kmod)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || skip "missing packages ${missing[*]} and not root"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null; } ||
        skip "cannot install ${missing[*]}"
fi

mkdir -p "$work"
work=$(cd "$work" && pwd)

# --- kernel, modules and mtty.ko (cached) ----------------------------------
cache=$work/kernel-$kver
if [ ! -e "$cache/ready" ]; then
    rm -rf "$cache" "$work/fetch"
    fetch=$work/fetch
    apt_dir=$fetch/apt
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" \
        "$apt_dir/cache" "$fetch/debs"
    # The archive the machine already uses for bookworm, suite
    # bookworm-backports: from apt's own view of its sources.
    uri=$(apt-cache policy 2>/dev/null |
        awk '$3 ~ /^bookworm\/main$/ && $4 == "amd64" { print $2; exit }')
    [ -n "$uri" ] || skip "no bookworm archive in this machine's apt sources"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    signed=
    [ -r "$keyring" ] && signed="[signed-by=$keyring] "
    echo "deb ${signed}$uri bookworm-backports main" >"$apt_dir/sources.list"
    apt_opts=(-q -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
        -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt_dir/lists"
        -o "Dir::Cache=$apt_dir/cache" -o "Dir::Cache::archives=$apt_dir/archives"
        -o APT::Sandbox::User=root)
    say "downloading ${debs[*]} (bookworm-backports from $uri)"
    apt-get "${apt_opts[@]}" update >"$fetch/apt.log" 2>&1 ||
        { tail -n 5 "$fetch/apt.log"; skip "apt-get update of bookworm-backports failed"; }
    (cd "$fetch/debs" && apt-get "${apt_opts[@]}" download "${debs[@]}") \
        >>"$fetch/apt.log" 2>&1 ||
        { tail -n 5 "$fetch/apt.log"; skip "cannot download ${debs[*]}"; }
    say "downloaded in $(elapsed)"

    # Unpacked, never installed.
    tree=$fetch/tree
    mkdir -p "$tree"
    for d in "$fetch"/debs/linux-image-*.deb "$fetch"/debs/linux-headers-*.deb \
        "$fetch"/debs/linux-kbuild-*.deb; do
        dpkg -x "$d" "$tree"
    done
    headers=$tree/usr/src/linux-headers-$kver
    # Its one-line Makefile includes the common headers by absolute path.
    sed -i "s|^include /usr/src/|include $tree/usr/src/|" "$headers/Makefile"

    mod=$fetch/mtty
    mkdir -p "$mod"
    dpkg-deb --fsys-tarfile "$fetch"/debs/linux-source-6.12_*.deb |
        tar -xO ./usr/src/linux-source-6.12.tar.xz | xz -dc |
        tar -x -O linux-source-6.12/samples/vfio-mdev/mtty.c >"$mod/mtty.c" ||
        skip "mtty.c not found in linux-source-6.12"
    echo 'obj-m += mtty.o' >"$mod/Kbuild"
    say "building mtty.ko against $kver"
    if ! make -C "$headers" M="$mod" CC=gcc-12 modules >"$fetch/make.log" 2>&1 ||
        [ ! -s "$mod/mtty.ko" ]; then
        tail -n 20 "$fetch/make.log"
        skip "mtty.ko did not build against $kver (log above)"
    fi

    # The cache: the kernel, the module closure (unpacked), mtty.ko in
    # extra/, depmod's index, and the order to load them in.
    depmod -b "$tree" "$kver"
    stage=$cache.tmp
    rm -rf "$stage"
    mkdir -p "$stage/lib/modules/$kver/extra"
    cp "$tree/boot/vmlinuz-$kver" "$stage/vmlinuz"
    for m in "${modules[@]}"; do
        modprobe -d "$tree" -S "$kver" --show-depends "$m"
    done | sed -n 's/^insmod \([^ ]*\).*/\1/p' | awk '!seen[$0]++' |
        while read -r ko; do
            rel=${ko#"$tree"}
            mkdir -p "$stage$(dirname "$rel")"
            cp "$ko" "$stage$rel"
            case $rel in *.xz) xz -d -f "$stage$rel" ;; esac
            echo "${rel%.xz}" >>"$stage/insmod.order"
        done
    cp "$mod/mtty.ko" "$stage/lib/modules/$kver/extra/mtty.ko"
    echo "/lib/modules/$kver/extra/mtty.ko" >>"$stage/insmod.order"
    rm -rf "$cache"
    mv "$stage" "$cache"
    touch "$cache/ready"
    rm -rf "$fetch"
    say "kernel and mtty.ko cached in $cache ($(elapsed))"
fi

# --- initramfs (each run) -----------------------------------------------------
stage=$work/stage
rm -rf "$stage"
mkdir -p "$stage"/usr/bin "$stage"/usr/sbin "$stage"/usr/lib "$stage"/usr/lib64
ln -sfn usr/bin "$stage/bin"
ln -sfn usr/sbin "$stage/sbin"
ln -sfn usr/lib "$stage/lib"
ln -sfn usr/lib64 "$stage/lib64"
cp /bin/busybox "$stage/bin/busybox"
for applet in sh mount mkdir cat echo insmod sleep poweroff uname readlink \
    ls dmesg sed timeout sync grep; do
    ln -sfn busybox "$stage/bin/$applet"
done
cp -r "$cache/lib/modules" "$stage/usr/lib/"
cp "$cache/insmod.order" "$stage/insmod.order"
put() { mkdir -p "$stage$(dirname "$1")" && cp -L "$1" "$stage$1"; }
cp -L "$program" "$stage/usr/bin/mtty_migration"
strip --strip-debug "$stage/usr/bin/mtty_migration"
for lib in $(ldd "$program" 2>/dev/null |
    sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
    [ -e "$stage$lib" ] || put "$lib"
done
install -m 0644 "$src/tests/lsan.supp" "$stage/lsan.supp"
cat >"$stage/init" <<'INIT'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
echo "e2e_mtty: guest up: $(uname -r)"
export ASAN_OPTIONS=verify_asan_link_order=0:halt_on_error=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1
result() { echo "E2E-RESULT 08-mtty-migration $*"; }
while read -r ko; do
    insmod "$ko" || echo "e2e_mtty: insmod $ko failed"
done </insmod.order
types=/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2
a=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
b=83b8f4f2-509f-382f-3c1e-e6bfe0fa1002
if echo "$a" >"$types/create" && echo "$b" >"$types/create" &&
    [ -e /dev/vfio/vfio ]; then
    echo "e2e_mtty: mdevs $a $b created"
    ls -l /dev/vfio
    timeout 120 /usr/bin/mtty_migration "$a" "$b"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        result "PASS mtty_migration passed"
    else
        result "FAIL mtty_migration exit status $rc"
    fi
else
    result "FAIL cannot create the mtty devices"
    ls -l /sys/class/mdev_bus /dev/vfio 2>&1
fi
echo "e2e_mtty: ===== kernel log ====="
dmesg | sed 's/^/dmesg| /'
echo "E2E-DONE"
sync
poweroff -f
sleep 30
INIT
chmod 0755 "$stage/init"
initramfs=$work/initramfs.cpio
(cd "$stage" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) \
    >"$initramfs"
rm -rf "$stage"

# --- boot -------------------------------------------------------------------
log=$work/serial.log
rm -f "$log"
say "booting $kver (time-out ${timeout_s} s; serial log $log)"
boot_started=$(date +%s)
qemu_status=0
timeout --kill-after=10 "$timeout_s" \
    qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 512M -smp 1 \
    -nodefaults -no-user-config -kernel "$cache/vmlinuz" -initrd "$initramfs" \
    -append "console=ttyS0 panic=-1 softlockup_panic=1 quiet" \
    -display none -monitor none -serial "file:$log" -no-reboot </dev/null ||
    qemu_status=$?
say "guest ran $(($(date +%s) - boot_started)) s (QEMU status $qemu_status)"

# --- verdict ----------------------------------------------------------------
. "$(dirname "$0")/verdict.sh"
serial_verdict "$log" "$work" "$qemu_status" "$timeout_s"
check_pattern "kernel warning" 'WARNING: '
check_pattern "failed check" '^mtty: FAIL'
line=$(grep -m1 '^E2E-RESULT 08-mtty-migration ' "$clean" || true)
echo "${line:-E2E-RESULT 08-mtty-migration MISSING}"
[[ $line == "E2E-RESULT 08-mtty-migration PASS"* ]] ||
    problems+=("08-mtty-migration: ${line:-no result line}")
grep -E '^mtty: [0-9]+ checks' "$clean" || true

say "total $(elapsed)"
if [ ${#problems[@]} -gt 0 ]; then
    echo "----- guest log (last 200 lines of $log) -----"
    tail -n 200 "$clean"
    echo "----- end of guest log -----"
    for p in "${problems[@]}"; do
        echo "e2e_mtty: FAILED: $p"
    done
    exit 1
fi
exit 0
