#!/usr/bin/env python3
"""vfiod-dbus(7) against the introspection XML: every interface, method,
property and signal of dbus/*.xml is documented in the page, and the page
documents nothing the XML lacks; likewise the errors of the daemon's error
table (daemon/error_map.cpp) and the polkit actions (org.vfiod1.policy).
The page is generated from these files at build time, so this guards the
generator, and any hand-written page that might replace it.

"Documented" means an entry of its own: a .TP tag line in the page's
Methods, Properties or Signals subsection of the interface's section, in
ERRORS or in POLKIT ACTIONS.

usage: dbus_page_test.py PAGE ERROR_MAP POLICY XML...
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "service"))
from sim_daemon import Checks  # noqa: E402


def plain(roff):
    return re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", roff).replace("\\-", "-") \
        .replace("\\(->", "->").replace("\\e", "\\").replace("\\&", "")


def page_entries(path):
    """{(section, subsection): [tag names]}."""
    entries = {}
    section = subsection = None
    tag_next = False
    nested = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".SH"):
                section = plain(line[3:].strip().strip('"'))
                subsection = None
                tag_next = False
                continue
            if line.startswith(".SS"):
                subsection = plain(line[3:].strip().strip('"'))
                continue
            if line.startswith(".RS"):
                # Argument lists are nested .TP entries, not members.
                nested = True
                continue
            if line.startswith(".RE"):
                nested = False
                continue
            if line.startswith(".TP"):
                tag_next = not nested
                continue
            if tag_next:
                tag_next = False
                name = re.match(r"[A-Za-z0-9_.]+", plain(line))
                if name:
                    entries.setdefault((section, subsection), []).append(
                        name.group(0))
    return entries


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    page, error_map, policy = sys.argv[1:4]
    xml_files = sys.argv[4:]
    checks = Checks()
    entries = page_entries(page)

    documented_interfaces = {s[len("INTERFACE "):] for s, _ in entries
                             if s and s.startswith("INTERFACE ")}
    with open(page, encoding="utf-8") as f:
        sections = {plain(m) for m in re.findall(
            r'^\.SH "?INTERFACE ([^"\n]*)"?$', f.read(), re.M)}
    documented_interfaces |= sections
    xml_interfaces = set()
    for path in xml_files:
        root = ET.parse(path).getroot()
        for interface in root.findall("interface"):
            name = interface.get("name")
            xml_interfaces.add(name)
            for kind, title in (("method", "Methods"),
                                ("property", "Properties"),
                                ("signal", "Signals")):
                want = sorted(m.get("name") for m in interface.findall(kind))
                have = sorted(entries.get(("INTERFACE " + name, title), []))
                missing = sorted(set(want) - set(have))
                extra = sorted(set(have) - set(want))
                checks.check(f"{name}: every {kind} documented",
                             not missing, f"missing: {missing}")
                checks.check(f"{name}: no {kind} the XML lacks",
                             not extra, f"not in the XML: {extra}")
                checks.check(f"{name}: each {kind} once",
                             len(have) == len(set(have)), have)
    checks.check("every interface has its section",
                 xml_interfaces <= documented_interfaces,
                 sorted(xml_interfaces - documented_interfaces))
    checks.check("no section for an interface the XML lacks",
                 documented_interfaces <= xml_interfaces,
                 sorted(documented_interfaces - xml_interfaces))
    known = {(s, sub) for s, sub in entries}
    stray = sorted(k for k in known if k[0] and k[0].startswith("INTERFACE")
                   and k[1] not in ("Methods", "Properties", "Signals"))
    checks.check("interface sections hold only Methods, Properties, Signals",
                 not stray, stray)

    with open(error_map, encoding="utf-8") as f:
        errors = set(re.findall(r'"(org\.vfiod1\.Error\.[A-Za-z]+)"',
                                f.read()))
    have = set(entries.get(("ERRORS", None), []))
    checks.check("every error of error_map.cpp documented",
                 errors <= have, sorted(errors - have))
    checks.check("no error the daemon lacks",
                 have <= errors | {"org.freedesktop.DBus.Error.AccessDenied"},
                 sorted(have - errors))

    actions = {a.get("id") for a in ET.parse(policy).getroot()
               .findall("action")}
    have = set(entries.get(("POLKIT ACTIONS", None), []))
    checks.check("every polkit action documented", actions <= have,
                 sorted(actions - have))
    checks.check("no polkit action the policy lacks", have <= actions,
                 sorted(have - actions))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
