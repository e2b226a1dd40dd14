#!/usr/bin/env python3
"""Where the daemon's log goes, for real:

- stderr redirected (no JOURNAL_STREAM, or one naming something else):
  "vfiod[PID]: level: message" lines;
- stderr is the journal stream (JOURNAL_STREAM names its device and inode)
  but journald does not answer: "<N>message" lines, which the stream parses;
- stderr is the journal stream and journald answers: native journal
  entries with MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_* and the
  structured fields (PCI_ADDRESS, VENDOR_ID, DEVICE_ID, OPERATION, ERROR).

journald is rarely running where tests run, so the last part plays it: in
a private mount namespace (unshare -m, needs root) a tmpfs covers
/run/systemd and this test binds /run/systemd/journal/socket itself. Where
that is impossible those checks are reported as skipped; the field
formatting is covered by the logging unit test either way.

usage: logging_test.py VFIOD LOG_PROBE SOURCE_ROOT
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim_daemon import Checks, DatagramSocket, SimDaemon  # noqa: E402

JOURNAL_SOCKET = "/run/systemd/journal/socket"


def stream_of(path):
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"


def base_env():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def run_probe(probe, tmp, name, env, level="error", message="probe"):
    """Runs log_probe with stderr to a file; returns (rc, stderr text)."""
    path = os.path.join(tmp, name)
    with open(path, "wb") as err:
        full = base_env()
        full.update({k: (v(path) if callable(v) else v)
                     for k, v in env.items()})
        rc = subprocess.run([probe, level, message], env=full,
                            stdout=subprocess.DEVNULL, stderr=err).returncode
    with open(path, encoding="utf-8", errors="replace") as f:
        return rc, f.read()


def parse_native(data):
    """The journal's native protocol: KEY=value\\n, or KEY\\n + le64 size +
    value + \\n for values with newlines. Returns [(key, value)]."""
    fields = []
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            fields.append((key.decode(), value.decode(errors="replace")))
            i = nl + 1
        else:
            size = struct.unpack_from("<Q", data, nl + 1)[0]
            start = nl + 1 + 8
            value = data[start:start + size]
            fields.append((line.decode(), value.decode(errors="replace")))
            i = start + size + 1
    return fields


def stderr_checks(checks, vfiod, probe, source_root):
    tmp = tempfile.mkdtemp(prefix="vfiod-log-test.")
    try:
        # log_probe: console and forced formats.
        rc, text = run_probe(probe, tmp, "console", {})
        lines = text.splitlines()
        checks.check("console: 'vfiod[PID]: error: message'",
                     rc == 0 and len(lines) == 2
                     and lines[0].startswith("vfiod[")
                     and "]: error: probe" in lines[0], text)
        checks.check("console: info carries no level word",
                     len(lines) == 2 and lines[1].endswith("]: plain message")
                     and "info" not in lines[1], text)

        # A message quoting what a caller sent: its line break and escape
        # sequence are escaped, so it stays one line and forges none.
        rc, text = run_probe(probe, tmp, "hostile", {},
                             message="x\nvfiod[1]: forged\x1b[2J")
        lines = text.splitlines()
        checks.check("console: a newline and ESC in a message are escaped",
                     rc == 0 and len(lines) == 2
                     and lines[0].endswith(
                         "]: error: x\\nvfiod[1]: forged\\x1b[2J")
                     and "\x1b" not in text, text)
        rc, text = run_probe(probe, tmp, "long", {},
                             message="y" * 100000)
        lines = text.splitlines()
        checks.check("console: a long message is cut at 4 KiB",
                     rc == 0 and len(lines) == 2
                     and lines[0].endswith("y" * 4096 + "…(95904 bytes cut)"),
                     text[:200])

        rc, text = run_probe(probe, tmp, "redirected",
                             {"JOURNAL_STREAM": "1:1"})
        checks.check("JOURNAL_STREAM naming another file: console lines",
                     text.startswith("vfiod["), text)

        rc, text = run_probe(probe, tmp, "forced",
                             {"VFIOD_LOG_TARGET": "syslog"}, level="warning")
        checks.check("VFIOD_LOG_TARGET=syslog: '<4>message'",
                     text.splitlines()[:2] == ["<4>probe", "<6>plain message"],
                     text)

        journald = os.path.exists(JOURNAL_SOCKET)
        if journald:
            print("# skipped: journald runs here, a test must not write to "
                  "it (stream fallback checks)")
        else:
            rc, text = run_probe(probe, tmp, "stream",
                                 {"JOURNAL_STREAM": stream_of})
            checks.check("journal stream without journald: '<3>' lines",
                         text.splitlines()[:2] ==
                         ["<3>probe", "<6>plain message"], text)

        # The real daemon, stderr to a file.
        with SimDaemon(vfiod, source_root) as sim:
            sim.start_vfiod()
            pid = sim.process.pid
            sim.stop_vfiod()
            lines = sim.log().splitlines()
            checks.check("vfiod on a file: every line 'vfiod[PID]: ...'",
                         lines and all(line.startswith(f"vfiod[{pid}]: ")
                                       for line in lines), sim.log())
            if not journald:
                log = os.path.join(sim.tmp, "stream.log")
                with open(log, "wb") as err:
                    sim.start_vfiod(env={"JOURNAL_STREAM": stream_of(log)},
                                    stderr=err)
                    sim.stop_vfiod()
                with open(log, errors="replace") as f:
                    text = f.read()
                lines = text.splitlines()
                checks.check("vfiod on the journal stream without journald: "
                             "'<N>' lines",
                             lines and all(line[:3] in ("<3>", "<4>", "<6>",
                                                        "<7>")
                                           for line in lines), text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class FakeJournald(DatagramSocket):
    """The journal's socket: entries are native-protocol field lists."""

    def __init__(self):
        os.makedirs(os.path.dirname(JOURNAL_SOCKET), exist_ok=True)
        super().__init__(JOURNAL_SOCKET, parse_native)

    def take(self):
        """The entries received so far (field lists), removed."""
        return [entry for _, entry, _ in super().take()]


def journal_checks(checks, vfiod, probe, source_root):
    """Runs inside the private mount namespace."""
    journald = FakeJournald()
    tmp = tempfile.mkdtemp(prefix="vfiod-journal-test.")
    try:
        rc, text = run_probe(probe, tmp, "stream",
                             {"JOURNAL_STREAM": stream_of})
        # The probe has exited: what it sent is queued.
        journald.flush()
        raw = journald.take()
        entries = [dict(e) for e in raw]
        twice = [[k for k, _ in e if [x for x, _ in e].count(k) > 1]
                 for e in raw]
        checks.check("journal: no field twice (one CODE_FILE: the caller's)",
                     not any(twice), twice)
        checks.check("journal: nothing on stderr", rc == 0 and text == "",
                     text)
        checks.check("journal: two entries", len(entries) == 2, entries)
        if entries:
            e = entries[0]
            want = {"MESSAGE": "probe", "PRIORITY": "3",
                    "SYSLOG_IDENTIFIER": "vfiod",
                    "PCI_ADDRESS": "0000:03:00.0", "VENDOR_ID": "144d",
                    "DEVICE_ID": "a808", "OPERATION": "bind",
                    "ERROR": "Busy: multi\\nline"}
            wrong = {k: (v, e.get(k)) for k, v in want.items()
                     if e.get(k) != v}
            checks.check("journal: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and "
                         "the structured fields", not wrong, wrong)
            checks.check("journal: CODE_FILE, CODE_LINE, CODE_FUNC",
                         e.get("CODE_FILE", "").endswith("log_probe.cpp")
                         and e.get("CODE_LINE", "").isdigit()
                         and "main" in e.get("CODE_FUNC", ""), e)
        if len(entries) == 2:
            checks.check("journal: a plain message is an entry too",
                         entries[1].get("MESSAGE") == "plain message"
                         and entries[1].get("PRIORITY") == "6", entries[1])

        # The real daemon: every message is a journal entry with its
        # location, none is on stderr.
        with SimDaemon(vfiod, source_root) as sim:
            log = os.path.join(sim.tmp, "stream.log")
            with open(log, "wb") as err:
                sim.start_vfiod(env={"JOURNAL_STREAM": stream_of(log)},
                                stderr=err)
                # A device operation: its entry carries the device's fields.
                subprocess.run(
                    ["busctl", "--address=" + sim.bus, "call", "org.vfiod1",
                     "/org/vfiod1/devices/pci_0000_02_00_0",
                     "org.vfiod1.Device", "Reset", "a{sv}", "0"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                sim.stop_vfiod()
            # vfiod has exited: what it sent is queued.
            journald.flush()
            entries = [dict(e) for e in journald.take()]
            reset = [e for e in entries if e.get("OPERATION") == "Reset"]
            checks.check("vfiod under journald: a device operation carries "
                         "OPERATION and PCI_ADDRESS",
                         reset and reset[0].get("PCI_ADDRESS") ==
                         "0000:02:00.0", entries)
            with open(log, errors="replace") as f:
                text = f.read()
            checks.check("vfiod under journald: entries arrive",
                         len(entries) >= 2, entries)
            checks.check("vfiod under journald: each with identifier, "
                         "priority and CODE_FILE",
                         entries and all(
                             e.get("SYSLOG_IDENTIFIER") == "vfiod"
                             and e.get("PRIORITY") in ("3", "4", "6", "7")
                             and e.get("CODE_FILE", "").endswith(".cpp")
                             for e in entries), entries)
            checks.check("vfiod under journald: nothing on stderr",
                         text == "", text)
    finally:
        journald.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--inner":
        checks = Checks()
        journal_checks(checks, *sys.argv[2:])
        return checks.finish()
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    vfiod, probe, source_root = sys.argv[1:]
    checks = Checks()
    stderr_checks(checks, vfiod, probe, source_root)

    # The fake journald, in a mount namespace of its own.
    inner = [sys.executable, os.path.abspath(__file__), "--inner", vfiod,
             probe, source_root]
    script = ('mount -t tmpfs -o mode=0755 tmpfs /run/systemd && '
              'exec "$@"')
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("# skipped: the journal checks need root and unshare(1)")
    else:
        result = subprocess.run(["unshare", "-m", "--propagation", "private",
                                 "sh", "-c", script, "sh"] + inner,
                                capture_output=True, text=True)
        if result.returncode != 0 and "passed" not in result.stdout:
            print("# skipped: no private mount namespace here: " +
                  result.stderr.strip())
        else:
            for line in result.stdout.splitlines():
                if line.startswith(("ok ", "FAIL", "     ", "#")):
                    print(line)
                    if line.startswith("ok "):
                        checks.passed += 1
                    elif line.startswith("FAIL"):
                        checks.failed += 1
            if result.returncode != 0 and "FAIL" not in result.stdout:
                checks.check("journal checks ran", False, result.stdout,
                             result.stderr)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
