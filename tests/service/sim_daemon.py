"""The real vfiod on the simulated host, on a private bus, for the service
tests (notify, logging, the libvirt hook). Like tests/cli/vfioctl_test.sh:
a private dbus-daemon that lets everyone in, a vfiod.toml of our own (state
in the temporary directory, the caller allowed without polkit), and
conf/sim-host.toml as the machine, so no real device is ever touched.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time


class DatagramSocket:
    """A datagram socket read on a thread, so that each datagram is stamped
    when it arrives and a small queue (net.unix.max_dgram_qlen) never fills
    up. parse(bytes) makes the entry kept in received as (monotonic time,
    parsed, raw). Waits are woken by each arrival."""

    MARK = b"VFIOD_TEST_FLUSH="

    def __init__(self, path, parse):
        self.path = path
        self.parse = parse
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.changed = threading.Condition()
        self.received = []
        self.marks = 0
        self.marks_seen = 0
        self.thread = threading.Thread(target=self.receive, daemon=True)
        self.thread.start()

    def receive(self):
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                return
            if data == b"":
                return  # close(): the empty datagram that ends the thread
            with self.changed:
                if data.startswith(self.MARK):
                    self.marks_seen += 1
                else:
                    self.received.append((time.monotonic(),
                                          self.parse(data), data))
                self.changed.notify_all()

    @property
    def messages(self):
        with self.changed:
            return list(self.received)

    def wait(self, done, stop=None):
        """Waits until done(messages) holds (True), woken by each datagram,
        or until stop() does (done(messages) then). No time bound."""
        with self.changed:
            while not done(self.received):
                if stop is not None and stop():
                    return done(self.received)
                # The timeout only looks at stop() again; arrivals wake at
                # once.
                self.changed.wait(0.1 if stop is not None else None)
            return True

    def flush(self):
        """Returns once every datagram sent before the call was received:
        one of our own, queued behind them, has come through."""
        with self.changed:
            self.marks += 1
            want = self.marks
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sender.sendto(self.MARK + str(want).encode(), self.path)
        finally:
            sender.close()
        with self.changed:
            self.changed.wait_for(lambda: self.marks_seen >= want)

    def take(self):
        """The entries received so far, removed."""
        with self.changed:
            taken, self.received = self.received, []
        return taken

    def close(self):
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sender.sendto(b"", self.path)
        finally:
            sender.close()
        self.thread.join()
        self.sock.close()


class SimDaemon:
    """tmp: a fresh directory; bus: the address; start_vfiod() runs vfiod
    with extra environment and a chosen stderr."""

    def __init__(self, vfiod, source_root):
        self.vfiod = vfiod
        self.sim_host = os.path.join(source_root, "conf", "sim-host.toml")
        self.tmp = tempfile.mkdtemp(prefix="vfiod-service-test.")
        os.chmod(self.tmp, 0o755)
        self.bus_path = os.path.join(self.tmp, "bus")
        self.bus = "unix:path=" + self.bus_path
        self.dbus = None
        self.process = None
        self.log_path = os.path.join(self.tmp, "vfiod.log")

    def __enter__(self):
        conf = os.path.join(self.tmp, "bus.conf")
        with open(conf, "w") as f:
            f.write(f"""<busconfig>
  <type>system</type>
  <listen>unix:path={self.bus_path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
""")
        os.makedirs(os.path.join(self.tmp, "state"))
        user = subprocess.run(["id", "-un"], capture_output=True,
                              text=True, check=True).stdout.strip()
        self.config = os.path.join(self.tmp, "vfiod.toml")
        with open(self.config, "w") as f:
            f.write(f'[daemon]\nstate_dir = "{self.tmp}/state"\n\n'
                    f'[access]\nusers = ["{user}"]\n')
        # It prints its address once it listens (EOF if it exits first).
        self.dbus = subprocess.Popen(
            ["dbus-daemon", "--nofork", "--print-address=1",
             "--config-file=" + conf],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if not self.dbus.stdout.readline():
            raise RuntimeError("the private dbus-daemon did not start")
        return self

    def start_vfiod(self, env=None, stderr=None, watchdog_pid_self=False,
                    wait_for_name=True):
        """Starts vfiod; env adds to a clean environment. With
        watchdog_pid_self, WATCHDOG_PID is vfiod's own pid (set by a shell
        that then execs vfiod, as systemd sets it before exec)."""
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for key in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
            if key in os.environ:
                full_env[key] = os.environ[key]
        full_env.update(env or {})
        argv = [self.vfiod, "--sim", self.sim_host,
                "--sim-state", os.path.join(self.tmp, "sim"),
                "--config", self.config, "--bus-address", self.bus]
        if watchdog_pid_self:
            argv = ["sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; '
                    'exec "$@"', "sh"] + argv
        if stderr is None:
            stderr = open(self.log_path, "ab")
        self.process = subprocess.Popen(argv, env=full_env,
                                        stdin=subprocess.DEVNULL,
                                        stdout=stderr, stderr=stderr)
        if wait_for_name and not self.wait_for_name():
            raise RuntimeError("vfiod did not take org.vfiod1: " + self.log())
        return self.process

    def wait_for_name(self):
        """Waits until vfiod owns org.vfiod1 (gdbus wait follows
        NameOwnerChanged) or exits, whichever comes first: both processes'
        pidfds, no polling and no time bound."""
        waiter = subprocess.Popen(["gdbus", "wait", "--address", self.bus,
                                   "org.vfiod1"],
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        fds = [os.pidfd_open(waiter.pid), os.pidfd_open(self.process.pid)]
        try:
            select.select(fds, [], [])
        finally:
            for fd in fds:
                os.close(fd)
        if waiter.poll() is None:
            waiter.kill()
        return waiter.wait() == 0 and self.process.poll() is None

    def owns_name(self):
        if self.process is not None and self.process.poll() is not None:
            return False
        r = subprocess.run(["busctl", "--address=" + self.bus, "status",
                            "org.vfiod1"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def stop_vfiod(self):
        """SIGTERM, then the exit status, however long it takes."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait()
        finally:
            self.process = None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.dbus is not None:
            self.dbus.terminate()
            self.dbus.wait()
            self.dbus.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False


class Checks:
    """"ok"/"FAIL" lines and the closing "N passed, M failed"."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, *details):
        if condition:
            self.passed += 1
            print("ok   " + name, flush=True)
        else:
            self.failed += 1
            print("FAIL " + name, flush=True)
            for line in details:
                for part in str(line).splitlines():
                    print("     " + part, flush=True)
        return condition

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1
