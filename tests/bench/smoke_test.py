#!/usr/bin/env python3
"""Runs bench/run.py --quick and checks its JSON holds every figure.

usage: smoke_test.py SOURCE_ROOT BUILD_ROOT
"""

import json
import math
import os
import subprocess
import sys
import tempfile

EXPECTED = {
    "cold_start": True, "rss_idle": False, "cpu_idle": False,
    "device_property": True,
    "get_device": True, "bind_unbind": True, "get_managed_objects": False,
    "bind_driverctl_style_shell": False, "bind_vfioctl_per_device": True,
    "bind_one_dbus_client": True, "rss_growth_after_cycles": False,
    "vf_storm_autobind": True, "save_state_throughput": True,
    "holder_scan": True,
}


def main():
    src, build = sys.argv[1], sys.argv[2]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        done = subprocess.run(
            [sys.executable, os.path.join(src, "bench/run.py"), "--quick",
             "--build", build, "--out", out],
            capture_output=True, text=True)
        print(done.stdout, done.stderr, sep="\n")
        if done.returncode != 0:
            print(f"FAIL: bench/run.py --quick exited {done.returncode}")
            return 1
        with open(out) as f:
            report = json.load(f)
    rows = {r["name"]: r for r in report["results"]}
    if report["run"].get("quick") is not True:
        failures.append("the run is not marked quick")
    for name, has_baseline in EXPECTED.items():
        row = rows.get(name)
        if row is None:
            failures.append(f"{name}: missing")
            continue
        for key in ("median", "p95", "min", "max"):
            value = row.get(key)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                failures.append(f"{name}: {key} is {value!r}")
        if not row["min"] <= row["median"] <= row["max"]:
            failures.append(f"{name}: min <= median <= max does not hold")
        if has_baseline:
            ratio = row.get("ratio")
            if not isinstance(ratio, float) or not ratio > 0:
                failures.append(f"{name}: ratio is {ratio!r}")
        if "target" in row and row.get("met") is not None:
            failures.append(f"{name}: a quick run must not judge targets")
    for name in set(rows) - set(EXPECTED):
        failures.append(f"{name}: not expected (update this test)")
    if rows.get("get_managed_objects", {}).get("note") != "64 objects":
        failures.append("get_managed_objects did not see the 64 devices: "
                        + str(rows.get("get_managed_objects", {}).get("note")))
    for f in failures:
        print("FAIL: " + f)
    print(f"{len(EXPECTED) - len(failures)} of {len(EXPECTED)} figures checked"
          if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
