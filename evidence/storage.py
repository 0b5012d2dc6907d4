"""Encrypted blobs in the evidence storage (files on disk, or S3-compatible in production)."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.core.files.storage import Storage, storages

from evidence import crypto


@dataclass(frozen=True)
class StoredBlob:
    key: str
    key_id: str
    wrapped_key: str
    sha256: str
    size: int


def evidence_storage() -> Storage:
    return storages["evidence"]


def _new_key(prefix: str) -> str:
    name = uuid.uuid4().hex
    # Two levels of fan-out keep directories small on a file system.
    return f"{prefix}/{name[:2]}/{name[2:4]}/{name}.bin"


def store_file(path: Path, prefix: str = "originals") -> StoredBlob:
    """Encrypts a local file into the storage. Plaintext never reaches the storage."""
    with tempfile.TemporaryFile() as sealed, path.open("rb") as src:
        kid, wrapped, sha256, size = crypto.encrypt_stream(src, sealed)
        sealed.seek(0)
        key = evidence_storage().save(_new_key(prefix), File(sealed))
    return StoredBlob(key=key, key_id=kid, wrapped_key=wrapped, sha256=sha256, size=size)


def store_bytes(data: bytes, prefix: str) -> StoredBlob:
    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(data)
        tmp.flush()
        return store_file(Path(tmp.name), prefix)


def plain_chunks(key: str, kid: str, wrapped: str) -> Iterator[bytes]:
    with evidence_storage().open(key, "rb") as fh:
        yield from crypto.decrypt_chunks(fh, kid, wrapped)


def read_bytes(key: str, kid: str, wrapped: str) -> bytes:
    return b"".join(plain_chunks(key, kid, wrapped))


def decrypt_to(key: str, kid: str, wrapped: str, dest: Path) -> str:
    """Writes the plaintext to dest and returns its SHA-256."""
    digest = hashlib.sha256()
    with dest.open("wb") as out:
        for chunk in plain_chunks(key, kid, wrapped):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def delete(key: str) -> None:
    evidence_storage().delete(key)
