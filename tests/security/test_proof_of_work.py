"""Threat: a flood of anonymous reports or receipt guesses (scripted, from many addresses) fills
the triage queue, the quarantine and the scrypt budget, and the usual defence, rate limits per IP
address, would store the reporters' addresses.

Control: a proof of work (cases/pow.py, static/js/pow.js): stateless HMAC-signed challenges with
an expiry, solved by the browser (SHA-256 with INTAKE_POW_BITS leading zero bits), checked with
one hash and spent once in Redis. Forms without a proof (no JavaScript) share a small global
budget a minute (INTAKE_NO_POW_PER_MINUTE); the JSON API asks for a proof only above
INTAKE_API_POW_ABOVE calls a minute. Nothing about the client is stored.
"""

from __future__ import annotations

import hashlib
import re

import pytest
import redis
from django.test import Client

from cases import pow
from cases.models import IntakeReport
from core.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def solve(challenge: str) -> str:
    bits = int(challenge.split(".")[0])
    nonce = 0
    while pow.leading_zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) < bits:
        nonce += 1
    return str(nonce)


@pytest.fixture(autouse=True)
def fresh_budgets(settings):
    """Each test starts with this minute's global counters at zero."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:intake-*"):
        client.delete(key)


@pytest.fixture
def strict(settings):
    settings.INTAKE_NO_POW_PER_MINUTE = 0  # no budget for forms without a proof
    settings.INTAKE_POW_BITS = 8
    return settings


def _report(**extra: str):
    return Client().post("/report/", {"description": "it is online", "reporter_role": "victim", **extra})


def _receipt(response) -> str:
    return re.search(r'data-testid="receipt"><code>([A-Z2-7-]+)</code>', response.content.decode()).group(1)


def test_form_without_a_proof_is_refused_when_the_budget_is_spent(strict) -> None:
    response = _report()
    assert response.status_code == 429
    assert "try again in a minute" in response.content.decode()
    assert not IntakeReport.objects.exists()


def test_form_without_a_proof_is_served_within_the_budget(strict) -> None:
    strict.INTAKE_NO_POW_PER_MINUTE = 1
    assert 'data-testid="receipt"' in _report().content.decode()
    assert _report().status_code == 429  # the second one this minute
    assert IntakeReport.objects.count() == 1


def test_wrong_expired_and_reused_proofs_are_refused(strict) -> None:
    challenge = pow.new_challenge()
    nonce = solve(challenge)
    wrong = next(str(n) for n in range(10**6) if str(n) != nonce and pow.leading_zero_bits(
        hashlib.sha256(f"{challenge}:{n}".encode()).digest()) < 8)  # fmt: skip
    assert _report(pow_challenge=challenge, pow_nonce=wrong).status_code == 429
    forged = challenge.rsplit(".", 1)[0] + ".0" * 1 + "0" * 31
    assert _report(pow_challenge=forged, pow_nonce=solve(forged)).status_code == 429
    easier = pow.new_challenge(bits=1)
    assert _report(pow_challenge=easier, pow_nonce=solve(easier)).status_code == 429
    strict.INTAKE_POW_TTL_S = -5
    expired = pow.new_challenge()
    strict.INTAKE_POW_TTL_S = 600
    assert _report(pow_challenge=expired, pow_nonce=solve(expired)).status_code == 429
    assert not IntakeReport.objects.exists()
    assert 'data-testid="receipt"' in _report(pow_challenge=challenge, pow_nonce=nonce).content.decode()
    assert _report(pow_challenge=challenge, pow_nonce=nonce).status_code == 429  # spent
    assert IntakeReport.objects.count() == 1


def test_the_receipt_check_needs_a_proof_too(strict) -> None:
    first = pow.new_challenge()
    receipt = _receipt(_report(pow_challenge=first, pow_nonce=solve(first)))
    client = Client()
    assert client.post("/report/status/", {"receipt": receipt}).status_code == 429
    challenge = pow.new_challenge()
    page = client.post("/report/status/", {"receipt": receipt, "pow_challenge": challenge, "pow_nonce": solve(challenge)})
    assert page.status_code == 200 and "it is online" not in page.content.decode()
    assert 'data-pow="' in page.content.decode()  # every action form carries its own challenge
    again = client.post("/report/status/", {"receipt": receipt, "pow_challenge": challenge, "pow_nonce": solve(challenge)})
    assert again.status_code == 429


def test_the_api_works_as_the_contract_says_and_asks_for_a_proof_only_under_a_flood(settings) -> None:
    client = Client()
    body = {"description": "x", "urls": [], "contact": None, "consent": {}, "language": "en"}
    assert client.post("/api/v1/intake/", body, content_type="application/json").status_code == 201
    settings.INTAKE_API_POW_ABOVE = 0
    busy = client.post("/api/v1/intake/", body, content_type="application/json")
    assert busy.status_code == 429
    challenge = busy.json()["challenge"]
    done = client.post("/api/v1/intake/", body, content_type="application/json",
                       headers={"X-PoW-Challenge": challenge, "X-PoW-Nonce": solve(challenge)})  # fmt: skip
    assert done.status_code == 201 and done.json()["receipt"]


def test_no_address_is_stored(strict, settings) -> None:
    challenge = pow.new_challenge()
    _report(pow_challenge=challenge, pow_nonce=solve(challenge), REMOTE_ADDR="203.0.113.77")
    Client(REMOTE_ADDR="203.0.113.77").post("/report/", {"description": "no proof", "reporter_role": "victim"})
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:intake-*"))
    assert keys
    assert not any(b"203.0.113" in key or b"203.0.113" in (client.get(key) or b"") for key in keys)
    assert not any("203.0.113" in str(e.details) for e in AuditEvent.objects.all())


def test_a_report_with_a_proof_is_taken_when_redis_does_not_answer(strict) -> None:
    """Redis down must not turn a frightened person's report into a server error: the proof is
    checked by its signature, expiry and hash, and only its single use is lost meanwhile."""
    strict.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1 (loopback only)
    challenge = pow.new_challenge()
    response = _report(pow_challenge=challenge, pow_nonce=solve(challenge))
    assert response.status_code == 200
    assert 'data-testid="receipt"' in response.content.decode()
    assert IntakeReport.objects.count() == 1
