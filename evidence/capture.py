"""Pure helpers for URL capture: find the media a page shows, and write/read the WARC file that preserves a fetch.

No models, no database, no network: the fetch itself goes through core.http; the capture service stores the result.
"""

from __future__ import annotations

import codecs
import http
import io
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import urldefrag, urljoin, urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

MediaKind = Literal["image", "video"]
MediaSource = Literal["img", "og:image", "og:video", "video", "source", "srcset", "twitter:image"]


@dataclass(frozen=True)
class MediaRef:
    url: str  # absolute http(s) URL, without fragment
    kind: MediaKind
    source: MediaSource  # where in the page it was found


_META: dict[str, tuple[MediaKind, MediaSource]] = {
    "og:image": ("image", "og:image"),
    "og:image:url": ("image", "og:image"),
    "og:image:secure_url": ("image", "og:image"),
    "og:video": ("video", "og:video"),
    "og:video:url": ("video", "og:video"),
    "og:video:secure_url": ("video", "og:video"),
    "twitter:image": ("image", "twitter:image"),
    "twitter:image:src": ("image", "twitter:image"),
}
# Labels browsers treat as a wider encoding than Python's codec of the same name (WHATWG Encoding Standard).
_CHARSET_ALIASES = {"euc-kr": "cp949", "ks_c_5601-1987": "cp949", "iso-8859-1": "cp1252", "latin1": "cp1252", "ascii": "cp1252",
                    "us-ascii": "cp1252", "shift_jis": "cp932", "gb2312": "gb18030", "gbk": "gb18030"}  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE)
_HTML_SPACE = " \t\n\r\f"


def _decode_html(html: bytes, content_type: str | None) -> str:
    candidates: list[str] = []
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if html.startswith(bom):
            candidates.append(name)
    if content_type and (match := re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type, re.IGNORECASE)):
        candidates.append(match.group(1))
    if match_meta := _META_CHARSET.search(html[:4096]):
        candidates.append(match_meta.group(1).decode("ascii"))
    for label in candidates:
        name = _CHARSET_ALIASES.get(label.lower(), label)
        try:
            codecs.lookup(name)
        except LookupError:
            continue
        return html.decode(name, errors="replace")
    return html.decode("utf-8", errors="replace")


def _srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset attribute ("a.jpg 1x, b.jpg 2x"); URLs may contain commas, descriptors may not."""
    urls: list[str] = []
    pos, end = 0, len(value)
    while pos < end:
        while pos < end and (value[pos] in _HTML_SPACE or value[pos] == ","):
            pos += 1
        start = pos
        while pos < end and value[pos] not in _HTML_SPACE:
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth = 0  # skip the descriptors up to the next comma outside parentheses
            while pos < end and (value[pos] != "," or depth):
                if value[pos] == "(":
                    depth += 1
                elif value[pos] == ")" and depth:
                    depth -= 1
                pos += 1
        if url:
            urls.append(url)
    return urls


class _MediaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, MediaKind, MediaSource]] = []  # raw URLs, resolved once <base> is known
        self.base: str | None = None
        self.open: dict[str, int] = {"video": 0, "audio": 0, "picture": 0}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value for name, value in reversed(attrs) if value is not None}  # first occurrence wins, as in browsers
        add = self.found.append
        if tag in self.open:
            self.open[tag] += 1
        if tag == "base" and self.base is None and a.get("href"):
            self.base = a["href"]
        elif tag == "img":
            for attr in ("src", "data-src"):
                if a.get(attr):
                    add((a[attr], "image", "img"))
            for attr in ("srcset", "data-srcset"):
                for url in _srcset_urls(a.get(attr, "")):
                    add((url, "image", "srcset"))
        elif tag == "video":
            if a.get("src"):
                add((a["src"], "video", "video"))
            if a.get("poster"):
                add((a["poster"], "image", "video"))
        elif tag == "source":
            mime = a.get("type", "").lower()
            if self.open["video"] or mime.startswith("video/"):
                if a.get("src"):
                    add((a["src"], "video", "source"))
            elif not self.open["audio"] and (self.open["picture"] or mime.startswith("image/")):
                if a.get("src"):
                    add((a["src"], "image", "source"))
                for url in _srcset_urls(a.get("srcset", "")):
                    add((url, "image", "srcset"))
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or "").strip().lower()
            if key in _META and a.get("content"):
                kind, source = _META[key]
                add((a["content"], kind, source))

    def handle_endtag(self, tag: str) -> None:
        if self.open.get(tag):
            self.open[tag] -= 1


def _absolute(raw: str, base: str) -> str | None:
    value = re.sub(r"[\t\n\r]", "", raw.strip(_HTML_SPACE))
    if not value:
        return None
    try:
        url = urldefrag(urljoin(base, value)).url
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return None
    return url if ok else None


def extract_media_urls(html: bytes, base_url: str, content_type: str | None = None) -> list[MediaRef]:
    """Images and videos a page shows (img, srcset, video/source, og:/twitter: meta), as absolute http(s) URLs,
    in page order without duplicates. data:, javascript: and other schemes are skipped. A response that is itself
    an image, video or audio (by content_type) has no page to parse: the caller keeps its URL as the media."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime.startswith(("image/", "video/", "audio/")):
        return []
    parser = _MediaParser()
    try:
        parser.feed(_decode_html(html, content_type))
        parser.close()
    except (AssertionError, ValueError):  # html.parser is lenient, but keep whatever was found before a hard error
        pass
    base = base_url
    if parser.base and (resolved := _absolute(parser.base, base_url)):
        base = resolved
    refs: list[MediaRef] = []
    seen: set[str] = set()
    for raw, kind, source in parser.found:
        url = _absolute(raw, base)
        if url and url not in seen:
            seen.add(url)
            refs.append(MediaRef(url, kind, source))
    return refs


def _warc_date(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("captured_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def warc_records(
    url: str,
    response_status: int,
    response_headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    request_headers: Sequence[tuple[str, str]] | None = None,
    captured_at: datetime,
    method: str = "GET",
    ip_address: str | None = None,
) -> bytes:
    """A gzip-compressed WARC/1.0 file with warcinfo, request and response records for one fetch.

    The body is stored as received by core.http: de-chunked (and decompressed if the client decoded it, in which
    case core.http already dropped Content-Encoding). So Transfer-Encoding is left out of the stored headers and
    Content-Length is set to the stored body's length; every other header is kept as the server sent it."""
    date = _warc_date(captured_at)
    parts = urlsplit(url)
    stored = [(k, v) for k, v in response_headers if k.lower() not in ("transfer-encoding", "content-length")]
    stored.append(("Content-Length", str(len(body))))
    try:
        phrase = http.HTTPStatus(response_status).phrase
    except ValueError:
        phrase = ""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    info = writer.create_warcinfo_record(
        "capture.warc.gz",
        {"software": "victimsupport evidence capture (warcio)", "format": "WARC File Format 1.0", "isPartOf": "evidence"},
    )
    info.rec_headers.replace_header("WARC-Date", date)
    info_id = info.rec_headers.get_header("WARC-Record-ID")
    common = {"WARC-Date": date, "WARC-Warcinfo-ID": info_id}
    response = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=StatusAndHeaders(f"{response_status} {phrase}".strip(), stored, protocol="HTTP/1.1"),
        warc_headers_dict={**common, **({"WARC-IP-Address": ip_address} if ip_address else {})},
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = list(request_headers) if request_headers is not None else [("Host", parts.netloc)]
    request = writer.create_warc_record(
        url,
        "request",
        http_headers=StatusAndHeaders(f"{method.upper()} {target}", sent, protocol="HTTP/1.1", is_http_request=True),
        warc_headers_dict={**common, "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")},
    )
    for record in (info, request, response):
        writer.write_record(record)
    return out.getvalue()


def read_warc_response(data: bytes) -> tuple[str, int, bytes]:
    """(target URI, HTTP status, payload as stored) of the first response record; digests are verified.
    Raises ValueError for data that is not a readable WARC, a failed digest, or no response record."""
    try:
        for record in ArchiveIterator(io.BytesIO(data), check_digests="raise"):
            if record.rec_type == "response":
                uri = record.rec_headers.get_header("WARC-Target-URI")
                status = int(record.http_headers.get_statuscode())
                payload = record.raw_stream.read()
                return str(uri), status, payload
    except (ArchiveLoadFailed, OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"not a readable WARC file: {exc}"[:300]) from exc
    raise ValueError("the WARC file holds no response record")
