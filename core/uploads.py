"""Upload handling for every form and API: stream to disk, hash while streaming, cap the size.

Memory use does not grow with the file: each chunk goes to a temporary file and into SHA-256.
An upload over the largest allowed size stops at once and the request is marked, so the view
can answer 413 without anything having been stored.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler


class HashingUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._sha256 = hashlib.sha256()
        self._received = 0
        self._limit = int(settings.UPLOAD_MAX_BYTES)
        from core.logs import is_public_path

        if self.request is not None and is_public_path(self.request.path):
            # The public form's own, lower limit: an anonymous upload stops early (docs/intake.md).
            self._limit = max(settings.INTAKE_MAX_IMAGE_MB, settings.INTAKE_MAX_VIDEO_MB) * 1024 * 1024

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._received += len(raw_data)
        if self._received > self._limit:
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            self.file.close()
            raise StopUpload(connection_reset=False)
        self._sha256.update(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> TemporaryUploadedFile | None:
        uploaded = super().file_complete(file_size)
        # Later steps compare this with the hash of what they encrypt: the bytes never changed.
        uploaded.sha256 = self._sha256.hexdigest()  # type: ignore[union-attr]
        return uploaded  # type: ignore[return-value]


def uploaded_path(uploaded: Any) -> Path:
    """A path for an uploaded file: already on disk with the handler above; copied otherwise
    (an in-memory file from a test client). The caller removes a copy when done."""
    path = getattr(uploaded, "temporary_file_path", None)
    if callable(path):
        return Path(path())
    with tempfile.NamedTemporaryFile(delete=False, prefix="upload-") as tmp:
        uploaded.seek(0)
        shutil.copyfileobj(uploaded, tmp)
    return Path(tmp.name)
