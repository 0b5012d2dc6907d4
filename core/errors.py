"""Errors that services raise and views/APIs turn into clear answers."""

from __future__ import annotations


class ServiceError(Exception):
    """Bad input or a refused action; the message is shown to the person."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PermissionDenied(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    """Used for both 'missing' and 'not yours', so neither is revealed."""

    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class ConsentRequired(ServiceError):
    """An action needs a consent the victim has not given (a supervisor may override)."""

    status_code = 409
