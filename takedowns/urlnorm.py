"""Addresses as people paste them, and the one form ("key") that says two addresses are the same page.

No Django here: the migration that fills TakedownRequest.url_key imports it, and so do the tests.

Two steps, kept apart on purpose:

- `clean_url` is what a request stores and what a notice cites: the address as given, with a
  scheme added when it had none, scheme and host lower-cased, the default port and the fragment
  dropped (a platform's reviewer follows it, so nothing else is changed).
- `url_key` is only for finding duplicates: on top of that, tracking parameters go, the query is
  sorted, and known platforms' own aliases become one form (m./www./mobile. hosts, youtu.be,
  twitter.com and x.com, shorts and embeds). It is never sent anywhere.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

MAX_URL_LENGTH = 2000
_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A host name: labels of letters, digits and hyphens, at least one dot (or an IP literal).
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_DOTTED_HOST = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)+[a-z0-9-]{{2,63}}$")
_SINGLE_LABEL = re.compile(rf"^{_LABEL}$")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")

# Query parameters that only say where a click came from. Dropped from the key, never from the URL.
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_TRACKING = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
        "igshid", "igsh", "si", "ref_src", "ref_url", "mc_cid", "mc_eid", "_ga", "_gl", "mkt_tok", "spm", "share_id",
        "share_app_id", "sender_device", "is_from_webapp", "is_copy_url", "feature", "app", "rdt", "context",
    }
)  # fmt: skip

# Known platforms: every alias host -> the one canonical host. Subdomains such as m. and www. are
# the same site on these; on an unknown host they may not be, so they are left alone there.
_CANONICAL_HOST = {
    "twitter.com": "x.com", "x.com": "x.com", "mobile.twitter.com": "x.com", "mobile.x.com": "x.com",
    "www.twitter.com": "x.com", "www.x.com": "x.com",
    "youtube.com": "youtube.com", "m.youtube.com": "youtube.com", "www.youtube.com": "youtube.com",
    "music.youtube.com": "youtube.com", "youtube-nocookie.com": "youtube.com", "www.youtube-nocookie.com": "youtube.com",
}  # fmt: skip
_KNOWN_SITES = frozenset(
    {
        "instagram.com", "facebook.com", "tiktok.com", "reddit.com", "tumblr.com", "pinterest.com", "vk.com",
        "telegram.org", "t.me", "pornhub.com", "xvideos.com", "xhamster.com", "onlyfans.com", "dailymotion.com",
        "vimeo.com", "twitch.tv", "naver.com", "daum.net", "kakao.com", "weibo.com", "threads.net",
    }
)  # fmt: skip
_ALIAS_PREFIXES = ("www.", "m.", "mobile.", "mbasic.", "touch.", "web.")
# Per canonical host: query parameters that name the content (everything else goes from the key).
_CONTENT_PARAMS = {"youtube.com": {"v", "list"}, "x.com": set(), "instagram.com": set(), "tiktok.com": set()}


class BadUrl(ValueError):
    """Why a line is not an address; `reason` is a code the caller turns into words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_url(raw: str) -> str:
    """The address to store, or BadUrl with a reason: empty, too_long, scheme (not http/https), not_url.

    An address without a scheme (`instagram.com/p/...`, as people copy it from an app) gets https://.
    """
    text = raw.strip().strip("<>\"'")
    if not text:
        raise BadUrl("empty")
    if len(text) > MAX_URL_LENGTH:
        raise BadUrl("too_long")
    if any(c.isspace() for c in text):
        raise BadUrl("not_url")
    schemeless = "://" not in text
    if "://" in text:
        if text.split("://", 1)[0].lower() not in _SCHEMES:
            raise BadUrl("scheme")
    elif text.startswith("//"):
        text = "https:" + text
    else:
        match = _SCHEME.match(text)
        # "javascript:...", "mailto:...", "data:..." are schemes; "example.com:8080/x" is a host and port.
        if match and "." not in match.group(1) and not re.match(r"\d+(/|$)", text[match.end() :]):
            raise BadUrl("scheme")
        text = "https://" + text
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError as exc:
        raise BadUrl("not_url") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.username is not None or parts.password is not None or not _valid_host(host, schemeless=schemeless):
        raise BadUrl("not_url")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    # The fragment never reaches the server; two URLs differing only in it are the same page.
    cleaned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    if len(cleaned) > MAX_URL_LENGTH:
        raise BadUrl("too_long")
    return cleaned


def _valid_host(host: str, *, schemeless: bool) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if _DOTTED_HOST.match(host):
        return True
    # "localhost" with a scheme is an address; a bare word without one ("hello") is just text.
    return not schemeless and bool(_SINGLE_LABEL.match(host))


def _site(host: str) -> tuple[str, bool]:
    """(canonical host, known platform?)."""
    if host in _CANONICAL_HOST:
        return _CANONICAL_HOST[host], True
    bare = host
    for prefix in _ALIAS_PREFIXES:
        if bare.startswith(prefix) and bare[len(prefix) :] in _KNOWN_SITES | set(_CANONICAL_HOST):
            bare = bare[len(prefix) :]
            break
    if bare in _CANONICAL_HOST:
        return _CANONICAL_HOST[bare], True
    return bare, bare in _KNOWN_SITES


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING or lowered.startswith(_TRACKING_PREFIXES)


def url_key(url: str) -> str:
    """The form two addresses share when they are the same page (for duplicate detection only)."""
    parts = urlsplit(clean_url(url))
    host, known = _site((parts.hostname or "").lower())
    scheme = "https" if known else parts.scheme
    port = parts.port
    bracketed = f"[{host}]" if ":" in host else host
    netloc = bracketed if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{bracketed}:{port}"
    # Percent-encoding spelled two ways is the same path.
    path = quote(unquote(parts.path or "/"), safe="/:@!$&'()*+,;=-._~")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    if parts.hostname in ("youtu.be", "www.youtu.be") and path.strip("/"):
        host, netloc, scheme, known = "youtube.com", "youtube.com", "https", True
        query = [("v", path.strip("/").split("/")[0]), *[(k, v) for k, v in query if k != "v"]]
        path = "/watch"
    if host == "youtube.com":
        for prefix in ("/shorts/", "/embed/", "/live/", "/v/"):
            if path.startswith(prefix) and path[len(prefix) :].strip("/"):
                query = [("v", path[len(prefix) :].strip("/").split("/")[0]), *[(k, v) for k, v in query if k != "v"]]
                path = "/watch"
    if host == "x.com":
        # /<user>/status/<id>: the user name in the path is cosmetic (any name reaches the post).
        match = re.match(r"^/[^/]+/status(?:es)?/(\d+)", path)
        if match:
            path = f"/i/status/{match.group(1)}"
    if known:
        allowed = _CONTENT_PARAMS.get(host)
        if allowed is not None:
            query = [(k, v) for k, v in query if k in allowed]
        if len(path) > 1:
            path = path.rstrip("/")
    query.sort()
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))
