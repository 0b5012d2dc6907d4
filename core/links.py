"""Absolute links for e-mails, which leave the request that could say the site's address."""

from __future__ import annotations

from django.conf import settings


def site_url() -> str:
    """SITE_URL, or https:// and the first concrete ALLOWED_HOSTS entry; "" when there is none."""
    base = str(getattr(settings, "SITE_URL", "") or "").rstrip("/")
    if base:
        return base
    hosts = [h for h in settings.ALLOWED_HOSTS if h and "*" not in h and not h.startswith(".")]
    return f"https://{hosts[0]}" if hosts else ""
