"""Notices by e-mail. The subject carries a reference token so replies can be matched, and the
Message-ID is derived from the idempotency key so a repeated send is recognisable as the same."""

from __future__ import annotations

import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage

from takedowns.transports import Result


def send(notice: Any) -> Result:
    recipient = notice.recipient
    if not recipient:
        return Result("failed", detail="The platform has no abuse address.")
    message = EmailMessage(
        subject=notice.subject,
        body=notice.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        headers={
            "Message-ID": f"<notice-{notice.idempotency_key}@{settings.NOTICE_MESSAGE_ID_DOMAIN}>",
            "X-Notice-Id": str(notice.idempotency_key),
        },
    )
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        return Result("failed", detail=f"The mail server refused the address: {exc}"[:500])
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return Result("retry", detail=f"{type(exc).__name__}: {exc}"[:500])
    return Result("delivered", ticket="")
