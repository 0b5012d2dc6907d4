"""Envelope encryption of stored files.

Each file gets a random 256-bit data key. The file is encrypted in 1 MiB chunks with AES-256-GCM
(a STREAM construction: the nonce holds a per-file random prefix and the chunk counter, and the
last chunk is marked in its associated data, so chunks cannot be reordered, dropped or the file
truncated without detection). The data key is wrapped with the master key
(EVIDENCE_ENCRYPTION_KEY). Rotating the master key re-wraps data keys; file bodies never change.
Memory use is one chunk, whatever the file size.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Iterator
from typing import IO, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

MAGIC = b"VSE1"
CHUNK = 1024 * 1024
_TAG = 16
_HEADER = struct.Struct(">4sI8s")  # magic, chunk size, nonce prefix


class KeyError_(Exception):
    """The data key cannot be unwrapped: the master key is wrong or missing."""


class IntegrityError_(Exception):
    """Stored ciphertext was altered, truncated or reordered."""


def _decode_key(value: str) -> bytes:
    raw = base64.urlsafe_b64decode(value.encode("ascii") + b"=" * (-len(value) % 4))
    if len(raw) != 32:
        raise KeyError_("An evidence master key must be 32 bytes (URL-safe base64).")
    return raw


def key_id(master: bytes) -> str:
    return hashlib.sha256(b"victimsupport key id" + master).hexdigest()[:16]


def current_master() -> tuple[str, bytes]:
    master = _decode_key(settings.EVIDENCE_ENCRYPTION_KEY)
    return key_id(master), master


def _known_masters() -> dict[str, bytes]:
    keys = [settings.EVIDENCE_ENCRYPTION_KEY, *getattr(settings, "EVIDENCE_ENCRYPTION_OLD_KEYS", [])]
    masters = {}
    for value in keys:
        master = _decode_key(value)
        masters[key_id(master)] = master
    return masters


def wrap(data_key: bytes) -> tuple[str, str]:
    kid, master = current_master()
    nonce = os.urandom(12)
    sealed = AESGCM(master).encrypt(nonce, data_key, b"victimsupport data key " + kid.encode())
    return kid, base64.b64encode(nonce + sealed).decode("ascii")


def unwrap(kid: str, wrapped: str) -> bytes:
    master = _known_masters().get(kid)
    if master is None:
        raise KeyError_(
            f"This file was encrypted under master key {kid}, which is not configured. "
            "Set EVIDENCE_ENCRYPTION_KEY (or EVIDENCE_ENCRYPTION_OLD_KEYS) to the key in use when it was stored."
        )
    raw = base64.b64decode(wrapped)
    try:
        return AESGCM(master).decrypt(raw[:12], raw[12:], b"victimsupport data key " + kid.encode())
    except InvalidTag as exc:
        raise KeyError_(f"The data key does not open with master key {kid}: the key or the record was altered.") from exc


def rewrap(kid: str, wrapped: str) -> tuple[str, str]:
    return wrap(unwrap(kid, wrapped))


def _nonce(prefix: bytes, counter: int) -> bytes:
    return prefix + struct.pack(">I", counter)


def _aad(header: bytes, counter: int, final: bool) -> bytes:
    return header + struct.pack(">I?", counter, final)


def encrypt_stream(src: BinaryIO, dst: BinaryIO) -> tuple[str, str, str, int]:
    """Encrypts src into dst. Returns (key id, wrapped data key, SHA-256 of the plaintext, size)."""
    data_key = os.urandom(32)
    aead = AESGCM(data_key)
    prefix = os.urandom(8)
    header = _HEADER.pack(MAGIC, CHUNK, prefix)
    dst.write(header)
    digest = hashlib.sha256()
    size = 0
    counter = 0
    chunk = src.read(CHUNK)
    while True:
        following = src.read(CHUNK) if chunk else b""
        final = not following
        digest.update(chunk)
        size += len(chunk)
        dst.write(aead.encrypt(_nonce(prefix, counter), chunk, _aad(header, counter, final)))
        if final:
            break
        counter += 1
        chunk = following
    kid, wrapped = wrap(data_key)
    return kid, wrapped, digest.hexdigest(), size


def decrypt_chunks(src: IO[bytes], kid: str, wrapped: str) -> Iterator[bytes]:
    """Yields plaintext chunks; raises IntegrityError_ as soon as anything does not authenticate."""
    aead = AESGCM(unwrap(kid, wrapped))
    header = src.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise IntegrityError_("The stored file is truncated (no header).")
    magic, chunk_size, prefix = _HEADER.unpack(header)
    if magic != MAGIC:
        raise IntegrityError_("The stored file is not in the locker's format.")
    counter = 0
    block = src.read(chunk_size + _TAG)
    while True:
        following = src.read(chunk_size + _TAG)
        final = not following
        try:
            plain = aead.decrypt(_nonce(prefix, counter), block, _aad(header, counter, final))
        except InvalidTag as exc:
            raise IntegrityError_(
                f"The stored file failed authentication at chunk {counter}: it was altered or truncated."
            ) from exc
        yield plain
        if final:
            return
        counter += 1
        block = following
