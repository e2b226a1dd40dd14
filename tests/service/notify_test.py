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
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim_daemon import Checks, SimDaemon, wait_until  # noqa: E402

WATCHDOG_USEC = 400000  # keep-alives expected every 200 ms


class NotifySocket:
    """Receives on a thread, so that each message is stamped when it
    arrives and the socket's small queue (net.unix.max_dgram_qlen) never
    fills up."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.lock = threading.Lock()
        self.received = []  # (monotonic time, {key: value}, raw)
        self.running = True
        self.thread = threading.Thread(target=self.receive, daemon=True)
        self.thread.start()

    def receive(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode(errors="replace").split("\n"):
                if "=" in line:
                    key, value = line.split("=", 1)
                    fields[key] = value
            with self.lock:
                self.received.append((time.monotonic(), fields, data))

    @property
    def messages(self):
        with self.lock:
            return list(self.received)

    def drain(self):
        pass

    def wait_for(self, key, value=None, timeout=10, after=0):
        """The first message from index `after` on that has key (=value)."""
        found = []

        def seen():
            self.drain()
            messages = self.messages
            for i, (_, fields, _) in enumerate(messages[after:], after):
                if key in fields and (value is None or fields[key] == value):
                    found.append(i)
                    return True
            return False

        wait_until(seen, timeout, step=0.02)
        return found[0] if found else None

    def count(self, key, since, until=None):
        self.drain()
        return sum(1 for t, fields, _ in self.messages
                   if key in fields and t >= since
                   and (until is None or t <= until))

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


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
        ready = notify.wait_for("READY", "1")
        checks.check("READY=1 arrives", ready is not None, sim.log())
        if ready is not None:
            status = notify.messages[ready][1].get("STATUS", "")
            checks.check("READY=1 carries a STATUS= line",
                         status != "", notify.messages[ready][2])
            checks.check("STATUS names the devices",
                         "device" in status.lower(), status)

        # Keep-alives over a quiet second and a half: about one per 200 ms,
        # and vfiod otherwise asleep.
        start = time.monotonic()
        cpu_before = cpu_seconds(process.pid)
        time.sleep(1.5)
        end = time.monotonic()
        cpu_used = cpu_seconds(process.pid) - cpu_before
        beats = notify.count("WATCHDOG", start, end)
        checks.check("repeated WATCHDOG=1 at half of WATCHDOG_USEC "
                     "(4..10 in 1.5 s)", 4 <= beats <= 10,
                     f"{beats} keep-alives")
        checks.check("no busy waking while idle (< 0.3 s CPU in 1.5 s)",
                     cpu_used < 0.3, f"{cpu_used:.2f} s of CPU")
        values = {m[1]["WATCHDOG"] for m in notify.messages
                  if "WATCHDOG" in m[1]}
        checks.check("keep-alives are WATCHDOG=1", values == {"1"}, values)

        # SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1 again.
        mark = len(notify.messages)
        process.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING", "1", after=mark)
        checks.check("SIGHUP sends RELOADING=1", reloading is not None,
                     [m[2] for m in notify.messages[mark:]])
        if reloading is not None:
            fields = notify.messages[reloading][1]
            checks.check("RELOADING=1 carries MONOTONIC_USEC and STATUS",
                         fields.get("MONOTONIC_USEC", "").isdigit()
                         and fields.get("STATUS", "") != "", fields)
            again = notify.wait_for("READY", "1", after=reloading)
            checks.check("READY=1 after the reload", again is not None,
                         [m[2] for m in notify.messages[mark:]])

        # Keep-alives go on after the reload.
        start = time.monotonic()
        time.sleep(0.6)
        checks.check("keep-alives continue after a reload",
                     notify.count("WATCHDOG", start) >= 2)

        mark = len(notify.messages)
        rc = sim.stop_vfiod()
        checks.check("SIGTERM: vfiod exits 0", rc == 0, f"exit {rc}",
                     sim.log())
        stopping = notify.wait_for("STOPPING", "1", after=mark, timeout=2)
        checks.check("SIGTERM sends STOPPING=1", stopping is not None,
                     [m[2] for m in notify.messages[mark:]])
        if stopping is not None:
            checks.check("STOPPING=1 carries STATUS=Stopping",
                         notify.messages[stopping][1].get("STATUS") ==
                         "Stopping", notify.messages[stopping][2])
        notify.close()

        # --- 2. WATCHDOG_PID of another process: not ours to feed ----------
        notify = NotifySocket(os.path.join(sim.tmp, "notify2"))
        sim.start_vfiod(env={"NOTIFY_SOCKET": notify.path,
                             "WATCHDOG_USEC": str(WATCHDOG_USEC),
                             "WATCHDOG_PID": "1"})
        ready = notify.wait_for("READY", "1")
        checks.check("READY=1 with a foreign WATCHDOG_PID",
                     ready is not None, sim.log())
        time.sleep(0.8)
        checks.check("no WATCHDOG=1 when WATCHDOG_PID names another process",
                     notify.count("WATCHDOG", 0) == 0,
                     [m[2] for m in notify.messages])
        sim.stop_vfiod()
        notify.close()

        # --- 3. no WatchdogSec at all -------------------------------------
        notify = NotifySocket(os.path.join(sim.tmp, "notify3"))
        sim.start_vfiod(env={"NOTIFY_SOCKET": notify.path})
        ready = notify.wait_for("READY", "1")
        checks.check("READY=1 without a watchdog", ready is not None,
                     sim.log())
        time.sleep(0.5)
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
