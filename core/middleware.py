from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

# Paths reachable without a verified staff session. Everything else is closed by default,
# so a new page is protected even if its author forgets to add a check.
PUBLIC_PREFIXES = (
    "/accounts/",
    "/static/",
    "/i18n/",
    "/api/",  # the API authenticates itself (token, or a verified session)
    "/healthz",
    "/readyz",
    "/metrics",  # answers a bearer token or a verified administrator itself, 404 to anyone else
    "/report/",
    "/transparency/",
)
# Exact paths open to anyone: the public landing page (core.views.home_view sends staff on).
PUBLIC_PATHS = frozenset({"/"})


class StaffTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PUBLIC_PREFIXES) and request.path not in PUBLIC_PATHS:
            user = request.user
            verified = user.is_authenticated and getattr(user, "is_verified", lambda: False)()
            if not verified or getattr(user, "is_service_account", False):
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse('core:login')}?{query}")
        return self.get_response(request)


class SessionLifetimeMiddleware:
    """Ends a session SESSION_ABSOLUTE_TIMEOUT seconds after sign-in, however busy it stays.

    The idle limit (SESSION_COOKIE_AGE, renewed on every request) alone lets a stolen or
    forgotten session live for ever as long as something keeps using it. The sign-in time is
    stamped by core.twofactor.complete; a signed-in session without one (made before this check
    existed) is stamped on its first request, so it too ends within the limit.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from core.twofactor import SIGNED_IN_AT_KEY

        if request.user.is_authenticated:
            now = time.time()
            signed_in = request.session.get(SIGNED_IN_AT_KEY)
            if signed_in is None:
                request.session[SIGNED_IN_AT_KEY] = now
            elif now - float(signed_in) > settings.SESSION_ABSOLUTE_TIMEOUT:
                # logout() flushes the session; the person signs in again with both factors.
                logout(request)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """A strict CSP everywhere (every asset is the project's own) and no caching of staff pages."""

    CSP = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.CSP)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response
