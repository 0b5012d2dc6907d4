"""evidence/capture.py: media found in a page, and the WARC file of a fetch. Pure functions: no database, no network;
the last test drives the same parsing from the case page against a server on 127.0.0.1."""

from __future__ import annotations

import gzip
import io
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from warcio.archiveiterator import ArchiveIterator

from evidence.capture import MediaRef, extract_media_urls, read_warc_response, warc_records

PAGE = b"""<!doctype html>
<html><head>
<meta charset="utf-8">
<base href="/media/">
<meta property="og:image" content="https://cdn.example.net/og.jpg">
<meta property="og:video:secure_url" content="//video.example.net/clip.mp4">
<meta name="twitter:image" content="tw.png">
<meta property="og:image" content="data:image/png;base64,AAAA">
<title>broken <b>page</title>
</head><body>
<img src="a.jpg" alt="x">
<img src="../b.jpg#frag">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<img src="javascript:alert(1)">
<img src=" https://cdn.example.net/og.jpg ">
<img srcset="small.jpg 1x, large.jpg 2x, https://img.example.net/w=100,h=100/x.jpg 3x">
<img src="a.jpg">
<picture><source srcset="pic.webp" type="image/webp"><img src="pic.jpg"></picture>
<video src="movie.mp4" poster="poster.jpg"><source src="movie.webm" type="video/webm"><source src="/abs/movie.ogv"></video>
<audio><source src="song.mp3"></audio>
<img src="&#x68;ttps://ent.example.net/e.jpg?a=1&amp;b=2">
<img src="ftp://files.example.net/f.jpg">
<img src="mailto:someone@example.org">
<div><p><b>unclosed <i>tags</p></b></span></div></div>
<img src='unclosed.jpg' <img src="lost-in-a-broken-tag.jpg">
<table><tr><td><img src="after-broken.jpg"></td>
<video><source src="in-unclosed-video.mp4">
<img src="at-the-end.jpg"
"""


def test_media_in_a_crafted_page() -> None:
    refs = extract_media_urls(PAGE, "https://site.example.org/thread/42?page=2", "text/html; charset=utf-8")
    base = "https://site.example.org/media/"
    assert refs == [
        MediaRef("https://cdn.example.net/og.jpg", "image", "og:image"),
        MediaRef("https://video.example.net/clip.mp4", "video", "og:video"),
        MediaRef(base + "tw.png", "image", "twitter:image"),
        MediaRef(base + "a.jpg", "image", "img"),
        MediaRef("https://site.example.org/b.jpg", "image", "img"),
        MediaRef(base + "small.jpg", "image", "srcset"),
        MediaRef(base + "large.jpg", "image", "srcset"),
        MediaRef("https://img.example.net/w=100,h=100/x.jpg", "image", "srcset"),
        MediaRef(base + "pic.webp", "image", "srcset"),
        MediaRef(base + "pic.jpg", "image", "img"),
        MediaRef(base + "movie.mp4", "video", "video"),
        MediaRef(base + "poster.jpg", "image", "video"),
        MediaRef(base + "movie.webm", "video", "source"),
        MediaRef("https://site.example.org/abs/movie.ogv", "video", "source"),
        MediaRef("https://ent.example.net/e.jpg?a=1&b=2", "image", "img"),
        MediaRef(base + "unclosed.jpg", "image", "img"),
        MediaRef(base + "after-broken.jpg", "image", "img"),
        MediaRef(base + "in-unclosed-video.mp4", "video", "source"),
    ]
    urls = [ref.url for ref in refs]
    assert len(urls) == len(set(urls))
    assert not any(url.startswith(("data:", "javascript:", "ftp:", "mailto:")) for url in urls)
    assert base + "song.mp3" not in urls
    assert "#" not in "".join(urls)


def test_without_base_href_relative_urls_resolve_against_the_page() -> None:
    html = b'<img src="x.png"><img src="/y.png"><img src="//other.example/z.png"><video><source src="v.mp4"></video>'
    assert [(r.url, r.kind) for r in extract_media_urls(html, "http://site.example/a/b.html")] == [
        ("http://site.example/a/x.png", "image"),
        ("http://site.example/y.png", "image"),
        ("http://other.example/z.png", "image"),
        ("http://site.example/a/v.mp4", "video"),
    ]


def test_a_javascript_base_href_is_ignored() -> None:
    html = b'<base href="javascript:alert(1)"><img src="x.png">'
    assert extract_media_urls(html, "https://site.example/p/") == [MediaRef("https://site.example/p/x.png", "image", "img")]


def test_korean_page_in_euc_kr() -> None:
    html = '<meta charset="euc-kr"><img src="/사진/똠방각하.jpg">'.encode("cp949")
    refs = extract_media_urls(html, "https://site.example/")
    assert [r.url for r in refs] == ["https://site.example/사진/똠방각하.jpg"]
    refs = extract_media_urls('<img src="/사진.jpg">'.encode("cp949"), "https://site.example/", "text/html; charset=EUC-KR")
    assert [r.url for r in refs] == ["https://site.example/사진.jpg"]


@pytest.mark.parametrize(
    "html",
    [
        b"",
        b"<",
        b"<img",
        b"<img src=",
        b"<!-- <img src='hidden.jpg'>",
        b"<![CDATA[",
        b"\xff\xfe\x00garbage",
        b"<<<>>>&&&#;",
        b"<svg><",
    ],
)
def test_broken_input_never_raises(html: bytes) -> None:
    assert isinstance(extract_media_urls(html, "https://site.example/"), list)


def test_a_media_response_has_no_page_to_parse() -> None:
    assert extract_media_urls(b'<img src="x.png">', "https://site.example/x", "image/jpeg") == []


# --- WARC -------------------------------------------------------------------------------------------------------

CAPTURED_AT = datetime(2025, 3, 1, 21, 30, 5, tzinfo=timezone(timedelta(hours=9)))  # 12:30:05 UTC


def make_warc(body: bytes = b"<html>evidence</html>") -> bytes:
    return warc_records(
        "https://site.example.org/thread/42?page=2",
        200,
        [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
        body,
        request_headers=[("Host", "site.example.org"), ("User-Agent", "victimsupport/0.1")],
        captured_at=CAPTURED_AT,
        ip_address="93.184.216.34",
    )


def test_warc_round_trip() -> None:
    body = bytes(range(256)) * 40
    data = make_warc(body)
    assert data[:2] == b"\x1f\x8b"  # gzip
    assert read_warc_response(data) == ("https://site.example.org/thread/42?page=2", 200, body)


def test_warc_holds_warcinfo_request_and_response() -> None:
    records = []
    for record in ArchiveIterator(io.BytesIO(make_warc())):
        records.append((record.rec_type, record.rec_headers, record.http_headers, record.content_stream().read()))
    assert [r[0] for r in records] == ["warcinfo", "request", "response"]
    info, request, response = records
    assert all(r[1].get_header("WARC-Date") == "2025-03-01T12:30:05Z" for r in records)
    assert request[1].get_header("WARC-Warcinfo-ID") == info[1].get_header("WARC-Record-ID")
    assert request[1].get_header("WARC-Concurrent-To") == response[1].get_header("WARC-Record-ID")
    assert request[2].protocol == "GET" and request[2].statusline.startswith("/thread/42?page=2")
    assert request[2].get_header("Host") == "site.example.org"
    assert response[1].get_header("WARC-IP-Address") == "93.184.216.34"
    assert response[1].get_header("WARC-Payload-Digest").startswith("sha1:")
    headers = response[2]
    assert headers.get_statuscode() == "200"
    assert headers.get_header("Transfer-Encoding") is None
    assert headers.get_header("Content-Length") == str(len(b"<html>evidence</html>"))
    assert [v for k, v in headers.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert response[3] == b"<html>evidence</html>"


def gzip_members(data: bytes) -> list[bytes]:
    members = []
    while data:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        members.append(member.decompress(data))
        data = member.unused_data
    return members


def test_a_tampered_warc_is_refused() -> None:
    members = gzip_members(make_warc(b"original body!"))
    assert len(members) == 3  # one gzip member per record, as WARC readers expect
    read_warc_response(b"".join(gzip.compress(m) for m in members))  # re-compressing alone changes nothing
    tampered = b"".join(gzip.compress(m.replace(b"original body!", b"tampered body!")) for m in members)
    with pytest.raises(ValueError, match="digest"):
        read_warc_response(tampered)


def test_garbage_and_missing_responses_are_refused() -> None:
    with pytest.raises(ValueError, match="not a readable WARC"):
        read_warc_response(b"\x1f\x8bnot really gzip")
    with pytest.raises(ValueError):
        read_warc_response(b"")


def test_naive_capture_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        warc_records("https://x.example/", 200, [], b"", captured_at=datetime(2025, 1, 1))


def test_unusual_status_is_kept() -> None:
    data = warc_records("http://x.example/", 599, [], b"", captured_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert read_warc_response(data) == ("http://x.example/", 599, b"")


SERVED = b"""<!doctype html><html><head><base href="/media/">
<meta property="og:image" content="og.png"></head>
<body><img srcset="small.jpg 1x, large.jpg 2x"><img src="javascript:alert(1)"></body></html>"""


@pytest.mark.django_db(transaction=True)  # the capture fetches outside any transaction
def test_what_the_parser_finds_is_what_the_case_page_shows_captured(caseworker, client_for) -> None:
    """A capture asked on the case page of a page using <base href> and srcset: the media the
    parser resolves are fetched and listed as the case's evidence, each with its address."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from evidence import tasks
    from evidence.models import CaptureRequest, Evidence
    from tests import factories, media

    files = {
        "/page": (SERVED, "text/html; charset=utf-8"),
        "/media/og.png": (media.image_bytes("PNG", seed=81), "image/png"),
        "/media/small.jpg": (media.image_bytes("JPEG", seed=82), "image/jpeg"),
        "/media/large.jpg": (media.image_bytes("JPEG", seed=83), "image/jpeg"),
    }

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = files.get(self.path, (b"not here", "text/plain"))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        case = factories.make_case(caseworker)
        page = client_for(caseworker)
        page.post(f"/evidence/case/{case.pk}/capture/", {"capture-urls": f"{site}/page"})
        capture = CaptureRequest.objects.get(case=case)
        tasks.capture_url(capture.pk)  # what the worker runs for it
    finally:
        server.shutdown()
    html = page.get(f"/cases/{case.pk}/").content.decode()
    row = html[html.index(f'<td class="url">{site}/page</td>') :].split("</tr>", 1)[0]
    assert "<td>3/3</td>" in row
    images = Evidence.objects.filter(case=case, kind="image")
    assert {e.source_url for e in images} == {f"{site}/media/{name}" for name in ("og.png", "small.jpg", "large.jpg")}
    shown = page.get(f"/evidence/{images.get(source_url=f'{site}/media/large.jpg').pk}/").content.decode()
    assert f"{site}/media/large.jpg" in shown
