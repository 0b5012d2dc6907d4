"""Encryption of sensitive fields at rest (victim identity, contact details, notes).

AES-256-GCM with a key derived (HKDF) from EVIDENCE_ENCRYPTION_KEY, so one master secret
protects everything while each purpose gets its own key. Ciphertext is versioned ("f1:") so
that a later key rotation can tell old from new.
"""

from __future__ import annotations

import base64
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

_PREFIX = "f1:"


class DecryptionError(Exception):
    """Stored ciphertext could not be decrypted (wrong key or tampered value)."""


def master_key() -> bytes:
    value: str = settings.EVIDENCE_ENCRYPTION_KEY
    return base64.urlsafe_b64decode(value.encode("ascii") + b"=" * (-len(value) % 4))


@functools.lru_cache(maxsize=8)
def derive_key(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def _field_key() -> bytes:
    return derive_key(master_key(), b"victimsupport field encryption v1")


def _old_field_keys() -> list[bytes]:
    # During a key rotation the previous master keys still open values not yet re-encrypted.
    keys = []
    for value in getattr(settings, "EVIDENCE_ENCRYPTION_OLD_KEYS", []):
        raw = base64.urlsafe_b64decode(value.encode("ascii") + b"=" * (-len(value) % 4))
        keys.append(derive_key(raw, b"victimsupport field encryption v1"))
    return keys


def encrypt_text(plain: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_field_key()).encrypt(nonce, plain.encode("utf-8"), b"field")
    return _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_text(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        raise DecryptionError("Value is not in the expected encrypted format.")
    raw = base64.b64decode(stored[len(_PREFIX) :])
    for key in (_field_key(), *_old_field_keys()):
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], b"field").decode("utf-8")
        except InvalidTag:
            continue
    raise DecryptionError(
        "An encrypted value does not open with EVIDENCE_ENCRYPTION_KEY (or EVIDENCE_ENCRYPTION_OLD_KEYS): the key is wrong "
        "or the value was altered."
    )


def reencrypt_all_fields() -> int:
    """Re-encrypts every encrypted column under the current key (the second half of a rotation)."""
    from django.apps import apps

    count = 0
    for model in apps.get_models():
        fields = [f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
        if not fields:
            continue
        for row in model._default_manager.only("pk", *fields).iterator(chunk_size=500):
            values = {name: getattr(row, name) for name in fields}
            # .update() bypasses save() side effects; get_prep_value encrypts with the current key.
            model._default_manager.filter(pk=row.pk).update(**values)
            count += 1
    return count


class EncryptedTextField(models.TextField):
    """A text column stored encrypted. Cannot be searched or ordered in SQL, by design."""

    def from_db_value(self, value: str | None, expression: object, connection: object) -> str | None:
        if value is None or value == "":
            return value
        return decrypt_text(value)

    def get_prep_value(self, value: object) -> object:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(str(value))
