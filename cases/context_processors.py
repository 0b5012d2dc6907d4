"""The unread-message count in the staff navigation, on every staff page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.roles import CASE_ROLES


def intake_unread(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "role", None) not in CASE_ROLES:
        return {}
    # The public pages never get here (no user); a staff page costs one COUNT query.
    from cases.selectors import unread_message_count

    return {"intake_unread": unread_message_count(user)}
