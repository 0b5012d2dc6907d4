"""Is the page still there? A look before the first notice for a URL (docs/takedowns.md, "Liveness").

A notice for a page that is already gone wastes a platform's time and our credibility, and would
count against the platform in the compliance figures. So the delivery worker looks first, once,
just before the first delivery of an initial notice (takedowns.services.deliver_many).

This look is deliberately lighter and more cautious than a re-check (takedowns.rechecks): one GET,
no media fetched, no fingerprints. It answers "gone" only on clear signs: 404, 410 or 451, or a page
that holds no media at all and says in words that the content was removed (a soft removal, as many
platforms serve with status 200). Anything unclear (a timeout, a 5xx, a login wall, a redirect it
could not follow) counts as "still there": sending a notice that turns out unneeded costs little;
not sending one that was needed leaves the material up.

A look that finds the page gone is believed only when a second look, REMOVAL_CONFIRM_DELAY_S later over a
new connection with another browser's User-Agent, agrees (takedowns.services.deliver_many holds the
notice in between): a page that answers "gone" to one client pattern alone gets its notice after all.
Every look goes out as a common browser (core.http's BROWSER profile), naming nobody.

Runs in the worker's threads: it never touches the database, and goes out through core.http only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core import http
from evidence.capture import extract_media_urls
from takedowns.rechecks import REMOVED_STATUSES

TIMEOUT_S = 10
# Enough for any "content unavailable" page; a larger body is, by its size, something.
MAX_BYTES = 512 * 1024

_SOFT_REMOVED = re.compile(
    r"no longer available|content (is )?unavailable|(page|post|video|content|account|tweet)"
    r" (isn'?t|is not|was|has been) (available|removed|deleted|found)|this (post|video|page|content) (was|has been) removed"
    r"|removed (by|for) (the uploader|violating|a copyright)|page not found|doesn'?t exist|does not exist"
    r"|삭제된 (게시물|콘텐츠|동영상|페이지)|존재하지 않는|이용할 수 없는|찾을 수 없",
    re.I,
)
_TITLE_OR_TEXT = re.compile(rb"<(script|style)\b.*?</\1>", re.I | re.S)


@dataclass(frozen=True)
class Look:
    gone: bool
    http_status: int | None = None
    detail: str = ""


def look(url: str, *, second_look: bool = False) -> Look:
    """One GET of the reported URL: gone (404/410/451, or a soft removal), or not clearly gone.
    `second_look`: over a new connection, as another browser."""
    try:
        response = http.request("GET", url, timeout=TIMEOUT_S, max_bytes=MAX_BYTES, profile=http.BROWSER, fresh=second_look)
    except http.ResponseTooLarge:
        return Look(False, detail="the page is larger than a removal notice would be")
    except http.OutboundError as exc:
        return Look(False, detail=f"inconclusive ({type(exc).__name__}); the notice goes anyway"[:500])
    status = response.status
    if status in REMOVED_STATUSES:
        return Look(True, status, f"HTTP {status} before the first notice")
    if status != 200:
        return Look(False, status, f"inconclusive (HTTP {status}); the notice goes anyway")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in ("text/html", "application/xhtml+xml"):
        return Look(False, status, "the address serves content")
    if extract_media_urls(response.body, response.url, response.headers.get("Content-Type")):
        return Look(False, status, "the page shows media")
    text = _TITLE_OR_TEXT.sub(b" ", response.body).decode("utf-8", "replace")
    text = re.sub(r"<[^>]+>", " ", text)
    if _SOFT_REMOVED.search(text):
        return Look(True, status, "the page says the content was removed (soft removal)")
    return Look(False, status, "the page shows text")
