"""Platforms that receive takedown notices. Requests, notices and the outbox arrive with issue 4."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    API = "api", _("Notice API")
    EMAIL = "email", _("E-mail")
    MANUAL = "manual", _("Web form (manual)")


class Platform(models.Model):
    name = models.CharField(max_length=120, unique=True)
    domains = models.JSONField(default=list, help_text=_("Host names or IP addresses this platform serves."))
    jurisdiction = models.CharField(max_length=8, default="KR")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    endpoint = models.URLField(blank=True, default="")
    email = models.EmailField(blank=True, default="")
    web_form_url = models.URLField(blank=True, default="")
    notice_language = models.CharField(max_length=10, default="en")
    sla_hours = models.PositiveIntegerField(default=24)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
