"""Telling staff that a reporter wrote: in the app (unread counts, cases/selectors.py) and by
e-mail to the case's assigned caseworker, or, while nobody is assigned to the case (or the
assigned person's account is closed), to the supervisors of the case's centre: they are the ones
who assign it, and otherwise nobody would be told.

The e-mail says only that there is a new message on case KR-... and where to read it: never the
message, the victim's pseudonym or anything else from the report, because e-mail leaves the
system (mail servers, phones, shared inboxes). It is sent by a Celery worker after the commit:
1. the service saves the message and calls notify_after_commit() inside its transaction;
2. after the commit a task is queued (a rolled-back message queues nothing);
3. the worker loads the message by id and sends the e-mail (no I/O inside a transaction).
A lost wake-up loses only the e-mail: the message itself and its unread count are in the database.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from core.links import site_url

logger = logging.getLogger(__name__)


def email_enabled() -> bool:
    """settings.INTAKE_MESSAGE_EMAIL (on by default) and a mail server to send through."""
    return bool(getattr(settings, "INTAKE_MESSAGE_EMAIL", True)) and bool(getattr(settings, "EMAIL_BACKEND", ""))


def notify_after_commit(message: Any) -> None:
    """Queues the e-mail for a reporter's message once the message is committed."""
    if not email_enabled():
        return
    message_id = message.pk

    def queue() -> None:
        from cases.tasks import notify_new_message

        try:
            notify_new_message.delay(message_id)
        except Exception:  # noqa: BLE001 - the message is saved and counted as unread; only the e-mail is lost
            logger.warning("could not queue the e-mail for intake message %s", message_id)

    transaction.on_commit(queue)


def _recipients(case: Any) -> tuple[list[str], bool]:
    """(addresses, to_supervisors): the assigned caseworker's; or, when nobody (still active) is
    assigned, every active supervisor of the case's centre with an address. An assigned person
    without an address gets no e-mail and no stand-in: they still see the unread count."""
    from core.models import User
    from core.roles import Role

    person = case.assigned_to
    if person is not None and person.is_active:
        return ([person.email] if person.email else []), False
    supervisors = User.objects.filter(
        centre_id=case.centre_id, role=Role.SUPERVISOR, is_active=True, is_service_account=False
    ).exclude(email="")
    return sorted(supervisors.values_list("email", flat=True)), True


def send_new_message_email(message_id: int) -> bool:
    """Sends the e-mail about one reporter message to the case's assigned caseworker, or to the
    centre's supervisors while nobody is assigned. Returns False when there is nobody to tell
    (no case yet: the triage queue shows it; nobody with an address)."""
    from cases.models import IntakeMessage

    message = IntakeMessage.objects.select_related("report__case__assigned_to").filter(pk=message_id).first()
    if message is None or message.from_staff or message.report.case is None:
        return False
    case = message.report.case
    recipients, to_supervisors = _recipients(case)
    if not recipients:
        return False
    link = f"{site_url()}{reverse('cases:detail', args=[case.pk])}#intake-messages"
    # In the centre's language (Korean first); nothing of the victim's words goes in.
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("A new message on case %(ref)s") % {"ref": case.reference}
        body = _(
            "There is a new message from the reporter on case %(ref)s.\n\nRead it in the case system: %(link)s\n\n"
            "(For the victim's safety this e-mail never contains the message itself.)"
        ) % {"ref": case.reference, "link": link}
        if to_supervisors:
            body += "\n\n" + _(
                "Nobody is assigned to this case, so this goes to the supervisors of its centre. "
                "Assign a caseworker to answer the reporter."
            )
    # One e-mail to them all: a retry after a mail server error sends it again whole, never to
    # some of them twice. They are colleagues of one centre, so seeing each other's address is fine.
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    # Counts and ids only: no address and nothing from the report in the logs.
    logger.info(
        "intake message e-mail sent",
        extra={"case_id": case.pk, "message_id": message_id, "recipients": len(recipients), "to_supervisors": to_supervisors},
    )
    return True
