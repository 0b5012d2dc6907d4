"""/metrics in Prometheus' text format, for operators' monitoring (docs/operations.md, "Metrics").

Every figure is computed when Prometheus scrapes, from PostgreSQL and Redis, so any web process
answers the same and nothing is lost when one restarts. Each collector costs a few indexed queries
or Redis commands. Apps above core add their own collectors with register_collector() in their
AppConfig.ready() (takedowns adds the outbox, re-check and deadline figures).

Access: `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time), or a signed-in
administrator who passed two-factor sign-in. Anyone else gets 404, as if there were no page.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily

from core import health, taskmonitor
from core.roles import Role

logger = logging.getLogger(__name__)
PREFIX = "victimsupport"
# The classic text format, which every Prometheus version reads (our names are plain ASCII).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Collector = Callable[[], Iterable[Metric]]
_collectors: list[Collector] = []

# Audit actions worth an alert; counted over the last day (the audit log's action and time are indexed).
ALERT_ACTIONS = ("audit.chain_broken", "evidence.verify_failed")


def register_collector(collector: Collector) -> None:
    if collector not in _collectors:
        _collectors.append(collector)


def name(metric: str) -> str:
    return f"{PREFIX}_{metric}"


# Core's own figures ---------------------------------------------------------------------------


def _queue_metrics() -> Iterable[Metric]:
    counted = health.broker_queue_lengths()
    if counted is None:
        return  # the embedded file-system broker has no queue to measure
    lengths, unacked = counted
    length = GaugeMetricFamily(name("queue_length"), "Messages waiting in a Celery queue.", labels=["queue"])
    for queue, n in lengths.items():
        length.add_metric([queue], float(n))
    yield length
    yield GaugeMetricFamily(
        name("queue_unacked"),
        "Messages taken by a worker and not yet acknowledged (running or reserved).",
        value=float(unacked),
    )
    # The alert for a worker started with -Q that leaves a queue out (docs/operations.md, "Alerts").
    # Workers are asked only when a queue holds messages; left out when they cannot be asked.
    unconsumed = health.queues_without_consumer()
    if unconsumed is not None:
        stalled = {q.name for q in unconsumed}
        family = GaugeMetricFamily(
            name("queue_without_consumer"), "1 when a Celery queue holds messages and no running worker consumes it.",
            labels=["queue"],
        )  # fmt: skip
        for queue in lengths:
            family.add_metric([queue], 1.0 if queue in stalled else 0.0)
        yield family


def _task_metrics() -> Iterable[Metric]:
    client = taskmonitor._redis()
    if client is None:
        return
    names = sorted(
        n.decode() if isinstance(n, bytes) else str(n) for n in client.smembers(taskmonitor.metrics_key(taskmonitor.TASKS_KEY))
    )
    pipe = client.pipeline(transaction=False)
    for task in names:
        pipe.hgetall(taskmonitor.metrics_key(f"metrics:task:{task}"))
    rows = pipe.execute() if names else []
    runtime = SummaryMetricFamily(name("task_runtime_seconds"), "Time Celery tasks took to run.", labels=["task"])
    wait = SummaryMetricFamily(name("task_queue_wait_seconds"), "Time Celery tasks waited in the queue before a worker started them.", labels=["task"])  # fmt: skip
    failures = CounterMetricFamily(name("task_failures"), "Celery task runs that ended in failure.", labels=["task"])
    retries = CounterMetricFamily(name("task_retries"), "Celery task runs that asked to be retried.", labels=["task"])
    success = GaugeMetricFamily(name("task_last_success_timestamp_seconds"), "When a Celery task last succeeded (Unix time).", labels=["task"])  # fmt: skip
    for task, raw in zip(names, rows, strict=True):
        row = {k.decode(): float(v) for k, v in raw.items()}
        runtime.add_metric([task], int(row.get("runs", 0)), row.get("run_seconds", 0.0))
        wait.add_metric([task], int(row.get("waits", 0)), row.get("wait_seconds", 0.0))
        failures.add_metric([task], row.get("failures", 0.0))
        retries.add_metric([task], row.get("retries", 0.0))
        if "last_success" in row:
            success.add_metric([task], row["last_success"])
    yield from (runtime, wait, failures, retries, success)


def _system_metrics() -> Iterable[Metric]:
    from core.models import AuditEvent, SystemState, TaskFailure

    now = timezone.now()
    states = {s.key: s for s in SystemState.objects.filter(key__in=["beat_heartbeat", "audit_chain_check"])}
    beat = states.get("beat_heartbeat")
    if beat is not None:
        yield GaugeMetricFamily(
            name("beat_heartbeat_age_seconds"), "Seconds since a worker last ran beat's heartbeat task (every minute).",
            value=(now - beat.updated_at).total_seconds(),
        )  # fmt: skip
    chain = states.get("audit_chain_check")
    if chain is not None:
        yield GaugeMetricFamily(
            name("audit_chain_ok"), "1 when the last scheduled audit-chain check found the chain intact, else 0.",
            value=1.0 if chain.value.get("ok") else 0.0,
        )  # fmt: skip
        yield GaugeMetricFamily(
            name("audit_chain_checked_timestamp_seconds"), "When the audit chain was last checked (Unix time).",
            value=chain.updated_at.timestamp(),
        )  # fmt: skip
    events = dict(
        AuditEvent.objects.filter(created_at__gte=now - timedelta(days=1), action__in=ALERT_ACTIONS)
        .values_list("action")
        .annotate(n=Count("id"))
        .values_list("action", "n")
    )
    alerts = GaugeMetricFamily(name("alert_events_24h"), "Audit events that call for an operator, over the last 24 hours.", labels=["action"])  # fmt: skip
    for action in ALERT_ACTIONS:
        alerts.add_metric([action], float(events.get(action, 0)))
    yield alerts
    yield GaugeMetricFamily(
        name("task_failures_open"), "Failed Celery tasks on the failed-work page, neither retried nor dismissed.",
        value=float(TaskFailure.objects.filter(retried_at=None, dismissed_at=None).count()),
    )  # fmt: skip


class _Collector:
    """Runs every registered collector at scrape time; one that fails is reported, not fatal."""

    def collect(self) -> Iterable[Metric]:
        errors = GaugeMetricFamily(name("metrics_collector_errors"), "Collectors that failed during this scrape.", labels=["collector"])  # fmt: skip
        for collector in [_queue_metrics, _task_metrics, _system_metrics, *_collectors]:
            label = f"{collector.__module__}.{collector.__qualname__}"
            try:
                yield from list(collector())
                errors.add_metric([label], 0.0)
            except Exception:
                logger.exception("metrics collector %s failed", label)
                errors.add_metric([label], 1.0)
        yield errors


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    started = time.monotonic()
    body = generate_latest(registry)
    took = time.monotonic() - started
    footer = f"# HELP {name('scrape_seconds')} Time this scrape took.\n# TYPE {name('scrape_seconds')} gauge\n{name('scrape_seconds')} {took:.6f}\n"
    return body + footer.encode()


def _authorised(request: HttpRequest) -> bool:
    token = str(settings.METRICS_TOKEN or "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())
    user: Any = getattr(request, "user", None)
    verified = bool(user is not None and user.is_authenticated and getattr(user, "is_verified", lambda: False)())
    return verified and getattr(user, "role", None) == Role.ADMIN and not getattr(user, "is_service_account", False)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method != "GET" or not _authorised(request):
        raise Http404
    return HttpResponse(render(), content_type=CONTENT_TYPE)
