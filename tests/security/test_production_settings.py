"""Threat: production quietly runs with a weaker setting than intended: mail (invitations, sign-in
links, notices about victims' cases) sent to the SMTP server in clear text; an HTTP client library
with known flaws (urllib3 before 2.6: CVE-2025-66418, unbounded decompression chains, and
CVE-2025-66471, streamed decompression bombs); the media probe parsing files unisolated.

Control: config/settings/production.py refuses to start, naming the variable, unless exactly one
of EMAIL_USE_TLS and EMAIL_USE_SSL is true, and defaults EVIDENCE_PROBE_ISOLATION to required;
pyproject.toml pins urllib3>=2.6 and the installed one is at least that.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from tests.factories import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[2]
GOOD = PRODUCTION_ENV


def _shell(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_tls_for_mail() -> None:
    env = {**{k: v for k, v in GOOD.items() if k != "EMAIL_USE_TLS"}, "EMAIL_HOST": "smtp.example.org"}
    result = _check(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "EMAIL_USE_TLS" in result.stderr
    assert "EMAIL_USE_SSL" in result.stderr
    result = _check({**env, "EMAIL_USE_TLS": "false"})
    assert result.returncode != 0 and "EMAIL_USE_TLS" in result.stderr


def test_production_refuses_both_tls_modes_at_once() -> None:
    result = _check({**GOOD, "EMAIL_USE_SSL": "true"})
    assert result.returncode != 0
    assert "cannot both be on" in result.stderr


def test_production_starts_with_either_tls_mode() -> None:
    code = "from django.conf import settings; print(settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL)"
    result = _shell(GOOD, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]
    env = {k: v for k, v in GOOD.items() if k != "EMAIL_USE_TLS"}
    result = _shell({**env, "EMAIL_USE_SSL": "true"}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_production_requires_the_probe_sandbox_by_default() -> None:
    result = _shell(GOOD, "from django.conf import settings; print(settings.EVIDENCE_PROBE_ISOLATION)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "required"


def test_urllib3_is_at_least_2_6_pinned_and_installed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (pin,) = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "urllib3"]
    assert not pin.specifier.contains("2.5.0")
    assert pin.specifier.contains("2.6.0")
    assert Version(metadata.version("urllib3")) >= Version("2.6")


def _deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING", "--tag", "security"],
        cwd=ROOT,
        env={**env, "EVIDENCE_PROBE_ISOLATION": "auto"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_fails_without_the_audit_signer() -> None:
    """Without the signer's address and public key the audit log is an unkeyed chain again."""
    result = _deploy_check(GOOD)
    assert result.returncode != 0
    assert "core.W001" in result.stderr and "core.W002" in result.stderr
    bad_key = _deploy_check({**GOOD, "AUDIT_SIGNER_URL": "http://127.0.0.1:8031", "AUDIT_SIGNER_PUBLIC_KEY": "bm90LWEta2V5"})
    assert "core.W003" in bad_key.stderr and "core.W001" not in bad_key.stderr
    good = _deploy_check(
        {
            **GOOD,
            "AUDIT_SIGNER_URL": "http://127.0.0.1:8031",
            "AUDIT_SIGNER_PUBLIC_KEY": "2styOemFY8eXX+wCFsJ4e2SnbeL2+10OPZzdnFKGdcU=",
        }
    )
    assert "core.W00" not in good.stderr, good.stderr


def test_a_mail_relay_on_this_host_needs_no_tls() -> None:
    """The contract's minimum configuration (EMAIL_HOST, EMAIL_PORT, no TLS setting) still starts when
    the relay is on this host: nothing crosses a wire before the relay, which does TLS outward.
    Anything else, a name that only resolves to loopback included, is refused."""
    env = {k: v for k, v in GOOD.items() if k != "EMAIL_USE_TLS"}
    for host in ("localhost", "127.0.0.1", "127.0.0.53", "::1", "[::1]"):
        result = _check({**env, "EMAIL_HOST": host, "EMAIL_PORT": "2525"})
        assert result.returncode == 0, (host, result.stderr)
    for host in ("mail.internal", "10.0.0.5", "127.0.0.1.nip.io"):
        result = _check({**env, "EMAIL_HOST": host})
        assert result.returncode != 0 and "EMAIL_USE_TLS" in result.stderr, host
