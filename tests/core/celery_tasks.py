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
