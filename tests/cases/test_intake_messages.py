"""Reporters and staff talk both ways: reporter -> unread count -> staff reply -> the reporter
reads it; the caseworker's e-mail says only that there is a message; wrong receipts learn nothing."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from cases import intake, selectors
from cases.models import IntakeMessage
from tests import factories

pytestmark = pytest.mark.django_db

SECRET_WORDS = "He sent the video to my sister today"


def _submit(**extra) -> str:
    response = APIClient().post(
        "/api/v1/intake/", {"description": "Please help, my photos are on a forum.", "urls": ["https://forum.example/t/9"], **extra},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201
    return response.json()["receipt"]


def _nav_unread(client: Client) -> int:
    page = client.get("/cases/").content.decode()
    found = re.search(r'data-testid="nav-unread">(\d+)<', page)
    return int(found.group(1)) if found else 0


def test_the_round_trip(caseworker, supervisor, client_for, api_for) -> None:
    receipt = _submit()
    public = APIClient()
    sent = public.post("/api/v1/intake/status/messages/", {"receipt": receipt, "text": SECRET_WORDS}, format="json")
    assert sent.status_code == 201
    assert sent.json()["author"] == "reporter"
    report = intake.intake_find(receipt)
    assert report is not None

    # Both staff of the triage centre see it unread, in the navigation of any staff page.
    cw, sup = client_for(caseworker), client_for(supervisor)
    assert _nav_unread(cw) == 1 and _nav_unread(sup) == 1
    listed = {r["id"]: r for r in api_for(caseworker).get("/api/v1/intake/reports/").json()}
    assert listed[str(report.pk)]["unread"] == 1
    unread_queue = cw.get("/intake/?unread=1").content.decode()
    assert f'data-report="{report.pk}"' in unread_queue

    # The caseworker reads it on the report: their count drops; the supervisor's stays (read
    # marks are per person, so one glance does not hide a message from the others).
    page = cw.get(f"/intake/{report.pk}/").content.decode()
    assert SECRET_WORDS in page and 'data-testid="unread-on-report">1<' in page
    assert _nav_unread(cw) == 0 and _nav_unread(sup) == 1

    # The reply, through the API as the contract says.
    reply = api_for(caseworker).post(f"/api/v1/intake/reports/{report.pk}/messages/", {"text": "We are on it. Stay safe."})
    assert reply.status_code == 201 and reply.json()["author"] == "staff"
    empty = api_for(caseworker).post(f"/api/v1/intake/reports/{report.pk}/messages/", {"text": "  "})
    assert empty.status_code == 400

    status = public.post("/api/v1/intake/status/", {"receipt": receipt}, format="json").json()
    assert [(m["author"], m["text"]) for m in status["messages"]] == [
        ("reporter", SECRET_WORDS),
        ("staff", "We are on it. Stay safe."),
    ]
    # "at" is the day only: no time of day is kept for a reporter's actions.
    # ISO 8601 with the centre's time zone, as every timestamp of the API, but no time of day.
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00\+09:00", m["at"]) for m in status["messages"])
    detail = api_for(supervisor).get(f"/api/v1/intake/reports/{report.pk}/").json()
    assert [m["author"] for m in detail["messages"]] == ["reporter", "staff"]
    assert set(detail) >= {"id", "centre", "status", "description", "urls", "messages"}
    assert _nav_unread(sup) == 0  # reading it through the API counts too

    # The status page shows the thread, in words (never the codes "reporter"/"staff").
    html = Client().post("/report/status/", {"receipt": receipt, "lang": "en"}).content.decode()
    thread = html[html.index('data-testid="thread"') :]
    assert "We are on it. Stay safe." in thread and "The centre" in thread and "You" in thread


def test_messages_are_encrypted_at_rest() -> None:
    from django.db import connection

    receipt = _submit()
    report = intake.intake_find(receipt)
    intake.intake_reply(report=report, text=SECRET_WORDS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM cases_intakemessage")
        stored = [row[0] for row in cursor.fetchall()]
    assert stored and all(SECRET_WORDS not in value for value in stored)


def test_a_wrong_receipt_answers_the_same_404_as_the_status_call() -> None:
    receipt = _submit()
    wrong = receipt[:-1] + ("A" if not receipt.endswith("A") else "B")
    public = APIClient()
    message = public.post("/api/v1/intake/status/messages/", {"receipt": wrong, "text": "hello"}, format="json")
    status = public.post("/api/v1/intake/status/", {"receipt": wrong}, format="json")
    assert message.status_code == status.status_code == 404
    assert message.json() == status.json()
    assert not IntakeMessage.objects.exists()


def test_the_assigned_caseworker_gets_an_email_without_any_victim_content(
    region, client_for, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from cases import tasks

    busan_cw = factories.make_user("caseworker", region, username="busan_mail", email="busan.cw@example.org")
    receipt = _submit(centre="busan")
    report = intake.intake_find(receipt)
    case = intake.intake_open_case(report=report, acting_user=busan_cw, pseudonym="Willow Creek", category="deepfake")
    queued: list[int] = []
    monkeypatch.setattr(tasks.notify_new_message, "delay", lambda message_id: queued.append(message_id))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        APIClient().post("/api/v1/intake/status/messages/", {"receipt": receipt, "text": SECRET_WORDS}, format="json")
        assert queued == []  # nothing leaves inside the transaction
    for callback in callbacks:
        callback()
    assert len(queued) == 1  # queued once the message was committed

    mail.outbox.clear()
    assert tasks.notify_new_message(queued[0]) is True  # what the worker runs
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["busan.cw@example.org"]
    everything = email.subject + email.body
    assert case.reference in email.subject and case.reference in email.body
    assert f"/cases/{case.pk}/#intake-messages" in email.body
    for private in (SECRET_WORDS, "Willow Creek", "forum.example", "Please help"):
        assert private not in everything

    # The case page shows the thread, unread, and a reply from there reaches the reporter.
    cw = client_for(busan_cw)
    page = cw.get(f"/cases/{case.pk}/").content.decode()
    assert SECRET_WORDS in page and 'data-testid="unread-on-case">1<' in page
    response = cw.post(f"/intake/{report.pk}/", {"action": "message", "text": "Thank you for telling us.", "back": "case"})
    assert response["Location"] == f"/cases/{case.pk}/#intake-messages"
    status = APIClient().post("/api/v1/intake/status/", {"receipt": receipt}, format="json").json()
    assert status["messages"][-1] == {"at": status["messages"][-1]["at"], "author": "staff", "text": "Thank you for telling us."}


def test_no_email_when_switched_off_or_nobody_is_assigned(
    caseworker, settings, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from cases import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.notify_new_message, "delay", lambda message_id: queued.append(message_id))
    receipt = _submit()
    report = intake.intake_find(receipt)
    with django_capture_on_commit_callbacks(execute=True):
        message = intake.intake_reply(report=report, text="no case yet")
    assert tasks.notify_new_message(message.pk) is False  # no case, nobody to tell: the queue shows it
    settings.INTAKE_MESSAGE_EMAIL = False
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        intake.intake_reply(report=report, text="second")
    assert queued == []


def test_selectors_for_my_work(caseworker, supervisor) -> None:
    receipt = _submit()
    report = intake.intake_find(receipt)
    intake.intake_reply(report=report, text="one")
    intake.intake_reply(report=report, text="two")
    assert selectors.unread_message_count(caseworker) == 2
    assert list(selectors.reports_with_unread_messages(caseworker)) == [report]
    intake.intake_mark_read(report=report, user=caseworker)
    assert selectors.unread_message_count(caseworker) == 0
    assert selectors.unread_message_count(supervisor) == 2


def test_a_newcomer_does_not_inherit_old_read_messages_but_never_misses_an_unread_one(central, client_for) -> None:
    """Read marks are per person: a new member of staff must not find years of messages unread,
    yet a message nobody has read yet, however old, stays unread for everyone."""
    from datetime import timedelta

    from django.utils import timezone

    from core.models import User

    veteran = factories.make_user("caseworker", central, username="veteran_cw")
    User.objects.filter(pk=veteran.pk).update(date_joined=timezone.now() - timedelta(days=400))
    veteran.refresh_from_db()
    month_ago = timezone.localdate() - timedelta(days=30)

    answered = intake.intake_find(_submit())
    old_read = intake.intake_reply(report=answered, text="old, and the centre read it")
    intake.intake_staff_message(report=answered, text="We read you.", acting_user=veteran)  # marks it read
    forgotten = intake.intake_find(_submit())
    old_unread = intake.intake_reply(report=forgotten, text="old, and nobody has read it")
    IntakeMessage.objects.filter(pk__in=[old_read.pk, old_unread.pk]).update(sent_on=month_ago)  # written a month ago

    newcomer = factories.make_user("caseworker", central, username="newcomer_cw")  # joins today
    today = intake.intake_reply(report=answered, text="written on the day the newcomer joined")

    # The old message the centre has read is history for the newcomer; the one nobody read is not.
    assert selectors.unread_counts_by_report(newcomer, [answered.pk, forgotten.pk]) == {answered.pk: 1, forgotten.pk: 1}
    assert selectors.unread_message_count(newcomer) == 2
    assert set(selectors.reports_with_unread_messages(newcomer)) == {answered, forgotten}
    assert _nav_unread(client_for(newcomer)) == 2
    # For the veteran nothing changes: the old unread message and today's are unread.
    assert selectors.unread_message_count(veteran) == 2

    # Once anyone reads the forgotten message, it stops counting for the newcomer too ...
    intake.intake_mark_read(report=forgotten, user=veteran)
    assert selectors.unread_counts_by_report(newcomer, [answered.pk, forgotten.pk]) == {answered.pk: 1}
    # ... but a message from the day they joined counts until they read it themselves.
    intake.intake_mark_read(report=answered, user=veteran)
    assert selectors.unread_message_count(newcomer) == 1
    intake.intake_mark_read(report=answered, user=newcomer)
    assert selectors.unread_message_count(newcomer) == 0
    assert today.report_id == answered.pk


def test_with_nobody_assigned_the_centres_supervisors_get_the_email_without_victim_content(
    central, region, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from cases import tasks
    from cases.services import case_assign
    from core import services as core_services
    from core.models import User

    sup_one = factories.make_user("supervisor", region, username="busan_sup_one", email="sup.one@example.org")
    factories.make_user("supervisor", region, username="busan_sup_two", email="sup.two@example.org")
    gone = factories.make_user("supervisor", region, username="busan_sup_gone", email="gone@example.org")
    no_address = factories.make_user("supervisor", region, username="busan_sup_noaddr")
    core_services.user_set_active(user=gone, active=False)
    User.objects.filter(pk=no_address.pk).update(email="")  # an account made without one
    busan_cw = factories.make_user("caseworker", region, username="busan_cw_later", email="busan.later@example.org")
    factories.make_user("supervisor", central, username="central_sup_mail", email="central.sup@example.org")

    receipt = _submit(centre="busan")
    report = intake.intake_find(receipt)
    # A supervisor opens the case: nobody is assigned to it yet.
    case = intake.intake_open_case(report=report, acting_user=sup_one, pseudonym="Quiet Harbour", category="deepfake")
    assert case.assigned_to is None
    queued: list[int] = []
    monkeypatch.setattr(tasks.notify_new_message, "delay", lambda message_id: queued.append(message_id))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        APIClient().post("/api/v1/intake/status/messages/", {"receipt": receipt, "text": SECRET_WORDS}, format="json")
        assert queued == []  # nothing leaves inside the transaction
    for callback in callbacks:
        callback()
    assert len(queued) == 1

    mail.outbox.clear()
    assert tasks.notify_new_message(queued[0]) is True  # what the worker runs
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    # The case's centre's active supervisors with an address; not another centre's, not a closed account.
    assert sorted(email.to) == ["sup.one@example.org", "sup.two@example.org"]
    everything = email.subject + email.body + " ".join(email.to)
    assert case.reference in email.subject and f"/cases/{case.pk}/#intake-messages" in email.body
    for private in (SECRET_WORDS, "Quiet Harbour", "forum.example", "Please help", "my photos"):
        assert private not in everything

    # Once a caseworker is assigned, only they are told ...
    case_assign(case=case, assignee=busan_cw, acting_user=sup_one)
    mail.outbox.clear()
    message = intake.intake_reply(report=report, text="Another secret detail")
    assert tasks.notify_new_message(message.pk) is True
    assert [m.to for m in mail.outbox] == [["busan.later@example.org"]]
    # ... and when their account is closed, the supervisors are again.
    core_services.user_set_active(user=busan_cw, active=False)
    mail.outbox.clear()
    assert tasks.notify_new_message(message.pk) is True
    assert sorted(mail.outbox[0].to) == ["sup.one@example.org", "sup.two@example.org"]
    assert "Another secret detail" not in mail.outbox[0].body + mail.outbox[0].subject


def test_both_threads_show_the_day_of_each_message(caseworker, client_for) -> None:
    from django.utils import timezone

    receipt = _submit()
    report = intake.intake_find(receipt)
    intake.intake_reply(report=report, text="Any news?")
    intake.intake_staff_message(report=report, text="We are on it.", acting_user=caseworker)
    day = timezone.localdate().isoformat()
    # The reporter's status page and the staff's report page: the day, never a time of day.
    status_page = Client().post("/report/status/", {"receipt": receipt, "lang": "en"}).content.decode()
    staff_page = client_for(caseworker).get(f"/intake/{report.pk}/").content.decode()
    for page in (status_page, staff_page):
        assert page.count(f'<time datetime="{day}">{day}</time>') == 2
