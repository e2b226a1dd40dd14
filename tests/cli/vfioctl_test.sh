#!/bin/bash
# vfioctl against the real vfiod on a simulated host, on a private bus.
#
# usage: vfioctl_test.sh VFIOCTL VFIOD SOURCE_ROOT [PLUGIN_DIR]
#
# PLUGIN_DIR: the built plugins (the build tree's plugins/); without it the
# plugin and migration checks are skipped.
#
# Every check prints "ok"/"FAIL"; the last line is "N passed, M failed".
# Exit 0 when all passed, 1 otherwise, 77 (meson: skipped) when vfiod or the
# simulated host is not built yet.
#
# Longer than 500 lines on purpose: one daemon on one bus serves every
# check, in the order a user runs the commands (list, bind, assign, release,
# plugins, migration, reload, the grace of a restart), each starting from
# the state the one before left; split, each part would start its own bus
# and daemon and repeat that state.

set -u
. "$(dirname "$0")/../support/lib.sh"

VFIOCTL=$1
VFIOD=$2
SRC=$3
PLUGIN_DIR=${4:-}
SIM_HOST="$SRC/conf/sim-host.toml"

if [[ ! -x $VFIOD || ! -f $SIM_HOST ]]; then
    echo "skipped: needs $VFIOD and $SIM_HOST"
    exit 77
fi

temp_dir TMP vfioctl-test
BUS="unix:path=$TMP/bus"
BUS_PID=
VFIOD_PID=
BACKGROUND=()

stop_processes()
{
    local pid
    for pid in "${BACKGROUND[@]}" $VFIOD_PID $BUS_PID; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
}
# Runs before temp_dir's removal of $TMP (last in, first out).
on_exit stop_processes

# run CMD...: sets OUT, ERR and RC.
run()
{
    OUT=$("$@" 2>"$TMP/stderr")
    RC=$?
    ERR=$(<"$TMP/stderr")
}

# vfioctl on the private bus.
v()
{
    "$VFIOCTL" --bus-address "$BUS" "$@"
}

# expect_rc NAME WANT: checks RC after run.
expect_rc()
{
    if [[ $RC == "$2" ]]; then
        pass "$1"
    else
        fail "$1" "exit status $RC, expected $2" "stdout: $OUT" \
            "stderr: $ERR"
    fi
}

# prop ADDR NAME: one property of a device, from `show --json`.
prop()
{
    v --json show "$1" | python3 -c \
        'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# pick KIND: finds devices in `list --json` by what they are, not where the
# simulated host happens to put them.
pick()
{
    v --json list | python3 -c '
import json, sys
kind = sys.argv[1]
devices = json.load(sys.stdin)["devices"]
groups = {}
for d in devices:
    groups.setdefault(d["IommuGroup"], []).append(d)
def alone(d):
    return d["IommuGroup"] >= 0 and len(groups[d["IommuGroup"]]) == 1
def bridge(d):
    return d["Class"] >> 8 == 0x0604
if kind == "bridge":
    found = [d["Address"] for d in devices if bridge(d)]
elif kind == "free":
    # Alone in its group, on a host driver, not a bridge: binding it has
    # nothing to wait for. Storage first (the NVMe), then anything.
    found = sorted((d["Class"] >> 16 != 0x01, d["Address"]) for d in devices
                   if alone(d) and not bridge(d)
                   and d["Driver"] not in ("", "vfio-pci"))
    found = [a for _, a in found]
elif kind == "nonviable":
    # A group member on a host driver other than the one holding the
    # group back (e1000e); prints "target blocker".
    found = []
    for members in groups.values():
        blockers = [d for d in members if d["Driver"] == "e1000e"]
        others = [d for d in members if d["Driver"] != "e1000e"]
        if blockers and others:
            found.append(others[0]["Address"] + " " + blockers[0]["Address"])
elif kind == "spare":
    # A second free device, after the one "free" picks.
    found = sorted((d["Class"] >> 16 != 0x01, d["Address"]) for d in devices
                   if alone(d) and not bridge(d)
                   and d["Driver"] not in ("", "vfio-pci"))
    found = [a for _, a in found][1:]
print(found[0] if found else "")
' "$1"
}

# --- a private system bus and vfiod on the simulated host ---------------

cat >"$TMP/bus.conf" <<CONF
<busconfig>
  <type>system</type>
  <listen>unix:path=$TMP/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
CONF

# Our own configuration, so no file of this machine is read, the state stays
# in $TMP and the caller may change devices without asking polkit.
mkdir -p "$TMP/state"
PLUGIN_LINE=
if [[ -n $PLUGIN_DIR ]]; then
    PLUGIN_LINE="plugin_dir = \"$PLUGIN_DIR\""
fi
cat >"$TMP/vfiod.toml" <<CONF
[daemon]
state_dir = "$TMP/state"
$PLUGIN_LINE

[access]
users = ["$(id -un)"]

[timeouts]
# Short, so that the re-attach check below sees a missed re-attach.
lease_grace_ms = 3000
CONF

# A policy that changes nothing the other checks rely on: it binds nothing.
mkdir -p "$TMP/policy.d"
cat >"$TMP/policy.d/10-cli.toml" <<CONF
[[rule]]
name = "cli-test"
[rule.match]
address = "0000:02:00.0"
[rule.actions]
reset_method = "flr"
users = ["nobody"]
CONF

# The daemon prints its address once it listens: read it from a FIFO (EOF
# if it exits first).
mkfifo "$TMP/bus.ready"
dbus-daemon --nofork --config-file="$TMP/bus.conf" --print-address=3 \
    3>"$TMP/bus.ready" >"$TMP/dbus.log" 2>&1 &
BUS_PID=$!
if ! read -r _ <"$TMP/bus.ready"; then
    fail "private dbus-daemon starts" "$(<"$TMP/dbus.log")"
    finish
fi

"$VFIOD" --sim "$SIM_HOST" --sim-state "$TMP/sim" --config "$TMP/vfiod.toml" \
    --bus-address "$BUS" >"$TMP/vfiod.log" 2>&1 &
VFIOD_PID=$!

# vfiod_up: waits for org.vfiod1 to appear on the bus (gdbus wait watches
# NameOwnerChanged) or for vfiod to exit, whichever comes first.
vfiod_up()
{
    local waiter done rc
    gdbus wait --address "$BUS" org.vfiod1 >/dev/null 2>&1 &
    waiter=$!
    wait -n -p done "$waiter" "$VFIOD_PID"
    rc=$?
    if [[ $done == "$waiter" && $rc == 0 ]] &&
        kill -0 "$VFIOD_PID" 2>/dev/null; then
        return 0
    fi
    kill "$waiter" 2>/dev/null
    wait "$waiter" 2>/dev/null
    return 1
}
if vfiod_up; then
    pass "vfiod owns org.vfiod1"
else
    fail "vfiod owns org.vfiod1" "$(<"$TMP/vfiod.log")"
    finish
fi

# So that commands run by `assign -- CMD` reach the same bus without
# --bus-address: this also checks that DBUS_SYSTEM_BUS_ADDRESS is honoured.
export DBUS_SYSTEM_BUS_ADDRESS=$BUS

# --- usage -------------------------------------------------------------

run "$VFIOCTL"
expect_rc "no subcommand is a usage error (2)" 2

run "$VFIOCTL" list --no-such-option
expect_rc "unknown option is a usage error (2)" 2

run "$VFIOCTL" --help
if [[ $RC == 0 && $OUT == *"Exit status:"* ]]; then
    pass "--help documents the exit status"
else
    fail "--help documents the exit status" "exit $RC" "$OUT"
fi

# --- list, show --------------------------------------------------------

FREE=$(pick free)
BRIDGE=$(pick bridge)
read -r NONVIABLE BLOCKER <<<"$(pick nonviable)"
echo "# free device: ${FREE:-none}, bridge: ${BRIDGE:-none}," \
    "non-viable: ${NONVIABLE:-none} (held back by ${BLOCKER:-none})"

run v list
if [[ $RC == 0 && $OUT == ADDRESS* && -n $FREE && $OUT == *"$FREE"* ]]; then
    pass "list shows a table of the devices"
else
    fail "list shows a table of the devices" "exit $RC" "$OUT" "$ERR"
fi

run v --json list
if [[ $RC == 0 ]] &&
    python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$OUT"; then
    pass "--json list is valid JSON"
else
    fail "--json list is valid JSON" "exit $RC" "$OUT" "$ERR"
fi

run "$VFIOCTL" list --json --bus-address "$BUS"
if [[ $RC == 0 && $OUT == "{"* ]]; then
    pass "global options are accepted after the subcommand"
else
    fail "global options are accepted after the subcommand" "exit $RC" \
        "$OUT" "$ERR"
fi

ORIGINAL_DRIVER=$(prop "$FREE" Driver)
run v show "$FREE"
if [[ $RC == 0 && $OUT == "$FREE"* && $OUT == *"$ORIGINAL_DRIVER"* ]]; then
    pass "show $FREE"
else
    fail "show $FREE" "exit $RC" "$OUT" "$ERR"
fi

if [[ $FREE == 0000:* ]]; then
    run v --json show "${FREE#0000:}"
    if [[ $RC == 0 && $OUT == *"\"Address\":\"$FREE\""* ]]; then
        pass "show accepts the short form ${FREE#0000:}"
    else
        fail "show accepts the short form ${FREE#0000:}" "exit $RC" "$OUT" \
            "$ERR"
    fi
fi

# --- errors ------------------------------------------------------------

run v show zz:00.0
expect_rc "malformed address: usage error (2)" 2
if [[ $ERR == "vfioctl: "*"zz:00.0"* ]]; then
    pass "malformed address: the message quotes it"
else
    fail "malformed address: the message quotes it" "stderr: $ERR"
fi

UNKNOWN=0000:7e:1f.7
run v show "$UNKNOWN"
expect_rc "unknown address: not found (3)" 3

if [[ -n $NONVIABLE ]]; then
    run v bind "$NONVIABLE"
    expect_rc "bind $NONVIABLE (group not viable): refused (4)" 4
    if [[ $ERR == *"$BLOCKER"* ]]; then
        pass "the refusal names the blocking device $BLOCKER"
    else
        fail "the refusal names the blocking device $BLOCKER" "stderr: $ERR"
    fi
else
    fail "the simulated host has a non-viable group (e1000e)"
fi

if [[ -n $BRIDGE ]]; then
    run v bind "$BRIDGE"
    expect_rc "bind $BRIDGE (bridge): refused (4)" 4
else
    fail "the simulated host has a PCIe bridge"
fi

# --- bind, unbind, monitor ---------------------------------------------

"$VFIOCTL" monitor >"$TMP/monitor.out" 2>"$TMP/monitor.err" &
MONITOR=$!
BACKGROUND+=("$MONITOR")
"$VFIOCTL" --json monitor >"$TMP/monitor.json" 2>"$TMP/monitor-json.err" &
MONITOR_JSON=$!
BACKGROUND+=("$MONITOR_JSON")
# Both print this once their match rules are in place.
if ! wait_for "$MONITOR" grep -q Monitoring "$TMP/monitor.err" ||
    ! wait_for "$MONITOR_JSON" grep -q Monitoring "$TMP/monitor-json.err"; then
    fail "monitor starts" "$(cat "$TMP"/monitor*.err)"
fi

run v bind "$FREE" --driver vfio-pci
expect_rc "bind $FREE --driver vfio-pci" 0

run v show "$FREE"
if [[ $OUT == *"driver:"*"vfio-pci"* && $OUT == *"state:"*"vfio"* ]]; then
    pass "show: $FREE is on vfio-pci, state vfio"
else
    fail "show: $FREE is on vfio-pci, state vfio" "$OUT" "$ERR"
fi

monitor_saw_bind()
{
    grep -q "changed $FREE .*Driver=vfio-pci" "$TMP/monitor.out"
}
if wait_for "$MONITOR" monitor_saw_bind; then
    pass "monitor prints the change of $FREE"
else
    fail "monitor prints the change of $FREE" "$(<"$TMP/monitor.out")"
fi

monitor_json_saw_bind()
{
    python3 - "$TMP/monitor.json" "$FREE" <<'PY'
import json, sys
path, address = sys.argv[1:]
for line in open(path):
    event = json.loads(line)
    if (event["event"] == "changed" and event["address"] == address
            and event["changed"].get("Driver") == "vfio-pci"):
        sys.exit(0)
sys.exit(1)
PY
}
if wait_for "$MONITOR_JSON" monitor_json_saw_bind 2>/dev/null; then
    pass "monitor --json prints one JSON object per event"
else
    fail "monitor --json prints one JSON object per event" \
        "$(<"$TMP/monitor.json")"
fi

kill -TERM "$MONITOR"
wait "$MONITOR"
RC=$?
OUT=$(<"$TMP/monitor.out")
ERR=$(<"$TMP/monitor.err")
expect_rc "monitor ends cleanly on SIGTERM" 0
kill -TERM "$MONITOR_JSON" 2>/dev/null
wait "$MONITOR_JSON" 2>/dev/null

# --- assign ------------------------------------------------------------

run v assign "$FREE" -- sh -c "\"$VFIOCTL\" show $FREE"
if [[ $RC == 0 && $OUT == *"state:"*"assigned"* ]]; then
    pass "assign $FREE -- CMD: CMD sees the device assigned"
else
    fail "assign $FREE -- CMD: CMD sees the device assigned" "exit $RC" \
        "$OUT" "$ERR"
fi
STATE=$(prop "$FREE" State)
if [[ $STATE == vfio ]]; then
    pass "after CMD exits $FREE is no longer assigned"
else
    fail "after CMD exits $FREE is no longer assigned" "State=$STATE"
fi

run v assign "$FREE" -- sh -c 'exit 7'
expect_rc "assign -- CMD exits with CMD's status" 7

FDS_PLAIN=$(sh -c 'ls /proc/self/fd | wc -l')
run v assign "$FREE" -- sh -c 'ls /proc/self/fd | wc -l'
if [[ $RC == 0 && $OUT == "$FDS_PLAIN" ]]; then
    pass "the lease fd does not leak into CMD"
else
    fail "the lease fd does not leak into CMD" \
        "CMD has $OUT fds, a plain sh has $FDS_PLAIN" "$ERR"
fi

"$VFIOCTL" assign "$FREE" >"$TMP/hold.out" 2>&1 &
HOLDER=$!
BACKGROUND+=("$HOLDER")
assigned()
{
    [[ $(prop "$FREE" State) == assigned ]]
}
if wait_for "$HOLDER" assigned; then
    pass "assign $FREE holds the device"
else
    fail "assign $FREE holds the device" "$(<"$TMP/hold.out")"
fi

run v assign "$FREE" -- true
expect_rc "a second assign is refused (4)" 4

kill -INT "$HOLDER"
wait "$HOLDER"
RC=$?
OUT=$(<"$TMP/hold.out")
ERR=
expect_rc "assign ends cleanly on SIGINT" 0
STATE=$(prop "$FREE" State)
if [[ $STATE == vfio ]]; then
    pass "after SIGINT $FREE is released"
else
    fail "after SIGINT $FREE is released" "State=$STATE" "$OUT"
fi

# --- unbind, reload ----------------------------------------------------

run v unbind "$FREE"
expect_rc "unbind $FREE" 0
DRIVER=$(prop "$FREE" Driver)
if [[ $DRIVER == "$ORIGINAL_DRIVER" ]]; then
    pass "unbind returns $FREE to $ORIGINAL_DRIVER"
else
    fail "unbind returns $FREE to $ORIGINAL_DRIVER" "Driver=$DRIVER"
fi

run v reload
expect_rc "reload" 0

# --- policy: explain, udev-rules, reload errors -------------------------

run v explain 02:00.0
if [[ $RC == 0 && $OUT == *'rule "cli-test"'* && $OUT == *"flr"* &&
    $OUT == *"nobody"* ]]; then
    pass "explain names the rule and its actions"
else
    fail "explain names the rule and its actions" "exit $RC" "$OUT" "$ERR"
fi

run v --json explain 0000:02:00.0
if [[ $RC == 0 ]] && python3 -c '
import json, sys
e = json.load(sys.stdin)
assert e["rule"] == "cli-test" and e["matched"] is True, e
assert e["reset_method"] == "flr" and e["users"] == ["nobody"], e
' <<<"$OUT"; then
    pass "--json explain"
else
    fail "--json explain" "exit $RC" "$OUT" "$ERR"
fi

run v explain 7f:1f.7
expect_rc "explain of an absent device: not found (3)" 3
run v explain 02:00
expect_rc "explain of a malformed address: usage (2)" 2

run v udev-rules
if [[ $RC == 0 && $OUT == *'# rule "cli-test"'* &&
    $OUT == *'LABEL="vfiod_end"'* ]]; then
    pass "udev-rules prints the generated rules"
else
    fail "udev-rules prints the generated rules" "exit $RC" "$OUT" "$ERR"
fi

echo '[[rule]]' >"$TMP/policy.d/20-broken.toml"
run v reload
if [[ $RC == 2 && $ERR == *"20-broken.toml:1:1"* ]]; then
    pass "reload refuses a broken policy with its place"
else
    fail "reload refuses a broken policy with its place" "exit $RC" "$ERR"
fi
run v --json explain 02:00.0
if [[ $OUT == *'"rule":"cli-test"'* ]]; then
    pass "the previous policy stays in force"
else
    fail "the previous policy stays in force" "$OUT" "$ERR"
fi
rm "$TMP/policy.d/20-broken.toml"

# --- plugins and migration ---------------------------------------------

if [[ -n $PLUGIN_DIR ]]; then
    run v plugins
    if [[ $RC == 0 && $OUT == NAME* && $OUT == *"vfio-pci"* &&
        $OUT == *"sim "* ]]; then
        pass "plugins lists the loaded plugins"
    else
        fail "plugins lists the loaded plugins" "exit $RC" "$OUT" "$ERR"
    fi
    run v --json plugins
    if [[ $RC == 0 ]] && python3 -c '
import json, sys
names = [p["Name"] for p in json.load(sys.stdin)]
assert "sim" in names and "vfio-pci" in names, names
' <<<"$OUT"; then
        pass "--json plugins"
    else
        fail "--json plugins" "exit $RC" "$OUT" "$ERR"
    fi

    run v migration-state 0b:00.3
    if [[ $RC == 0 && $OUT == *"plugin: sim"* &&
        $OUT == *"flags:  STOP_COPY P2P PRE_COPY"* &&
        $OUT == *"state:  RUNNING"* ]]; then
        pass "migration-state shows flags and state"
    else
        fail "migration-state shows flags and state" "exit $RC" "$OUT" "$ERR"
    fi
    run v migration-state 0b:00.3 STOP
    if [[ $RC == 0 && $OUT == "RUNNING_P2P -> STOP" ]]; then
        pass "migration-state ADDR STATE prints the path"
    else
        fail "migration-state ADDR STATE prints the path" "exit $RC" "$OUT" \
            "$ERR"
    fi
    run v --json migration-state 0b:00.3 RUNNING
    if [[ $RC == 0 ]] && python3 -c '
import json, sys
e = json.load(sys.stdin)
assert e["Path"] == ["RUNNING_P2P", "RUNNING"], e
assert e["MigrationState"] == "RUNNING", e
assert e["MigrationFlags"] == ["STOP_COPY", "P2P", "PRE_COPY"], e
' <<<"$OUT"; then
        pass "--json migration-state"
    else
        fail "--json migration-state" "exit $RC" "$OUT" "$ERR"
    fi
    run v migration-state 0b:00.0 PRE_COPY
    expect_rc "a state the device cannot reach: usage (2)" 2
    run v migration-state 0b:00.0 SIDEWAYS
    expect_rc "an unknown state: usage (2)" 2

    run v save 0b:00.0 "$TMP/state.bin"
    if [[ $RC == 0 && -s $TMP/state.bin && $OUT == *"now in STOP"* ]]; then
        pass "save ADDR FILE"
    else
        fail "save ADDR FILE" "exit $RC" "$OUT" "$ERR"
    fi
    run v load 0b:00.1 "$TMP/state.bin"
    if [[ $RC == 0 && $OUT == *"now in RUNNING"* ]]; then
        pass "load ADDR FILE"
    else
        fail "load ADDR FILE" "exit $RC" "$OUT" "$ERR"
    fi
    # Through pipes: save - | load -.
    OUT=$(v save 0b:00.1 - 2>"$TMP/stderr" | v --json load 0b:00.2 - \
        2>>"$TMP/stderr")
    RC=$?
    ERR=$(<"$TMP/stderr")
    if [[ $RC == 0 && $OUT == *'"MigrationState":"RUNNING"'* ]]; then
        pass "save - | load -"
    else
        fail "save - | load -" "exit $RC" "$OUT" "$ERR"
    fi
    head -c 1000 /dev/zero >"$TMP/bad.bin"
    run v load 0b:00.2 "$TMP/bad.bin"
    if [[ $RC == 1 && $ERR == *RUNNING* ]]; then
        pass "load of a bad stream fails (1) and says where the device is"
    else
        fail "load of a bad stream fails (1) and says where the device is" \
            "exit $RC" "$OUT" "$ERR"
    fi
    run v load 0b:00.2 "$TMP/no-such-file"
    expect_rc "load of a missing file: not found (3)" 3

    run v migrate 0b:00.2 0b:00.3
    if [[ $RC == 0 && $OUT == *"(STOP) -> 0000:0b:00.3 (RUNNING)"* &&
        $ERR == *"moved"* ]]; then
        pass "migrate SRC DST, with progress on stderr"
    else
        fail "migrate SRC DST, with progress on stderr" "exit $RC" "$OUT" \
            "$ERR"
    fi
    run v migrate 0b:00.2 0b:00.2
    expect_rc "migrate into itself: usage (2)" 2
    run v migration-state 0b:00.2 RUNNING
    expect_rc "migration-state back to RUNNING" 0
fi

# --- a holder re-attaches after vfiod restarts -------------------------

# Two holders: one of $FREE, which re-attaches, and one of a spare device,
# stopped (SIGSTOP) so that it cannot: the spare's release at the end of its
# grace is the event that says the grace is over, with no clock in the test.
SPARE=$(pick spare)
"$VFIOCTL" assign "$FREE" >"$TMP/reattach.out" 2>&1 &
HOLDER=$!
BACKGROUND+=("$HOLDER")
SPARE_HOLDER=
if [[ -n $SPARE ]]; then
    "$VFIOCTL" assign "$SPARE" >"$TMP/spare.out" 2>&1 &
    SPARE_HOLDER=$!
    BACKGROUND+=("$SPARE_HOLDER")
fi
spare_assigned()
{
    [[ $(prop "$SPARE" State) == assigned ]]
}
if [[ -z $SPARE ]]; then
    fail "the simulated host has a second free device"
elif ! wait_for "$SPARE_HOLDER" spare_assigned; then
    fail "assign $SPARE for the re-attach check" "$(<"$TMP/spare.out")"
elif wait_for "$HOLDER" assigned; then
    kill -STOP "$SPARE_HOLDER"
    kill -KILL "$VFIOD_PID"
    wait "$VFIOD_PID" 2>/dev/null
    "$VFIOD" --sim "$SIM_HOST" --sim-state "$TMP/sim" \
        --config "$TMP/vfiod.toml" --bus-address "$BUS" \
        >>"$TMP/vfiod.log" 2>&1 &
    VFIOD_PID=$!
    reattached()
    {
        grep -q "re-attached to the assignment" "$TMP/reattach.out"
    }
    if wait_for "$HOLDER" reattached; then
        pass "assign re-attaches after vfiod is killed and restarted"
    else
        fail "assign re-attaches after vfiod is killed and restarted" \
            "$(<"$TMP/reattach.out")" "$(tail -20 "$TMP/vfiod.log")"
    fi
    # Both graces started together at vfiod's start; the spare's holder
    # cannot re-attach, so vfiod releases the spare when its grace ends.
    spare_released()
    {
        grep -q "of $SPARE did not re-attach in time" "$TMP/vfiod.log"
    }
    if wait_for "$VFIOD_PID" spare_released; then
        pass "a holder that does not re-attach loses the device at the grace"
    else
        fail "a holder that does not re-attach loses the device at the grace" \
            "$(tail -20 "$TMP/vfiod.log")"
    fi
    # Past the grace an assignment nobody re-attached would be released.
    if [[ $(prop "$FREE" State) == assigned ]] && kill -0 "$HOLDER" &&
        ! grep -q "of $FREE did not re-attach" "$TMP/vfiod.log"; then
        pass "the re-attached assignment outlives the grace period"
    else
        fail "the re-attached assignment outlives the grace period" \
            "$(<"$TMP/reattach.out")" "$(tail -20 "$TMP/vfiod.log")"
    fi
    kill -TERM "$HOLDER"
    wait "$HOLDER"
    RC=$?
    ERR=$(<"$TMP/reattach.out")
    expect_rc "the re-attached holder ends cleanly" 0
else
    fail "assign $FREE for the re-attach check" "$(<"$TMP/reattach.out")"
fi
if [[ -n $SPARE_HOLDER ]]; then
    kill -KILL "$SPARE_HOLDER" 2>/dev/null
    wait "$SPARE_HOLDER" 2>/dev/null
fi

# --- vfiod gone --------------------------------------------------------

kill -TERM "$VFIOD_PID"
wait "$VFIOD_PID" 2>/dev/null
VFIOD_PID=
run v list
expect_rc "vfiod not running: not found (3)" 3
if [[ $ERR == "vfioctl: vfiod is not running" ]]; then
    pass "vfiod not running: says so"
else
    fail "vfiod not running: says so" "stderr: $ERR"
fi

finish
