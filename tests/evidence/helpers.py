from __future__ import annotations

from pathlib import Path

from evidence import services
from evidence.models import Evidence
from tests import media


def add_image(case, user, tmp_path: Path, seed: int = 1, fmt: str = "JPEG", name: str = "photo.jpg") -> Evidence:
    path = tmp_path / f"{seed}-{name}"
    path.write_bytes(media.image_bytes(fmt, seed=seed))
    return services.evidence_add(case=case, incoming=services.IncomingFile(path=path, name=name), acting_user=user)
