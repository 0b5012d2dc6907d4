from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.models import Centre
from tests import factories


@pytest.fixture
def central(db: None) -> Centre:
    return factories.make_centre(central=True)


@pytest.fixture
def region(db: None) -> Centre:
    return factories.make_centre("busan")


@pytest.fixture
def caseworker(central: Centre) -> factories.User:
    return factories.make_user("caseworker", central, username="cw_a")


@pytest.fixture
def caseworker_b(central: Centre) -> factories.User:
    return factories.make_user("caseworker", central, username="cw_b")


@pytest.fixture
def supervisor(central: Centre) -> factories.User:
    return factories.make_user("supervisor", central, username="sup_central")


@pytest.fixture
def other_supervisor(region: Centre) -> factories.User:
    return factories.make_user("supervisor", region, username="sup_busan")


@pytest.fixture
def client_for():
    def make(user: factories.User) -> Client:
        return factories.login_verified(Client(), user)

    return make


@pytest.fixture
def api_for():
    """An API client acting as the user: a service account by its token; a person by a browser
    session that passed TOTP (people hold no tokens), so the caller's identity is the user's own."""

    def make(user: factories.User) -> APIClient:
        client = APIClient()
        if user.is_service_account:
            client.credentials(HTTP_AUTHORIZATION=f"Token {factories.issue_token(user)}")
        else:
            factories.login_verified(client, user)
        return client

    return make


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """What the code keeps per process, forgotten around every test, so no test sees what an
    earlier one left (the suite runs in random order; docs/testing.md, "Order, isolation and
    flakes"): the match index loaded from rows a rolled-back test created, the readiness answers
    cached for READY_CACHE_S, the readiness probe's memory of what failed last, and the language
    a test activated in this thread."""
    from django.utils import translation

    from core import health
    from takedowns import matching

    def forget() -> None:
        matching.reset_process_index()
        health.clear_cache()
        health._last_failing = frozenset()
        translation.deactivate()

    forget()
    yield
    forget()


@pytest.fixture(autouse=True)
def _fresh_redis_counters():
    """Redis is not rolled back with the database: the per-minute budgets (intake forms, status
    checks, the intake API, each platform's send rate) and spent proofs an earlier test counted
    would still count in this one, if it runs in the same minute. Only this run's own keys are
    dropped (its prefix), never the broker's queues."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    for pattern in ("intake-*", "rate:*"):
        for key in client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:{pattern}", count=1000):
            client.delete(key)
    client.close()


# Real services ------------------------------------------------------------------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from django.conf import settings  # noqa: E402

from tools.smtp_sink import SmtpSink  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# The shared secret of the platform simulator that tests start (tools/platform_sim.py).
SIM_SECRET = "test-shared-secret"


@pytest.fixture
def simulator():
    from tools.platform_sim import PlatformSimulator

    sim = PlatformSimulator(secret=SIM_SECRET).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def worker_env(smtp_port: int, **overrides: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": database_url,
        "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        **overrides,
    }


def run_file(name: str) -> Path:
    """A file of this test run alone (worker logs, beat schedules): under var/test-runs/<run id>/,
    named after the run's own database, so two runs on one machine never write the same file."""
    path = Path(settings.TEST_RUN_DIR) / "logs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def start_celery(kind: str, env: dict[str, str], log_name: str, *, queues: str = "") -> subprocess.Popen:
    """Starts `celery -A config worker|beat` and waits until it is ready.

    A worker is started the plain way, as the contract and docs/operations.md start it: the
    default prefork pool (so task time limits are enforced and a fault test can kill the child
    that runs a task), every declared queue, so a queue a plain worker would not consume fails
    the suite. `queues` (e.g. "celery") adds -Q, for the tests of a dedicated or misconfigured
    worker only. Only start-up chatter is turned off (gossip, mingle, heartbeats): none of it
    decides which work is done or how. The worker leads a process group of its own, so that
    stop_process() ends its pool children too, even after the parent was killed.
    """
    log_path = run_file(log_name if log_name.endswith(".log") else f"{log_name}.log")
    log = open(log_path, "w")  # noqa: SIM115 - the process owns it
    if kind == "worker":
        args = ["worker", *(["-Q", queues] if queues else []), "-l", "INFO", "--without-heartbeat",
                "--without-gossip", "--without-mingle"]  # fmt: skip
        ready = "ready."
    else:
        args = ["beat", "-l", "INFO", "-s", str(log_path.with_suffix(".schedule"))]
        ready = "beat: Starting"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()  # the child holds its own copy
    try:
        wait_until(lambda: ready in log_path.read_text(errors="replace") or proc.poll() is not None, timeout=60, interval=0.1)
    except AssertionError:
        stop_process(proc, kill=True)
        raise RuntimeError(f"celery {kind} did not become ready in 60 s; see {log_path}") from None
    if proc.poll() is not None:
        raise RuntimeError(f"celery {kind} exited at start-up; see {log_path}")
    return proc


def stop_process(proc: subprocess.Popen, *, kill: bool = False) -> None:
    """Stops a process (warm: SIGTERM, the worker finishes what it runs) and then whatever is
    left of its process group, such as pool children orphaned by a killed Celery parent."""
    import signal

    if proc.poll() is None:
        proc.kill() if kill else proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone (or the process never led one)


def pool_children(proc: subprocess.Popen) -> list[int]:
    """The pids of a prefork worker's pool processes (Linux /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{proc.pid}/task").glob("*"):
        try:
            children += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def child_connected_to(proc: subprocess.Popen, port: int) -> int | None:
    """The pool child of a worker that holds an open TCP connection to 127.0.0.1:port (the one in
    the middle of a request to that server), or None."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # remote port, ESTABLISHED
                inodes.add(fields[9])
    for pid in pool_children(proc):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    return None


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, django_db_blocker, smtp_sink):
    """A real `celery -A config worker` on Redis, using the test database and the SMTP sink.

    Module-scoped so that fault tests in other modules can run workers of their own without
    this one taking their messages.
    """

    clear_queues()
    proc = start_celery("worker", worker_env(smtp_sink.port), "test-worker.log")
    yield proc
    stop_process(proc)


def clear_queues() -> None:
    """Drops this test run's queued messages (only keys under its own prefix)."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    for key in client.scan_iter(match=f"{prefix}*" if prefix else "*", count=1000):
        client.delete(key)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def redis_answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def private_redis():
    """A Redis of this test's own on a loopback port, so stopping it disturbs nobody else.
    Yields (port, state, start): state["proc"] is the running server; start() starts another on
    the same port.

    The one server here that cannot be handed a socket bound once: redis-server binds its port
    itself. So the kernel picks a port, the server gets it, and if anything took the port in
    between, the server exits at start-up (it is watched, not only pinged: a ping could be
    answered by someone else's Redis) and the next port is tried.
    """
    import socket

    def start_on(port: int) -> subprocess.Popen:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: proc.poll() is not None or redis_answers(port), timeout=10, interval=0.05)
        if proc.poll() is not None:
            raise OSError(f"redis-server could not bind port {port}")
        return proc

    state: dict[str, subprocess.Popen] = {}
    for _ in range(5):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        try:
            state["proc"] = start_on(port)
            break
        except OSError:
            continue
    else:
        raise RuntimeError("redis-server found no port to bind")
    yield port, state, lambda: start_on(port)
    stop_process(state["proc"])


# Log privacy (docs/operations.md, "Logs") -------------------------------------------------------
# Every process of a test run appends its log lines to one file (TEST_LOG_FILE, set up in
# config/settings/test.py; the workers the tests start inherit it). Each receipt code and API
# token the run creates, and each address and user agent a test reports from (public form and
# intake API), is remembered here; when the run ends the file is searched for them: a hit fails
# the run, naming the kind of value and the line's logger, never the value itself.

_SENSITIVE: dict[str, set[str]] = {"receipt code": set(), "API token": set(), "reporter's address or agent": set()}
_INTAKE_PATHS = ("/report/", "/api/v1/intake/")


def _remember_reporter(environ: dict | None = None, **kwargs) -> None:
    environ = environ or {}
    if str(environ.get("PATH_INFO", "")).startswith(_INTAKE_PATHS):
        for key in ("REMOTE_ADDR", "HTTP_X_FORWARDED_FOR", "HTTP_USER_AGENT"):
            for value in str(environ.get(key, "")).split(","):
                if value.strip() and not value.strip().startswith("127."):
                    _SENSITIVE["reporter's address or agent"].add(value.strip())


_TEST_LOG_KEEP_DAYS = 3


@pytest.fixture(scope="session", autouse=True)
def _remember_sensitive_values():
    from cases import intake
    from core import services as core_services

    new_receipt, api_token_issue = intake.new_receipt, core_services.api_token_issue

    def remembered_receipt() -> str:
        receipt = new_receipt()
        _SENSITIVE["receipt code"].update({receipt, intake.normalise_receipt(receipt)})
        return receipt

    def remembered_token(**kwargs):
        key = api_token_issue(**kwargs)
        _SENSITIVE["API token"].add(key)
        return key

    from django.core.signals import request_started

    intake.new_receipt, core_services.api_token_issue = remembered_receipt, remembered_token
    request_started.connect(_remember_reporter, dispatch_uid="tests.remember_reporter")
    yield
    request_started.disconnect(dispatch_uid="tests.remember_reporter")
    intake.new_receipt, core_services.api_token_issue = new_receipt, api_token_issue


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import json

    log_file = Path(getattr(settings, "TEST_LOG_FILE", "") or "")
    if log_file.parent.is_dir():
        for old in log_file.parent.glob("*.log"):
            if time.time() - old.stat().st_mtime > _TEST_LOG_KEEP_DAYS * 86400:
                old.unlink(missing_ok=True)
    if not log_file.is_file() or not any(_SENSITIVE.values()):
        return
    found: set[tuple[str, str]] = set()
    with log_file.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            for kind, values in _SENSITIVE.items():
                if any(value in line for value in values):
                    try:
                        logger = str(json.loads(line).get("logger", "?"))
                    except ValueError:
                        logger = "?"
                    found.add((kind, logger))
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = ", ".join(f"{kind} (logger {logger})" for kind, logger in sorted(found))
        if reporter is not None:
            reporter.write_line(f"LOG PRIVACY: the run's log ({log_file}) holds: {message}.", red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The audit signer (core/signer.py) -----------------------------------------------------------


class AuditSigner:
    """A real `python -m core.signer` process with its own key and sink under a temporary folder.
    The application gets only its address and PUBLIC key (settings), never the key file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key_file = folder / "signer" / "signing.key"
        self.sink = folder / "signer" / "checkpoints.jsonl"
        self.port = 0
        self.public_key = ""
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AuditSigner:
        # The key file's path goes to the signer's command line only, never into this process's
        # environment or settings. The same port again after a restart, so settings stay right.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_SIGNER")}
        args = ["--listen", f"127.0.0.1:{self.port}", "--key-file", str(self.key_file), "--sink", str(self.sink)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.signer", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"the audit signer did not start: {line!r}")
        self.port = int(line.split("listening on ", 1)[1].split(";")[0].rsplit(":", 1)[1])
        self.public_key = line.rsplit("public key ", 1)[1].strip()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            if self.proc.stdout:
                self.proc.stdout.close()


@pytest.fixture
def audit_signer(tmp_path, settings):
    """A fresh signer per test: its sink must match this test's database (rolled back or flushed
    after each test), so one signer per session would vouch for events that no longer exist."""
    signer = AuditSigner(tmp_path).start()
    settings.AUDIT_SIGNER_URL = signer.url
    settings.AUDIT_SIGNER_PUBLIC_KEY = signer.public_key
    settings.AUDIT_CHECKPOINT_FILE = ""
    yield signer
    signer.stop()
