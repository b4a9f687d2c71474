#!/usr/bin/env python3
"""An independent check of proto/vectors/records.json, written from proto/RECORD.md alone.

Decodes every vector by the rules of RECORD.md section 3, verifies signatures by section 4 (with
the strict rules applied here explicitly, and the Ed25519 equation left to the `cryptography`
package), and compares the result, version hash and record id with what the file states. Also
checks that each valid vector's .szr file holds the same bytes. Exits non-zero on any mismatch.

Usage: check_vectors.py [proto/vectors]
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DOMAIN = b"samizdat record v1\x00"
MAX_BODY = 1 << 20
MAX_PARENTS = 16
L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19

# Encodings (sign bit cleared) of the points of order 1, 2, 4 and 8, including the non-canonical
# encodings p and p+1 of y = 0 and y = 1.
SMALL_ORDER = {
    bytes(32),
    bytes([1]) + bytes(31),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    (P - 1).to_bytes(32, "little"),
    P.to_bytes(32, "little"),
    (P + 1).to_bytes(32, "little"),
}


class Bad(Exception):
    pass


def small_order(enc):
    return enc[:31] + bytes([enc[31] & 0x7F]) in SMALL_ORDER


def decode(buf):
    """Returns a dict of fields, or raises Bad(error name) per RECORD.md section 3."""
    n_len = len(buf)
    if n_len < 3:
        raise Bad("TRUNCATED")
    if buf[0:3] != b"SZR":
        raise Bad("MAGIC")
    if n_len < 4:
        raise Bad("TRUNCATED")
    if buf[3] != 1:
        raise Bad("VERSION")
    if n_len < 5:
        raise Bad("TRUNCATED")
    if not 1 <= buf[4] <= 4:
        raise Bad("KIND")
    if n_len < 6:
        raise Bad("TRUNCATED")
    if buf[5] & 0xFE:
        raise Bad("FLAGS")
    if n_len < 47:
        raise Bad("TRUNCATED")
    n = buf[46]
    if n > MAX_PARENTS:
        raise Bad("PARENTS")
    record_id = buf[14:46]
    if (n == 0) != (record_id == bytes(32)):
        raise Bad("RECORD_ID")
    pos = 47
    if n_len - pos < 32 * n:
        raise Bad("TRUNCATED")
    parents = [buf[pos + 32 * i : pos + 32 * (i + 1)] for i in range(n)]
    if any(parents[i - 1] >= parents[i] for i in range(1, n)):
        raise Bad("PARENTS")
    pos += 32 * n
    if n_len - pos < 36:
        raise Bad("TRUNCATED")
    author = buf[pos : pos + 32]
    body_len = int.from_bytes(buf[pos + 32 : pos + 36], "big")
    if body_len > MAX_BODY:
        raise Bad("TOO_LARGE")
    pos += 36
    if n_len - pos < body_len:
        raise Bad("TRUNCATED")
    pos += body_len
    if n_len - pos < 64:
        raise Bad("TRUNCATED")
    if n_len - pos > 64:
        raise Bad("TRAILING")
    return {
        "kind": buf[4],
        "flags": buf[5],
        "created": int.from_bytes(buf[6:14], "big"),
        "record_id": record_id,
        "parents": parents,
        "author": author,
        "body_len": body_len,
        "signature": buf[pos:],
    }


def verify(buf, rec):
    sig, author = rec["signature"], rec["author"]
    if int.from_bytes(sig[32:], "little") >= L:
        raise Bad("SIGNATURE")
    if int.from_bytes(author[:31] + bytes([author[31] & 0x7F]), "little") >= P:
        raise Bad("SIGNATURE")
    if small_order(author) or small_order(sig[:32]):
        raise Bad("SIGNATURE")
    try:
        Ed25519PublicKey.from_public_bytes(author).verify(sig, DOMAIN + buf[: len(buf) - 64])
    except (InvalidSignature, ValueError):
        raise Bad("SIGNATURE")


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(folder, "records.json"), encoding="utf-8") as f:
        doc = json.load(f)
    kinds = {1: "testimony", 2: "case", 3: "retraction", 4: "revocation"}
    failures = 0
    for v in doc["vectors"]:
        buf = bytes.fromhex(v["envelope"])
        try:
            rec = decode(buf)
            verify(buf, rec)
            got = "OK"
        except Bad as e:
            got = str(e)
        problems = []
        if got != v["expect"]:
            problems.append(f"got {got}, want {v['expect']}")
        if got == "OK" and v["expect"] == "OK":
            h = hashlib.sha256(buf).digest()
            rid = h if not rec["parents"] else rec["record_id"]
            if h.hex() != v["version_hash"]:
                problems.append("version_hash")
            if rid.hex() != v["record_id"]:
                problems.append("record_id")
            if kinds[rec["kind"]] != v["kind"] or rec["flags"] != v["flags"]:
                problems.append("kind/flags")
            if rec["created"] != v["created"] or rec["body_len"] != v["body_len"]:
                problems.append("created/body_len")
            if [p.hex() for p in rec["parents"]] != v["parents"]:
                problems.append("parents")
            if base64.b64encode(rec["author"]).decode() != v["author"]:
                problems.append("author")
            with open(os.path.join(folder, v["name"] + ".szr"), "rb") as f:
                if f.read() != buf:
                    problems.append(".szr file differs")
        if problems:
            failures += 1
            print(f"FAIL {v['name']}: {', '.join(problems)}")
    print(f"{len(doc['vectors'])} vectors, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
