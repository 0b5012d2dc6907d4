"""Logging: JSON lines for operators, a redaction filter, and a request id on every record.

Logs leave the database's protections behind (they are shipped, kept, read by more people), so
what reaches a handler is cleaned first: anything that looks like a receipt code, a bearer or API
token, a TOTP secret, an e-mail address, a telephone number or an IP address (loopback aside) is
replaced by a marker, and Django's request object (with its body, headers and cookies) is dropped.
The filter works on shapes, not on knowledge of the data, so it also covers libraries' messages. Victim names cannot be
recognised by shape: code must never log them (no log line takes a name, a description or a
file name), and tests/core/test_logs.py checks a realistic flow end to end.

Stdlib-only on purpose: the settings modules import `logging_config` before Django is set up.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

# The id of the web request or Celery task this code runs for (set by RequestIdMiddleware and by
# core.taskmonitor), so every line one request or task writes can be found together.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="")
# Set while a public (anonymous) request is handled: its lines carry only the day, never the time
# of day (DESIGN.md: no time of day of anonymous actions is kept anywhere, logs included).
day_only_var: contextvars.ContextVar[bool] = contextvars.ContextVar("day_only", default=False)

# The public pages and the public intake API (the staff intake API lives under /api/v1/intake/reports/).
_PUBLIC_PATH = re.compile(r"^/(?:report/|api/v1/intake/(?!reports/))")
_PUBLIC_ACCESS_LINE = re.compile(r'"[A-Z]+ /(?:report/|api/v1/intake/(?!reports/))')


def is_public_path(path: str) -> bool:
    return bool(_PUBLIC_PATH.match(path or ""))


_B32 = "A-Z2-7"


def _ip(match: re.Match[str]) -> str:
    # Loopback identifies nobody and tells operators which local service a line is about.
    value = match.group(0)
    return value if value.startswith("127.") or value == "::1" else "[redacted-ip]"


# Order matters: credentials and grouped codes before the generic long-token rule at the end.
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # "Authorization: Bearer x", "Token x" (DRF's API tokens).
    (re.compile(r"(?i)\b(bearer|token)(\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1\2[redacted]"),
    # key=value and key: value pairs: "?token=x", "secret=x" in otpauth:// URLs, "password: x".
    (
        re.compile(r"(?i)\b(token|secret|password|passwd|api_?key|access_?key|secret_?key)([\"']?\s*[:=]\s*[\"']?)[^\s&,;\"']+"),
        r"\1\2[redacted]",
    ),
    # Credentials inside URLs: redis://:password@host, postgres://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*:[^/\s@]*@"), r"\1[redacted]@"),
    # Receipt codes and authenticator secrets written in groups of four (ABCD-EFGH-... or ABCD EFGH ...);
    # lower case only with dashes, so six short words of ordinary prose are left alone.
    (re.compile(rf"(?<![A-Za-z0-9])[{_B32}]{{4}}(?:[- ][{_B32}]{{4}}){{5,}}(?![A-Za-z0-9])"), "[redacted-code]"),
    (re.compile(rf"(?i)(?<![A-Z0-9])[{_B32}]{{4}}(?:-[{_B32}]{{4}}){{5,}}(?![A-Z0-9])"), "[redacted-code]"),
    # Telephone numbers written in groups (010-1234-5678, +82 10 1234 5678, (02) 123-4567).
    (re.compile(r"(?<![\w+-])(?:\+\d{1,3}[ -]?)?\(?\d{2,4}\)?[ -]\d{3,4}[ -]\d{4}(?![\w-])"), "[redacted-phone]"),
    (re.compile(r"(?i)(?<![A-Z0-9._%+-])[A-Z0-9._%+-]+@[A-Z0-9-]+(?:\.[A-Z0-9-]+)*\.[A-Z]{2,}"), "[redacted-email]"),
    (re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"), _ip),
    # IPv6: the full eight groups, or a compressed form with "::" and at least one hex digit.
    (re.compile(r"(?i)(?<![0-9A-Z:])(?:[0-9A-F]{1,4}:){7}[0-9A-F]{1,4}(?![0-9A-Z:])"), _ip),
    (
        re.compile(
            r"(?i)(?<![0-9A-Z:])(?=[0-9A-F:]*[0-9A-F])(?:[0-9A-F]{1,4}:){0,6}(?:[0-9A-F]{1,4})?::(?:[0-9A-F]{1,4}:){0,6}[0-9A-F]{0,4}(?![0-9A-Z:])"
        ),
        _ip,
    ),
]
_NAME = re.compile(r"^[a-z_-]+$")
_UUID = re.compile(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# API tokens (secrets.token_urlsafe(32): 43 characters), TOTP keys (40 hex digits), receipts
# without their dashes (32 letters and digits), password-reset tokens.
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{24,}(?![A-Za-z0-9_-])")


def _long_token(match: re.Match[str]) -> str:
    value = match.group(0)
    # Kept: task and idempotency ids (UUIDs) help operators and identify nobody; so do long
    # snake_case names (tasks, tests, settings). Everything else this long is taken for a key.
    if _UUID.match(value) or _NAME.match(value):
        return value
    return "[redacted-token]"


def redact(text: str) -> str:
    """The text with everything that looks like a secret or an address replaced by a marker."""
    if not text:
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return _LONG_TOKEN.sub(_long_token, text)


class RedactingFilter(logging.Filter):
    """Cleans each record before any handler formats it. Put it on every handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True  # a record passes every handler; clean it once
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = f"{record.msg!r} (unformattable arguments dropped)"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        # django.request and django.security attach the request: its body, headers and cookies
        # must never be formatted. Keep only the method and the path without its query string.
        request = record.__dict__.pop("request", None)
        if request is not None and hasattr(request, "method"):  # django.server attaches a socket
            record.http_method = str(getattr(request, "method", "") or "")
            record.http_path = redact(str(getattr(request, "path", "") or ""))
            # django.request logs a 4xx/5xx after the middleware has returned: take the id from the request.
            if getattr(request, "request_id", ""):
                record.request_id = request.request_id
        record._redacted = True
        return True


class ContextFilter(logging.Filter):
    """Adds the current request id and task id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            day_only_var.get()
            or is_public_path(str(getattr(record, "http_path", "")))
            or (record.name == "django.server" and _PUBLIC_ACCESS_LINE.search(str(record.msg)))
        ):
            # A line about a public request: its time becomes the day's start (UTC), so no
            # formatter can write the time of day (django.server's access line included).
            record.created = float(int(record.created) // 86400 * 86400)
            record.msecs = 0.0
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        if not getattr(record, "task_id", ""):
            record.task_id = task_id_var.get()
        return True


# Attributes the JSON formatter copies when a record has them; everything else a caller passes
# in `extra` is left out, so an object with personal data attached to a record is never dumped.
_JSON_EXTRAS = ("http_method", "http_path", "status_code", "task_name", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key in ("request_id", "task_id"):
            value = getattr(record, key, "")
            if value:
                entry[key] = value
        for key in _JSON_EXTRAS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """For people reading a terminal (`make run`): time, level, logger, ids, message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(ids)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"{key}={getattr(record, key)}" for key in ("request_id", "task_id") if getattr(record, key, "")]
        record.ids = f"[{' '.join(ids)}] " if ids else ""
        return super().format(record)


def new_request_id() -> str:
    return secrets.token_hex(8)


_SAFE_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def incoming_request_id(value: str | None) -> str:
    """A proxy's X-Request-ID when it is a plain id (so proxy and application lines join up)."""
    if value and _SAFE_INCOMING_ID.match(value) and redact(value) == value:
        return value
    return new_request_id()


class RequestIdMiddleware:
    """Gives each request an id (or keeps a proxy's X-Request-ID), logs it on every line the
    request writes, hands it to the tasks the request queues, and returns it in X-Request-ID."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = incoming_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        public = day_only_var.set(is_public_path(request.path))
        try:
            response = self.get_response(request)
        finally:
            day_only_var.reset(public)
            request_id_var.reset(token)
        response.headers["X-Request-ID"] = request_id
        return response


def logging_config(*, fmt: str = "plain", level: str = "INFO", file: str | Path | None = None) -> dict[str, Any]:
    """The LOGGING setting: console (stderr) in `fmt`, optionally also JSON lines appended to `file`."""
    if fmt not in ("plain", "json"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {fmt!r}.")
    handlers: dict[str, dict[str, Any]] = {
        "console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["redact", "context"]},
    }
    if file:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        handlers["file"] = {
            "class": "logging.FileHandler",
            "delay": True,  # created on the first line: processes that log nothing leave no file
            "filename": str(file),
            "mode": "a",
            "encoding": "utf-8",
            "formatter": "json",
            "filters": ["redact", "context"],
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "core.logs.RedactingFilter"}, "context": {"()": "core.logs.ContextFilter"}},
        "formatters": {"plain": {"()": "core.logs.PlainFormatter"}, "json": {"()": "core.logs.JsonFormatter"}},
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": level},
        # Workers and beat use this configuration too, not Celery's (core.taskmonitor.on_setup_logging).
        "loggers": {"django.request": {"level": "ERROR"}},
    }
