"""The one outbound HTTP client (docs/outbound-http.md).

Every request the system makes to the outside world goes through `request()` or `stream_to_file()`.
They refuse private, loopback and other special-purpose addresses unless settings.OUTBOUND_ALLOWLIST
covers them, resolve the host name once and connect to exactly the address that was checked (the Host
header and TLS SNI/certificate check still use the name, so DNS rebinding cannot swap the target), re-check
every redirect hop, bound connect/read/total time and the body size, keep no cookies and read no proxy
settings from the environment. They refuse to run inside a database transaction.

Built on urllib3 (already installed with botocore): one connection pool per hop whose "host" is the checked
IP address, with `server_hostname` set to the name, so urllib3 never resolves anything itself. urllib3 has
no cookie jar and, unlike requests, never reads HTTP(S)_PROXY from the environment.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import random
import re
import socket
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import urllib3
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The centre speaking openly (profile CENTRE): notices and status polls to platforms' notice APIs.
DEFAULT_USER_AGENT = "victimsupport/0.1 (digital sex-crime victim support centre; evidence capture and takedown system)"
# Fetching material pages (profile BROWSER: capture, re-checks, liveness, watchlists, media): a common desktop
# browser, so a site cannot serve the centre something other than what its visitors see (docs/outbound-http.md,
# "Who the request says it is"). Settings OUTBOUND_BROWSER_USER_AGENT and OUTBOUND_BROWSER_USER_AGENTS override.
DEFAULT_BROWSER_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Safari/605.1.15",
)
BROWSER = "browser"
CENTRE = "centre"
PROFILES = (BROWSER, CENTRE)
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_SAFE_URL_CHARS = "!$%&'()*+,/:;=?@[]~"  # kept as they are when re-quoting a path or query (as requests does)
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")
_METADATA = ipaddress.ip_address("169.254.169.254")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Belt and braces: the ipaddress properties below change between Python patch releases; these never do.
_SPECIAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "::/96", "64:ff9b:1::/48", "100::/64",
        "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


class OutboundError(Exception):
    """An outbound request was refused or failed. Messages name the host, never the response body."""


class BlockedAddress(OutboundError):
    """The destination (or a redirect hop) is a private, loopback or otherwise special-purpose address."""


class ResponseTooLarge(OutboundError):
    """The response body is larger than the caller's max_bytes."""


class FetchTimeout(OutboundError):
    """Connecting, reading, or the whole request took too long."""


class FetchFailed(OutboundError):
    """Any other failure: bad URL, unknown host, refused connection, TLS error, broken response, redirect loop."""


@dataclass
class Response:
    status: int
    headers: urllib3.HTTPHeaderDict  # case-insensitive; .getlist() for repeated headers
    body: bytes  # empty for stream_to_file()
    url: str  # final URL, after redirects
    elapsed_s: float
    history: list[str] = field(default_factory=list)  # URLs that redirected, in order
    remote_address: str = ""  # the IP address that served the final response


def _blocked_reason(ip: IPAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 is judged as that IPv4 address.
        inner = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if inner is not None:
            reason = _blocked_reason(inner)
            return f"it carries {inner}, {reason}" if reason else None
        for embedded in (ip.sixtofour, *(ip.teredo or ())):
            if embedded is not None and (reason := _blocked_reason(embedded)):
                return f"it carries {embedded}, {reason}"
    checks = (
        (ip == _METADATA, "the cloud metadata address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip in _SHARED, "shared address space (carrier-grade NAT)"),
        (ip.is_private, "a private address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    for net in _SPECIAL:
        if net.version == ip.version and ip in net:
            return f"in the special-purpose range {net}"
    return None if ip.is_global else "not globally routable"


def _parse_allowlist(entries: Sequence[str] | str) -> tuple[list[Network], set[str]]:
    if isinstance(entries, str):
        entries = entries.split(",")
    networks: list[Network] = []
    names: set[str] = set()
    for raw in entries:
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            if not _HOST_NAME.match(entry):
                raise ValueError(f"OUTBOUND_ALLOWLIST entry {raw!r} is not an IP address, CIDR range or host name") from None
            names.add(entry)
    return networks, names


def check_address(ip: IPAddress, allowlist: Sequence[str], *, host: str | None = None) -> None:
    """Raise BlockedAddress unless `ip` is a public address or the allowlist covers it (by IP, CIDR or `host` name)."""
    networks, names = _parse_allowlist(allowlist)
    if host is not None and host.lower().rstrip(".") in names:
        return
    candidates = [ip, ip.ipv4_mapped] if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else [ip]
    if any(c.version == net.version and c in net for c in candidates for net in networks):
        return
    reason = _blocked_reason(ip)
    if reason:
        named = f" ({host})" if host and host != str(ip) else ""
        raise BlockedAddress(f"refused to connect to {ip}{named}: {reason}; not in OUTBOUND_ALLOWLIST")


def resolve_and_check(host: str, port: int, allowlist: Sequence[str]) -> list[IPAddress]:
    """Resolve `host` once and check every address; one blocked address refuses the lot. Connect only to these."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError) as exc:
        raise FetchFailed(f"could not resolve host {host!r}") from exc
    addresses: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(str(sockaddr[0]))
            if ip not in addresses:
                addresses.append(ip)
    if not addresses:
        raise FetchFailed(f"host {host!r} has no IPv4 or IPv6 address")
    for ip in addresses:
        check_address(ip, allowlist, host=host)
    return addresses


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower case, ASCII (IDNA), no brackets
    port: int
    path: str  # path and query, percent-encoded

    @property
    def netloc(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == (443 if self.scheme == "https" else 80) else f"{name}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
        host = host if host.isascii() else host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as exc:
        raise FetchFailed(f"not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchFailed(f"only http and https URLs are fetched, not {scheme or 'a URL without a scheme'!r}")
    if parts.username is not None or parts.password is not None:
        raise FetchFailed("URLs with a user name or password are refused")
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host))  # normalise IP literals
    if not host or not (":" in host or _HOST_NAME.match(host)):
        raise FetchFailed("the URL has no valid host name")
    query = quote(parts.query, safe=_SAFE_URL_CHARS)
    path = quote(parts.path or "/", safe=_SAFE_URL_CHARS) + (f"?{query}" if query else "")
    return _Target(scheme, host, port or (443 if scheme == "https" else 80), path)


@contextlib.contextmanager
def _translated(host: str) -> Iterator[None]:
    """Turn urllib3/socket errors into OutboundError subclasses (their text never holds a body)."""
    try:
        yield
    except OutboundError:
        raise
    except NewConnectionError as exc:  # a subclass of ConnectTimeoutError: test it first
        raise FetchFailed(f"could not connect to {host}: {exc}"[:300]) from exc
    except (Urllib3TimeoutError, TimeoutError) as exc:
        raise FetchTimeout(f"timed out talking to {host}") from exc
    except (HTTPError, http.client.HTTPException, OSError) as exc:
        raise FetchFailed(f"request to {host} failed: {type(exc).__name__}: {exc}"[:300]) from exc


def _refuse_in_transaction() -> None:
    from django.db import connections  # lazily: this module must stay importable without the ORM set up

    if any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        raise RuntimeError("outbound HTTP inside a database transaction")


_local = threading.local()
_MAX_POOLS_PER_THREAD = 64


def _pool_for(target: _Target, ip: IPAddress) -> urllib3.HTTPConnectionPool:
    """A kept-alive connection pool per (checked address, host) in this thread.

    Reusing connections is what lets one worker send hundreds of notices a second to the same
    platform. The pool's host is the checked IP, so reuse never skips the address check: every
    request still resolves and checks before it picks a pool.
    """
    pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = getattr(_local, "pools", None) or OrderedDict()
    _local.pools = pools
    key = (target.scheme, str(ip), target.port, target.host)
    pool = pools.get(key)
    if pool is not None:
        pools.move_to_end(key)
        return pool
    if target.scheme == "https":
        # Host of the pool is the IP (no second DNS lookup); SNI and the certificate check use the host name
        # (ssl's check_hostname verifies against server_hostname, with CERT_REQUIRED and the system CA store).
        pool = urllib3.HTTPSConnectionPool(
            str(ip), target.port, maxsize=1, retries=False, server_hostname=target.host, cert_reqs="CERT_REQUIRED"
        )
    else:
        pool = urllib3.HTTPConnectionPool(str(ip), target.port, maxsize=1, retries=False)
    pools[key] = pool
    while len(pools) > _MAX_POOLS_PER_THREAD:
        _old_key, old = pools.popitem(last=False)
        old.close()
    return pool


def _discard_pool(target: _Target, ip: IPAddress) -> None:
    pools = getattr(_local, "pools", None)
    if pools is not None:
        pool = pools.pop((target.scheme, str(ip), target.port, target.host), None)
        if pool is not None:
            pool.close()


def _one_off_pool(target: _Target, ip: IPAddress) -> urllib3.HTTPConnectionPool:
    """A pool of its own, never kept: the request goes over a brand-new connection (a second look)."""
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            str(ip), target.port, maxsize=1, retries=False, server_hostname=target.host, cert_reqs="CERT_REQUIRED"
        )
    return urllib3.HTTPConnectionPool(str(ip), target.port, maxsize=1, retries=False)


def browser_user_agents() -> list[str]:
    """The browser User-Agents in use: the main one first, then the others a second look picks from."""
    main = str(getattr(settings, "OUTBOUND_BROWSER_USER_AGENT", "") or DEFAULT_BROWSER_USER_AGENTS[0])
    others = [str(ua) for ua in (getattr(settings, "OUTBOUND_BROWSER_USER_AGENTS", None) or DEFAULT_BROWSER_USER_AGENTS)]
    return [main, *[ua for ua in others if ua and ua != main]]


def _profile_headers(profile: str, *, fresh: bool) -> list[tuple[str, str]]:
    """The headers a request starts with, in the order they are sent.

    CENTRE names the system (notices to platforms are the centre speaking openly). BROWSER carries
    what a common desktop browser sends when it opens a page, and nothing that names the centre or
    this software; a fresh (second) look takes another browser's User-Agent, so a site that answers
    one client pattern differently is seen through (takedowns.rechecks, "removal confirmation").
    """
    if profile == CENTRE:
        return [
            ("User-Agent", str(getattr(settings, "OUTBOUND_USER_AGENT", "") or DEFAULT_USER_AGENT)),
            ("Accept", "*/*"),
            ("Accept-Encoding", "identity"),
        ]
    if profile != BROWSER:
        raise ValueError(f"unknown outbound profile {profile!r}; one of {PROFILES}")
    agents = browser_user_agents()
    agent = random.choice(agents[1:]) if fresh and len(agents) > 1 else agents[0]  # noqa: S311 - not security
    language = str(getattr(settings, "OUTBOUND_BROWSER_ACCEPT_LANGUAGE", "") or "en-US,en;q=0.9")
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
    # Only encodings urllib3 can decode here: the size limit applies to the decoded body.
    encoding = urllib3.util.request.ACCEPT_ENCODING.replace(",", ", ")
    return [
        ("User-Agent", agent),
        ("Accept", accept),
        ("Accept-Language", language),
        ("Accept-Encoding", encoding),
        ("Upgrade-Insecure-Requests", "1"),
        ("Sec-Fetch-Dest", "document"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Site", "none"),
        ("Sec-Fetch-User", "?1"),
    ]


def _open(
    target: _Target,
    ip: IPAddress,
    method: str,
    headers: urllib3.HTTPHeaderDict,
    body: bytes | None,
    timeout: float,
    *,
    fresh: bool = False,
) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse]:
    """Send the request to the checked address `ip`; returns (pool, response) with the body still unread.
    With `fresh`, over a new connection that is closed afterwards (never a kept-alive one)."""
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    pool = _one_off_pool(target, ip) if fresh else _pool_for(target, ip)
    try:
        response = pool.urlopen(
            method, target.path, body=body, headers=headers, redirect=False, retries=False, timeout=limits,
            preload_content=False, decode_content=True, assert_same_host=False,
        )  # fmt: skip
    except BaseException:
        if fresh:
            pool.close()
        else:
            _discard_pool(target, ip)
        raise
    return pool, response


def _fetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    timeout: float,
    max_bytes: int,
    allow_redirects: bool,
    max_redirects: int,
    total_timeout: float | None,
    sink: Callable[[bytes], object],
    profile: str = BROWSER,
    fresh: bool = False,
) -> Response:
    _refuse_in_transaction()
    allowlist: Sequence[str] = getattr(settings, "OUTBOUND_ALLOWLIST", None) or []
    started = time.monotonic()
    deadline = started + (total_timeout if total_timeout is not None else 10 * timeout)
    method = method.upper()
    extra = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
    target = _parse_url(url)
    history: list[str] = []
    # Chosen once per request, so every redirect hop of one look shows the same browser.
    start_headers = _profile_headers(profile, fresh=fresh)
    if fresh:
        extra["Connection"] = "close"
    while True:
        addresses = resolve_and_check(target.host, target.port, allowlist)
        send = urllib3.HTTPHeaderDict({"Host": target.netloc})
        for name, value in start_headers:
            send[name] = value
        send.update(extra)
        send["Host"] = target.netloc
        with _translated(target.host):
            for attempt, ip in enumerate(addresses, start=1):  # try each checked address, never another one
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise FetchTimeout(f"timed out talking to {target.host}")
                try:
                    pool, resp = _open(target, ip, method, send, body, min(timeout, remaining), fresh=fresh)
                    break
                except ConnectTimeoutError:  # includes NewConnectionError: nothing was sent yet
                    if attempt == len(addresses):
                        raise
            reusable = False
            try:
                location = resp.headers.get("Location")
                if allow_redirects and resp.status in _REDIRECTS and location:
                    if len(history) >= max_redirects:
                        raise FetchFailed(f"more than {max_redirects} redirects, last from {target.host}")
                    following = _parse_url(urljoin(target.url, location.strip()))
                    history.append(target.url)
                    if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                        method, body = ("HEAD" if method == "HEAD" else "GET"), None
                        extra = {k: v for k, v in extra.items() if k.lower() not in ("content-type", "content-length")}
                    if (following.scheme, following.host, following.port) != (target.scheme, target.host, target.port):
                        extra = {k: v for k, v in extra.items() if k.lower() not in _CREDENTIAL_HEADERS}
                    target = following
                    continue
                declared = resp.headers.get("Content-Length", "")
                if method != "HEAD" and declared.isdigit() and int(declared) > max_bytes:
                    raise ResponseTooLarge(f"{target.host} announced {declared} bytes, over the limit of {max_bytes}")
                size = 0
                while chunk := resp.read1(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise ResponseTooLarge(f"response from {target.host} is over the limit of {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise FetchTimeout(f"timed out reading from {target.host}")
                    sink(chunk)
                reusable = True
                return Response(
                    resp.status, _returned_headers(resp), b"", target.url, time.monotonic() - started, history, str(ip)
                )
            finally:
                if fresh:
                    resp.close()
                    pool.close()  # a second look leaves no connection behind for anyone to reuse
                elif reusable:
                    resp.release_conn()  # fully read: the connection goes back for the next request
                else:
                    resp.close()
                    _discard_pool(target, ip)


def _returned_headers(resp: urllib3.BaseHTTPResponse) -> urllib3.HTTPHeaderDict:
    """The server's headers; if urllib3 decoded a compressed body, drop the headers that describe the encoded form."""
    headers = urllib3.HTTPHeaderDict(resp.headers)
    encodings = [e.strip() for e in headers.get("Content-Encoding", "").lower().split(",") if e.strip()]
    if any(e in urllib3.HTTPResponse.CONTENT_DECODERS for e in encodings):
        headers.discard("Content-Encoding")
        headers.discard("Content-Length")
    return headers


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    max_bytes: int = 10 * 1024 * 1024,
    allow_redirects: bool = True,
    max_redirects: int = 5,
    total_timeout: float | None = None,
    profile: str = BROWSER,
    fresh: bool = False,
) -> Response:
    """Make one outbound request. `timeout` bounds connecting and each read; `total_timeout` (default 10 x timeout)
    the whole request including redirects. Raises an OutboundError subclass; HTTP error statuses are returned.

    `profile`: BROWSER (the default: looks like a common desktop browser, names nobody) for anything that fetches
    material or pages; CENTRE (names the system) only for the centre speaking openly to a platform's notice API.
    `fresh`: over a new connection, closed afterwards, with another browser's User-Agent (a second look)."""
    buffer = bytearray()
    response = _fetch(
        method, url, headers=headers, body=body, timeout=timeout, max_bytes=max_bytes, allow_redirects=allow_redirects,
        max_redirects=max_redirects, total_timeout=total_timeout, sink=buffer.extend, profile=profile, fresh=fresh,
    )  # fmt: skip
    response.body = bytes(buffer)
    return response


def stream_to_file(
    url: str,
    dest_path: str | os.PathLike[str],
    *,
    max_bytes: int,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    total_timeout: float | None = None,
    profile: str = BROWSER,
) -> Response:
    """GET `url` into `dest_path` (written to a private temporary file beside it, renamed when complete; nothing is
    left behind on failure). Whatever the status, the body is written: check Response.status. Response.body is empty."""
    dest = Path(dest_path)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            response = _fetch(
                "GET", url, headers=headers, body=None, timeout=timeout, max_bytes=max_bytes, allow_redirects=True,
                max_redirects=5, total_timeout=total_timeout, sink=fh.write, profile=profile,
            )  # fmt: skip
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return response
