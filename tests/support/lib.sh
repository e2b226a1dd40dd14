# Shared helpers of the bash tests. Source it, check, then end with
# `finish`:
#
#   . "$(dirname "$0")/../support/lib.sh"
#   temp_dir TMP my-test
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

# on_exit COMMAND: runs COMMAND (with eval) when the script exits, after
# every COMMAND registered later (last in, first out).
ON_EXIT=()
on_exit()
{
    ON_EXIT+=("$1")
    trap run_on_exit EXIT
}

run_on_exit()
{
    local i
    for ((i = ${#ON_EXIT[@]} - 1; i >= 0; i--)); do
        eval "${ON_EXIT[i]}"
    done
}

# temp_dir VAR NAME: sets VAR to a private directory, removed when the
# script exits. (Not $(temp_dir ...): the subshell would remove it at once.)
temp_dir()
{
    local made
    made=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX") || exit 1
    printf -v "$1" %s "$made"
    # shellcheck disable=SC2064 # the path is fixed now, on purpose
    on_exit "rm -rf '$made'"
}

# wait_for PID CMD...: waits until CMD succeeds (0) or process PID is gone
# (1). It polls, so it is for states nothing announces; it has no time
# bound: a test that hangs is ended by meson's timeout, never failed for
# being slow.
wait_for()
{
    local pid=$1
    shift
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            "$@"
            return
        fi
        sleep 0.05
    done
}

finish()
{
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]]
    exit
}
