"""Health endpoints for load balancers and docker-compose. Answers carry no detail an attacker could use.

- /healthz: the process is up (no dependency is touched).
- /readyz: this web process can do its work. 503 when the database, Redis (the broker) or the
  evidence storage fails; the worker and beat are reported under "background" but only count
  with ?strict=1, because taking every web process out of the load balancer when beat is late
  would turn a delay of background work into an outage for everyone (docs/operations.md, "Health").
  The audit signer, when AUDIT_SIGNER_URL is set, is reported the same way ("signer").

The worker ping and the storage probe cost a round trip each (a message through the broker, a
write to object storage), so their answers are kept READY_CACHE_S seconds per process: a load
balancer polling every second cannot hammer them. The database and Redis are asked every time.

With ?strict=1 it also reports work that waits with nobody to do it (DESIGN.md: "a queue with
work and no consumer is reported, never silent"): a Celery queue holding messages that no worker
consumes (a worker started with -Q that leaves a queue out), and notices due for longer than
NOTICE_STUCK_ALERT_S. /metrics and the failed-work page report the same, from the same functions.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

logger = logging.getLogger(__name__)

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()
_redis_clients: dict[str, Any] = {}
# Probe files live under their own prefix in the evidence storage, never next to evidence.
HEALTH_PREFIX = "health"


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _cached(name: str, check: Callable[[], Any]) -> Any:
    ttl = settings.READY_CACHE_S
    now = time.monotonic()
    hit = _cache.get(name)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = check()
    with _cache_lock:
        _cache[name] = (time.monotonic() + ttl, value)
    return value


def clear_cache() -> None:
    """For tests: forget the cached worker and storage answers."""
    with _cache_lock:
        _cache.clear()


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False


def broker_redis_url() -> str:
    """The Redis the broker runs on (empty when the broker is not Redis, as in the embedded demo)."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith(("redis://", "rediss://")):
        return url
    return str(settings.REDIS_URL or "")


def redis_client(url: str) -> Any:
    """A client with short timeouts, one per URL per process (its connection pool is reused)."""
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        _redis_clients[url] = client
    return client


def check_redis() -> bool | None:
    url = broker_redis_url()
    if not url:
        return None
    try:
        return bool(redis_client(url).ping())
    except Exception:  # noqa: BLE001 - down, refusing, timing out: all mean not ready
        return False


def check_storage() -> bool:
    """Writes, reads back and deletes a small probe in the evidence storage."""
    storage = storages["evidence"]
    name = f"{HEALTH_PREFIX}/probe-{uuid.uuid4().hex}.txt"
    payload = b"ready"
    saved = ""
    try:
        saved = storage.save(name, ContentFile(payload))
        with storage.open(saved, "rb") as fh:
            return bool(fh.read() == payload)
    except Exception:  # noqa: BLE001 - full disk, lost bucket, wrong credentials: not ready
        return False
    finally:
        if saved:
            # A leftover probe is harmless; the answer above stands.
            with contextlib.suppress(Exception):
                storage.delete(saved)


_worker_lock = threading.Lock()
# Long enough for a worker busy with a task to answer (its pool answers control messages between
# tasks with the solo pool, at once with prefork); short enough for a load balancer's timeout.
_WORKER_PING_TIMEOUT_S = 1.0


def check_worker() -> bool:
    """True when at least one Celery worker answers a ping through the broker within a second."""
    from config.celery import app

    # One ping at a time per process: concurrent /readyz calls share the answer.
    if not _worker_lock.acquire(blocking=False):
        hit = _cache.get("worker")
        return hit[1] if hit is not None else False
    try:
        with app.connection_for_write() as conn:
            # Fail at once when the broker is down, instead of Celery's patient reconnecting.
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=1)
            replies = app.control.ping(timeout=_WORKER_PING_TIMEOUT_S, limit=1, connection=conn)
        return bool(replies)
    except Exception:  # noqa: BLE001 - no broker, no worker: the answer is no
        return False
    finally:
        _worker_lock.release()


# Queues and the outbox ----------------------------------------------------------------------

# kombu's Redis transport keeps a queue as a list per priority step: "<name>", "<name>\x06\x163", ...
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
# Every worker is asked which queues it consumes, so the answer waits the whole timeout (there is
# no knowing how many workers will reply). A prefork worker answers at once; a solo-pool worker
# busy with a task answers only after it, and then counts as absent for this one look.
_QUEUES_TIMEOUT_S = 1.0


def celery_queues() -> list[str]:
    """Every queue the system uses: the declared ones (CELERY_TASK_QUEUES) and any a route names."""
    queues = {str(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery"))}
    queues.update(str(queue.name) for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or ())
    for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values():
        if isinstance(route, dict) and route.get("queue"):
            queues.add(str(route["queue"]))
    return sorted(queues)


def broker_queue_lengths() -> tuple[dict[str, int], int] | None:
    """Messages waiting in each queue, and messages taken by a worker and not yet acknowledged.

    Read straight from the broker's Redis keys under its global_keyprefix (the tests' per-run
    prefix), one pipeline. None when the broker is not Redis (the embedded file-system broker).
    """
    url = broker_redis_url()
    if not str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://")) or not url:
        return None
    prefix = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", ""))
    queues = celery_queues()
    pipe = redis_client(url).pipeline(transaction=False)
    for queue in queues:
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{prefix}{queue}{_PRIORITY_SEPARATOR}{step}" if step else f"{prefix}{queue}")
    pipe.hlen(f"{prefix}unacked")
    answers = pipe.execute()
    steps = len(_PRIORITY_STEPS)
    lengths = {queue: int(sum(answers[i * steps : (i + 1) * steps])) for i, queue in enumerate(queues)}
    return lengths, int(answers[-1])


def queue_consumers() -> dict[str, int] | None:
    """How many workers consume each queue, as the workers themselves answer (active_queues).

    Queue names are the plain ones: the broker's key prefix is applied below kombu's queue names,
    so a worker reports "notices" whatever the prefix. None when the broker cannot be asked.
    """
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=1)
            replies = app.control.inspect(timeout=_QUEUES_TIMEOUT_S, connection=conn).active_queues() or {}
    except Exception:  # noqa: BLE001 - no broker: the Redis check reports it
        return None
    consumers: dict[str, int] = {}
    for queues in replies.values():
        for queue in queues or []:
            consumers[str(queue.get("name"))] = consumers.get(str(queue.get("name")), 0) + 1
    return consumers


@dataclass(frozen=True)
class UnconsumedQueue:
    name: str
    messages: int


def queues_without_consumer() -> list[UnconsumedQueue] | None:
    """Queues holding messages that no running worker consumes; None when it cannot be known.

    Workers are asked only when some queue holds messages (an empty queue waits for nobody), and
    their answer is kept READY_CACHE_S seconds like the ping.
    """
    counted = broker_queue_lengths()
    if counted is None:
        return None
    waiting = {queue: n for queue, n in counted[0].items() if n > 0}
    if not waiting:
        return []
    consumers = _cached("consumers", queue_consumers)
    if consumers is None:
        return None
    return [UnconsumedQueue(queue, n) for queue, n in sorted(waiting.items()) if not consumers.get(queue)]


def stuck_notice_count() -> int | None:
    """Work due for longer than NOTICE_STUCK_ALERT_S, or claimed by a worker that died: the sum of
    what each registered stuck source (core.ops; takedowns registers the notice outbox) says is
    waiting. None when no source counts waiting work."""
    from core.ops import stuck_sources

    counts = [source.waiting() for source in stuck_sources() if source.waiting is not None]
    return sum(counts) if counts else None


def check_signer() -> bool:
    """True when the audit signer answers its health check (within AUDIT_SIGNER_TIMEOUT_S)."""
    from core.audit_signing import signer_reachable

    return signer_reachable()


def check_beat() -> bool:
    """True when the beat heartbeat (written every minute by a worker running beat's task) is recent."""
    from core.models import SystemState

    try:
        updated = SystemState.objects.filter(key="beat_heartbeat").values_list("updated_at", flat=True).first()
    except Exception:  # noqa: BLE001 - the database check reports that failure
        return False
    return updated is not None and timezone.now() - updated <= timedelta(seconds=settings.READY_BEAT_MAX_AGE_S)


def readiness(*, strict: bool = False) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, bool] = {"database": check_database()}
    redis_ok = check_redis()
    if redis_ok is not None:
        checks["redis"] = redis_ok
    checks["storage"] = _cached("storage", check_storage)
    # Without the broker a worker cannot answer: skip the ping rather than wait for it. The
    # embedded file-system broker (make run) cannot carry a ping at all: unknown (null).
    worker: bool | None = None
    if redis_ok is not None:
        worker = _cached("worker", check_worker) if redis_ok else False
    background: dict[str, bool | None] = {"worker": worker, "beat": checks["database"] and check_beat()}
    if settings.AUDIT_SIGNER_URL:
        # The audit signer (core/signer.py): events are recorded without it, but no checkpoint is
        # signed until it is back; reported like the worker, deciding only with ?strict=1.
        background["signer"] = _cached("signer", check_signer)
    extra: dict[str, Any] = {}
    if strict:
        # Only for the strict answer (monitoring, not the load balancer): a queue with a message
        # is common under load, and then the workers are asked, which waits a second.
        unconsumed = queues_without_consumer() if redis_ok else None
        stuck = stuck_notice_count() if checks["database"] else None
        background["queues"] = None if unconsumed is None else not unconsumed
        background["outbox"] = None if stuck is None else stuck == 0
        # Names and a count only: which queue to start a worker for, how many notices wait.
        extra = {"queues_without_consumer": [q.name for q in unconsumed or []], "stuck_notices": stuck or 0}
    ok = all(checks.values()) and (not strict or all(v is not False for v in background.values()))
    body = {"status": "ok" if ok else "unavailable", "checks": checks, "background": background, "strict": strict, **extra}
    return ok, body


_last_failing: frozenset[str] = frozenset()


def readyz(request: HttpRequest) -> JsonResponse:
    global _last_failing
    ok, body = readiness(strict=request.GET.get("strict") in ("1", "true", "yes"))
    response = JsonResponse(body, status=200 if ok else 503)
    # A load balancer polls every few seconds: Django would log each 503 at ERROR. Log once when
    # what fails changes instead (metrics and alerts carry the state, docs/operations.md).
    failing = frozenset(name for group in ("checks", "background") for name, value in body[group].items() if value is False)
    if failing != _last_failing:
        if failing:
            logger.warning("readiness: failing %s", ", ".join(sorted(failing)))
        else:
            logger.info("readiness: every check passes again")
        _last_failing = failing
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own 5xx log skips it
    return response
