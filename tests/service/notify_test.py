#!/usr/bin/env python3
"""sd_notify from the real vfiod: READY=1 with STATUS=, RELOADING=1 and
READY=1 again on SIGHUP, STOPPING=1 on SIGTERM, and WATCHDOG=1 at half of
WATCHDOG_USEC from the event loop, without busy waking, only when
WATCHDOG_PID names vfiod (or is unset).

The service manager is played by a unix datagram socket this test binds
and names in NOTIFY_SOCKET, as systemd does.

usage: notify_test.py VFIOD SOURCE_ROOT
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim_daemon import Checks, DatagramSocket, SimDaemon  # noqa: E402

WATCHDOG_USEC = 400000  # keep-alives expected every 200 ms


def parse_notify(data):
    fields = {}
    for line in data.decode(errors="replace").split("\n"):
        if "=" in line:
            key, value = line.split("=", 1)
            fields[key] = value
    return fields


class NotifySocket(DatagramSocket):
    """The NOTIFY_SOCKET: messages are (monotonic time, {key: value}, raw)."""

    def __init__(self, path):
        super().__init__(path, parse_notify)

    def find(self, key, value=None, after=0):
        """The first message from index `after` on that has key (=value)."""
        for i, (_, fields, _) in enumerate(self.messages[after:], after):
            if key in fields and (value is None or fields[key] == value):
                return i
        return None

    def wait_for(self, key, value=None, after=0, process=None):
        """find(), once such a message came (no time bound), or None once
        `process` has exited without sending it."""
        def stop():
            if process is None or process.poll() is None:
                return False
            self.flush()  # whatever it sent before exiting is in
            return True
        self.wait(lambda _: self.find(key, value, after) is not None, stop)
        return self.find(key, value, after)

    def count(self, key, since, until=None):
        return sum(1 for t, fields, _ in self.messages
                   if key in fields and t >= since
                   and (until is None or t <= until))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    vfiod, source_root = sys.argv[1], sys.argv[2]
    checks = Checks()

    with SimDaemon(vfiod, source_root) as sim:
        # --- 1. under a watchdog naming vfiod -----------------------------
        notify = NotifySocket(os.path.join(sim.tmp, "notify"))
        process = sim.start_vfiod(
            env={"NOTIFY_SOCKET": notify.path,
                 "WATCHDOG_USEC": str(WATCHDOG_USEC)},
            watchdog_pid_self=True)
        ready = notify.wait_for("READY", "1", process=process)
        checks.check("READY=1 arrives", ready is not None, sim.log())
        if ready is not None:
            status = notify.messages[ready][1].get("STATUS", "")
            checks.check("READY=1 carries a STATUS= line",
                         status != "", notify.messages[ready][2])
            checks.check("STATUS names the devices",
                         "device" in status.lower(), status)

        # Keep-alives over a quiet second and a half: about one per 200 ms.
        # The sleep is the watchdog's window, the thing under test; the
        # rate is counted over the window as measured, however long the
        # sleep really was. (vfiod's CPU use while idle is a benchmark:
        # cpu_idle in bench/.)
        start = time.monotonic()
        time.sleep(1.5)
        notify.flush()  # every keep-alive sent in the window is in
        end = time.monotonic()
        beats = notify.count("WATCHDOG", start, end)
        rate = beats / (end - start)
        checks.check("repeated WATCHDOG=1 at half of WATCHDOG_USEC "
                     "(4..10 per 1.5 s)", 4 / 1.5 <= rate <= 10 / 1.5,
                     f"{beats} keep-alives in {end - start:.2f} s")
        values = {m[1]["WATCHDOG"] for m in notify.messages
                  if "WATCHDOG" in m[1]}
        checks.check("keep-alives are WATCHDOG=1", values == {"1"}, values)

        # SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1 again.
        mark = len(notify.messages)
        process.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING", "1", after=mark,
                                    process=process)
        checks.check("SIGHUP sends RELOADING=1", reloading is not None,
                     [m[2] for m in notify.messages[mark:]])
        if reloading is not None:
            fields = notify.messages[reloading][1]
            checks.check("RELOADING=1 carries MONOTONIC_USEC and STATUS",
                         fields.get("MONOTONIC_USEC", "").isdigit()
                         and fields.get("STATUS", "") != "", fields)
            again = notify.wait_for("READY", "1", after=reloading,
                                    process=process)
            checks.check("READY=1 after the reload", again is not None,
                         [m[2] for m in notify.messages[mark:]])

        # Keep-alives go on after the reload: two of them, as they come.
        mark = len(notify.messages)
        beat = notify.wait_for("WATCHDOG", "1", after=mark, process=process)
        if beat is not None:
            beat = notify.wait_for("WATCHDOG", "1", after=beat + 1,
                                   process=process)
        checks.check("keep-alives continue after a reload", beat is not None,
                     [m[2] for m in notify.messages[mark:]])

        mark = len(notify.messages)
        rc = sim.stop_vfiod()
        checks.check("SIGTERM: vfiod exits 0", rc == 0, f"exit {rc}",
                     sim.log())
        # vfiod has exited: what it sent is queued; flush, then look.
        notify.flush()
        stopping = notify.find("STOPPING", "1", after=mark)
        checks.check("SIGTERM sends STOPPING=1", stopping is not None,
                     [m[2] for m in notify.messages[mark:]])
        if stopping is not None:
            checks.check("STOPPING=1 carries STATUS=Stopping",
                         notify.messages[stopping][1].get("STATUS") ==
                         "Stopping", notify.messages[stopping][2])
        notify.close()

        # --- 2. WATCHDOG_PID of another process: not ours to feed ----------
        notify = NotifySocket(os.path.join(sim.tmp, "notify2"))
        process = sim.start_vfiod(env={"NOTIFY_SOCKET": notify.path,
                                       "WATCHDOG_USEC": str(WATCHDOG_USEC),
                                       "WATCHDOG_PID": "1"})
        ready = notify.wait_for("READY", "1", process=process)
        checks.check("READY=1 with a foreign WATCHDOG_PID",
                     ready is not None, sim.log())
        # A window of four keep-alive periods in which none may come: the
        # sleep is the thing under test (an absence over time).
        time.sleep(0.8)
        notify.flush()
        checks.check("no WATCHDOG=1 when WATCHDOG_PID names another process",
                     notify.count("WATCHDOG", 0) == 0,
                     [m[2] for m in notify.messages])
        sim.stop_vfiod()
        notify.close()

        # --- 3. no WatchdogSec at all -------------------------------------
        notify = NotifySocket(os.path.join(sim.tmp, "notify3"))
        process = sim.start_vfiod(env={"NOTIFY_SOCKET": notify.path})
        ready = notify.wait_for("READY", "1", process=process)
        checks.check("READY=1 without a watchdog", ready is not None,
                     sim.log())
        # As above: an absence over a window, the thing under test.
        time.sleep(0.5)
        notify.flush()
        checks.check("no WATCHDOG=1 without WATCHDOG_USEC",
                     notify.count("WATCHDOG", 0) == 0)
        sim.stop_vfiod()
        notify.close()

        # --- 4. no service manager: nothing breaks ------------------------
        sim.start_vfiod()
        checks.check("without NOTIFY_SOCKET vfiod still serves",
                     sim.owns_name(), sim.log())
        rc = sim.stop_vfiod()
        checks.check("and stops cleanly", rc == 0, f"exit {rc}")

    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
