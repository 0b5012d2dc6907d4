"""What an API token may do: a small fixed set of scopes, and which of them each role allows.

A scope narrows a token, never widens it: the views and services still check the account's role
and centre. A token issued without scopes gets every scope its role allows (the contract's plain
`issue_api_token --username NAME --role ROLE` keeps working); an operator can issue a narrower
one (`--scope cases:read --scope evidence:read`).

Every API view that a token may reach declares `token_scope`: one scope, or a mapping from HTTP
method to scope (core.api.permissions.TokenScope). A view that declares none is closed to every
token, so a new endpoint is never open to machines by accident.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.roles import Role

SCOPES: dict[str, Promise] = {
    "cases:read": _("Read cases"),
    "cases:write": _("Open and change cases, record consent"),
    "evidence:read": _("Read evidence records"),
    "evidence:write": _("Upload evidence"),
    "takedowns:read": _("Read takedown requests"),
    "takedowns:write": _("Create, send and re-check takedown requests"),
    "platforms:read": _("Read platforms"),
    "platforms:write": _("Add platforms"),
    "match": _("Search for matches"),
    "compliance:read": _("Read compliance figures"),
    "intake:read": _("Read public reports"),
    "intake:write": _("Answer, route and open cases from public reports"),
    "hashlist": _("Pull the shared hash list and send feedback"),
}

_CASEWORK = frozenset(
    {
        "cases:read",
        "cases:write",
        "evidence:read",
        "evidence:write",
        "takedowns:read",
        "takedowns:write",
        "platforms:read",
        "match",
        "intake:read",
        "intake:write",
    }
)

# Reading is scoped by the selectors, whatever the role: an analyst's token that lists cases gets an
# empty list and one that asks for a case gets the same 404 as a case that does not exist, exactly as
# before scopes existed (the contract: "a record the caller may not see answers 404"). So every
# staff role may hold the read scopes; a 403 for a read would tell a caller something a 404 hides.
_READ = frozenset({"cases:read", "evidence:read", "takedowns:read", "platforms:read", "intake:read"})

# What each role's views let it do at all; a scope outside this set would open nothing.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.CASEWORKER: _CASEWORK,
    Role.SUPERVISOR: _CASEWORK | {"compliance:read"},
    Role.ANALYST: _READ | {"compliance:read"},
    Role.ADMIN: _READ | {"platforms:write", "compliance:read", "hashlist"},
    Role.AUDITOR: _READ,
    Role.PARTNER: frozenset({"hashlist"}),
}


def role_scopes(role: str) -> frozenset[str]:
    return ROLE_SCOPES.get(role, frozenset())


def effective_scopes(*, role: str, scopes: list[str] | None) -> frozenset[str]:
    """What a token may do now: its scopes within what its account's role allows today (a role
    changed since issue narrows the token at once). A token issued before scopes existed has
    none stored and gets its role's."""
    allowed = role_scopes(role)
    if not scopes:
        return allowed
    return allowed & frozenset(scopes)


def describe_scopes(scopes: list[str]) -> list[str]:
    """A token's scopes in the reader's language, for the accounts page."""
    return [str(SCOPES.get(scope, scope)) for scope in scopes]
