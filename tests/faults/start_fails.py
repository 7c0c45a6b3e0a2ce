#!/usr/bin/env python3
"""A daemon whose fencing plugin cannot start (the storage shim fails every
fence takeover) must refuse to start cleanly: exit status 1, the reason on
stderr, no sanitizer report. It used to free its generation twice
(sb_gen_install drops it on failure, and main's cleanup dropped it again):
found by fault_run.py under ASan.

usage: start_fails.py BUILD
"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    build = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="sbstartfail.")
    try:
        ini = os.path.join(d, "secretbroker.ini")
        with open(ini, "w") as f:
            f.write(f"""[broker]
state_dir = {d}/state
plugin_dir = {build}/plugins
node_name = startfail

[listen]
socket = {d}/sb.sock

[storage]
plugin = faults
inner = {build}/plugins/storage_sqlite.so
path = {d}/sso.db
fence_error_per_mille = 1000

[crypto]
plugin = openssl

[fencing]
plugin = none
""")
        os.chmod(ini, 0o600)
        p = subprocess.run([os.path.join(build, "core", "secretbrokerd"),
                            "-c", ini], capture_output=True, text=True,
                           timeout=120)
        out = p.stdout + p.stderr
        print(out)
        ok = (p.returncode == 1 and
              "[fencing] plugin none: cannot start" in out and
              "Sanitizer" not in out and "double free" not in out)
        print(f"start_fails: exit status {p.returncode}: "
              f"{'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
