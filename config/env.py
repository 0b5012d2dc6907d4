"""Tiny helpers that read settings from the environment.

Modelled on healthchecks' envbool/envint: a bad value stops the process at start-up with a
message naming the variable, instead of surfacing later as a confusing runtime error.
Any variable may instead be given as NAME_FILE, the path of a file holding the value (Docker
and Kubernetes secrets are mounted that way).
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()


def _raw(name: str) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points to {file_name!r}, which cannot be read: {exc}") from exc
    return os.environ.get(name)


def env_str(name: str, default: str | None = None) -> str:
    value = _raw(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} (or {name}_FILE) is required but not set.")
        return default
    return value


def env_secret(name: str) -> str:
    """A secret never has a default: production must say it explicitly."""
    return env_str(name, None)


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from exc


def env_list(name: str, default: str = "") -> list[str]:
    value = _raw(name)
    if value is None:
        value = default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_key32(name: str, default: str | None = None) -> str:
    """URL-safe base64 of exactly 32 bytes (an AES-256 key)."""
    value = env_str(name, default)
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii") + b"=" * (-len(value) % 4))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise ImproperlyConfigured(f"{name} must be URL-safe base64 of 32 random bytes; it does not decode.") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{name} must be URL-safe base64 of 32 random bytes; it decodes to {len(raw)} bytes.")
    return value


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and literal loopback addresses (127.0.0.0/8, ::1). No name is resolved:
    a name that merely resolves to loopback today is not trusted to do so tomorrow."""
    import ipaddress

    name = (host or "").strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
