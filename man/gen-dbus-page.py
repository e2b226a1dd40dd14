#!/usr/bin/env python3
"""Writes vfiod-dbus(7), the D-Bus API page, from the introspection XML.

The XML (dbus/org.vfiod1.*.xml) is the contract the adaptors and proxies
are generated from; generating the page from it too means the page cannot
list a member the daemon lacks or miss one it has. The text comes from the
XML comments, in the style those files use:

    <!--
      Name: what it does ...
      @arg: what the argument means.
      Errors: NotFound, ...
      Polkit action: org.vfiod1.bind.
    -->
    <method name="Name"> ...

The comment before <node> describes the interface of that file. Error
names come from the daemon's error table (daemon/error_map.cpp), polkit
actions from dbus/org.vfiod1.policy.

usage: gen-dbus-page.py --version V --errors ERROR_MAP --policy POLICY
                        --output PAGE XML...
"""

import argparse
import re
import sys
import xml.etree.ElementTree as ET

# What each error means to a client; an error the table lacks is still
# listed (from error_map.cpp), with a pointer to the methods' texts.
ERROR_MEANINGS = {
    "NotFound": "No such device, or nothing to act on (Release of a device "
                "that is not assigned).",
    "InvalidArgument": "A malformed address, an unknown option or an option "
                       "of the wrong type, an invalid configuration "
                       "(file:line:column in the message).",
    "Busy": "Another operation on the device is in progress, the device is "
            "assigned (to somebody else), or it has VFs enabled.",
    "NotViable": "The IOMMU group is not viable: another member is on a host "
                 "driver. The message names it and its driver.",
    "NotSupported": "The device cannot do this: a bridge, no IOMMU group, no "
                    "such reset method, no migration support.",
    "Failed": "The kernel refused or the result could not be verified; the "
              "device was rolled back. The message says what failed.",
    "TimedOut": "The kernel did not finish in time, typically an unbind "
                "waiting for a process that holds the device open.",
    "LimitsExceeded": "The caller or the device has too many calls pending "
                      "([limits] in vfiod.toml(5)), or vfiod is short of "
                      "file descriptors, or the bus was out of its own "
                      "limits; nothing was done, try again later.",
    "Cancelled": "CancelMigration stopped the save, load or migrate; the "
                 "message says which state the device was left in.",
}

DBUS_ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"

ARG_PATTERN = re.compile(r"^@([A-Za-z_][A-Za-z0-9_]*):\s*(.*)$")
BLOCK_START = re.compile(r"^(@[A-Za-z_][A-Za-z0-9_]*:|Errors:|Polkit action)")


def roff_text(text):
    """Escapes running text for roff."""
    text = text.replace("\\", "\\e")
    text = text.replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def bold(text):
    return "\\fB" + roff_text(text) + "\\fR"


def italic(text):
    return "\\fI" + roff_text(text) + "\\fR"


def comment_lines(text):
    """A comment's lines, dedented, without leading and trailing blanks."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()),
                 default=0)
    return [l[indent:].rstrip() for l in lines]


def blocks(lines):
    """Groups comment lines into blocks: the description, each @arg, the
    Errors: and Polkit action: lines, split at blank lines too."""
    result = []
    current = []
    for line in lines:
        if not line.strip():
            if current:
                result.append(current)
            current = []
            continue
        if BLOCK_START.match(line) and current:
            result.append(current)
            current = []
        current.append(line.strip())
    if current:
        result.append(current)
    return [" ".join(block) for block in result]


def describe(comment, name):
    """(description paragraphs, {arg: text}, other paragraphs)."""
    if comment is None:
        return [], {}, []
    parts = blocks(comment_lines(comment))
    description, args, rest = [], {}, []
    for part in parts:
        match = ARG_PATTERN.match(part)
        if match:
            args[match.group(1)] = match.group(2)
        elif part.startswith(("Errors:", "Polkit action")):
            rest.append(part)
        else:
            if not description and part.startswith(name + ":"):
                part = capitalized(part[len(name) + 1:].strip())
            description.append(part)
    return description, args, rest


def capitalized(text):
    if text.startswith("vfio"):
        return text  # a name: vfiod, vfio-pci
    return text[:1].upper() + text[1:]


def paragraphs(out, texts, separator=".IP"):
    """separator: ".IP" inside a .TP entry, ".PP" at section level."""
    for i, text in enumerate(texts):
        if i > 0:
            out.append(separator)
        label = re.match(r"^(Errors:|Polkit actions?:)\s*(.*)$", text)
        if label:
            out.append(bold(label.group(1)) + " " + roff_text(label.group(2)))
        else:
            out.append(roff_text(text))


def signature(member):
    """Roff for "(in args) -> (out args)" of a method or signal."""
    ins, outs = [], []
    for arg in member.findall("arg"):
        text = arg.get("type", "?")
        if arg.get("name"):
            text += " " + arg.get("name")
        if member.tag == "method" and arg.get("direction", "in") == "out":
            outs.append(text)
        else:
            ins.append(text)
    result = roff_text("(" + ", ".join(ins) + ")")
    if outs:
        result += " \\(-> " + roff_text("(" + ", ".join(outs) + ")")
    return result


def annotations(element):
    return {a.get("name"): a.get("value")
            for a in element.findall("annotation")}


def parse_interfaces(paths):
    """[(interface element, file comment, {member element: comment})]."""
    found = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        head = text.split("<node", 1)[0]
        file_comment = None
        comments = re.findall(r"<!--(.*?)-->", head, re.S)
        if comments:
            file_comment = comments[-1]
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        root = ET.fromstring(text, parser=parser)
        for interface in root.findall("interface"):
            member_comments = {}
            pending = None
            for child in interface:
                if child.tag is ET.Comment:
                    pending = child.text
                    continue
                member_comments[child] = pending
                pending = None
            found.append((interface, file_comment, member_comments))
    return found


def parse_errors(path):
    with open(path, encoding="utf-8") as f:
        names = re.findall(r'"org\.vfiod1\.Error\.([A-Za-z]+)"', f.read())
    return list(dict.fromkeys(names))


def parse_policy(path):
    root = ET.parse(path).getroot()
    actions = []
    for action in root.findall("action"):
        defaults = action.find("defaults")
        active = defaults.findtext("allow_active") if defaults is not None \
            else None
        actions.append((action.get("id"), action.findtext("description"),
                        active))
    return actions


def member_entries(out, members, kind, comments):
    for member in members:
        name = member.get("name")
        description, args, rest = describe(comments.get(member), name)
        out.append(".TP")
        if kind == "property":
            access = {"read": "read\\-only", "write": "write\\-only",
                      "readwrite": "read\\-write"}.get(member.get("access"),
                                                       member.get("access"))
            emits = annotations(member).get(
                "org.freedesktop.DBus.Property.EmitsChangedSignal", "true")
            note = {"const": ", constant", "false": ", no change signal",
                    "invalidates": ", invalidated on change"}.get(emits, "")
            out.append(bold(name) + " " + italic(member.get("type")) + " (" +
                       access + note + ")")
        else:
            out.append(bold(name) + signature(member))
        if not description and not args and not rest:
            out.append("Undocumented in the introspection XML.")
        paragraphs(out, description)
        if args:
            out.append(".RS")
            for arg, text in args.items():
                out.append(".TP")
                out.append(italic(arg))
                out.append(roff_text(text))
            out.append(".RE")
        if rest:
            out.append(".IP")
            paragraphs(out, rest)
        if annotations(member).get(
                "org.freedesktop.DBus.Method.Async") == "server":
            out.append(".IP")
            out.append("Answered asynchronously: the bus is served while it "
                       "runs.")


def generate(args):
    interfaces = parse_interfaces(args.xml)
    errors = parse_errors(args.errors)
    actions = parse_policy(args.policy)
    out = []
    out.append('.\\" Generated by man/gen-dbus-page.py from ' +
               ", ".join(p.rsplit("/", 1)[-1] for p in args.xml) +
               ". Do not edit.")
    out.append(f'.TH VFIOD\\-DBUS 7 "" "vfiod {args.version}" '
               '"vfiod manual"')
    # Left-adjusted and unhyphenated: member and interface names must stay
    # whole to be found and copied.
    out.append(".ad l")
    out.append(".nh")
    out.append(".SH NAME")
    out.append("vfiod\\-dbus \\- the D\\-Bus interface of vfiod")
    out.append(".SH SYNOPSIS")
    out.append(".nf")
    out.append("Bus name:    " + bold("org.vfiod1") + " (system bus)")
    out.append("Manager:     " + bold("/org/vfiod1") + "  " +
               italic("org.vfiod1.Manager") + ", " +
               italic("org.freedesktop.DBus.ObjectManager"))
    out.append("Devices:     " + bold("/org/vfiod1/devices/pci_DDDD_BB_DD_F"))
    out.append("             " + italic("org.vfiod1.Device"))
    out.append(".fi")
    out.append(".SH DESCRIPTION")
    out.append(roff_text(
        "vfiod(8) serves PCI devices for VFIO passthrough on the system bus. "
        "The root object implements org.freedesktop.DBus.ObjectManager: "
        "GetManagedObjects returns every device with its properties, and "
        "InterfacesAdded and InterfacesRemoved announce hot-plugged and "
        "removed devices. Each PCI function is an object whose path is its "
        "address with ':' and '.' replaced by '_'. Properties emit "
        "org.freedesktop.DBus.Properties.PropertiesChanged unless noted."))
    out.append(".PP")
    out.append(roff_text(
        "Reading is open to every caller. Changing anything requires root, "
        "a user or group named in [access] of vfiod.toml(5), or a polkit "
        "authorization (see POLKIT ACTIONS). Methods take a trailing a{sv} "
        "of options where the signature has one; unknown options are "
        "refused with InvalidArgument, and \"auth.no_user_interaction\" (b) "
        "keeps polkit from prompting."))
    out.append(".PP")
    out.append(roff_text(
        "This page is generated from the introspection XML installed in "
        "/usr/share/dbus-1/interfaces, which is the authoritative "
        "description; `busctl introspect org.vfiod1 /org/vfiod1` shows the "
        "running daemon's."))

    for interface, file_comment, comments in interfaces:
        name = interface.get("name")
        out.append('.SH "INTERFACE ' + roff_text(name) + '"')
        if file_comment:
            description = blocks(comment_lines(file_comment))
            if description and description[0].startswith(name + ":"):
                description[0] = capitalized(
                    description[0][len(name) + 1:].strip())
            paragraphs(out, description, separator=".PP")
        for kind, title in (("method", "Methods"), ("property", "Properties"),
                            ("signal", "Signals")):
            members = [m for m in interface if m.tag == kind]
            if not members:
                continue
            out.append(".SS " + title)
            member_entries(out, members, kind, comments)

    out.append(".SH ERRORS")
    out.append(roff_text(
        "Methods fail with these names, and with a message meant for a "
        "person. Each method's text lists the ones it returns."))
    for error in errors:
        out.append(".TP")
        out.append(bold("org.vfiod1.Error." + error))
        out.append(roff_text(ERROR_MEANINGS.get(
            error, "See the methods that name it.")))
    out.append(".TP")
    out.append(bold(DBUS_ACCESS_DENIED))
    out.append(roff_text("The caller is not allowed: neither root, nor named "
                         "in [access], nor authorized by polkit."))

    out.append(".SH POLKIT ACTIONS")
    out.append(roff_text(
        "vfiod asks polkit only for callers that are not root and not named "
        "in [access]. Device actions carry the details \"address\", "
        "\"vendor\", \"device\" and \"iommu_group\", so that rules can be "
        "scoped to a device."))
    for action, description, active in actions:
        out.append(".TP")
        out.append(bold(action))
        text = (description or "").rstrip(".") + "."
        if active:
            text += f" Default for active sessions: {active}."
        out.append(roff_text(text))

    out.append(".SH EXAMPLES")
    out.append(".nf")
    out.append(".RS 4")
    for line in (
            "busctl tree org.vfiod1",
            "busctl call org.vfiod1 /org/vfiod1 org.vfiod1.Manager "
            "GetDevice s 0000:03:00.0",
            "busctl get\\-property org.vfiod1 \\e",
            "    /org/vfiod1/devices/pci_0000_03_00_0 org.vfiod1.Device State",
            "busctl call org.vfiod1 /org/vfiod1/devices/pci_0000_03_00_0 \\e",
            "    org.vfiod1.Device Bind a{sv} 1 driver s vfio\\-pci"):
        out.append(line if "\\" in line else roff_text(line))
    out.append(".RE")
    out.append(".fi")
    out.append(".SH SEE ALSO")
    out.append(".BR vfiod (8),")
    out.append(".BR vfioctl (1),")
    out.append(".BR vfiod.toml (5),")
    out.append(".BR busctl (1),")
    out.append(".BR polkit (8)")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--errors", required=True)
    parser.add_argument("--policy", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("xml", nargs="+")
    args = parser.parse_args()
    page = generate(args)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
