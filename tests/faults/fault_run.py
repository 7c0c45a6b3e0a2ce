#!/usr/bin/env python3
"""Fault-injection run (issue 15, item 8): the real daemon on the sqlite
store, wrapped by the storage_faults.so shim, with a writer going while
faults are injected:

  - storage errors, timeouts and lost answers at random points (the shim:
    tests/faults/storage_faults.c, one line per fault in its fault_log);
  - SIGKILL of the daemon at random moments, from a second thread, then a
    restart (its start may meet injected faults too: retried);
  - disk full on the state directory: it is a small tmpfs of its own (the
    run needs a private mount namespace: run it under unshare -m), which
    the writer fills with a file and then frees, writing all the while.

The writer sets credentials (PUT /v1/apps/crm/mappings/uK) with a fresh
value each time and reads them back. A write answered 2xx is acknowledged;
one answered otherwise, or not at all, may or may not have happened. A read
that answers must hold the last acknowledged value of its key or one
written after it (a wrong answer otherwise). At the end the faults stop,
the daemon is killed and started clean, and every key must still hold its
last acknowledged value or a later one (a lost write otherwise); the master
secret must be the one generated at the start; and that daemon must stop
on SIGTERM with status 0 (under ASan: no leak). No daemon may have died by
itself other than by refusing to start (status 1), and its log must hold
no sanitizer report.

Prints faults injected (by kind), acknowledged writes, writes lost (must be
0) and wrong answers (must be 0); exits 1 when a count is wrong, fewer than
--faults faults were injected, or the daemon cannot be brought back.

usage: fault_run.py --build BUILD [--faults N] [--seed S] [--max-seconds T]
                    [--self-check]

--self-check proves the run can fail: the shim also acknowledges some
batches without applying them (a store that lies), and the run passes
only when it reports lost writes or wrong answers.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from unix_http import UnixHTTPConnection  # noqa: E402

KEYS = 16


class Daemon:
    """One secretbrokerd at a time, restartable; its log appended to."""

    def __init__(self, binary, ini, sock, log):
        self.binary, self.ini, self.sock, self.log = binary, ini, sock, log
        self.proc = None
        self.lock = threading.Lock()
        self.kills = 0
        self.start_failures = 0
        self.crashes = []  # exits that were neither our SIGKILL nor 0/1
        self.judged = set()  # pids whose end is counted or was ours

    def request(self, method, path, body=None, timeout=30):
        """(status, parsed JSON or None); raises OSError when unreachable."""
        c = UnixHTTPConnection(self.sock, timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Connection": "close"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = None
            return r.status, doc
        except (http.client.HTTPException, socket.timeout) as e:
            raise OSError(str(e))
        finally:
            c.close()

    def wait_answering(self, seconds=60):
        """Polls until the daemon answers (a restart in progress)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.request("GET", "/v1/health", timeout=5)
                return
            except OSError:
                time.sleep(0.02)

    def _start_once(self):
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen([self.binary, "-c", self.ini],
                                         stdout=logf, stderr=logf)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # Refusing to start (status 1, the reason logged) is
                # fine under injected faults; a signal or another status
                # is a crash.
                self.judge_exit("a start")
                return False
            try:
                # Any answer: 503 before a secret exists.
                self.request("GET", "/v1/health", timeout=5)
                return True
            except OSError:
                pass
            time.sleep(0.02)  # polling for readiness
        return False

    def start(self):
        """Starts it, retrying a start that injected faults broke."""
        with self.lock:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if self._start_once():
                    return
                self.start_failures += 1
                if self.proc.poll() is None:
                    self.judged.add(self.proc.pid)
                    self.proc.kill()
                self.proc.wait()
            raise RuntimeError("the daemon does not start in 120 s")

    def judge_exit(self, what):
        """Counts an exit of self.proc we did not cause as a crash unless
        it refused to start (status 1), once per process."""
        p = self.proc
        if p.pid in self.judged:
            return
        self.judged.add(p.pid)
        if p.returncode not in (0, 1):
            self.crashes.append(f"{what} ended with status {p.returncode}")

    def kill(self):
        with self.lock:
            if self.proc and self.proc.poll() is None:
                self.judged.add(self.proc.pid)
                self.proc.send_signal(signal.SIGKILL)
                self.kills += 1
            elif self.proc:
                self.judge_exit("the daemon")
            if self.proc:
                self.proc.wait()

    def stop(self):
        """SIGTERM; returns the exit status (ASan's leak check runs at a
        clean exit), or None when it does not stop within 90 s."""
        with self.lock:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                return None

    def restart(self):
        self.kill()
        self.start()


def tail(path, n=80):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return str(e)


def write_config(path, d, build, seed, faulty, lie=False):
    rates = (("error_per_mille = 120\ntimeout_per_mille = 8\n"
              "lost_per_mille = 60\ntimeout_ms = 40\n"
              "fence_error_per_mille = 100\n")
             if faulty else "")
    if faulty and lie:
        rates += "drop_per_mille = 30\n"
    text = f"""[broker]
state_dir = {d}/state
plugin_dir = {build}/plugins
node_name = faults
threads = 2
log_level = warning

[listen]
socket = {d}/sb.sock
socket_mode = 0600

[cache]
timeout_s = 0

[storage]
plugin = faults
inner = {build}/plugins/storage_sqlite.so
path = {d}/state/sso.db
seed = {seed}
fault_log = {d}/faults.log
{rates}
[crypto]
plugin = openssl

[fencing]
plugin = none
"""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Book:
    """What the writer knows of each key: the last acknowledged value and
    the values tried since, which may or may not have been written."""

    def __init__(self):
        self.acked = {}      # key -> value
        self.maybe = {}      # key -> set of values
        self.acked_writes = 0
        self.failed_writes = 0
        self.wrong = []
        self.reads = 0

    def allowed(self, k):
        s = set(self.maybe.get(k, ()))
        if k in self.acked:
            s.add(self.acked[k])
        return s

    def wrote(self, k, v, ok):
        if ok:
            self.acked[k] = v
            self.maybe[k] = set()
            self.acked_writes += 1
        else:
            self.maybe.setdefault(k, set()).add(v)
            self.failed_writes += 1

    def check_read(self, k, status, doc, where):
        """A read that answered: 200 with a value, or 404 before any ack."""
        if status == 200:
            v = ((doc or {}).get("values") or {}).get("password")
            if v not in self.allowed(k):
                self.wrong.append(f"{where}: u{k} read {v!r}, allowed "
                                  f"{sorted(self.allowed(k))}")
            return True
        if status == 404 and (doc or {}).get("error", {}).get("code") == \
                "no_mapping":
            if k in self.acked:
                self.wrong.append(f"{where}: u{k} not found after "
                                  f"{self.acked[k]!r} was acknowledged")
            return True
        return False


def mapping_path(k):
    return f"/v1/apps/crm/mappings/u{k}"


def fill_disk(path):
    """Fills the filesystem of path's directory; returns bytes written."""
    n = 0
    chunk = b"\0" * 65536
    try:
        with open(path, "wb") as f:
            while True:
                f.write(chunk)
                f.flush()
                n += len(chunk)
    except OSError:
        pass
    return n


def count_faults(log):
    kinds = {}
    try:
        with open(log) as f:
            for line in f:
                kind = line.strip()
                if kind:
                    kinds[kind] = kinds.get(kind, 0) + 1
    except FileNotFoundError:
        pass
    return kinds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--faults", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--max-seconds", type=float, default=240)
    ap.add_argument("--self-check", action="store_true",
                    help="the store also lies; pass only if that is found")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run's directory")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1, 1 << 30)
    rng = random.Random(seed)
    build = os.path.abspath(a.build)
    print(f"fault_run: seed {seed}, target {a.faults} faults", flush=True)

    d = tempfile.mkdtemp(prefix="sbfaults.")
    state = os.path.join(d, "state")
    os.mkdir(state, 0o700)
    # Disk full on the state dir: a tmpfs of its own, in this process's
    # private mount namespace (gone with it).
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700",
                    "sbfaults", state], check=True)
    ini = os.path.join(d, "secretbroker.ini")
    log = os.path.join(d, "daemon.log")
    fault_log = os.path.join(d, "faults.log")
    filler = os.path.join(state, "filler")
    daemon = Daemon(os.path.join(build, "core", "secretbrokerd"), ini,
                    os.path.join(d, "sb.sock"), log)
    book = Book()
    ok = False
    try:
        write_config(ini, d, build, seed, faulty=False)
        daemon.start()
        st, doc = daemon.request("POST", "/v1/secret/generate", {})
        assert st in (200, 201), (st, doc)
        msid = doc["msid"]
        st, doc = daemon.request("POST", "/v1/apps", {
            "name": "crm", "type": "individual", "enabled": True,
            "fields": [{"label": "user"},
                       {"label": "password", "masked": True}],
            "user_group": "root", "admin_group": "root"})
        assert st == 201, (st, doc)

        write_config(ini, d, build, seed, faulty=True, lie=a.self_check)
        daemon.restart()
        kills_before = daemon.kills
        stop = threading.Event()

        broken = []

        def killer():
            krng = random.Random(seed ^ 0x5eed)
            while not stop.wait(krng.uniform(0.05, 0.6)):
                try:
                    daemon.restart()
                except RuntimeError as e:
                    broken.append(str(e))
                    return

        kt = threading.Thread(target=killer, daemon=True)
        kt.start()
        started = time.monotonic()
        seq = 0
        disk_full = {"episodes": 0, "refused": 0, "acked": 0}
        full_until = 0  # the writer's op count at which the disk is freed
        answered_while_full = 0

        def end_disk_full():
            nonlocal full_until
            os.unlink(filler)
            full_until = 0
            # An episode counts when the daemon met it.
            if answered_while_full:
                disk_full["episodes"] += 1

        def wait_restart():
            # A daemon killed while the disk is full cannot start until
            # it is freed (it says so and exits): free it first.
            if full_until:
                end_disk_full()
            daemon.wait_answering()
        ops = 0
        while True:
            faults = sum(count_faults(fault_log).values()) + \
                (daemon.kills - kills_before) + disk_full["episodes"]
            if faults >= a.faults or broken:
                break
            if time.monotonic() - started > a.max_seconds:
                print(f"fault_run: only {faults} faults in "
                      f"{a.max_seconds:.0f} s", flush=True)
                break
            ops += 1
            if full_until == 0 and rng.random() < 0.01:
                fill_disk(filler)
                full_until = ops + rng.randint(5, 30)
                answered_while_full = 0
            elif full_until and ops >= full_until:
                end_disk_full()
            k = rng.randrange(KEYS)
            if rng.random() < 0.6:
                seq += 1
                v = f"v{seq}"
                try:
                    st, doc = daemon.request(
                        "PUT", mapping_path(k),
                        {"values": {"user": f"u{k}", "password": v}})
                except OSError:
                    st = None
                good = st is not None and 200 <= st < 300
                book.wrote(k, v, good)
                if full_until and st is not None:
                    disk_full["acked" if good else "refused"] += 1
                    answered_while_full += 1
                if st is None:  # killed: wait for the restart
                    wait_restart()
            else:
                try:
                    st, doc = daemon.request(
                        "GET", mapping_path(k) + "?show_masked=1")
                except OSError:
                    wait_restart()
                    continue
                if book.check_read(k, st, doc, f"op {ops}"):
                    book.reads += 1
        stop.set()
        kt.join()
        if full_until:
            end_disk_full()

        if broken:
            raise RuntimeError(broken[0])

        # The end: no more faults; a clean start must hold every write.
        write_config(ini, d, build, seed, faulty=False)
        daemon.restart()
        lost, wrong = [], list(book.wrong)
        for k in range(KEYS):
            st, doc = daemon.request("GET", mapping_path(k) +
                                     "?show_masked=1")
            code = ((doc or {}).get("error") or {}).get("code")
            if st == 200:
                v = doc["values"]["password"]
                if v not in book.allowed(k):
                    lost.append(f"u{k}: holds {v!r}, allowed "
                                f"{sorted(book.allowed(k))}")
            elif st == 404 and code == "no_mapping":
                if k in book.acked:
                    lost.append(f"u{k}: gone after {book.acked[k]!r}")
            else:
                wrong.append(f"u{k}: the final read answered {st} {doc}")
        st, doc = daemon.request("GET", "/v1/secret")
        if st != 200 or doc.get("msid") != msid:
            wrong.append(f"the master secret changed: {st} {doc}")
        exit_status = daemon.stop()
        with open(log, errors="replace") as f:
            for line in f:
                if ("Sanitizer" in line or "runtime error" in line or
                        "double free" in line or "corrupted" in line):
                    daemon.crashes.append(line.strip())

        kinds = count_faults(fault_log)
        kills = daemon.kills - kills_before
        total = sum(kinds.values()) + kills + disk_full["episodes"]
        print("fault_run: faults injected: %d (storage: %s; SIGKILL: %d; "
              "disk full: %d episodes, %d writes refused while full, %d "
              "acknowledged)" % (
                  total, ", ".join(f"{v} {k}" for k, v in
                                   sorted(kinds.items())) or "none",
                  kills, disk_full["episodes"], disk_full["refused"],
                  disk_full["acked"]))
        print(f"fault_run: daemon starts that failed and were retried: "
              f"{daemon.start_failures}")
        print(f"fault_run: writes: {book.acked_writes} acknowledged, "
              f"{book.failed_writes} not; reads checked: {book.reads}")
        print(f"fault_run: writes lost: {len(lost)}")
        print(f"fault_run: wrong answers: {len(wrong)}")
        print(f"fault_run: daemon crashes: {len(daemon.crashes)}")
        for c in daemon.crashes[:10]:
            print(f"fault_run:   {c}")
        print(f"fault_run: the last daemon stopped on SIGTERM with exit "
              f"status {exit_status}")
        for w in (lost + wrong)[:20]:
            print(f"fault_run:   {w}")
        ok = not lost and not wrong and total >= a.faults and \
            book.acked_writes > 0 and exit_status == 0 and \
            not daemon.crashes
        if a.self_check:
            ok = bool(lost or wrong) and book.acked_writes > 0 and \
                exit_status == 0 and not daemon.crashes
            print("fault_run: self-check: the lying store was %s" %
                  ("found" if ok else "NOT found"))
        elif total < a.faults:
            print(f"fault_run: FAILED: {total} faults, fewer than "
                  f"{a.faults}")
    finally:
        daemon.kill()
        if not ok:
            print("fault_run: the daemon's log ends:\n" + tail(log))
        subprocess.run(["umount", "-l", state], check=False)
        if a.keep:
            print(f"fault_run: kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    print("fault_run: PASS" if ok else "fault_run: FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
