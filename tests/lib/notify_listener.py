#!/usr/bin/env python3
"""A service manager's end of sd_notify(3), for tests/e2e/sd_notify.sh.

usage: notify_listener.py SOCKET OUT [PROBE_SOCKET]

Binds a datagram Unix socket at SOCKET (what systemd names in
$NOTIFY_SOCKET), prints "listening" on stdout once bound, and appends each
datagram received to OUT as one record: its lines, each prefixed with the
record number ("3 READY=1"), flushed at once. A RELOADING=1 record gains a
line "N CLOCK_DIFF_USEC=D": how far its MONOTONIC_USEC is from this
process's CLOCK_MONOTONIC when it arrived. When PROBE_SOCKET is given, a
READY=1 record gains "N PROBE=ok" or "N PROBE=refused": whether a stream
connection to PROBE_SOCKET (the daemon's API) succeeded the moment the
datagram arrived, so a test sees that readiness came after the listener.
Runs until killed.
"""
import os
import socket
import sys
import time


def probe(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return "ok"
    except OSError:
        return "refused"
    finally:
        s.close()


def main():
    path, out = sys.argv[1], sys.argv[2]
    probe_path = sys.argv[3] if len(sys.argv) > 3 else None
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    print("listening", flush=True)
    n = 0
    with open(out, "a") as f:
        while True:
            data = sock.recv(65536)
            now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            n += 1
            lines = data.decode("utf-8", "replace").split("\n")
            for line in lines:
                if line.startswith("MONOTONIC_USEC="):
                    sent = int(line.split("=", 1)[1])
                    lines.append("CLOCK_DIFF_USEC=%d" % abs(now_usec - sent))
                    break
            if probe_path and "READY=1" in lines:
                lines.append("PROBE=" + probe(probe_path))
            f.write("".join("%d %s\n" % (n, l) for l in lines))
            f.flush()


if __name__ == "__main__":
    main()
