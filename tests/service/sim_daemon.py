"""The real vfiod on the simulated host, on a private bus, for the service
tests (notify, logging, the libvirt hook). Like tests/cli/vfioctl_test.sh:
a private dbus-daemon that lets everyone in, a vfiod.toml of our own (state
in the temporary directory, the caller allowed without polkit), and
conf/sim-host.toml as the machine, so no real device is ever touched.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time


def wait_until(done, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(step)
    return done()


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
        self.dbus = subprocess.Popen(
            ["dbus-daemon", "--nofork", "--config-file=" + conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(lambda: os.path.exists(self.bus_path), 5):
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
        if wait_for_name and not wait_until(self.owns_name, 20):
            raise RuntimeError("vfiod did not take org.vfiod1: " + self.log())
        return self.process

    def owns_name(self):
        if self.process is not None and self.process.poll() is not None:
            return False
        r = subprocess.run(["busctl", "--address=" + self.bus, "status",
                            "org.vfiod1"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def stop_vfiod(self, timeout=20):
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
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
