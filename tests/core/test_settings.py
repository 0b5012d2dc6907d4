"""Production settings stop at start-up with a message that names what is missing or wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[2]
GOOD = PRODUCTION_ENV


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_starts_with_every_secret_given() -> None:
    result = _check(GOOD)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "EVIDENCE_ENCRYPTION_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"])
def test_production_stops_when_a_secret_is_missing(missing: str) -> None:
    env = {k: v for k, v in GOOD.items() if k != missing}
    result = _check(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_malformed_values_are_named() -> None:
    result = _check({**GOOD, "EVIDENCE_ENCRYPTION_KEY": "too-short"})
    assert result.returncode != 0
    assert "EVIDENCE_ENCRYPTION_KEY must be URL-safe base64 of 32 random bytes" in result.stderr
    result = _check({**GOOD, "SECURE_SSL_REDIRECT": "maybe"})
    assert "SECURE_SSL_REDIRECT must be true or false" in result.stderr
    result = _check({**GOOD, "SECRET_KEY": "change-me"})
    assert "SECRET_KEY is too short or still the example value" in result.stderr


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret_key"
    secret_file.write_text(GOOD["SECRET_KEY"] + "\n")
    env = {k: v for k, v in GOOD.items() if k != "SECRET_KEY"}
    env["SECRET_KEY_FILE"] = str(secret_file)
    result = _check(env)
    assert result.returncode == 0, result.stderr
    env["SECRET_KEY_FILE"] = str(tmp_path / "nope")
    result = _check(env)
    assert "SECRET_KEY_FILE points to" in result.stderr


def test_production_cookies_are_host_prefixed() -> None:
    """`__Host-` names (so no sibling subdomain or plain-HTTP page can plant them) with what
    browsers demand of such a cookie: Secure, Path=/, no Domain (tests/security/test_session_lifetime.py)."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SESSION_COOKIE_PATH, s.CSRF_COOKIE_PATH, s.SESSION_COOKIE_DOMAIN, s.CSRF_COOKIE_DOMAIN)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=GOOD, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["__Host-sessionid", "__Host-csrftoken", "True", "True", "/", "/", "None", "None"]
