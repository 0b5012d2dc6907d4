"""Anti-flood for the public intake without knowing who asks: a proof of work.

The page carries a challenge: `bits.expiry.random.signature`, signed with a key derived from
SECRET_KEY (HMAC-SHA256), so the server keeps nothing until a proof arrives. The browser
(static/js/pow.js, crypto.subtle) finds a nonce such that SHA-256("challenge:nonce") starts with
`bits` zero bits (INTAKE_POW_BITS, about a second on a phone at 18) and sends both with the form.
The server checks the signature, the expiry and one hash, then spends the challenge in Redis
until it expires, so a proof is used once. No IP address, cookie or browser detail is read.

Without JavaScript (or without crypto.subtle, on plain http) a form arrives with no proof: it is
accepted while a small global budget per minute lasts (INTAKE_NO_POW_PER_MINUTE), so a person
without JavaScript is served on a normal day and a flood without proofs is not. The JSON intake
API (the contract) needs no proof until more than INTAKE_API_POW_ABOVE calls a minute arrive;
then it answers 429 with a challenge, and a call with X-PoW-Challenge and X-PoW-Nonce headers
passes (docs/intake.md, "Proof of work").
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def _key() -> bytes:
    return hashlib.sha256(b"victimsupport intake proof-of-work v1:" + settings.SECRET_KEY.encode()).digest()


def _sign(body: str) -> str:
    return hmac.new(_key(), body.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def new_challenge(bits: int | None = None) -> str:
    bits = settings.INTAKE_POW_BITS if bits is None else bits
    body = f"{bits}.{int(time.time()) + settings.INTAKE_POW_TTL_S}.{secrets.token_hex(12)}"
    return f"{body}.{_sign(body)}"


def leading_zero_bits(digest: bytes) -> int:
    count = 0
    for byte in digest:
        if byte == 0:
            count += 8
            continue
        return count + 8 - byte.bit_length()
    return count


def _redis() -> Any:
    if not settings.REDIS_URL:
        return None
    return _client(settings.REDIS_URL)


@functools.lru_cache(maxsize=4)
def _client(url: str) -> Any:
    # One connection pool per process: a new client per check cost a TCP connection each time.
    import redis

    return redis.Redis.from_url(url, socket_timeout=1)


def check(challenge: str, nonce: str) -> str:
    """ "" when the proof holds (and is now spent); otherwise why not, in plain words."""
    refused = _("The security check of this page failed or expired. Please try again.")
    parts = (challenge or "").split(".")
    if len(parts) != 4 or not nonce or len(nonce) > 64:
        return refused
    bits_text, expiry_text, _random, signature = parts
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(body), signature):
        return refused
    try:
        bits, expiry = int(bits_text), int(expiry_text)
    except ValueError:
        return refused
    if expiry < time.time() or bits < settings.INTAKE_POW_BITS:
        return refused
    if leading_zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) < bits:
        return refused
    client = _redis()
    if client is not None:
        # Spent until it expires (then the expiry refuses it anyway). Without Redis (the embedded
        # demo) a proof could be replayed until it expires: documented.
        key = f"{settings.REDIS_KEY_PREFIX}:intake-pow:{hashlib.sha256(challenge.encode()).hexdigest()}"
        try:
            fresh = client.set(key, b"1", nx=True, ex=max(1, expiry - int(time.time()) + 1))
        except Exception:  # noqa: BLE001 - fail open like the budgets: a victim's report must not fail on Redis
            logger.warning("intake proof of work: Redis did not answer; the proof was not marked spent")
            fresh = True
        if not fresh:
            return refused
    return ""


def _within(name: str, limit: int) -> bool:
    """A global per-minute counter in Redis (nothing about who asks); True while under `limit`."""
    client = _redis()
    if client is None:
        return True
    try:
        key = f"{settings.REDIS_KEY_PREFIX}:{name}:{int(time.time() // 60)}"
        count = int(client.incr(key))
        if count == 1:
            client.expire(key, 120)
        return count <= limit
    except Exception:  # noqa: BLE001 - fail open: scrypt and the quarantine cap still hold
        return True


def form_gate(data: Any) -> str:
    """For a public form: "" to go on, or the calm words to show instead (nothing is kept)."""
    challenge, nonce = str(data.get("pow_challenge", "")), str(data.get("pow_nonce", ""))
    if challenge or nonce:
        return check(challenge, nonce)
    if _within("intake-no-pow", settings.INTAKE_NO_POW_PER_MINUTE):
        return ""
    return _("Many reports are arriving right now. Please try again in a minute, or turn on JavaScript in your browser.")


def api_gate(headers: Any) -> dict[str, Any] | None:
    """For the JSON intake API: None to go on; a 429 body with a fresh challenge when calls come
    faster than INTAKE_API_POW_ABOVE a minute and this one carries no valid proof."""
    challenge, nonce = headers.get("X-PoW-Challenge", ""), headers.get("X-PoW-Nonce", "")
    if challenge and not check(challenge, nonce):
        return None
    if _within("intake-api", settings.INTAKE_API_POW_ABOVE):
        return None
    return {
        "detail": "Many requests are arriving right now: repeat this request with a proof of work "
        "(X-PoW-Challenge and X-PoW-Nonce: SHA-256 of 'challenge:nonce' starting with `bits` zero bits).",
        "challenge": new_challenge(),
        "bits": settings.INTAKE_POW_BITS,
    }


class PowContext:
    """For templates: each read of `challenge` is a fresh one (one per form on the page)."""

    bits = property(lambda self: settings.INTAKE_POW_BITS)

    @property
    def challenge(self) -> str:
        return new_challenge()
