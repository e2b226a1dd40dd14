# The host side's verdict on a guest run, shared by run-e2e.sh and
# run-mtty.sh. Source it, then:
#
#   serial_verdict SERIAL_LOG WORK_DIR QEMU_STATUS TIMEOUT_S
#   check_pattern "what" 'extended regexp'   # more checks of your own
#
# serial_verdict sets $clean (the serial log without carriage returns, in
# WORK_DIR) and fills the array problems with every sign of a bad run:
# a time-out, QEMU's own failure, a panic, a soft lockup, a kernel bug, a
# sanitizer report, and a guest that never said E2E-DONE.

check_pattern()
{
    local what=$1 pattern=$2 line
    line=$(grep -m1 -E -e "$pattern" "$clean" || true)
    [ -z "$line" ] || problems+=("$what: $line")
}

serial_verdict()
{
    local log=$1 work=$2 qemu_status=$3 timeout_s=$4
    touch "$log"
    clean=$work/serial.txt
    tr -d '\r' <"$log" >"$clean"
    problems=()
    if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
        problems+=("time-out: the guest did not power off within ${timeout_s} s")
    elif [ "$qemu_status" -ne 0 ]; then
        problems+=("QEMU exited with status $qemu_status")
    fi
    check_pattern "guest panic" 'Kernel panic'
    check_pattern "soft lockup" 'soft lockup'
    check_pattern "kernel bug" 'BUG: |Oops: |general protection fault'
    check_pattern "sanitizer report" 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error: '
    grep -q '^E2E-DONE' "$clean" ||
        problems+=("the guest did not finish (no E2E-DONE)")
}
