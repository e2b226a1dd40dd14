#!/usr/bin/env python3
"""Takes the group and other write bits off built plugins and their folders.

vfiod loads no plugin that its group or others may write, nor any from a
directory they may write (vfiod-plugin(7), LOADING). The linker and cp
create files with the mode the umask leaves, so under a umask of 002 the
build tree's plugins and their folders would be group-writable and every
test that loads them would see them refused. The build makes the modes
right instead of the checks looser: called (plugins/meson.build and the
test plugins' meson.build) with a stamp and the plugins, after they are
linked or copied; removes g+w and o+w from each and from its folder, then
writes the stamp.
"""

import argparse
import os
import pathlib
import stat

WRITE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def tighten(path: pathlib.Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & WRITE_BY_OTHERS:
        os.chmod(path, mode & ~WRITE_BY_OTHERS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stamp", type=pathlib.Path)
    parser.add_argument("plugins", type=pathlib.Path, nargs="+")
    args = parser.parse_args()
    for plugin in args.plugins:
        tighten(plugin)
        tighten(plugin.resolve().parent)
    args.stamp.write_text("")


if __name__ == "__main__":
    main()
