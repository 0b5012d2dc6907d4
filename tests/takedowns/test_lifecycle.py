"""Re-sending while still up, reappearance, reminders, overdue and escalation to the regulator.
Services are called in-process here; time is moved by editing the stored timestamps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from takedowns import services
from takedowns.models import CheckOutcome, Notice, TakedownRequest
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db(transaction=True)


def _sent_request(simulator, caseworker, path: str = "/life/1") -> TakedownRequest:
    case = consenting_case(caseworker)
    url = simulator.host_page(path, "<html>post</html>")
    request = services.takedown_create(case=case, url=url, acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    notice = Notice.objects.get(request=request)
    assert services.deliver(notice.pk) == "delivered"
    request.refresh_from_db()
    assert request.status == "sent"
    return request


def test_still_up_a_day_later_sends_the_notice_again(simulator, sim_platform, caseworker) -> None:
    request = _sent_request(simulator, caseworker)
    services.record_check(request.pk, CheckOutcome.STILL_UP, http_status=200, distance=0, detail="")
    assert Notice.objects.filter(request=request).count() == 1  # not yet a day
    TakedownRequest.objects.filter(pk=request.pk).update(last_notice_at=timezone.now() - timedelta(hours=25))
    services.record_check(request.pk, CheckOutcome.STILL_UP, http_status=200, distance=0, detail="")
    resend = Notice.objects.get(request=request, kind="resend")
    assert services.deliver(resend.pk) == "delivered"
    assert len(simulator.unique_notices()) == 2
    # A second check right away does not queue a third notice.
    services.record_check(request.pk, CheckOutcome.STILL_UP, http_status=200, distance=0, detail="")
    assert Notice.objects.filter(request=request).count() == 2


def _removed(request: TakedownRequest, status: int = 404) -> None:
    """A first look finds the page gone; the second look (settings.REMOVAL_CONFIRM_DELAY_S = 0 here) agrees."""
    services.record_check(request.pk, CheckOutcome.REMOVED, http_status=status, distance=None, detail=f"HTTP {status}")
    assert TakedownRequest.objects.get(pk=request.pk).status == "sent"  # one look is not enough
    services.record_check(
        request.pk, CheckOutcome.REMOVED, http_status=status, distance=None, detail=f"HTTP {status}", second_look=True
    )


def test_removed_then_back_reopens_and_resends(simulator, sim_platform, caseworker, settings) -> None:
    settings.REMOVAL_CONFIRM_DELAY_S = 0
    request = _sent_request(simulator, caseworker)
    _removed(request)
    request.refresh_from_db()
    assert request.status == "removed"
    assert request.removed_at is not None
    first_look = request.checks.order_by("at", "id").first().at
    assert abs((request.removed_at - first_look).total_seconds()) < 1  # the first look's time, not the second's
    assert request.watch_until - request.removed_at >= timedelta(days=29)
    assert (request.next_check_at - timezone.now()) > timedelta(days=6)  # watched weekly
    services.record_check(request.pk, CheckOutcome.STILL_UP, http_status=200, distance=3, detail="back again")
    request.refresh_from_db()
    assert request.status == "reappeared"
    assert request.reappeared_at is not None
    assert Notice.objects.filter(request=request, kind="resend", status="pending").count() == 1
    assert request.case.events.filter(kind="takedown", data__status="reappeared").exists()


def test_inconclusive_never_counts_as_removed(simulator, sim_platform, caseworker) -> None:
    request = _sent_request(simulator, caseworker)
    for _ in range(3):
        services.record_check(request.pk, CheckOutcome.INCONCLUSIVE, http_status=503, distance=None, detail="HTTP 503")
    request.refresh_from_db()
    assert request.status == "sent"
    assert request.removed_at is None
    assert request.next_check_at is not None


def test_watching_stops_after_the_watch_period(simulator, sim_platform, caseworker, settings) -> None:
    settings.REMOVAL_CONFIRM_DELAY_S = 0
    request = _sent_request(simulator, caseworker)
    _removed(request, 410)
    TakedownRequest.objects.filter(pk=request.pk).update(watch_until=timezone.now() - timedelta(seconds=1))
    services.record_check(request.pk, CheckOutcome.REMOVED, http_status=410, distance=None, detail="")
    request.refresh_from_db()
    assert request.next_check_at is None


def test_deadline_reminder_overdue_and_escalation(simulator, sim_platform, caseworker) -> None:
    request = _sent_request(simulator, caseworker)
    assert request.deadline - request.sent_at == timedelta(hours=24)
    TakedownRequest.objects.filter(pk=request.pk).update(deadline=timezone.now() + timedelta(hours=1))
    assert services.process_deadlines()["reminded"] == 1
    assert services.process_deadlines()["reminded"] == 0  # once
    TakedownRequest.objects.filter(pk=request.pk).update(deadline=timezone.now() - timedelta(hours=1))
    counts = services.process_deadlines()
    assert counts["overdue"] == 1
    assert counts["escalated"] == 0  # not yet past the escalation delay
    services.record_check(request.pk, CheckOutcome.STILL_UP, http_status=200, distance=0, detail="")
    TakedownRequest.objects.filter(pk=request.pk).update(deadline=timezone.now() - timedelta(hours=30))
    assert services.process_deadlines()["escalated"] == 1
    request.refresh_from_db()
    assert request.overdue
    assert request.escalation_level == 1
    escalation = Notice.objects.get(request=request, kind="escalation")
    assert escalation.recipient == "regulator@kcsc.example"
    assert services.deliver(escalation.pk) == "delivered"
    [message] = [m for m in mail.outbox if "regulator@kcsc.example" in m.to]
    assert request.url in message.body
    assert "still_up" in message.body  # the request's history goes with it
    assert request.case.reference in message.subject
    assert services.process_deadlines()["escalated"] == 0  # not again until the repeat interval


def test_minor_cases_get_the_shortest_deadline(caseworker, simulator) -> None:
    services.platform_create(
        acting_user=None, name="ID host", domains=["127.0.0.1"], channel="api", endpoint=simulator.endpoint,
        secret="test-shared-secret", jurisdiction="ID", sla_hours=24,
    )  # fmt: skip
    from tests import factories

    case = factories.make_case(caseworker, consent={"takedown": True}, victim={"pseudonym": "Young", "is_minor": True})
    request = services.takedown_create(case=case, url=simulator.host_page("/minor", "<html>x</html>"), acting_user=caseworker)
    services.takedown_approve(requests=[request], acting_user=caseworker)
    services.deliver(Notice.objects.get(request=request).pk)
    request.refresh_from_db()
    assert request.urgent
    assert request.deadline - request.sent_at == timedelta(hours=4)


def test_the_caseworker_sees_removal_and_reappearance_in_the_api_and_the_lists(
    simulator, sim_platform, caseworker, settings, api_for, client_for
) -> None:
    """The states above, as the caseworker's program and pages show them."""
    from tests.pagetext import visible_text

    settings.REMOVAL_CONFIRM_DELAY_S = 0
    request = _sent_request(simulator, caseworker, "/life/seen")
    api, page = api_for(caseworker), client_for(caseworker)
    _removed(request)
    body = api.get(f"/api/v1/takedowns/{request.pk}/").json()
    assert body["status"] == "removed" and body["removed_at"]
    assert [c["outcome"] for c in body["checks"]] == ["removed", "removed"]
    assert "Removed" in visible_text(page.get(f"/takedowns/{request.pk}/").content.decode())

    services.record_check(request.pk, CheckOutcome.STILL_UP, http_status=200, distance=3, detail="back again")
    assert api.get(f"/api/v1/takedowns/{request.pk}/").json()["status"] == "reappeared"
    listed = [r["id"] for r in api.get("/api/v1/takedowns/", {"status": "reappeared"}).json()]
    assert listed == [str(request.pk)]
    assert request.url in page.get("/takedowns/?status=reappeared").content.decode()
    assert request.url not in page.get("/takedowns/?status=removed").content.decode()
