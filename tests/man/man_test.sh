#!/bin/bash
# The manual pages: each one renders without a groff warning, vfioctl.1
# documents every subcommand of the built vfioctl, and vfiod.8 every long
# option of the built vfiod.
#
# usage: man_test.sh VFIOCTL VFIOD PAGE...
#
# Every check prints "ok"/"FAIL"; the last line is "N passed, M failed".
# Exit 0 when all passed, 1 otherwise, 77 (meson: skipped) when man(1) is
# not installed.

set -u
. "$(dirname "$0")/../support/lib.sh"

if [[ $# -lt 3 ]]; then
    echo "usage: $0 VFIOCTL VFIOD PAGE..." >&2
    exit 2
fi

VFIOCTL=$1
VFIOD=$2
shift 2
PAGES=("$@")

if ! command -v man >/dev/null 2>&1; then
    echo "skipped: man is not installed (Debian: apt-get install man-db)"
    exit 77
fi

temp_dir TMP man-test

# page_named NAME: the path of the page whose file name is NAME.
page_named()
{
    local page
    for page in "${PAGES[@]}"; do
        if [[ ${page##*/} == "$1" ]]; then
            echo "$page"
            return 0
        fi
    done
    return 1
}

# source_text PAGE: the page's roff with "\-" as "-" and font changes
# removed, so that "\fB\-\-config\fR" reads "--config".
source_text()
{
    sed -E -e 's/\\-/-/g' -e 's/\\f(\[[^]]*\]|\(..|.)//g' "$1"
}

# documents TEXT_FILE WORD: WORD occurs in TEXT_FILE (from source_text) as
# a whole word, so not merely inside a longer option such as --sim-state
# for --sim, on a line that documents it: the tag line of a .TP/.TQ entry
# or a synopsis or bold macro line (.SY, .OP, .B, .BI, .BR, .IB, .RB). A
# mention in running text or in an example does not count.
documents()
{
    local text=$1 word=$2
    awk -v word="$word" '
        function whole(line,    i, before, after, rest) {
            rest = line
            while ((i = index(rest, word)) > 0) {
                before = i > 1 ? substr(rest, i - 1, 1) : " "
                after = substr(rest, i + length(word), 1)
                if (before !~ /[A-Za-z0-9_-]/ && after !~ /[A-Za-z0-9_-]/)
                    return 1
                rest = substr(rest, i + 1)
            }
            return 0
        }
        tag { tag = 0; if (whole($0)) found = 1 }
        /^\.(TP|TQ)/ { tag = 1; next }
        /^\.(B|BI|BR|IB|RB|SY|OP)( |$)/ { if (whole($0)) found = 1 }
        END { exit found ? 0 : 1 }
    ' "$text"
}

# 1. Every page renders without warnings.
for page in "${PAGES[@]}"; do
    name=${page##*/}
    if [[ ! -f $page ]]; then
        fail "$name renders" "no such file: $page"
        continue
    fi
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" \
        >/dev/null 2>"$TMP/stderr"
    rc=$?
    if [[ $rc -eq 0 && ! -s $TMP/stderr ]]; then
        pass "$name renders without warnings"
    else
        mapfile -t lines <"$TMP/stderr"
        fail "$name renders without warnings" "man exited with $rc" \
            "${lines[@]}"
    fi
done

# 2. vfioctl.1 documents every subcommand of vfioctl --help.
if ! vfioctl_page=$(page_named vfioctl.1); then
    fail "vfioctl.1 is among the pages" "pages: ${PAGES[*]}"
elif ! help=$("$VFIOCTL" --help 2>&1); then
    fail "vfioctl --help" "$help"
else
    # The lines between "Subcommands:" and the next blank line.
    mapfile -t subcommands < <(awk '
        /^Subcommands:/ { inside = 1; next }
        inside && /^[[:space:]]*$/ { exit }
        inside { print $1 }
    ' <<<"$help")
    if [[ ${#subcommands[@]} -eq 0 ]]; then
        fail "vfioctl --help lists subcommands" "$help"
    else
        pass "vfioctl --help lists ${#subcommands[@]} subcommands"
        source_text "$vfioctl_page" >"$TMP/vfioctl.txt"
        for sub in "${subcommands[@]}"; do
            if documents "$TMP/vfioctl.txt" "$sub"; then
                pass "vfioctl.1 documents subcommand $sub"
            else
                fail "vfioctl.1 documents subcommand $sub" \
                    "\"$sub\" is in vfioctl --help but not in $vfioctl_page"
            fi
        done
    fi
fi

# 3. vfiod.8 documents every long option of vfiod --help.
if ! vfiod_page=$(page_named vfiod.8); then
    fail "vfiod.8 is among the pages" "pages: ${PAGES[*]}"
elif ! help=$("$VFIOD" --help 2>&1); then
    fail "vfiod --help" "$help"
else
    mapfile -t options < <(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" |
        sort -u)
    if [[ ${#options[@]} -eq 0 ]]; then
        fail "vfiod --help lists long options" "$help"
    else
        pass "vfiod --help lists ${#options[@]} long options"
        source_text "$vfiod_page" >"$TMP/vfiod.txt"
        for option in "${options[@]}"; do
            if documents "$TMP/vfiod.txt" "$option"; then
                pass "vfiod.8 documents $option"
            else
                fail "vfiod.8 documents $option" \
                    "\"$option\" is in vfiod --help but not in $vfiod_page"
            fi
        done
    fi
fi

finish
