#!/usr/bin/env python3
"""Hostile clients for the connection-limit tests (tests/e2e/conn_limits.sh).

usage:
  conn_client.py slow-request SOCKET INTERVAL_S MAX_BYTES
      sends a request on the Unix SOCKET one byte every INTERVAL_S, at most
      MAX_BYTES; prints "cut after N bytes" and exits 0 when the daemon
      closes the connection first, prints "not cut" and exits 1 otherwise.
  conn_client.py slow-handshake HOST PORT INTERVAL_S
      sends a TLS ClientHello to HOST:PORT one byte every INTERVAL_S;
      "cut after N bytes" (exit 0) or "not cut" (exit 1) as above.
  conn_client.py hold unix SOCKET N | hold tcp HOST PORT N [SOURCE_IP]
      opens N connections one after the other (over TCP with a TLS
      handshake: SB_TLS_CA, SB_TLS_CERT, SB_TLS_KEY name the files) and
      keeps them; prints "open K refused R" once it has seen which the
      daemon kept (a refused one is closed at once; on the Unix socket
      after a 503, and then the line ends "(503 too_many_connections)"),
      then holds them until stdin closes.
  conn_client.py flood SOCKET N
      opens one keep-alive connection and gets /v1/health on it, then
      opens N more connections and holds them; gets /v1/health again on
      the first one and prints "keepalive STATUS" (or "keepalive none");
      holds everything until stdin closes.
"""
import os
import select
import socket
import ssl
import sys
import time

REQUEST = (b"GET /v1/health HTTP/1.1\r\nHost: sb\r\nX-Padding: " +
           b"p" * 200 + b"\r\n\r\n")


def closed(sock, wait_s, seen=None):
    """True when sock is closed by the peer (EOF, reset or any data: a
    refusal's 503) within wait_s; what it read is appended to seen."""
    r, _, _ = select.select([sock], [], [], wait_s)
    if not r:
        return False
    try:
        if isinstance(sock, ssl.SSLSocket):
            sock.setblocking(False)  # a session ticket is no close
            data = sock.recv(4096)
            sock.setblocking(True)
        else:
            data = sock.recv(4096, socket.MSG_DONTWAIT)
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True
    if seen is not None:
        seen.append(data)
    return True  # EOF or the refusal's reply


def dribble(sock, data, interval):
    """Sends data a byte at a time; returns the bytes sent before the
    daemon closed the connection, or None when all were sent."""
    for i in range(len(data)):
        if closed(sock, interval):
            return i
        try:
            sock.send(data[i:i + 1])
        except OSError:
            return i
    return None


def report(n):
    if n is None:
        print("not cut")
        return 1
    print(f"cut after {n} bytes")
    return 0


def slow_request(path, interval, max_bytes):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    data = (REQUEST * (max_bytes // len(REQUEST) + 1))[:max_bytes]
    return report(dribble(s, data, interval))


def client_hello():
    """The first flight of a real TLS client, from a memory BIO."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def slow_handshake(host, port, interval):
    s = socket.create_connection((host, port))
    return report(dribble(s, client_hello(), interval))


def get_health(sock):
    """Sends GET /v1/health on sock; returns the status code or None."""
    sock.settimeout(10)
    try:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: sb\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            body += chunk
        return int(head.split(b" ")[1])
    except OSError:
        return None


def connect(kind, args):
    """A Unix socket connection, or a TCP one with a TLS handshake made
    with the certificate in SB_TLS_CERT/SB_TLS_KEY (CA SB_TLS_CA); None
    when the handshake was refused."""
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(args[0])
        return s
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if len(args) > 2:
        s.bind((args[2], 0))
    s.connect((args[0], int(args[1])))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.environ["SB_TLS_CA"])
    ctx.load_cert_chain(os.environ["SB_TLS_CERT"], os.environ["SB_TLS_KEY"])
    s.settimeout(10)
    try:
        t = ctx.wrap_socket(s, server_hostname=args[0])
        t.do_handshake()
    except (ssl.SSLError, OSError):
        s.close()
        return None
    return t


def hold(kind, args, n):
    """Opens n connections and keeps the ones the daemon keeps."""
    socks = []
    refused = 0
    seen = []
    for _ in range(n):
        s = connect(kind, args)
        if s is None:
            refused += 1
        elif closed(s, 0.5, seen):
            refused += 1
            s.close()
        else:
            socks.append(s)
    replied = any(b"too_many_connections" in d for d in seen)
    print(f"open {len(socks)} refused {refused}" +
          (" (503 too_many_connections)" if replied else ""), flush=True)
    sys.stdin.read()
    return 0


def flood(path, n):
    first = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    first.connect(path)
    print(f"keepalive-before {get_health(first)}", flush=True)
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
        except (BlockingIOError, OSError):
            pass
        socks.append(s)
    time.sleep(1.0)
    st = get_health(first)
    print(f"keepalive {st if st is not None else 'none'}", flush=True)
    sys.stdin.read()
    return 0


def main():
    a = sys.argv[1:]
    if a and a[0] == "slow-request" and len(a) == 4:
        return slow_request(a[1], float(a[2]), int(a[3]))
    if a and a[0] == "slow-handshake" and len(a) == 4:
        return slow_handshake(a[1], int(a[2]), float(a[3]))
    if a and a[0] == "hold" and len(a) >= 4:
        return hold(a[1], a[2:-1] if a[1] == "unix" else a[2:4] + a[5:],
                    int(a[-1] if a[1] == "unix" else a[4]))
    if a and a[0] == "flood" and len(a) == 3:
        return flood(a[1], int(a[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
