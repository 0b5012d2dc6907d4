from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.models import Centre
from core.roles import Role


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True})
    )
    password = forms.CharField(
        label=_("Password"), max_length=256, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("6-digit code from your authenticator app"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits shown in your authenticator app.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "maxlength": 8}
        ),
    )

    def clean_code(self) -> str:
        return str(self.cleaned_data["code"]).strip()


def override_code_field() -> forms.RegexField:
    """The fresh code a supervisor types to act without the victim's consent (core.twofactor.step_up)."""
    return forms.RegexField(
        label=_("Fresh authenticator code (for an override)"),
        regex=r"^\s*\d{6}\s*$",
        required=False,
        help_text=_("Acting without consent asks for a new code; the one you signed in with does not count."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class AuditFilterForm(forms.Form):
    # Codes stay in the query string (links can be shared); people choose among words. A subject
    # ("case.") selects all of its actions, because the view filters by prefix.
    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.CharField(label=_("User"), required=False, max_length=150)
    object_type = forms.CharField(label=_("Record type"), required=False, max_length=60)
    object_id = forms.CharField(label=_("Record id"), required=False, max_length=64)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from core import audit_words

        super().__init__(*args, **kwargs)
        subjects = sorted(((f"{code}.", str(label)) for code, label in audit_words.SUBJECTS.items()), key=lambda c: c[1])
        action = self.fields["action"]
        assert isinstance(action, forms.ChoiceField)
        action.choices = [
            ("", _("Any action")),
            (_("Everything about"), subjects),
            (_("One action"), audit_words.action_choices()),
        ]


_STAFF_ROLES = [(r.value, r.label) for r in Role if r != Role.PARTNER]


class UserInviteForm(forms.Form):
    """Who and where; never a password: the person sets their own from the e-mailed invitation."""

    username = forms.RegexField(label=_("Username"), max_length=150, regex=r"^[\w.@+-]+$")
    email = forms.EmailField(label=_("E-mail"), help_text=_("The invitation link goes to this address."))
    role = forms.ChoiceField(label=_("Role"), choices=_STAFF_ROLES)
    centre = forms.ModelChoiceField(label=_("Centre"), queryset=Centre.objects.all())


class UserChangeForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=_STAFF_ROLES)
    centre = forms.ModelChoiceField(label=_("Centre"), queryset=Centre.objects.all())
    code = forms.CharField(
        label=_("A new code from your authenticator app"),
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, service_account: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if service_account:
            # Machine clients may also be partner platforms.
            role = self.fields["role"]
            assert isinstance(role, forms.ChoiceField)
            role.choices = [(r.value, r.label) for r in Role]
