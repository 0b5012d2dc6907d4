"""The evidence part of backups and of the check after a restore (core/backup.py).

Core may not import this app, so EvidenceConfig.ready() registers these as providers of the
hooks "backup_facts" and "restore_checks".
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

from core.backup import Check
from evidence import crypto, storage
from evidence.models import CustodyEvent, Derivative, Evidence, IntakeFile
from evidence.services import evidence_verify

# A report lists this many problems of each kind, then a count: enough to act on, not a flood.
_SHOWN = 20


def backup_facts() -> dict[str, Any]:
    """The master key ids the backup's rows need (ids only; the keys are never in a backup)."""
    key_ids: set[str] = set()
    for model in (Evidence, Derivative, IntakeFile):
        key_ids.update(model.objects.values_list("key_id", flat=True).distinct())
    return {"evidence_key_ids": sorted(key_ids)}


def _configured_key_ids() -> set[str]:
    values = [settings.EVIDENCE_ENCRYPTION_KEY, *getattr(settings, "EVIDENCE_ENCRYPTION_OLD_KEYS", [])]
    return {crypto.key_id(crypto._decode_key(value)) for value in values}


def _listed(problems: list[str]) -> list[str]:
    if len(problems) <= _SHOWN:
        return problems
    return [*problems[:_SHOWN], f"and {len(problems) - _SHOWN} more"]


def restore_checks(*, manifest: dict[str, Any] | None) -> list[Check]:
    """Keys, every original (decrypted and re-hashed by the verification service), previews and
    intake files (decrypted, which authenticates every chunk)."""
    checks = []
    needed = set((manifest or {}).get("facts", {}).get("evidence_key_ids", []))
    needed.update(backup_facts()["evidence_key_ids"])
    missing_keys = sorted(needed - _configured_key_ids())
    hint = "set EVIDENCE_ENCRYPTION_KEY (or EVIDENCE_ENCRYPTION_OLD_KEYS) to the key in use when the backup was taken"
    problems = [f"no configured key has id {kid}: {hint}" for kid in missing_keys]
    checks.append(Check("evidence keys", not missing_keys, f"master key ids in use: {len(needed)}", problems))
    checks.append(_originals())
    checks.append(_blobs("evidence previews", Derivative.objects.order_by("pk"), "preview", hashed=False))
    checks.append(_blobs("intake files", IntakeFile.objects.order_by("pk"), "intake file", hashed=True))
    return checks


def _originals() -> Check:
    checked, problems = 0, []
    for evidence in Evidence.objects.select_related("case").order_by("pk").iterator(chunk_size=200):
        checked += 1
        if not evidence_verify(evidence=evidence):
            # evidence_verify records why in the custody log; read it back rather than guess.
            last = CustodyEvent.objects.filter(evidence=evidence).order_by("-at", "-id").first()
            problems.append(f"evidence {evidence.pk} (case {evidence.case.reference}): {last.reason if last else ''}")
    return Check("evidence originals", not problems, f"{checked} decrypted and re-hashed", _listed(problems))


def _blobs(name: str, rows: Any, label: str, *, hashed: bool) -> Check:
    checked, problems = 0, []
    for row in rows.iterator(chunk_size=200):
        checked += 1
        digest = hashlib.sha256()
        try:
            for chunk in storage.plain_chunks(row.storage_key, row.key_id, row.wrapped_key):
                digest.update(chunk)
        except FileNotFoundError:
            problems.append(f"{label} {row.pk}: the stored file is missing")
            continue
        except (crypto.IntegrityError_, crypto.KeyError_) as exc:
            problems.append(f"{label} {row.pk}: {exc}")
            continue
        if hashed and digest.hexdigest() != row.sha256:
            problems.append(f"{label} {row.pk}: the stored file does not match its SHA-256")
    return Check(name, not problems, f"{checked} decrypted", _listed(problems))
