#!/usr/bin/env python3
"""Checks the layering of core/: each subfolder is one layer, and a file may
include headers of its own layer or of layers below it, never above.

Layers, lowest first (docs/hacking.md explains each):
    runtime  host  store  secret  cluster  api
Files directly in core/ (main.c) sit on top and may include anything.

Includes are written relative to core/ ("store/store.h") or to the including
file's own folder ("store.h"). Prints every violation and the folder graph's
cycles, and exits 1 if there is any; exits 0 and prints "layers OK" otherwise.
Usage: scripts/check-layers.py [CORE_DIR]
"""
import os
import re
import sys

LAYERS = ["runtime", "host", "store", "secret", "cluster", "api"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(core, path):
    rel = os.path.relpath(path, core)
    parts = rel.split(os.sep)
    return parts[0] if len(parts) > 1 else None


def resolve(core, src, inc):
    for base in (os.path.dirname(src), core):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(cand):
            return cand
    return None


def main():
    core = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "core")
    core = os.path.normpath(core)
    problems = []
    edges = {}
    for dirpath, _, files in os.walk(core):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            src = os.path.join(dirpath, name)
            here = folder_of(core, src)
            if here is not None and here not in LAYERS:
                problems.append(f"{os.path.relpath(src, core)}: folder "
                                f"'{here}' is not a layer ({' '.join(LAYERS)})")
                continue
            with open(src, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = resolve(core, src, m.group(1))
                    if target is None or here is None:
                        continue
                    there = folder_of(core, target)
                    if there is None:
                        problems.append(
                            f"core/{os.path.relpath(src, core)}:{lineno}: "
                            f"includes top-level {m.group(1)}")
                        continue
                    if there == here:
                        continue
                    edges.setdefault(here, set()).add(there)
                    if LAYERS.index(there) > LAYERS.index(here):
                        problems.append(
                            f"core/{os.path.relpath(src, core)}:{lineno}: "
                            f"layer '{here}' includes '{m.group(1)}' of "
                            f"upper layer '{there}'")
    # Cycles in the folder graph (depth-first search).
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                problems.append("include cycle: " + " -> ".join(cyc))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    for p in problems:
        print(p)
    if problems:
        return 1
    print("layers OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
