#!/usr/bin/env python3
"""Refuses an include in core/ that goes against the layer order.

Called by the build (core/meson.build, target core-layers) with the layer
list: LAYER:LOWER1,LOWER2 ... A file in core/LAYER/ may include headers of
its own layer, of the layers it names, and of theirs in turn; a quoted
include must name its folder ("pci/pci_device.hpp"). Only the generated
config.h and the public plugin header are allowed besides. Prints every
offending line as FILE:LINE: message and exits 1, so that the build fails.
"""

import argparse
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
OUTSIDE = {"config.h", "vfiod/plugin.h"}


def closure(layers):
    reach = {}

    def visit(name, stack=()):
        if name in stack:
            raise SystemExit("check-layers: the layer list has a cycle: " +
                             " -> ".join(stack + (name,)))
        if name not in reach:
            found = {name}
            for lower in layers[name]:
                found |= visit(lower, stack + (name,))
            reach[name] = found
        return reach[name]

    for name in layers:
        visit(name)
    return reach


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="core/")
    parser.add_argument("--stamp", help="written when all is well")
    parser.add_argument("layers", nargs="+", help="LAYER:LOWER,LOWER")
    args = parser.parse_args()

    layers = {}
    for spec in args.layers:
        name, _, lower = spec.partition(":")
        layers[name] = [x for x in lower.split(",") if x]
    for name, lower in layers.items():
        for below in lower:
            if below not in layers:
                sys.exit(f"check-layers: {name} names unknown layer {below}")
    reach = closure(layers)

    root = pathlib.Path(args.root)
    problems = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".cpp", ".hpp", ".h", ".c"):
            continue
        layer = path.relative_to(root).parts[0]
        if layer not in layers:
            problems.append(f"{path}: not in a layer folder of core/")
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            target = match.group(1)
            if target in OUTSIDE:
                continue
            folder = target.split("/")[0] if "/" in target else None
            where = f"{path}:{number}"
            if folder is None:
                problems.append(f'{where}: "{target}" must name its folder')
            elif folder not in layers:
                problems.append(f'{where}: "{target}" is outside core/')
            elif folder not in reach[layer]:
                problems.append(
                    f'{where}: {layer} may not include "{target}" '
                    f"({layer} uses {', '.join(sorted(reach[layer] - {layer})) or 'nothing'})")
            elif not (root / target).is_file():
                problems.append(f'{where}: "{target}" does not exist')
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    if args.stamp:
        pathlib.Path(args.stamp).write_text("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
