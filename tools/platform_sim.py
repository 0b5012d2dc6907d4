"""A platform simulator: a real HTTP server that receives takedown notices and hosts the reported content.

It implements the receiving side of the notice API contract v1 (shared/contracts/notice-api-v1.md: signed JSON
POST, idempotent by notice_id, ticket status polling) and serves pages and media that the system captures and re-checks. Per run,
tests switch it into behaviours real platforms show: removing after a while, never removing, rate limiting,
failing, hanging, rejecting, "soft" removal, login walls and re-uploads. A hosted page can also cloak: answer
404 to requests that match a pattern (a client that names itself, or one chosen User-Agent) and the content
to everyone else (`cloak()`). See docs/simulator.md.

For tests and the demo only, never production:

    python -m tools.platform_sim --port 8030 --secret demo-secret

In tests, `PlatformSimulator(...).start()` runs it in a daemon thread. It binds to 127.0.0.1 by default and its
control API (/_sim/...) has no authentication of its own: loopback is the only protection, so the control API
also refuses any client that is not on loopback, in case someone binds it elsewhere.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import heapq
import hmac
import io
import itertools
import json
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urljoin, urlsplit

DEFAULT_SECRET = "sim-secret"  # a test secret, like everything here
MODES = frozenset(
    {"accept", "remove_after", "never_remove", "rate_limit", "fail", "hang", "reject", "soft_remove", "login_wall", "reupload"}
)
TICKET_STATUSES = frozenset({"received", "in_review", "removed", "rejected"})
GONE_STATUSES = frozenset({404, 410, 451})
REQUIRED_STRINGS = ("url", "notice_id", "case_reference", "jurisdiction", "message")
MAX_SKEW_S = 300
# Notices are a few KiB; the control API may carry a base64 image, so it gets a larger (still bounded) limit.
MAX_NOTICE_BODY = 1024 * 1024
MAX_CONTROL_BODY = 32 * 1024 * 1024
# The request log is for assertions and debugging; bounded so that a long `make run` does not grow forever.
MAX_LOG_ENTRIES = 100_000
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
# What a cloaking site looks for to spot a crawler or a centre's client rather than a person's browser.
_AUTOMATED_MARKERS = ("victimsupport", "support centre", "takedown", "python", "urllib", "requests", "curl", "wget", "bot")
CLOAK_MODES = frozenset({"identifying", "user_agent"})


def looks_automated(headers: dict[str, str]) -> bool:
    """True for a request a cloaking site would not show its content to: a User-Agent that is not a
    browser's or names a tool or an organisation, no Accept-Language, or a From or X- header."""
    lowered = {k.lower(): v for k, v in headers.items()}
    agent = lowered.get("user-agent", "")
    if not agent.startswith("Mozilla/5.0 ") or any(m in agent.lower() for m in _AUTOMATED_MARKERS):
        return True
    if not lowered.get("accept-language"):
        return True
    return "from" in lowered or any(k.startswith("x-") for k in lowered)


SOFT_REMOVED_HTML = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Content unavailable</title></head>"
    b"<body><main><h1>This content is no longer available</h1>"
    b"<p>It may have been removed by the uploader or for violating our rules.</p></main></body></html>"
)
LOGIN_WALL_HTML = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Log in to continue</title></head>"
    b"<body><main><h1>Log in to see this post</h1>"
    b'<form method=post action="/login"><label>Username <input name=username autocomplete=username></label>'
    b"<label>Password <input type=password name=password autocomplete=current-password></label>"
    b"<button type=submit>Log in</button></form></main></body></html>"
)
_GONE_TEXT = {404: b"Not Found", 410: b"Gone", 451: b"Unavailable For Legal Reasons"}


def _gone_html(status: int) -> bytes:
    text = _GONE_TEXT.get(status, b"Not Found")
    return b"<!doctype html><html><head><title>" + text + b"</title></head><body><h1>" + text + b"</h1></body></html>"


@dataclass(frozen=True)
class Hosted:
    """What one path answers: status, content type and body."""

    body: bytes
    content_type: str
    status: int = 200


@dataclass(frozen=True)
class Cloak:
    """A page that answers `status` to requests matching the pattern, and its content to the rest."""

    mode: str  # "identifying": looks_automated(); "user_agent": a User-Agent in user_agents
    user_agents: frozenset[str] = frozenset()
    status: int = 404

    def hides_from(self, headers: dict[str, str]) -> bool:
        if self.mode == "identifying":
            return looks_automated(headers)
        agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), "")
        return agent in self.user_agents


@dataclass
class Behaviour:
    mode: str = "accept"
    url: str | None = None
    delay_s: float = 0.0
    times: int | None = 1  # for rate_limit, fail and hang: how many notices get it; None = every one
    retry_after: int = 1
    hang_s: float = 1.0
    message: str = "The platform rejected this notice."
    reupload_path: str | None = None
    reupload_after_s: float = 0.0
    gone_status: int = 404
    keep_media: bool = False
    # Set from `times` when the rule is installed and counted down under the simulator's lock.
    remaining: int | None = field(default=None, compare=False)

    def take(self) -> bool:
        """Consume one of the `times` applications; True while any remain (always True for times=None)."""
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


class _MediaRefs(HTMLParser):
    """Collects the raw src/poster attribute values of a page, to find the media a removal takes down with it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "poster") and value:
                self.refs.append(value)
            elif name == "srcset" and value:
                self.refs.extend(part.strip().split(" ")[0] for part in value.split(",") if part.strip())


def _normalise_url(url: str) -> str:
    """Full URLs are compared with scheme and host lower-cased and the default port dropped; paths as they are."""
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a malformed port in a reported URL must not break the handler
        return url
    scheme = parts.scheme.lower()
    netloc = (parts.hostname or "").lower()
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        netloc = f"{netloc}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A hanging handler must not hold up stop(): handler threads are daemons and are not joined.
    block_on_close = False
    # The default of 5 drops connections when a benchmark opens many at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: PlatformSimulator) -> None:
        self.sim = sim
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up (the "hang" behaviour provokes exactly that) are normal here; anything
        # else is a bug in the simulator and should be seen.
        if isinstance(sys.exc_info()[1], OSError):  # ConnectionError and TimeoutError included
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive between notices, which a benchmark needs; every answer therefore carries
    # Content-Length. TCP_NODELAY stops headers and body (two writes) from waiting on the client's delayed ACK.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this, so threads do not pile up in a long-running demo.
    timeout = 120
    server: _Server
    server_version = "PlatformSim/1"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by design: hundreds of notices a second must not flood the test or benchmark output.
        return

    def setup(self) -> None:
        super().setup()
        self.server.sim._track(self.connection, True)
        # Numbered per TCP connection, so a test can tell a kept-alive connection from a new one.
        self.connection_number = self.server.sim._next_connection()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._track(self.connection, False)

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _read_body(self, limit: int) -> bytes | None:
        """The request body (Content-Length or chunked); None after answering 413/400 when it cannot be read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    self._send(400, _json({"error": "Malformed chunked body.", "code": "bad_body"}))
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    self.close_connection = True
                    self._send(413, _json({"error": "Body too large.", "code": "too_large"}))
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > limit:
            # The body is not read, so the connection cannot be reused.
            self.close_connection = True
            self._send(413 if length > limit else 400, _json({"error": "Bad or too large Content-Length.", "code": "bad_length"}))
            return None
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
        *,
        head: bool = False,
        key: str | None = None,
    ) -> None:
        # Logged before the answer goes out, so a client that has its answer also finds it in requests_log.
        self.server.sim._log(self.command, self.path, status, key, headers=list(self.headers.items()),
                             connection=getattr(self, "connection_number", 0))  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    # --- methods -----------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch_get(head=False)

    def do_HEAD(self) -> None:
        self._dispatch_get(head=True)

    def do_POST(self) -> None:
        sim = self.server.sim
        path = urlsplit(self.path).path
        control = path.startswith("/_sim/")
        body = self._read_body(MAX_CONTROL_BODY if control else MAX_NOTICE_BODY)
        if body is None:
            return
        sim._run_due()
        if control:
            self._control_post(path, body)
        elif path == sim.notice_path:
            self._notice(body)
        else:
            self._send(404, _json({"error": "Not found.", "code": "not_found"}))

    def _other(self) -> None:
        if self._read_body(MAX_NOTICE_BODY) is not None:
            self._send(405, _json({"error": "Method not allowed.", "code": "method"}), headers=[("Allow", "GET, HEAD, POST")])

    do_PUT = do_DELETE = do_PATCH = _other

    def _dispatch_get(self, *, head: bool) -> None:
        sim = self.server.sim
        # A GET may carry a body; it must be consumed or the next request on this connection would be garbage.
        if self._read_body(MAX_NOTICE_BODY) is None:
            return
        sim._run_due()
        path = urlsplit(self.path).path
        if path.startswith("/_sim/"):
            self._control_get(path, head=head)
            return
        prefix = sim.notice_path.rstrip("/") + "/"
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            self._status(path[len(prefix) :], head=head)
            return
        if path == sim.notice_path:
            self._send(405, _json({"error": "Method not allowed.", "code": "method"}), headers=[("Allow", "POST")], head=head)
            return
        hosted = sim._lookup(path)
        cloak = sim._cloak_for(path)
        if hosted is not None and cloak is not None and cloak.hides_from(dict(self.headers.items())):
            self._send(cloak.status, _gone_html(cloak.status), "text/html; charset=utf-8", head=head)
            return
        if hosted is None:
            self._send(404, _gone_html(404), "text/html; charset=utf-8", head=head)
        else:
            self._send(hosted.status, hosted.body, hosted.content_type, head=head)

    # --- the notice API ----------------------------------------------------------------------------------------

    def _verify(self, body: bytes) -> str | None:
        """None when signature and timestamp are good; otherwise the reason for a 401."""
        timestamp = self.headers.get("X-Timestamp", "")
        signature = self.headers.get("X-Signature", "")
        if not timestamp or not signature:
            return "X-Timestamp and X-Signature are required."
        if not signature.startswith("sha256="):
            return "X-Signature must be sha256=<hex>."
        expected = hmac.new(
            self.server.sim.secret, timestamp.encode("ascii", "replace") + b"." + body, hashlib.sha256
        ).hexdigest()
        # Constant-time comparison, so the signature cannot be guessed byte by byte from response times.
        if not hmac.compare_digest(expected.encode(), signature[len("sha256=") :].strip().lower().encode("ascii", "replace")):
            return "The signature does not match."
        try:
            sent = int(timestamp)
        except ValueError:
            return "X-Timestamp must be whole Unix seconds."
        if abs(time.time() - sent) > MAX_SKEW_S:
            return "X-Timestamp is more than 5 minutes from the platform's clock."
        return None

    def _notice(self, body: bytes) -> None:
        sim = self.server.sim
        key = self.headers.get("Idempotency-Key")
        reason = self._verify(body)
        if reason:
            self._send(401, _json({"error": reason, "code": "unauthorized"}), key=key)
            return
        try:
            data = json.loads(body)
        except ValueError:
            self._send(400, _json({"error": "The body is not valid JSON.", "code": "bad_json"}), key=key)
            return
        problem = _validate(data)
        if problem:
            self._send(400, _json({"error": problem, "code": "invalid"}), key=key)
            return
        if not key or key != data["notice_id"]:
            self._send(400, _json({"error": "Idempotency-Key must equal notice_id.", "code": "idempotency_key"}), key=key)
            return
        outcome = sim._receive(data, dict(self.headers.items()))
        if outcome.kind == "rate_limit":
            retry = str(outcome.behaviour.retry_after)
            self._send(
                429,
                _json({"error": "Too many notices; slow down.", "code": "rate_limited"}),
                headers=[("Retry-After", retry)],
                key=key,
            )
        elif outcome.kind == "fail":
            self._send(500, _json({"error": "Internal error at the platform.", "code": "server_error"}), key=key)
        elif outcome.kind == "reject":
            message = outcome.behaviour.message
            self._send(422, _json({"error": message, "reason": message, "code": "rejected"}), key=key)
        elif outcome.kind == "duplicate":
            self._send(200, _json({"ticket_id": outcome.ticket_id, "status": "received"}), key=key)
        else:
            if outcome.kind == "hang":
                # Accepted before the pause: a client that times out and retries gets 200 with the same ticket,
                # which is the case idempotency keys exist for.
                sim._hang(outcome.behaviour.hang_s)
            self._send(202, _json({"ticket_id": outcome.ticket_id, "status": "received"}), key=key)

    def _status(self, ticket_id: str, *, head: bool) -> None:
        reason = self._verify(b"")
        if reason:
            self._send(401, _json({"error": reason, "code": "unauthorized"}), head=head)
            return
        ticket = self.server.sim.ticket(ticket_id)
        if ticket is None:
            self._send(404, _json({"error": "Unknown ticket.", "code": "not_found"}), head=head)
        else:
            self._send(200, _json(ticket), head=head)

    # --- the control API ---------------------------------------------------------------------------------------

    def _control_allowed(self, head: bool = False) -> bool:
        if self.client_address[0] in LOOPBACK:
            return True
        self._send(403, _json({"error": "The control API answers loopback clients only.", "code": "forbidden"}), head=head)
        return False

    def _control_get(self, path: str, *, head: bool) -> None:
        if not self._control_allowed(head):
            return
        sim = self.server.sim
        if path == "/_sim/notices":
            self._send(200, _json(sim.notices), head=head)
        elif path == "/_sim/requests":
            self._send(200, _json(sim.requests_log), head=head)
        elif path == "/_sim/tickets":
            self._send(200, _json(sim.tickets), head=head)
        else:
            self._send(404, _json({"error": "Unknown control path.", "code": "not_found"}), head=head)

    def _control_post(self, path: str, body: bytes) -> None:
        if not self._control_allowed():
            return
        sim = self.server.sim
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("The body must be a JSON object.")
            if path == "/_sim/behave":
                sim.behave(**data)
                self._send(200, _json({"ok": True}))
            elif path == "/_sim/host":
                if "content_base64" in data:
                    content = base64.b64decode(str(data["content_base64"]), validate=True)
                else:
                    content = str(data.get("text", "")).encode("utf-8")
                ctype = str(data.get("content_type") or "text/html; charset=utf-8")
                sim.host_file(str(data["path"]), content, ctype, status=int(data.get("status", 200)))
                self._send(201, _json({"ok": True, "url": sim.url + str(data["path"])}))
            elif path == "/_sim/remove":
                sim.remove(str(data["path"]), status=int(data.get("status", 404)))
                self._send(200, _json({"ok": True}))
            elif path == "/_sim/ticket":
                sim.set_ticket_status(str(data["ticket_id"]), str(data["status"]), str(data.get("reason", "")))
                self._send(200, _json({"ok": True}))
            elif path == "/_sim/reset":
                sim.reset(content=bool(data.get("content", False)))
                self._send(200, _json({"ok": True}))
            else:
                self._send(404, _json({"error": "Unknown control path.", "code": "not_found"}))
        except (ValueError, TypeError, KeyError) as exc:
            # binascii.Error is a ValueError; TypeError covers unknown keyword arguments to behave().
            self._send(400, _json({"error": f"Bad control request: {exc!r}", "code": "bad_request"}))


def _validate(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "The body must be a JSON object."
    for name in REQUIRED_STRINGS:
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            return f"Field '{name}' is required and must be a non-empty string."
    fingerprints = data.get("fingerprints")
    if not isinstance(fingerprints, list):
        return "Field 'fingerprints' is required and must be a list."
    for item in fingerprints:
        if not isinstance(item, dict) or not isinstance(item.get("algorithm"), str) or not isinstance(item.get("value"), str):
            return "Each fingerprint must be an object with string 'algorithm' and 'value'."
    return None


@dataclass
class _Outcome:
    kind: str  # accept | hang | duplicate | rate_limit | fail | reject
    behaviour: Behaviour
    ticket_id: str = ""


class PlatformSimulator:
    """One simulated platform: the notice API at `notice_path` and whatever content is hosted on it.

    Everything is kept in memory behind one lock; time-based effects (removal after a delay and so on) are
    applied lazily at the next request or accessor call, so there are no timer threads to clean up.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, secret: str = DEFAULT_SECRET, notice_path: str = "/v1/notices"
    ) -> None:
        if not notice_path.startswith("/") or notice_path.startswith("/_sim"):
            raise ValueError("notice_path must start with / and not with /_sim")
        self.host = host
        self.secret = secret.encode("utf-8")
        self.notice_path = notice_path.rstrip("/") or "/"
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._connections: set[socket.socket] = set()
        # Registered content survives reset(); overrides (removals, soft removals, login walls, re-uploads) do not.
        self._content: dict[str, Hosted] = {}
        self._overrides: dict[str, Hosted] = {}
        self._cloaks: dict[str, Cloak] = {}
        self._connection_seq = itertools.count(1)
        self._init_run_state()

    def _init_run_state(self) -> None:
        self._default = Behaviour()
        self._rules: dict[str, Behaviour] = {}
        self._notices: list[dict[str, Any]] = []
        self._by_key: dict[str, dict[str, Any]] = {}
        self._duplicates: dict[str, int] = {}
        self._tickets: dict[str, dict[str, Any]] = {}
        self._ticket_seq = itertools.count(1)
        self._effects: list[tuple[float, int, Callable[[], None]]] = []
        self._effect_seq = itertools.count()
        self._log_entries: deque[dict[str, Any]] = deque(maxlen=MAX_LOG_ENTRIES)
        # Woken by reset() and stop(), so that hanging handlers do not outlive the run that asked for them.
        self._wake = threading.Event()

    # --- life cycle --------------------------------------------------------------------------------------------

    def start(self) -> PlatformSimulator:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="platform-sim"
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._wake.set()
            connections = list(self._connections)
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        # Keep-alive connections have their own threads that would otherwise go on answering after stop().
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> PlatformSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return self.url + self.notice_path

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # --- hosted content ----------------------------------------------------------------------------------------

    def host_page(self, path: str, html: str | bytes, status: int = 200, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve `html` at `path`; returns the full URL. Re-hosting a path makes it live again."""
        return self.host_file(path, html.encode("utf-8") if isinstance(html, str) else html, content_type, status=status)

    def host_file(self, path: str, data: bytes, content_type: str, status: int = 200) -> str:
        path = _check_path(path)
        if not 200 <= status <= 599:
            raise ValueError("status must be between 200 and 599")
        with self._lock:
            self._content[path] = Hosted(bytes(data), content_type, status)
            self._overrides.pop(path, None)
        return self.url + path

    def remove(self, path: str, status: int = 404) -> None:
        """Make `path` answer 404, 410 or 451 (until it is hosted again or reset())."""
        if status not in GONE_STATUSES:
            raise ValueError("status must be 404, 410 or 451")
        with self._lock:
            self._overrides[_check_path(path)] = Hosted(_gone_html(status), "text/html; charset=utf-8", status)

    def cloak(self, path: str, mode: str = "identifying", *, user_agents: Iterable[str] = (), status: int = 404) -> None:
        """Make the hosted `path` (and, with the page's media, anything under it) answer `status` to requests that
        match: mode "identifying" hides it from clients that look automated or name themselves (looks_automated);
        mode "user_agent" hides it from the listed User-Agents only (a site that learned one client's pattern).
        Everyone else gets the content. Undone by uncloak() or reset()."""
        if mode not in CLOAK_MODES:
            raise ValueError(f"unknown cloak mode {mode!r}; one of {sorted(CLOAK_MODES)}")
        if status not in GONE_STATUSES:
            raise ValueError("status must be 404, 410 or 451")
        with self._lock:
            self._cloaks[_check_path(path)] = Cloak(mode, frozenset(user_agents), status)

    def uncloak(self, path: str) -> None:
        with self._lock:
            self._cloaks.pop(_check_path(path), None)

    def _cloak_for(self, path: str) -> Cloak | None:
        with self._lock:
            return self._cloaks.get(path)

    def _next_connection(self) -> int:
        with self._lock:
            return next(self._connection_seq)

    def _lookup(self, path: str) -> Hosted | None:
        with self._lock:
            return self._overrides.get(path) or self._content.get(path)

    # --- behaviours --------------------------------------------------------------------------------------------

    def behave(
        self,
        url: str | None = None,
        mode: str = "accept",
        *,
        delay_s: float = 0.0,
        times: int | None = 1,
        retry_after: int = 1,
        hang_s: float = 1.0,
        message: str = "The platform rejected this notice.",
        reupload_path: str | None = None,
        reupload_after_s: float = 0.0,
        gone_status: int = 404,
        keep_media: bool = False,
    ) -> None:
        """Set how notices for `url` (a full URL or a path; None = every URL without a rule of its own) are answered.

        A later call for the same url replaces the earlier rule. reset() returns everything to "accept".
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {sorted(MODES)}")
        if delay_s < 0 or hang_s < 0 or reupload_after_s < 0 or retry_after < 0 or (times is not None and times < 0):
            raise ValueError("delays, hang_s, retry_after and times must not be negative")
        if gone_status not in GONE_STATUSES:
            raise ValueError("gone_status must be 404, 410 or 451")
        if mode == "reupload":
            if not reupload_path:
                raise ValueError("mode 'reupload' needs reupload_path")
            reupload_path = _check_path(reupload_path)
        rule = Behaviour(
            mode=mode, url=url, delay_s=float(delay_s), times=times, retry_after=int(retry_after), hang_s=float(hang_s),
            message=str(message), reupload_path=reupload_path, reupload_after_s=float(reupload_after_s),
            gone_status=int(gone_status), keep_media=bool(keep_media), remaining=times,
        )  # fmt: skip
        with self._lock:
            if url is None:
                self._default = rule
            else:
                self._rules[_normalise_url(url)] = rule

    def _rule_for(self, url: str) -> Behaviour:
        parts = urlsplit(url)
        candidates = [
            _normalise_url(url) if "://" in url else url,
            parts.path + (f"?{parts.query}" if parts.query else ""),
            parts.path,
        ]
        for candidate in candidates:
            rule = self._rules.get(candidate)
            if rule is not None:
                return rule
        return self._default

    def _receive(self, body: dict[str, Any], headers: dict[str, str]) -> _Outcome:
        """Decide, under the lock, what a valid signed notice gets; records it when it is accepted."""
        key = str(body["notice_id"])
        with self._lock:
            rule = self._rule_for(str(body["url"]))
            # Rate limits and outages hit before the platform looks at the notice, repeated or not.
            if rule.mode in ("rate_limit", "fail") and rule.take():
                return _Outcome(rule.mode, rule)
            known = self._by_key.get(key)
            if known is not None:
                self._duplicates[key] = self._duplicates.get(key, 0) + 1
                return _Outcome("duplicate", rule, known["ticket_id"])
            if rule.mode == "reject":
                return _Outcome("reject", rule)
            ticket_id = f"T-{next(self._ticket_seq):06d}"
            notice = {
                "body": body,
                "headers": headers,
                "ticket_id": ticket_id,
                "received_at": time.time(),
                "idempotency_key": key,
            }
            self._notices.append(notice)
            self._by_key[key] = notice
            self._tickets[ticket_id] = {
                "ticket_id": ticket_id,
                "status": "received",
                "reason": "Notice received.",
                "url": body["url"],
            }
            self._apply(rule, ticket_id, urlsplit(str(body["url"])).path)
            kind = "hang" if rule.mode == "hang" and rule.take() else "accept"
            return _Outcome(kind, rule, ticket_id)

    def _apply(self, rule: Behaviour, ticket_id: str, path: str) -> None:
        """Schedule what an accepted notice leads to on the ticket and on the hosted content (lock held)."""
        ticket = self._tickets[ticket_id]
        mode = rule.mode
        if mode == "never_remove":
            ticket.update(status="in_review", reason="The report is under review.")
            return
        if mode not in ("remove_after", "soft_remove", "login_wall", "reupload"):
            return
        ticket.update(status="in_review", reason="The report is under review.")

        def effect() -> None:
            if mode == "login_wall":
                # Only the page is walled: direct media links keep working, as on many real platforms' CDNs.
                self._overrides[path] = Hosted(LOGIN_WALL_HTML, "text/html; charset=utf-8")
                ticket.update(status="in_review", reason="The content has been restricted while under review.")
                return
            media = [] if rule.keep_media else self._media_paths(path)
            if mode == "soft_remove":
                self._overrides[path] = Hosted(SOFT_REMOVED_HTML, "text/html; charset=utf-8")
            else:
                self._overrides[path] = Hosted(_gone_html(rule.gone_status), "text/html; charset=utf-8", rule.gone_status)
            for media_path in media:
                self._overrides[media_path] = Hosted(_gone_html(404), "text/html; charset=utf-8", 404)
            ticket.update(status="removed", reason="The content was removed.")
            if mode == "reupload" and rule.reupload_path:
                target = rule.reupload_path
                self._schedule(time.time() + rule.reupload_after_s, lambda: self._reupload(path, target))

        self._schedule(time.time() + rule.delay_s, effect)

    def _media_paths(self, page_path: str) -> list[str]:
        """Hosted paths that the page at page_path references (lock held)."""
        return [path for _, path in self._media_refs(page_path)]

    def _media_refs(self, page_path: str) -> list[tuple[str, str]]:
        page = self._content.get(page_path)
        if page is None or "html" not in page.content_type:
            return []
        parser = _MediaRefs()
        parser.feed(page.body.decode("utf-8", "replace"))
        own = {f"127.0.0.1:{self.port}", f"localhost:{self.port}", f"{self.host}:{self.port}"}
        found: list[tuple[str, str]] = []
        for raw in parser.refs:
            parts = urlsplit(urljoin(f"http://127.0.0.1:{self.port}{page_path}", raw))
            if parts.netloc in own and parts.path in self._content and parts.path != page_path:
                found.append((raw, parts.path))
        return found

    def _reupload(self, path: str, target: str) -> None:
        """The same content reappears at `target`; a page's media are copied beside it and the page points there."""
        original = self._content.get(path)
        if original is None:
            return
        body = original.body
        for raw, media_path in self._media_refs(path):
            media = self._content[media_path]
            new_media = f"{target.rstrip('/')}/media/{media_path.rsplit('/', 1)[-1]}"
            self._overrides[new_media] = Hosted(media.body, media.content_type)
            for quote in ('"', "'"):
                body = body.replace(f"{quote}{raw}{quote}".encode(), f"{quote}{new_media}{quote}".encode())
        self._overrides[target] = Hosted(body, original.content_type)

    def _schedule(self, at: float, effect: Callable[[], None]) -> None:
        heapq.heappush(self._effects, (at, next(self._effect_seq), effect))
        self._run_due()

    def _run_due(self) -> None:
        now = time.time()
        with self._lock:
            while self._effects and self._effects[0][0] <= now:
                heapq.heappop(self._effects)[2]()

    def _hang(self, seconds: float) -> None:
        with self._lock:
            wake = self._wake
        wake.wait(seconds)

    def _log(
        self,
        method: str,
        path: str,
        status: int,
        key: str | None,
        *,
        headers: list[tuple[str, str]] | None = None,
        connection: int = 0,
    ) -> None:
        with self._lock:
            self._log_entries.append(
                {"method": method, "path": path, "status": status, "idempotency_key": key, "at": time.time(),
                 "headers": list(headers or []), "connection": connection}
            )  # fmt: skip

    # --- tickets -----------------------------------------------------------------------------------------------

    def ticket(self, ticket_id: str) -> dict[str, Any] | None:
        """What GET {endpoint}/{ticket_id} answers, or None for an unknown ticket."""
        self._run_due()
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            return {k: ticket[k] for k in ("ticket_id", "status", "reason")} if ticket else None

    @property
    def tickets(self) -> list[dict[str, Any]]:
        self._run_due()
        with self._lock:
            return [dict(t) for t in self._tickets.values()]

    def set_ticket_status(self, ticket_id: str, status: str, reason: str = "") -> None:
        """Drive a ticket by hand, e.g. to "rejected" with the platform's reason."""
        if status not in TICKET_STATUSES:
            raise ValueError(f"status must be one of {sorted(TICKET_STATUSES)}")
        with self._lock:
            self._tickets[ticket_id].update(status=status, reason=reason)

    # --- what was received -------------------------------------------------------------------------------------

    @property
    def notices(self) -> list[dict[str, Any]]:
        """Accepted notices in arrival order: body, headers, ticket_id, received_at, idempotency_key."""
        with self._lock:
            return [dict(n) for n in self._notices]

    def notice_count(self, idempotency_key: str | None = None) -> int:
        """Accepted notices (repeated deliveries of a key are not counted), all or for one key (0 or 1)."""
        with self._lock:
            if idempotency_key is None:
                return len(self._notices)
            return 1 if idempotency_key in self._by_key else 0

    def duplicate_count(self, idempotency_key: str | None = None) -> int:
        """Repeated deliveries of already accepted keys (each answered 200 with the original ticket)."""
        with self._lock:
            if idempotency_key is None:
                return sum(self._duplicates.values())
            return self._duplicates.get(idempotency_key, 0)

    def unique_notices(self) -> list[str]:
        """The distinct Idempotency-Keys accepted, in arrival order."""
        with self._lock:
            return [n["idempotency_key"] for n in self._notices]

    @property
    def requests_log(self) -> list[dict[str, Any]]:
        """Every request answered: method, path, status, idempotency_key (or None), at (Unix time), headers (the
        request's, as (name, value) pairs in the order received) and connection (a number per TCP connection)."""
        with self._lock:
            return [dict(e) for e in self._log_entries]

    def wait_for_notices(self, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Block until at least `count` notices were accepted (for tests driving a separate worker)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.notice_count() >= count:
                return self.notices
            time.sleep(0.05)
        raise TimeoutError(f"the platform simulator received {self.notice_count()} notices, not {count}")

    def reset(self, content: bool = False) -> None:
        """Forget notices, tickets, duplicates, the request log and behaviours (back to "accept") and undo removals,
        soft removals, login walls and re-uploads. With content=True, hosted content is dropped as well."""
        with self._lock:
            self._wake.set()
            self._init_run_state()
            self._overrides.clear()
            self._cloaks.clear()
            if content:
                self._content.clear()


def _check_path(path: str) -> str:
    if not path.startswith("/") or path.startswith("/_sim/") or "?" in path or "#" in path:
        raise ValueError(f"hosted paths start with / and have no query or fragment (and not /_sim/): {path!r}")
    return path


# --- the standalone demo ---------------------------------------------------------------------------------------


def synthetic_scenery(seed: int, width: int = 640, height: int = 427) -> bytes:
    """A JPEG of made-up scenery (gradient sky, sun, hills, shapes, noise), fully determined by the seed.

    Drawn at run time so the demo needs no image files, and no photograph of anyone is ever involved.
    """
    from PIL import Image, ImageDraw

    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    top = tuple(rng.randrange(40, 160) for _ in range(3))
    bottom = tuple(rng.randrange(150, 255) for _ in range(3))
    sky = Image.linear_gradient("L").resize((width, height))
    img = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), sky)
    draw = ImageDraw.Draw(img, "RGBA")
    sx, sy, r = rng.uniform(0.1, 0.9) * width, rng.uniform(0.05, 0.35) * height, rng.uniform(0.04, 0.09) * width
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 236, 170, 220))
    for layer in range(3):
        base = height * (0.45 + 0.15 * layer)
        points = [(0.0, float(height))]
        for i in range(9):
            points.append((width * i / 8, base - rng.uniform(0, 0.18) * height))
        points.append((float(width), float(height)))
        shade = 70 + 40 * layer
        draw.polygon(points, fill=(shade // 2, shade, shade // 2 + rng.randrange(0, 40), 255))
    for _ in range(rng.randrange(8, 20)):
        x, y = rng.uniform(0, width), rng.uniform(0.5, 1.0) * height
        size = rng.uniform(0.02, 0.08) * width
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256), 200)
        if rng.random() < 0.5:
            draw.rectangle((x, y - size, x + size, y), fill=colour)
        else:
            draw.ellipse((x, y - size, x + size * 0.7, y), fill=colour)
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    img = Image.blend(img, noise, 0.06)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def host_demo(sim: PlatformSimulator, posts: int = 5) -> None:
    """/demo/post/1..N, each a page showing /demo/media/N.jpg, and an index at /demo/."""
    links = []
    for n in range(1, posts + 1):
        sim.host_file(f"/demo/media/{n}.jpg", synthetic_scenery(1000 + n), "image/jpeg")
        sim.host_page(
            f"/demo/post/{n}",
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Demo post {n}</title></head>"
            f'<body><main><h1>Demo post {n}</h1><img src="/demo/media/{n}.jpg" alt="Synthetic scenery {n}" width=640 height=427>'
            f"<p>A made-up landscape for the takedown demo.</p></main></body></html>",
        )
        links.append(f'<li><a href="/demo/post/{n}">Demo post {n}</a></li>')
    sim.host_page(
        "/demo/",
        "<!doctype html><html><head><meta charset=utf-8><title>Demo platform</title></head><body><ul>"
        + "".join(links)
        + "</ul></body></html>",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated platform for the takedown demo and tests (never production).")
    parser.add_argument("--host", default="127.0.0.1", help="keep the default: the control API is protected only by loopback")
    parser.add_argument("--port", type=int, default=8030)
    parser.add_argument("--secret", default="sim-secret")
    parser.add_argument("--notice-path", default="/v1/notices")
    parser.add_argument("--mode", default="remove_after", choices=sorted(MODES), help="default behaviour for every notice")
    parser.add_argument("--delay", type=float, default=120.0, help="delay_s for the default behaviour")
    args = parser.parse_args(argv)
    sim = PlatformSimulator(args.host, args.port, args.secret, args.notice_path)
    host_demo(sim)
    sim.behave(None, args.mode, delay_s=args.delay)
    sim.start()
    print(
        f"Platform simulator on {sim.url} (notices: POST {sim.endpoint}; demo pages {sim.url}/demo/post/1..5; "
        f"default behaviour {args.mode}, delay {args.delay:g} s). Ctrl-C stops.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
