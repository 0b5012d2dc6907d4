"""The generic notice API: a signed JSON POST, idempotent by notice_id."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from core import http
from takedowns.transports import Result
from takedowns.transports.signing import signed_headers


def payload(notice: Any) -> dict[str, Any]:
    request = notice.request
    fingerprints = notice_fingerprints(request)
    return {
        "notice_id": str(notice.idempotency_key),
        "url": request.url,
        "case_reference": request.case.reference,
        "category": request.case.category,
        "jurisdiction": request.platform.jurisdiction,
        "legal_basis": legal_basis_for(request),
        "deadline": request.deadline.isoformat() if request.deadline else None,
        "fingerprints": fingerprints,
        "reporter": {"organisation": settings.CENTRE_NAME, "email": settings.DEFAULT_FROM_EMAIL},
        "message": notice.body,
    }


def legal_basis_for(request: Any) -> str:
    from takedowns.jurisdictions import legal_basis

    return legal_basis(request.platform.jurisdiction, "en")


def notice_fingerprints(request: Any) -> list[dict[str, Any]]:
    """Only with the victim's consent to hash sharing; never the image."""
    from cases.selectors import has_consent

    # Remembered on the case object: a batch of a case's notices asks once.
    allowed = getattr(request.case, "_hash_sharing_allowed", None)
    if allowed is None:
        allowed = has_consent(request.case, "hash_sharing")
        request.case._hash_sharing_allowed = allowed
    if not allowed:
        return []
    rows = []
    for evidence in request.evidence.all():
        # .all() and a filter in Python: the batch prefetched the fingerprints.
        for fp in evidence.fingerprints.all():
            if fp.mirrored or fp.algorithm not in ("pdq", "phash", "md5"):
                continue
            row: dict[str, Any] = {"algorithm": fp.algorithm, "value": fp.value}
            if fp.frame_ms is not None:
                row["frame_ms"] = fp.frame_ms
            rows.append(row)
    return rows[:200]


def prepare(notice: Any) -> None:
    """Builds the request body from the database before the sending threads start."""
    notice._api_body = json.dumps(payload(notice), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send(notice: Any) -> Result:
    platform = notice.request.platform
    body = getattr(notice, "_api_body", None) or json.dumps(payload(notice), ensure_ascii=False, separators=(",", ":")).encode()
    headers = signed_headers(platform.secret, body, idempotency_key=str(notice.idempotency_key))
    try:
        response = http.request(
            "POST", platform.endpoint, headers=headers, body=body, timeout=settings.NOTICE_HTTP_TIMEOUT_S,
            max_bytes=64 * 1024, allow_redirects=False, profile=http.CENTRE,  # the centre speaks openly to the platform
        )  # fmt: skip
    except http.BlockedAddress as exc:
        return Result("failed", detail=f"The platform's endpoint is not reachable by policy: {exc}")
    except http.OutboundError as exc:
        return Result("retry", detail=str(exc)[:500])
    status = response.status
    text = response.body[:2000].decode("utf-8", "replace")
    if status in (200, 201, 202):
        try:
            ticket = str(json.loads(response.body).get("ticket_id") or "")
        except (ValueError, AttributeError):
            ticket = ""
        return Result("delivered", status, ticket=ticket[:200])
    if status == 429:
        return Result("rate_limited", status, retry_after_s=_retry_after(response.headers.get("Retry-After")), detail=text[:500])
    if status >= 500:
        return Result("retry", status, detail=text[:500])
    return Result("failed", status, detail=_message(text))


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, min(float(value or 60), 24 * 3600))
    except ValueError:
        return 60.0


def _message(text: str) -> str:
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            return str(data.get("error") or data.get("message") or data.get("detail") or text)[:2000]
    except ValueError:
        pass
    return text[:2000]


def poll(request: Any) -> dict[str, Any] | None:
    """GET {endpoint}/{ticket}, signed over an empty body. None when the answer is unusable."""
    platform = request.platform
    headers = signed_headers(platform.secret, b"")
    headers.pop("Content-Type", None)
    try:
        response = http.request(
            "GET",
            f"{platform.endpoint.rstrip('/')}/{request.ticket}",
            headers=headers,
            timeout=15,
            max_bytes=64 * 1024,
            profile=http.CENTRE,
        )
    except http.OutboundError:
        return None
    if response.status != 200:
        return None
    try:
        data = json.loads(response.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
