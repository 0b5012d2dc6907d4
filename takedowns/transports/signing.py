"""The notice API's request signature (../shared/contracts/notice-api-v1.md)."""

from __future__ import annotations

import hashlib
import hmac
import time


def signed_headers(secret: str, body: bytes, *, idempotency_key: str | None = None, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Timestamp": timestamp, "X-Signature": f"sha256={mac}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers
