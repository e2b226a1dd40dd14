#!/bin/bash
# `meson install --destdir` of this build, and a check of the tree.
#
# usage: install_test.sh BUILD_ROOT EXPECTED_FILES
#
# EXPECTED_FILES (expected-files.in, configured): "x|f|d PATH" lines.

set -u
. "$(dirname "$0")/../support/lib.sh"

BUILD=$1
EXPECTED=$2

MESON=${MESON:-meson}
if ! command -v "$MESON" >/dev/null 2>&1; then
    echo "skipped: meson is not on PATH"
    exit 77
fi

temp_dir DEST install-test

# --no-rebuild: meson test has built everything already, and a nested
# ninja would fight the outer one for the build directory.
if out=$("$MESON" install -C "$BUILD" --destdir "$DEST" --no-rebuild \
    2>&1); then
    pass "meson install --destdir succeeds"
else
    fail "meson install --destdir succeeds" "$(tail -20 <<<"$out")"
    finish
fi

# 1. Each expected file in its place.
while read -r kind path; do
    [[ -z $kind || $kind == \#* ]] && continue
    case $kind in
        x)
            if [[ -f $DEST$path && -x $DEST$path ]]; then
                pass "$path (executable)"
            else
                fail "$path (executable)" "$(ls -l "$DEST$path" 2>&1)"
            fi
            ;;
        f)
            if [[ -f $DEST$path && -s $DEST$path ]]; then
                pass "$path"
            else
                fail "$path" "$(ls -l "$DEST$path" 2>&1)"
            fi
            ;;
        d)
            if [[ -d $DEST$path ]]; then
                pass "$path/"
            else
                fail "$path/" "not a directory"
            fi
            ;;
        *)
            fail "expected-files: '$kind $path'" "unknown kind $kind"
            ;;
    esac
done <"$EXPECTED"

# 2. Everything meson means to install is there.
if installed=$("$MESON" introspect --installed "$BUILD" 2>/dev/null); then
    mapfile -t targets < <(python3 -c '
import json, sys
for path in sorted(set(json.load(sys.stdin).values())):
    print(path)' <<<"$installed")
    missing=()
    for path in "${targets[@]}"; do
        [[ -e $DEST$path ]] || missing+=("$path")
    done
    if [[ ${#targets[@]} -gt 0 && ${#missing[@]} -eq 0 ]]; then
        pass "all ${#targets[@]} files of meson introspect --installed are there"
    else
        fail "all files of meson introspect --installed are there" \
            "${missing[@]}"
    fi
fi

# 3. Nothing escaped into odd places: udev rules only in a udev rules.d,
# man pages only in manN by their section.
mapfile -t rules < <(cd "$DEST" && find . -name '*.rules' | sed 's|^\.||')
bad=()
for path in "${rules[@]}"; do
    [[ $path == */udev/rules.d/*.rules ]] || bad+=("$path")
done
if [[ ${#bad[@]} -eq 0 ]]; then
    pass "udev rules (${#rules[@]}) only in a udev rules.d directory"
else
    fail "udev rules only in a udev rules.d directory" "${bad[@]}"
fi
mapfile -t pages < <(cd "$DEST" && find . -path '*/man/man*/*' -type f |
    sed 's|^\.||')
bad=()
for path in "${pages[@]}"; do
    section=${path##*.}
    [[ $path == */man/man$section/* ]] || bad+=("$path")
done
if [[ ${#pages[@]} -gt 0 && ${#bad[@]} -eq 0 ]]; then
    pass "man pages (${#pages[@]}) in the directory of their section"
else
    fail "man pages in the directory of their section" "${bad[@]}"
fi

# 4. Installed files name each other correctly.
unit=$(cd "$DEST" && find . -name vfiod.service -path '*/systemd/system/*' |
    sed 's|^\.||' | head -1)
activation=$(cd "$DEST" && find . -path '*/dbus-1/system-services/org.vfiod1.service' |
    sed 's|^\.||' | head -1)
if [[ -n $unit ]]; then
    exec_start=$(sed -n -E 's/^ExecStart=([^ ]*).*/\1/p' "$DEST$unit")
    if [[ -x $DEST$exec_start ]]; then
        pass "the unit's ExecStart ($exec_start) is the installed vfiod"
    else
        fail "the unit's ExecStart is the installed vfiod" \
            "ExecStart=$exec_start"
    fi
    bus_name=$(sed -n -E 's/^BusName=(.*)/\1/p' "$DEST$unit")
else
    fail "a systemd unit is installed"
    bus_name=
fi
if [[ -n $activation ]]; then
    name=$(sed -n -E 's/^Name=(.*)/\1/p' "$DEST$activation")
    service=$(sed -n -E 's/^SystemdService=(.*)/\1/p' "$DEST$activation")
    exec=$(sed -n -E 's/^Exec=([^ ]*).*/\1/p' "$DEST$activation")
    if [[ $name == "$bus_name" && $service == "${unit##*/}" &&
        -x $DEST$exec ]]; then
        pass "D-Bus activation: $name → $service ($exec)"
    else
        fail "D-Bus activation names the unit and vfiod" \
            "Name=$name (unit BusName=$bus_name)" \
            "SystemdService=$service (unit ${unit##*/})" "Exec=$exec"
    fi
fi
hook=$(cd "$DEST" && find . -name vfiod-libvirt-hook -type f |
    sed 's|^\.||' | head -1)
if [[ -n $hook ]]; then
    vfioctl=$(sed -n -E 's/^VFIOCTL = os.environ.get\("VFIOD_HOOK_VFIOCTL", "([^"]*)"\)/\1/p' \
        "$DEST$hook")
    if [[ -n $vfioctl && -x $DEST$vfioctl ]]; then
        pass "the libvirt hook runs the installed vfioctl ($vfioctl)"
    else
        fail "the libvirt hook runs the installed vfioctl" \
            "VFIOCTL=$vfioctl"
    fi
    if python3 -m py_compile "$DEST$hook" 2>/dev/null ||
        python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read())' \
            "$DEST$hook"; then
        pass "the installed hook is valid python3"
    else
        fail "the installed hook is valid python3"
    fi
fi
completion=$(cd "$DEST" && find . -path '*/bash-completion/completions/vfioctl' |
    sed 's|^\.||' | head -1)
if [[ -n $completion ]] &&
    bash -c 'source "$1" && [[ $(complete -p vfioctl) == *_vfioctl* ]]' \
        bash "$DEST$completion"; then
    pass "the installed completion loads and registers vfioctl"
else
    fail "the installed completion loads and registers vfioctl" \
        "${completion:-not found}"
fi

finish
