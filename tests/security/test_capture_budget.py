"""Threat: a page captured as evidence points at more (or larger) media than the worker can hold,
filling its disk or tying it up for hours; and intimate material fetched during a capture lies
around on the worker's disk in plain text until the whole capture ends.

Control: evidence/services.py capture_run keeps a byte budget per capture (CAPTURE_MAX_TOTAL_MB,
default 500): once it is spent the remaining media are skipped and the capture row says it was
cut short (cut_short, media_skipped; the case page says so in words). Each fetched file is
deleted as soon as it is stored encrypted (or refused), so at most one plaintext file is on disk.
"""

from __future__ import annotations

import io
import os
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from evidence import services
from evidence.models import CaptureRequest, Evidence
from evidence.services import capture_request, capture_run
from tests import factories
from tests.conftest import clear_queues

pytestmark = pytest.mark.django_db(transaction=True)


def _noise_png(seed: int) -> bytes:
    """Noise does not compress: 380x380 pixels make a PNG of about 0.41 MiB."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (380, 380), random.Random(seed).randbytes(380 * 380 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


# A 1 MiB budget holds the page and two of these, not three.
IMAGES = {f"/img-{i}.png": _noise_png(60 + i) for i in range(4)}
for _name, _body in IMAGES.items():
    assert 400_000 < len(_body) < 500_000, (_name, len(_body))
PAGE = ("<html><body>" + "".join(f'<img src="{name}">' for name in IMAGES) + "</body></html>").encode()


class _Site(BaseHTTPRequestHandler):
    served: list[str] = []

    def do_GET(self) -> None:
        body, kind = (PAGE, "text/html") if self.path == "/page" else (IMAGES.get(self.path, b"gone"), "image/png")
        self.served.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site():
    _Site.served = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def on_disk(monkeypatch):
    """What the capture's temporary folder holds each time a file is handed over to be stored."""
    seen: list[list[str]] = []
    real = services.evidence_add

    def spy(**kwargs):
        folder = kwargs["incoming"].path.parent
        seen.append(sorted(name for name in os.listdir(folder) if not name.startswith(".")))
        return real(**kwargs)

    monkeypatch.setattr(services, "evidence_add", spy)
    return seen


def _capture(site: str, caseworker) -> CaptureRequest:
    case = factories.make_case(caseworker)
    (row,) = capture_request(case=case, urls=[f"{site}/page"], acting_user=caseworker)
    clear_queues()  # no worker here: this test runs the capture itself
    assert capture_run(row.pk)
    row.refresh_from_db()
    return row


def test_a_capture_stops_at_its_byte_budget_and_says_so(site, caseworker, settings, on_disk, client_for) -> None:
    settings.CAPTURE_MAX_TOTAL_MB = 1
    row = _capture(site, caseworker)
    assert row.status == "done"
    assert row.media_found == 4
    assert row.media_stored == 2
    assert row.cut_short is True
    assert row.media_skipped == 2
    assert row.bytes_fetched <= 1024 * 1024
    # The media past the budget were never fetched in full (the third is cut off at the limit).
    assert "/img-3.png" not in _Site.served
    assert Evidence.objects.filter(case=row.case, kind="image").count() == 2
    page = client_for(caseworker).get(f"/cases/{row.case.pk}/")
    assert "Cut short: the capture reached its size limit; 2 items were not fetched." in page.content.decode()


def test_a_capture_within_its_budget_is_not_cut_short(site, caseworker, settings, on_disk) -> None:
    settings.CAPTURE_MAX_TOTAL_MB = 5
    row = _capture(site, caseworker)
    assert (row.media_stored, row.cut_short, row.media_skipped) == (4, False, 0)


def test_each_fetched_file_is_deleted_as_soon_as_it_is_stored(site, caseworker, settings, on_disk, monkeypatch) -> None:
    settings.CAPTURE_MAX_TOTAL_MB = 5
    folders: list[Path] = []
    real_mkdtemp = services.tempfile.mkdtemp

    def remember(*args, **kwargs):
        path = real_mkdtemp(*args, **kwargs)
        if "capture-" in Path(path).name:
            folders.append(Path(path))
        return path

    monkeypatch.setattr(services.tempfile, "mkdtemp", remember)
    _capture(site, caseworker)
    # The page archive, then each image: every time, the file being stored is the only one there.
    assert on_disk == [["page.warc.gz"], ["media-0"], ["media-1"], ["media-2"], ["media-3"]]
    assert folders and not any(folder.exists() for folder in folders)
