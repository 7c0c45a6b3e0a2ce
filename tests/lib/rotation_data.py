#!/usr/bin/env python3
"""Credential records for the rotation tests and bench/rotation, through a
broker's API over its Unix socket (as root: an SSO administrator).

  rotation_data.py load   SOCK N_CFG N_MAP   config-store app rotcfg with
                         N_CFG keys (500 per PUT), app rotmap with N_MAP
                         mappings; values derived from their names
  rotation_data.py verify SOCK N_CFG N_MAP   reads every value back from the
                         database (cache bypassed) and compares; prints a
                         digest of all values; exit 1 on any difference
  rotation_data.py read   SOCK N_CFG N_MAP STOPFILE [OUT]
                         a reader: single-key config gets and lookups, until
                         STOPFILE exists (at least one; OUT.ready once the
                         first is done); counts failures and wrong values,
                         and writes {"reads", "failed", "wrong", "p50_us",
                         "p99_us", "errors"} to OUT (or stdout); exit 1 when
                         a read failed or was wrong

Values never appear in argv or the environment; the test data is not
secret, but the reader is written as a client of real secrets would be.
"""
import hashlib
import json
import os
import random
import sys
import time

from unix_http import UnixHTTPConnection

PER_ID = 500  # keys per config PUT: a body under the default max_body


def call(conn, method, path, body=None):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    try:
        return resp.status, json.loads(raw) if raw else None
    except ValueError:
        return resp.status, {"raw": raw.decode(errors="replace")}


def cfg_value(i):
    return "cfg-value-%06d-%s" % (i, "x" * (i % 37))


def map_values(i):
    return {"user": "ext_user_%05d" % i, "password": "pw-%05d-%s" % (i, "y" * (i % 23))}


def must(status, reply, want, what):
    if status not in want:
        sys.exit("%s: %s %s" % (what, status, json.dumps(reply)[:400]))


def load(sock, n_cfg, n_map):
    c = UnixHTTPConnection(sock)
    st, r = call(c, "POST", "/v1/apps", {"name": "rotcfg", "type": "config-store",
                                          "user_group": "root"})
    must(st, r, (201,), "create rotcfg")
    st, r = call(c, "POST", "/v1/apps", {"name": "rotmap", "type": "individual",
                                          "user_group": "root",
                                          "fields": [{"label": "user"},
                                                     {"label": "password", "masked": True}]})
    must(st, r, (201,), "create rotmap")
    for app in ("rotcfg", "rotmap"):
        st, r = call(c, "PATCH", "/v1/apps/" + app, {"enabled": True})
        must(st, r, (200,), "enable " + app)
    for start in range(0, n_cfg, PER_ID):
        vals = {"k%06d" % i: cfg_value(i) for i in range(start, min(n_cfg, start + PER_ID))}
        st, r = call(c, "PUT", "/v1/apps/rotcfg/config/id%03d" % (start // PER_ID),
                     {"values": vals})
        must(st, r, (200,), "config put")
    for i in range(n_map):
        st, r = call(c, "PUT", "/v1/apps/rotmap/mappings/u%05d" % i, {"values": map_values(i)})
        must(st, r, (200, 201), "mapping put")


def verify(sock, n_cfg, n_map):
    c = UnixHTTPConnection(sock)
    h = hashlib.sha256()
    bad = 0
    for start in range(0, n_cfg, PER_ID):
        st, r = call(c, "GET", "/v1/apps/rotcfg/config/id%03d?cache=bypass" % (start // PER_ID))
        if st != 200:
            print("config id%03d: %s %s" % (start // PER_ID, st, r), file=sys.stderr)
            bad += 1
            continue
        vals = r["values"]
        for i in range(start, min(n_cfg, start + PER_ID)):
            v = vals.get("k%06d" % i)
            h.update(("%s\n" % v).encode())
            if v != cfg_value(i):
                bad += 1
    for i in range(n_map):
        st, r = call(c, "GET", "/v1/lookup/rotmap?user=u%05d&show_masked=1&cache=bypass" % i)
        v = r.get("values") if st == 200 else None
        h.update(("%s\n" % json.dumps(v, sort_keys=True)).encode())
        if v != map_values(i):
            print("mapping u%05d: %s %s" % (i, st, r), file=sys.stderr)
            bad += 1
    print(h.hexdigest())
    if bad:
        print("%d values differ" % bad, file=sys.stderr)
        sys.exit(1)


def read(sock, n_cfg, n_map, stopfile, out):
    c = UnixHTTPConnection(sock)
    rnd = random.Random(1)
    lat = []
    failed = wrong = 0
    errors = {}
    first = True
    # At least one read, then until STOPFILE exists; OUT.ready says the
    # first read is done (a caller waits for it before it acts).
    while first or not os.path.exists(stopfile):
        t0 = time.perf_counter()
        if n_map and rnd.random() < 0.5:
            i = rnd.randrange(n_map)
            st, r = call(c, "GET", "/v1/lookup/rotmap?user=u%05d&show_masked=1" % i)
            ok = st == 200 and r.get("values") == map_values(i)
        else:
            i = rnd.randrange(n_cfg)
            st, r = call(c, "GET", "/v1/apps/rotcfg/config/id%03d?key=k%06d" % (i // PER_ID, i))
            ok = st == 200 and (r.get("values") or {}).get("k%06d" % i) == cfg_value(i)
        lat.append(time.perf_counter() - t0)
        if st != 200:
            failed += 1
            code = (r or {}).get("error", {}).get("code", str(st))
            errors[code] = errors.get(code, 0) + 1
        elif not ok:
            wrong += 1
        if first and out:
            open(out + ".ready", "w").close()
        first = False
    lat.sort()

    def pct(p):
        return int(lat[min(len(lat) - 1, int(len(lat) * p))] * 1e6) if lat else 0
    res = {"reads": len(lat), "failed": failed, "wrong": wrong,
           "p50_us": pct(0.50), "p99_us": pct(0.99), "errors": errors}
    text = json.dumps(res)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    sys.exit(1 if failed or wrong or not lat else 0)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    cmd, sock, n_cfg, n_map = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if cmd == "load":
        load(sock, n_cfg, n_map)
    elif cmd == "verify":
        verify(sock, n_cfg, n_map)
    elif cmd == "read" and len(sys.argv) >= 6:
        read(sock, n_cfg, n_map, sys.argv[5], sys.argv[6] if len(sys.argv) > 6 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
