"""URL capture end to end: a real worker fetches pages from a server on 127.0.0.1 through the
one outbound client, stores a WARC and every image on the page as locked evidence."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evidence import storage
from evidence.capture import read_warc_response
from evidence.models import CaptureRequest, Evidence
from evidence.services import capture_request
from tests import factories, media
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PAGE = b"""<!doctype html><html><head><meta property="og:image" content="/og.png"></head>
<body><h1>Channel</h1><img src="a.jpg"><img src="/missing.jpg"><img src="data:image/png;base64,AAAA">
<a href="/elsewhere">link</a></body></html>"""


class _Site(BaseHTTPRequestHandler):
    files = {
        "/page": (PAGE, "text/html; charset=utf-8"),
        "/a.jpg": (media.image_bytes("JPEG", seed=41), "image/jpeg"),
        "/og.png": (media.image_bytes("PNG", seed=42), "image/png"),
        "/direct.jpg": (media.image_bytes("JPEG", seed=43), "image/jpeg"),
    }

    def do_GET(self) -> None:
        body, kind = self.files.get(self.path, (b"not here", "text/plain"))
        self.send_response(200 if self.path in self.files else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_capture_stores_warc_and_page_media(celery_worker_process, site, caseworker) -> None:
    case = factories.make_case(caseworker)
    rows = capture_request(case=case, urls=[f"{site}/page", f"{site}/direct.jpg", f"{site}/page"], acting_user=caseworker)
    assert len(rows) == 2  # the duplicate is merged
    wait_until(lambda: not CaptureRequest.objects.filter(case=case, status__in=["pending", "running"]).exists(), timeout=60)
    page = CaptureRequest.objects.get(case=case, url=f"{site}/page")
    assert page.status == "done", page.error
    assert page.http_status == 200
    assert page.media_found == 3
    assert page.media_stored == 2
    assert "404" in page.error
    archives = Evidence.objects.filter(case=case, kind="archive")
    assert archives.count() == 2
    warc = archives.get(source_url=f"{site}/page")
    uri, status, payload = read_warc_response(storage.read_bytes(warc.storage_key, warc.key_id, warc.wrapped_key))
    assert (uri, status, payload) == (f"{site}/page", 200, PAGE)
    images = Evidence.objects.filter(case=case, kind="image")
    assert {e.source_url for e in images} == {f"{site}/a.jpg", f"{site}/og.png", f"{site}/direct.jpg"}
    assert all(e.captured_at is not None and e.fingerprints.filter(algorithm="pdq").exists() for e in images)
    assert all(e.custody.filter(action="capture").exists() for e in images)


def test_capture_of_a_blocked_address_fails_clearly(celery_worker_process, caseworker, settings) -> None:
    case = factories.make_case(caseworker)
    # 10.0.0.1 is refused by the address check before any connection is made.
    capture_request(case=case, urls=["http://10.0.0.1/secret"], acting_user=caseworker)
    row = wait_until(lambda: CaptureRequest.objects.filter(case=case, status="failed").first(), timeout=30)
    assert "10.0.0.1" in row.error or "private" in row.error.lower() or "blocked" in row.error.lower()
    assert not Evidence.objects.filter(case=case).exists()


def test_a_caseworker_captures_from_the_case_page_and_reads_the_outcome_there(
    celery_worker_process, site, caseworker, client_for
) -> None:
    """The same capture asked on the case page: the page says it was queued, then shows each
    address's state and how many of the media found were stored (the missing image counted)."""
    from tests.pagetext import visible_text

    case = factories.make_case(caseworker)
    page = client_for(caseworker)
    response = page.post(f"/evidence/case/{case.pk}/capture/", {"capture-urls": f"{site}/page"}, follow=True)
    assert "1 addresses queued for capture." in visible_text(response.content.decode())
    wait_until(lambda: CaptureRequest.objects.filter(case=case, status="done").exists(), timeout=60)
    # The capture table sits in a folding section of the evidence panel: read from the markup.
    html = page.get(f"/cases/{case.pk}/").content.decode()
    row = html[html.index(f'<td class="url">{site}/page</td>') :].split("</tr>", 1)[0]
    assert "Captured" in row and "<td>2/3</td>" in row and "missing.jpg: HTTP 404" in row
    image = Evidence.objects.get(case=case, source_url=f"{site}/a.jpg")
    assert f"{site}/a.jpg" in visible_text(page.get(f"/evidence/{image.pk}/").content.decode())
