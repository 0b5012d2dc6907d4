"""A task that fails on request, for the failed-work tests. Loaded by every test worker
(CELERY_IMPORTS in config/settings/test.py); never part of the product."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tests.fail_while_asked")
def fail_while_asked(switch: int) -> str:
    """Fails while SystemState "test-switch-<n>" says {"fail": true}, with a message that holds an
    e-mail address and an IP address (which the recorded failure must not keep); else succeeds."""
    from core.models import SystemState

    state = SystemState.objects.get(key=f"test-switch-{switch}")
    if state.value.get("fail"):
        raise RuntimeError(f"asked to fail; contact {state.value.get('contact', '')} from {state.value.get('ip', '')}")
    state.value = {**state.value, "ran": int(state.value.get("ran", 0)) + 1}
    state.save(update_fields=["value", "updated_at"])
    return "ran"


@shared_task(name="tests.overstay")
def overstay(switch: int, seconds: float) -> str:
    """Runs past its time limits: notes the soft limit in SystemState "test-switch-<n>" and sleeps
    on regardless, as a task stuck in a C call would, so only the hard limit can end it."""
    import time

    from celery.exceptions import SoftTimeLimitExceeded

    from core.models import SystemState

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except SoftTimeLimitExceeded:
            SystemState.objects.update_or_create(key=f"test-switch-{switch}", defaults={"value": {"soft_limit": True}})
    return "overstayed"
