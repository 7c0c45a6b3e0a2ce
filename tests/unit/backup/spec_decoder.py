#!/usr/bin/env python3
"""Decodes a backup file written by `test_backup_format --write-sample`
following docs/backup-format.md alone (hashlib's scrypt, HMAC-based HKDF,
the cryptography package's AES-GCM), and checks it holds the sample's known
content. Keeps the document and the implementation in step.

Exit status: 0 ok, 1 mismatch, 77 (skipped) without the cryptography
package."""
import hashlib
import hmac
import struct
import sys
import zlib

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    print("python3 cryptography package missing: skipped")
    sys.exit(77)

# Must match write_sample() in test_backup_format.c.
PASSWORD = "hunter2 \u2713".encode()
HINT = "pr\u00e9nom du chat"
SECRETS = [
    ("6f1c2a9e-4b7d-4c1e-9a55-3e2f8d7c6b10", 1767225600123, bytes(range(32))),
    ("x", 1735689600000, bytes(0xFF - i for i in range(32))),
]


def fail(msg):
    print("MISMATCH:", msg)
    sys.exit(1)


def hkdf_sha256(ikm, info, length):
    prk = hmac.new(b"\0" * 32, ikm, "sha256").digest()  # no salt
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), "sha256").digest()
        okm += t
        i += 1
    return okm[:length]


def main(path):
    b = open(path, "rb").read()
    if b[:8] != b"SBBACKUP":
        fail("magic")
    version, kdf, log2n, r, p = struct.unpack(">HBBII", b[8:20])
    salt, check, nonce = b[20:36], b[36:52], b[52:64]
    h, c = struct.unpack(">HI", b[64:70])
    hint_crc, header_crc = struct.unpack(">II", b[70:78])
    if (version, kdf) != (1, 1):
        fail("version %d kdf %d" % (version, kdf))
    if zlib.crc32(b[:74]) != header_crc:
        fail("header CRC-32")
    if zlib.crc32(b[78:78 + h]) != hint_crc:
        fail("hint CRC-32")
    if b[78:78 + h].decode("utf-8") != HINT:
        fail("hint")
    if len(b) != 78 + h + c + 16:
        fail("length")
    s = hashlib.scrypt(PASSWORD, salt=salt, n=2 ** log2n, r=r, p=p,
                       maxmem=256 * 1024 * 1024 + 65536, dklen=32)
    if hkdf_sha256(s, b"password check", 16) != check:
        fail("password check value")
    wrong = hashlib.scrypt(b"hunter2", salt=salt, n=2 ** log2n, r=r, p=p,
                           maxmem=256 * 1024 * 1024 + 65536, dklen=32)
    if hkdf_sha256(wrong, b"password check", 16) == check:
        fail("a wrong password passes the check")
    key = hkdf_sha256(s, b"backup key", 32)
    payload = AESGCM(key).decrypt(nonce, b[78 + h:], b[:78 + h])
    if len(payload) != c:
        fail("payload length")
    n, off, got = payload[0], 1, []
    for _ in range(n):
        m = payload[off]
        off += 1
        msid = payload[off:off + m].decode("ascii")
        off += m
        (created,) = struct.unpack(">Q", payload[off:off + 8])
        off += 8
        got.append((msid, created, payload[off:off + 32]))
        off += 32
    if off != len(payload):
        fail("payload has trailing bytes")
    if got != SECRETS:
        fail("secrets differ: %r" % (got,))
    print("decoded per docs/backup-format.md: version 1, scrypt 2^%d/%d/%d, "
          "%d secrets, hint %r" % (log2n, r, p, n, HINT))


if __name__ == "__main__":
    main(sys.argv[1])
