# Shared helpers of the bash tests. Source it, check, then end with
# `finish`:
#
#   . "$(dirname "$0")/../support/lib.sh"
#   pass "what held"
#   fail "what did not" "detail line" ...
#   finish
#
# Every check prints "ok   NAME" or "FAIL NAME" (with its details); finish
# prints "N passed, M failed" and exits 1 when anything failed.

PASSED=0
FAILED=0

pass()
{
    PASSED=$((PASSED + 1))
    echo "ok   $1"
}

fail()
{
    FAILED=$((FAILED + 1))
    echo "FAIL $1"
    shift
    local line
    for line in "$@"; do
        echo "     $line"
    done
}

# expect NAME COMMAND...: passes when COMMAND succeeds, fails with its
# output otherwise.
expect()
{
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name" "$@" "$out"
    fi
}

# temp_dir NAME: a private directory removed when the script exits.
temp_dir()
{
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
    # shellcheck disable=SC2064 # the path is fixed now, on purpose
    trap "rm -rf '$dir'" EXIT
    echo "$dir"
}

finish()
{
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]]
    exit
}
