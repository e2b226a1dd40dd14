#!/usr/bin/env python3
"""The libvirt hook (libvirt/vfiod-libvirt-hook) on real domain XML, with a
fake vfioctl that records its calls and holds "leases" (fake-vfioctl); and,
when vfiod is given, once end to end with the real vfioctl and vfiod on the
simulated host.

usage: hook_test.py HOOK [VFIOCTL VFIOD SOURCE_ROOT]
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAINS = os.path.join(HERE, "domains")
sys.path.insert(0, os.path.join(HERE, "..", "service"))
from sim_daemon import Checks, SimDaemon  # noqa: E402

ALL_OPERATIONS = [("prepare", "begin"), ("start", "begin"),
                  ("started", "begin"), ("stopped", "end"),
                  ("release", "end"), ("migrate", "begin"),
                  ("restore", "begin"), ("reconnect", "begin"),
                  ("attach", "begin"), ("reconnect", "begin")]


def domain_xml(name):
    with open(os.path.join(DOMAINS, name)) as f:
        return f.read()


class Fake:
    """A run directory, a fake vfioctl and a fake virsh on PATH."""

    def __init__(self, hook):
        self.hook = hook
        self.tmp = tempfile.mkdtemp(prefix="vfiod-hook-test.")
        self.run_dir = os.path.join(self.tmp, "run")
        self.log = os.path.join(self.tmp, "calls")
        self.state = os.path.join(self.tmp, "state")
        os.makedirs(self.state)
        bin_dir = os.path.join(self.tmp, "bin")
        os.makedirs(bin_dir)
        # The hook must never call back into libvirt.
        self.virsh_log = os.path.join(self.tmp, "virsh-calls")
        for tool in ("virsh", "virt-admin"):
            path = os.path.join(bin_dir, tool)
            with open(path, "w") as f:
                f.write(f"#!/bin/sh\necho \"{tool} $*\" >>{self.virsh_log}\n")
            os.chmod(path, 0o755)
        self.env = {
            "PATH": bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
            "VFIOD_HOOK_VFIOCTL": os.path.join(HERE, "fake-vfioctl"),
            "VFIOD_HOOK_RUN_DIR": self.run_dir,
            "FAKE_LOG": self.log,
            "FAKE_STATE": self.state,
        }

    def run(self, domain, operation, sub, xml, extra_env=None):
        env = dict(self.env)
        env.update(extra_env or {})
        # Pipes, as libvirt gives: the call returning at all proves the
        # holders did not keep them open (no time bound: a hook that never
        # returns is ended by meson's timeout).
        return subprocess.run([sys.executable, self.hook, domain,
                               operation, sub, "-"],
                              input=xml, capture_output=True, text=True,
                              env=env)

    def calls(self):
        try:
            with open(self.log) as f:
                return [line.split(" ", 1)[1] for line in
                        f.read().splitlines()]
        except FileNotFoundError:
            return []

    def holders(self, domain):
        directory = os.path.join(self.run_dir, domain)
        found = {}
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                if name.endswith(".pid"):
                    with open(os.path.join(directory, name)) as f:
                        found[name[:-4]] = int(f.read())
        return found

    def virsh_called(self):
        return os.path.exists(self.virsh_log)

    def cleanup(self):
        for domain in os.listdir(self.run_dir) if os.path.isdir(
                self.run_dir) else []:
            for pid in self.holders(domain).values():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def fake_tests(checks, hook):
    fake = Fake(hook)
    try:
        # 1. No host devices: nothing to do.
        r = fake.run("plain", "prepare", "begin", domain_xml("no-hostdev.xml"))
        checks.check("no hostdev: prepare begin exits 0, no vfioctl call",
                     r.returncode == 0 and fake.calls() == [], r.stderr,
                     fake.calls())
        checks.check("no hostdev: no run directory",
                     not os.path.exists(os.path.join(fake.run_dir, "plain")))

        # 2. GPU and its audio function.
        gpu, audio = "0000:0a:00.0", "0000:0a:00.1"
        r = fake.run("win11-gaming", "prepare", "begin",
                     domain_xml("gpu-audio.xml"))
        held = fake.holders("win11-gaming")
        checks.check("GPU+audio: prepare begin exits 0",
                     r.returncode == 0, r.stderr)
        checks.check("GPU+audio: assigns both functions",
                     sorted(fake.calls()) == [f"assign {gpu}",
                                              f"assign {audio}"],
                     fake.calls())
        checks.check("GPU+audio: a live holder per device, recorded",
                     sorted(held) == [gpu, audio]
                     and all(alive(pid) for pid in held.values()), held)
        checks.check("GPU+audio: holders are assigned when the hook returns",
                     all(os.path.exists(os.path.join(fake.state, a))
                         for a in (gpu, audio)))
        checks.check("GPU+audio: holders run in sessions of their own",
                     all(os.getsid(pid) == pid for pid in held.values()
                         if alive(pid)), held)

        # 3. Every other operation: exit 0, no call.
        before = len(fake.calls())
        bad = []
        for operation, sub in ALL_OPERATIONS:
            if (operation, sub) in (("prepare", "begin"), ("release", "end")):
                continue
            r = fake.run("win11-gaming", operation, sub,
                         domain_xml("gpu-audio.xml"))
            if r.returncode != 0:
                bad.append(f"{operation} {sub}: {r.returncode} {r.stderr}")
        checks.check("other operations exit 0 and call nothing",
                     not bad and len(fake.calls()) == before, bad,
                     fake.calls()[before:])
        checks.check("holders survive the other operations",
                     all(alive(pid) for pid in held.values()))

        # 4. A second prepare begin (libvirt retried): no second holder.
        r = fake.run("win11-gaming", "prepare", "begin",
                     domain_xml("gpu-audio.xml"))
        checks.check("a repeated prepare begin starts no second holder",
                     r.returncode == 0 and len(fake.calls()) == before
                     and fake.holders("win11-gaming") == held,
                     r.stderr, fake.calls())

        # 5. release end: holders stop, release, vanish.
        r = fake.run("win11-gaming", "release", "end",
                     domain_xml("gpu-audio.xml"))
        calls = fake.calls()
        checks.check("release end exits 0", r.returncode == 0, r.stderr)
        checks.check("release end: both holders released and exited",
                     f"released {gpu}" in calls
                     and f"released {audio}" in calls
                     and not any(alive(pid) for pid in held.values()),
                     calls)
        checks.check("release end verifies with show",
                     f"show {gpu}" in calls and f"show {audio}" in calls,
                     calls)
        checks.check("release end removes the domain's directory",
                     not os.path.exists(os.path.join(fake.run_dir,
                                                     "win11-gaming")))
        r = fake.run("win11-gaming", "release", "end",
                     domain_xml("gpu-audio.xml"))
        checks.check("a second release end is harmless", r.returncode == 0,
                     r.stderr)

        # 6. NVMe: no domain attribute, decimal function, managed absent.
        r = fake.run("db-server", "prepare", "begin", domain_xml("nvme.xml"))
        checks.check("NVMe: 0000:41:00.0 assigned",
                     r.returncode == 0
                     and "assign 0000:41:00.0" in fake.calls(),
                     r.stderr, fake.calls())
        fake.run("db-server", "release", "end", "")
        checks.check("NVMe: release end needs no XML to release",
                     "released 0000:41:00.0" in fake.calls()
                     and fake.holders("db-server") == {}, fake.calls())

        # 7. Mixed: only the PCI hostdev (managed='no') and the VF
        # interface; usb, mdev, scsi, capabilities and managed='yes' not.
        before = len(fake.calls())
        r = fake.run("router", "prepare", "begin", domain_xml("mixed.xml"))
        new = [c for c in fake.calls()[before:] if c.startswith("assign")]
        checks.check("mixed: only PCI hostdevs vfiod should hold",
                     r.returncode == 0 and sorted(new) ==
                     ["assign 0000:3b:02.1", "assign 10000:01:00.0"],
                     new, r.stderr)
        checks.check("mixed: managed='yes' is named and left to libvirt",
                     "0000:03:00.0 is managed='yes'" in r.stderr, r.stderr)
        fake.run("router", "release", "end", "")

        # 8. A device that cannot be assigned: the other one goes back,
        # the hook fails so libvirt does not start the domain.
        before = len(fake.calls())
        r = fake.run("win11-gaming", "prepare", "begin",
                     domain_xml("gpu-audio.xml"), {"FAKE_FAIL": audio})
        calls = fake.calls()[before:]
        checks.check("failure: prepare begin exits 1", r.returncode == 1,
                     r.returncode, r.stderr)
        checks.check("failure: the error names the device and the reason",
                     audio in r.stderr and "not viable" in r.stderr,
                     r.stderr)
        checks.check("failure: the device already assigned is released",
                     f"released {gpu}" in calls
                     and not os.path.exists(os.path.join(fake.state, gpu)),
                     calls)
        checks.check("failure: no holder is left",
                     fake.holders("win11-gaming") == {}
                     and not os.path.exists(os.path.join(fake.run_dir,
                                                         "win11-gaming")))

        # 9. A device vfiod never reports assigned: bounded wait, undo.
        before = len(fake.calls())
        r = fake.run("db-server", "prepare", "begin", domain_xml("nvme.xml"),
                     {"FAKE_HANG": "0000:41:00.0", "VFIOD_HOOK_TIMEOUT": "1"})
        calls = fake.calls()[before:]
        # The hanging holder never reports: the hook returning at all, with
        # its deadline's message, shows it gave up (how soon is its own
        # VFIOD_HOOK_TIMEOUT; the test sets no clock of its own).
        checks.check("timeout: prepare begin exits 1 after the deadline",
                     r.returncode == 1 and "timed out" in r.stderr,
                     r.stderr)
        checks.check("timeout: the hanging holder is stopped",
                     "released 0000:41:00.0" in calls
                     and fake.holders("db-server") == {}, calls)

        # 10. Bad input.
        r = fake.run("broken", "prepare", "begin", "<domain><devices>")
        checks.check("malformed XML: prepare begin exits 1",
                     r.returncode == 1 and "cannot parse" in r.stderr,
                     r.stderr)
        r = fake.run("broken", "started", "begin", "<domain><devices>")
        checks.check("malformed XML: other operations still exit 0",
                     r.returncode == 0, r.stderr)
        r = fake.run("..", "prepare", "begin", domain_xml("nvme.xml"))
        checks.check("a domain name that would leave the run directory is "
                     "refused", r.returncode == 1, r.stderr)
        bad = domain_xml("nvme.xml").replace("bus='0x41'", "bus='0x141'")
        r = fake.run("db-server", "prepare", "begin", bad)
        checks.check("an out-of-range address is refused",
                     r.returncode == 1 and "out of range" in r.stderr,
                     r.stderr)

        checks.check("virsh and virt-admin were never called",
                     not fake.virsh_called())
    finally:
        fake.cleanup()


def real_tests(checks, hook, vfioctl, vfiod, source_root):
    with SimDaemon(vfiod, source_root) as sim:
        sim.start_vfiod()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "VFIOD_HOOK_VFIOCTL": vfioctl,
               "VFIOD_HOOK_RUN_DIR": os.path.join(sim.tmp, "hook"),
               "VFIOD_HOOK_BUS_ADDRESS": sim.bus,
               "VFIOD_HOOK_TIMEOUT": "30"}

        def show(address):
            out = subprocess.run([vfioctl, "--bus-address", sim.bus, "--json",
                                  "show", address], capture_output=True,
                                 text=True).stdout
            return json.loads(out)

        devices = json.loads(subprocess.run(
            [vfioctl, "--bus-address", sim.bus, "--json", "list"],
            capture_output=True, text=True).stdout)["devices"]
        groups = {}
        for d in devices:
            groups.setdefault(d["IommuGroup"], []).append(d)
        # Alone in its group, on a host driver, not a bridge: storage first.
        free = sorted((d["Class"] >> 16 != 0x01, d["Address"])
                      for d in devices
                      if d["IommuGroup"] >= 0
                      and len(groups[d["IommuGroup"]]) == 1
                      and d["Class"] >> 8 != 0x0604
                      and d["Driver"] not in ("", "vfio-pci"))
        if not free:
            checks.check("the simulated host has a free device", False)
            return
        address = free[0][1]
        original = show(address)["Driver"]
        domain, bus, rest = address.split(":")
        slot, function = rest.split(".")
        xml = domain_xml("nvme.xml").replace(
            "<address bus='0x41' slot='0x00' function='0'/>",
            f"<address domain='0x{domain}' bus='0x{bus}' slot='0x{slot}' "
            f"function='0x{function}'/>")

        r = subprocess.run([sys.executable, hook, "db-server", "prepare",
                            "begin", "-"],
                           input=xml, capture_output=True, text=True,
                           env=env)
        state = show(address)
        checks.check(f"real vfiod: prepare begin assigns {address}",
                     r.returncode == 0 and state["State"] == "assigned",
                     r.stderr, state, sim.log())
        r = subprocess.run([sys.executable, hook, "db-server", "release",
                            "end", "-"],
                           input=xml, capture_output=True, text=True,
                           env=env)
        state = show(address)
        # Released, not unbound: where the device goes after its owner is
        # vfiod's policy (by default it stays on vfio, ready for the next
        # start); the hook only ends the assignment.
        checks.check(f"real vfiod: release end releases {address}",
                     r.returncode == 0 and state["State"] != "assigned"
                     and state["Owner"] == "", r.stderr, state)
        checks.check("real vfiod: no holder left",
                     not os.path.exists(os.path.join(env["VFIOD_HOOK_RUN_DIR"],
                                                     "db-server")))
        r = subprocess.run([vfioctl, "--bus-address", sim.bus, "unbind",
                            address], capture_output=True, text=True)
        checks.check(f"real vfiod: and unbind then gives it back to "
                     f"{original}", r.returncode == 0
                     and show(address)["Driver"] == original,
                     r.stdout, r.stderr)
        sim.stop_vfiod()


def main():
    if len(sys.argv) not in (2, 5):
        print(__doc__, file=sys.stderr)
        return 2
    checks = Checks()
    fake_tests(checks, sys.argv[1])
    if len(sys.argv) == 5:
        real_tests(checks, sys.argv[1], *sys.argv[2:])
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
