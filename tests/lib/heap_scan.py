#!/usr/bin/env python3
"""Scans a live process's writable private memory for byte strings.

usage: heap_scan.py PID NAME=HEX [NAME=HEX ...]

Reads /proc/PID/smaps and, through /proc/PID/mem (root, or a tracer of
PID), every private writable mapping that is the [heap] or anonymous (no
file: malloc arenas of other threads, thread stacks, mmap'ed blocks),
except mappings marked "dd" (MADV_DONTDUMP): that is the daemon's secure
memory (runtime/secure_mem.c), where the master secret legitimately lives.

Prints one line per hit ("NAME found in MAPPING at 0xADDR") and exits 1
when anything was found, 0 when nothing was, 2 on a usage or read error.
The needles are given in hex so any bytes (a raw key) can be searched.
"""
import os
import re
import sys


def mappings(pid):
    """Yields (start, end, label) of the mappings to scan."""
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$",
                         line)
            if m:
                if cur:
                    yield from _keep(cur)
                start, end, perms, path = m.groups()
                cur = {"start": int(start, 16), "end": int(end, 16),
                       "perms": perms, "path": path.strip(), "flags": ""}
            elif line.startswith("VmFlags:") and cur:
                cur["flags"] = line.split(":", 1)[1].split()
    if cur:
        yield from _keep(cur)


def _keep(m):
    if m["perms"][0] != "r" or m["perms"][1] != "w" or m["perms"][3] != "p":
        return
    if m["path"] not in ("", "[heap]", "[stack]"):
        return
    if "dd" in m["flags"]:
        return
    yield m["start"], m["end"], m["path"] or "anonymous"


def thread_stacks(pid):
    """{(start, end): "thread NAME (TID)"} of the mappings holding a
    thread's stack pointer, to say whose stack a hit is on."""
    sps = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                fields = f.read().split()
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if len(fields) >= 9:
            sp = int(fields[-2], 16)
            sps.append((sp, f"thread {name} ({tid}, sp {sp:#x})"))
    out = {}
    for start, end, _ in mappings(pid):
        for sp, who in sps:
            if start <= sp < end:
                out[(start, end)] = who
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    pid = int(sys.argv[1])
    needles = []
    for arg in sys.argv[2:]:
        name, _, hexval = arg.partition("=")
        needles.append((name, bytes.fromhex(hexval)))
    found = 0
    scanned = 0
    stacks = thread_stacks(pid)
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for start, end, label in mappings(pid):
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:
                continue  # a guard page or a mapping gone meanwhile
            scanned += len(data)
            for name, needle in needles:
                at = data.find(needle)
                while at >= 0:
                    whose = stacks.get((start, end))
                    print(f"{name} found in {label} mapping "
                          f"{start:#x}-{end:#x} at {start + at:#x}" +
                          (f", the stack of {whose}" if whose else ""))
                    found += 1
                    at = data.find(needle, at + 1)
    print(f"scanned {scanned} bytes of pid {pid}: {found} hits",
          file=sys.stderr)
    if scanned == 0:
        return 2
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
