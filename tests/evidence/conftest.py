from __future__ import annotations

import shutil

import pytest
from django.conf import settings


@pytest.fixture(autouse=True)
def clean_evidence_root():
    """Each test starts with an empty locker, so 'nothing stored' can be checked on disk."""
    root = settings.EVIDENCE_ROOT
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    return root


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()]
