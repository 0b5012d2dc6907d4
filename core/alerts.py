"""Operational alerts to the centre's administrators (e-mail). Never carries victim content."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

from core.models import User
from core.roles import Role

logger = logging.getLogger(__name__)


def notify_admins(*, subject: str, body: str) -> int:
    recipients = list(
        User.objects.filter(role=Role.ADMIN, is_active=True, is_service_account=False)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        logger.warning("alert with no admin e-mail to send to: %s", subject)
        return 0
    return send_mail(f"[{settings.CENTRE_NAME}] {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)
