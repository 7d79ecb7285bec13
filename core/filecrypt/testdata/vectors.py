#!/usr/bin/env python3
"""Independent nvm-aead-v1 encoder (Python 'cryptography'), written from
FORMAT.md only, to produce the test vectors that aead_internal_test.go checks.
Run: python3 testdata/vectors.py"""
import hashlib
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

C = 65536


def encrypt(plain: bytes, password: str, salt: bytes) -> bytes:
    header = b"NVM-AEAD" + b"\x01" + b"\x00\x00\x00" + struct.pack(">I", C) + salt
    assert len(header) == 48
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
               info=b"nvm-aead-v1 payload key").derive(password.encode())
    n = max(1, -(-len(plain) // C))
    out = header
    for i in range(n):
        nonce = i.to_bytes(11, "big") + (b"\x01" if i == n - 1 else b"\x00")
        out += AESGCM(key).encrypt(nonce, plain[i * C:(i + 1) * C], header)
    return out


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


password = "nvm-aead-v1 test vector password (not secret)"
salt = bytes(range(32))
for name, plain in [("empty", b""), ("hello", b"hello, nevermined"),
                    ("two chunks", pattern(C + 5)), ("exactly one chunk", pattern(C))]:
    ct = encrypt(plain, password, salt)
    print(f"{name}: len {len(ct)} sha256 {hashlib.sha256(ct).hexdigest()}")
    if len(ct) < 200:
        print("  hex", ct.hex())
