from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

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
