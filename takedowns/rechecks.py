"""Re-checking a reported URL: is the material still there?

Fetches through the one outbound client, finds the media (the URL itself, or the images and
videos on an HTML page), and compares them with the request's evidence: first by exact SHA-256
(cheap, and what a platform that did nothing serves), then by perceptual fingerprints computed
in the sandboxed probe. Only this check marks a request removed, and only when a second look agrees.

Every fetch looks like a common desktop browser (core.http's BROWSER profile) and names nobody. A look
that finds the page gone is a first look; the second look (REMOVAL_CONFIRM_DELAY_S later, queued by
takedowns.services.record_checks) goes over a new connection with another browser's User-Agent, so a
site that answers "404" to one client pattern alone is caught (docs/takedowns.md, "Removal confirmation").
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from core import http
from evidence.capture import extract_media_urls
from hashing.image import PDQ_MIN_QUALITY, PDQ_THRESHOLD, PHASH_THRESHOLD, hamming_hex
from takedowns.models import CheckOutcome

REMOVED_STATUSES = {404, 410, 451}
_LOGIN_WALL = re.compile(rb"<input[^>]+type=[\"']?password|log\s?in to (continue|view)|sign in to (continue|view)", re.I)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    http_status: int | None = None
    distance: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Known:
    sha256: set[str]
    fingerprints: list[tuple[str, str]]  # (algorithm, hex)


def known_for(request: Any) -> Known:
    sha = set()
    fps: list[tuple[str, str]] = []
    for evidence in request.evidence.all():
        sha.add(evidence.sha256)
        for fp in evidence.fingerprints.all():
            if fp.algorithm in ("pdq", "phash"):
                fps.append((fp.algorithm, fp.value))
    return Known(sha, fps)


def _distance(candidate: list[dict[str, Any]], known: Known) -> int | None:
    """Smallest normalised distance within threshold (PDQ bits, or pHash bits scaled), else None."""
    best: int | None = None
    for fp in candidate:
        algorithm, value = fp["algorithm"], fp["value"]
        if algorithm == "pdq" and (fp.get("quality") or 0) < PDQ_MIN_QUALITY:
            continue
        limit = PDQ_THRESHOLD if algorithm == "pdq" else PHASH_THRESHOLD
        for known_algorithm, known_value in known.fingerprints:
            if known_algorithm != algorithm or len(known_value) != len(value):
                continue
            d = hamming_hex(value, known_value)
            if d <= limit and (best is None or d < best):
                best = d
    return best


def _media_matches(body: bytes, known: Known, kind: str) -> int | None:
    """0 for identical bytes; a fingerprint distance for a near copy; None when nothing matches."""
    if hashlib.sha256(body).hexdigest() in known.sha256:
        return 0
    if not known.fingerprints or kind not in ("image", "video"):
        return None
    from evidence import sandbox
    from evidence.validation import Refused, sniff

    try:
        sniffed = sniff(body[:512])
    except Refused:
        return None
    with tempfile.TemporaryDirectory(prefix="recheck-") as work:
        path = Path(work) / "media"
        path.write_bytes(body)
        out = Path(work) / "out"
        out.mkdir()
        try:
            result = sandbox.probe(path, sniffed.kind, out, full=sniffed.kind == "video")
        except Refused:
            return None
    return _distance(result.get("fingerprints") or [], known)


def _kind_of(content_type: str) -> str:
    main = content_type.split(";")[0].strip().lower()
    if main.startswith("image/"):
        return "image"
    if main.startswith("video/"):
        return "video"
    if main in ("text/html", "application/xhtml+xml"):
        return "html"
    return "other"


def check_url(url: str, known: Known, *, second_look: bool = False) -> Verdict:
    """Fetch and compare. `second_look`: every fetch over a new connection, as another browser."""
    max_bytes = int(settings.EVIDENCE_LIMITS["max_image_bytes"])
    try:
        response = http.request("GET", url, timeout=15, max_bytes=max_bytes, profile=http.BROWSER, fresh=second_look)
    except http.BlockedAddress as exc:
        return Verdict(CheckOutcome.INCONCLUSIVE, detail=f"blocked by policy: {exc}"[:500])
    except http.OutboundError as exc:
        return Verdict(CheckOutcome.INCONCLUSIVE, detail=f"{type(exc).__name__}: {exc}"[:500])
    status = response.status
    if status in REMOVED_STATUSES:
        return Verdict(CheckOutcome.REMOVED, status, detail=f"HTTP {status}")
    if status != 200:
        # 5xx, 401/403 (blocks, logins), 429 and redirects we could not follow prove nothing.
        return Verdict(CheckOutcome.INCONCLUSIVE, status, detail=f"HTTP {status}")
    kind = _kind_of(response.headers.get("Content-Type", ""))
    if kind in ("image", "video"):
        distance = _media_matches(response.body, known, kind)
        if distance is not None:
            return Verdict(CheckOutcome.STILL_UP, status, distance, "the media at the URL matches the evidence")
        return Verdict(CheckOutcome.REMOVED, status, detail="the URL serves different media (soft removal)")
    if kind != "html":
        return Verdict(CheckOutcome.INCONCLUSIVE, status, detail="unrecognised content")
    refs = extract_media_urls(response.body, response.url, response.headers.get("Content-Type"))
    best: int | None = None
    fetched = 0
    for ref in refs[: settings.RECHECK_MAX_MEDIA]:
        try:
            media = http.request("GET", ref.url, timeout=15, max_bytes=max_bytes, profile=http.BROWSER, fresh=second_look)
        except http.OutboundError:
            continue
        if media.status != 200:
            continue
        fetched += 1
        served = _kind_of(media.headers.get("Content-Type", ""))
        distance = _media_matches(media.body, known, served if served in ("image", "video") else ref.kind)
        if distance is not None and (best is None or distance < best):
            best = distance
            if distance == 0:
                break
    if best is not None:
        return Verdict(CheckOutcome.STILL_UP, status, best, "the page still holds matching media")
    if _LOGIN_WALL.search(response.body[:200_000]) and not fetched:
        return Verdict(CheckOutcome.INCONCLUSIVE, status, detail="a login wall hides the page")
    if not known.sha256:
        return Verdict(CheckOutcome.INCONCLUSIVE, status, detail="no evidence to compare with")
    return Verdict(CheckOutcome.REMOVED, status, detail="the page no longer holds matching media (soft removal)")


def run(request_id: int, *, second_look: bool = False, asked: bool = False) -> str:
    """One request's re-check. `second_look` (the task queued after a first look found the page gone)
    does nothing once that is settled, or before it is due (beat's schedule runs it then)."""
    from takedowns.models import TakedownRequest
    from takedowns.services import record_check, second_look_due

    request = TakedownRequest.objects.prefetch_related("evidence__fingerprints").filter(pk=request_id).first()
    if request is None:
        return "missing"
    due = second_look_due(request)
    if second_look and not due:
        return "skipped"
    verdict = check_url(request.url, known_for(request), second_look=due)
    record_check(
        request.pk, verdict.outcome, http_status=verdict.http_status, distance=verdict.distance, detail=verdict.detail,
        second_look=due, asked=asked,
    )  # fmt: skip
    return verdict.outcome


def run_many(request_ids: list[int], *, concurrency: int | None = None) -> dict[str, int]:
    """Re-checks a batch: reads first, fetches and compares concurrently (threads never touch
    the database; connections are reused per thread), then records each outcome."""
    from concurrent.futures import ThreadPoolExecutor

    from takedowns.models import TakedownRequest
    from takedowns.services import record_checks, second_look_due

    requests = list(TakedownRequest.objects.filter(pk__in=request_ids).prefetch_related("evidence__fingerprints"))
    second = {r.pk for r in requests if second_look_due(r)}
    work = [(r.pk, r.url, known_for(r)) for r in requests]

    def one(item: tuple[int, str, Known]) -> tuple[int, Verdict]:
        request_id, url, known = item
        try:
            return request_id, check_url(url, known, second_look=request_id in second)
        except Exception as exc:  # noqa: BLE001 - one bad URL must not stop the batch
            return request_id, Verdict(CheckOutcome.INCONCLUSIVE, detail=f"check failed: {type(exc).__name__}"[:500])

    workers = max(1, min(concurrency or settings.TAKEDOWN_IO_CONCURRENCY, len(work)))
    if workers == 1:
        verdicts = [one(item) for item in work]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="recheck") as pool:
            verdicts = list(pool.map(one, work))
    record_checks([(rid, v.outcome, v.http_status, v.distance, v.detail) for rid, v in verdicts], second_looks=second)
    counts: dict[str, int] = {}
    for _rid, verdict in verdicts:
        counts[verdict.outcome] = counts.get(verdict.outcome, 0) + 1
    return counts
