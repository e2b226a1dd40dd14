#!/bin/bash
# tools/check-layers.py, the build's layer check (core/meson.build, target
# core-layers): on small trees of its own with the layers "base:" and
# "pci:base", then on the project's core/ with the build's layer list.
#
# usage: check_layers_test.sh CHECKER CORE_ROOT LAYER...
#
# Every check prints "ok"/"FAIL"; the last line is "N passed, M failed".

set -u
. "$(dirname "$0")/../support/lib.sh"

CHECKER=$1
CORE=$2
shift 2
LAYERS=("$@")

temp_dir TMP check-layers-test

# clean_tree NAME: a core/ of its own under $TMP/NAME, whose pci layer uses
# base as it may; prints its path.
clean_tree()
{
    local root=$TMP/$1
    mkdir -p "$root/base" "$root/pci"
    printf '#pragma once\n\nint x();\n' >"$root/base/x.hpp"
    printf '#include "base/x.hpp"\n\n#include <string>\n' >"$root/base/x.cpp"
    printf '#pragma once\n\n#include "base/x.hpp"\n' >"$root/pci/x.hpp"
    printf '#include "pci/x.hpp"\n#include "base/x.hpp"\n' >"$root/pci/x.cpp"
    echo "$root"
}

# check ROOT: runs the checker on ROOT with base and pci; sets RC, ERR and
# STAMP (the stamp file it was asked to write).
check()
{
    STAMP=$1.stamp
    rm -f "$STAMP"
    ERR=$(python3 "$CHECKER" --root "$1" --stamp "$STAMP" base: pci:base \
        2>&1 >/dev/null)
    RC=$?
}

# refused NAME WANT: the last check failed (exit 1), wrote no stamp and
# printed WANT.
refused()
{
    if [[ $RC == 1 && ! -e $STAMP && $ERR == *"$2"* ]]; then
        pass "$1"
    else
        fail "$1" "exit $RC (want 1), stamp $([[ -e $STAMP ]] && echo \
            written || echo absent)" "stderr: $ERR" "want: $2"
    fi
}

# (a) A clean tree passes and writes the stamp.
ROOT=$(clean_tree clean)
check "$ROOT"
if [[ $RC == 0 && -z $ERR && $(<"$STAMP") == ok ]]; then
    pass "a clean tree passes and writes the stamp"
else
    fail "a clean tree passes and writes the stamp" "exit $RC" \
        "stderr: $ERR" "stamp: $(cat "$STAMP" 2>&1)"
fi

# (b) base may not include pci: the message names the file and the line.
ROOT=$(clean_tree upward)
printf '// base reaching up\n\n#include "pci/x.hpp"\n' >"$ROOT/base/up.cpp"
check "$ROOT"
refused "an upward include fails, naming its file and line" \
    "$ROOT/base/up.cpp:3: base may not include \"pci/x.hpp\""

# (c) A quoted include must name its folder.
ROOT=$(clean_tree nofolder)
printf '#include "x.hpp"\n' >"$ROOT/pci/bare.cpp"
check "$ROOT"
refused "an include without its folder fails" \
    "$ROOT/pci/bare.cpp:1: \"x.hpp\" must name its folder"

# (d) An include of a header that does not exist.
ROOT=$(clean_tree missing)
printf '#pragma once\n#include "base/nothing.hpp"\n' >"$ROOT/pci/gone.hpp"
check "$ROOT"
refused "an include of a missing header fails" \
    "$ROOT/pci/gone.hpp:2: \"base/nothing.hpp\" does not exist"

# (e) The project's core/ with the build's own layer list.
ERR=$(python3 "$CHECKER" --root "$CORE" --stamp "$TMP/core.stamp" \
    "${LAYERS[@]}" 2>&1 >/dev/null)
RC=$?
if [[ $RC == 0 && -z $ERR && -e $TMP/core.stamp ]]; then
    pass "core/ passes with the build's layer list (${#LAYERS[@]} layers)"
else
    fail "core/ passes with the build's layer list (${#LAYERS[@]} layers)" \
        "exit $RC" "$ERR"
fi

finish
