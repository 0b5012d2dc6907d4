"""Export packages for police or court, and their offline verification.

A package is a ZIP holding the originals, `manifest.json` (names, SHA-256, sizes, times, source
URLs, fingerprints, and the SHA-256 of `custody.json`), `custody.json` (the custody log of every
item) and `manifest.sig`, an Ed25519 signature over the exact bytes of manifest.json. Anyone with
the centre's public key can check a package without the system: `manage.py verify_export FILE`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from core.crypto import derive_key, master_key

FORMAT = "victimsupport-evidence-export-1"
_EXT = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/heic": "heic",
    "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm", "video/x-matroska": "mkv",
    "video/x-msvideo": "avi", "application/pdf": "pdf", "application/warc": "warc.gz",
}  # fmt: skip


def signing_key() -> Ed25519PrivateKey:
    """EXPORT_SIGNING_KEY (URL-safe base64 of a 32-byte seed), else derived from the master key."""
    configured = getattr(settings, "EXPORT_SIGNING_KEY", "")
    if configured:
        seed = base64.urlsafe_b64decode(configured.encode() + b"=" * (-len(configured) % 4))
    else:
        seed = derive_key(master_key(), b"victimsupport export signing v1")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex(key: Ed25519PrivateKey | None = None) -> str:
    public = (key or signing_key()).public_key()
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def file_name(item: Any) -> str:
    return f"originals/{item.pk}-{item.sha256[:12]}.{_EXT.get(item.media_type, 'bin')}"


def build_package(*, case: Any, items: list[Any], exported_by: str, reason: str, decrypt_to: Any) -> Path:
    """Writes the ZIP to a temporary file and returns its path (the caller removes it)."""
    custody = [
        {
            "evidence": c.evidence_id,
            "action": c.action,
            "by": c.actor_username,
            "at": c.at.isoformat(),
            "reason": c.reason,
        }
        for item in items
        for c in item.custody.order_by("at", "id")
    ]
    custody_bytes = json.dumps(custody, ensure_ascii=False, indent=1).encode("utf-8")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "case": case.reference,
        "exported_by": exported_by,
        "reason": reason,
        "public_key": public_key_hex(),
        "custody_sha256": hashlib.sha256(custody_bytes).hexdigest(),
        "items": [],
    }
    out = Path(tempfile.mkstemp(prefix="export-", suffix=".zip")[1])
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for item in items:
            name = file_name(item)
            with tempfile.NamedTemporaryFile() as plain:
                digest = decrypt_to(item, Path(plain.name))
                if digest != item.sha256:
                    raise ValueError(f"Evidence {item.pk} does not match its SHA-256; it was not exported.")
                zf.write(plain.name, name)
            manifest["items"].append(
                {
                    "id": item.pk,
                    "file": name,
                    "sha256": item.sha256,
                    "size": item.size,
                    "media_type": item.media_type,
                    "original_name": item.original_name,
                    "uploaded_at": item.created_at.isoformat(),
                    "captured_at": item.captured_at.isoformat() if item.captured_at else None,
                    "source_url": item.source_url,
                    "fingerprints": [
                        {"algorithm": f.algorithm, "value": f.value, "mirrored": f.mirrored, "frame_ms": f.frame_ms}
                        for f in item.fingerprints.all()
                    ],
                }
            )
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        zf.writestr("manifest.json", manifest_bytes)
        zf.writestr("custody.json", custody_bytes)
        zf.writestr("manifest.sig", signing_key().sign(manifest_bytes).hex() + "\n")
    return out


@dataclass
class VerifyReport:
    ok: bool
    items: int = 0
    problems: list[str] = field(default_factory=list)


def verify_package(path: Path, public_key: str | None = None) -> VerifyReport:
    """Checks the signature, every file's SHA-256 and size, and the custody log's hash."""
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return VerifyReport(False, 0, [f"not a readable ZIP file: {exc}"])
    with zf:
        names = set(zf.namelist())
        for required in ("manifest.json", "manifest.sig", "custody.json"):
            if required not in names:
                return VerifyReport(False, 0, [f"{required} is missing"])
        manifest_bytes = zf.read("manifest.json")
        try:
            manifest = json.loads(manifest_bytes)
        except ValueError:
            return VerifyReport(False, 0, ["manifest.json is not valid JSON"])
        key_hex = public_key or manifest.get("public_key", "")
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(
                bytes.fromhex(zf.read("manifest.sig").decode().strip()), manifest_bytes
            )
        except (InvalidSignature, ValueError):
            problems.append("the signature over manifest.json does not verify with the given public key")
        if public_key and manifest.get("public_key") != public_key:
            problems.append("the package names a different public key than the one given")
        if hashlib.sha256(zf.read("custody.json")).hexdigest() != manifest.get("custody_sha256"):
            problems.append("custody.json does not match the hash in the manifest")
        items = manifest.get("items", [])
        for item in items:
            name = item.get("file", "")
            if name not in names:
                problems.append(f"{name} is listed but missing")
                continue
            digest, size = hashlib.sha256(), 0
            with zf.open(name) as fh:
                while chunk := fh.read(1024 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
            if digest.hexdigest() != item.get("sha256") or size != item.get("size"):
                problems.append(f"{name} does not match its SHA-256 or size")
        extra = names - {i.get("file") for i in items} - {"manifest.json", "manifest.sig", "custody.json"}
        if extra:
            problems.append("files not in the manifest: " + ", ".join(sorted(extra)))
    return VerifyReport(not problems, len(items), problems)
