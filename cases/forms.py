from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.models import (
    CaseStatus,
    Category,
    ConsentKind,
    ConsentMethod,
    ContactChannel,
    Priority,
    ReferralKind,
    ReferralStatus,
)
from core.forms import override_code_field


class CaseFilterForm(forms.Form):
    q = forms.CharField(label=_("Search reference or pseudonym"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any"))] + list(CaseStatus.choices))
    category = forms.ChoiceField(label=_("Category"), required=False, choices=[("", _("Any"))] + list(Category.choices))
    priority = forms.ChoiceField(label=_("Priority"), required=False, choices=[("", _("Any"))] + list(Priority.choices))
    assignee = forms.ChoiceField(label=_("Assigned to"), required=False)

    def __init__(self, *args: object, staff: object = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = [("", _("Anyone")), ("me", _("Me")), ("none", _("Nobody"))]
        choices += [(str(u.pk), u.username) for u in staff]  # type: ignore[attr-defined]
        self.fields["assignee"].choices = choices  # type: ignore[attr-defined]


class CaseForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    summary = forms.CharField(
        label=_("What happened"), required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 5})
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=Priority.choices,
        initial=Priority.NORMAL,
        help_text=_("A case with a minor or spreading material is always urgent."),
    )
    is_spreading = forms.BooleanField(label=_("The material is actively spreading"), required=False)
    pseudonym = forms.CharField(
        label=_("Pseudonym"), max_length=100, help_text=_("A name for the file. Never the victim's real name.")
    )
    # Three answers: "not known" (or the victim preferred not to say) is kept, never read as "no".
    is_minor = forms.TypedChoiceField(
        label=_("Is the victim under 18?"),
        required=False,
        choices=[("", _("Not known")), ("True", _("Yes")), ("False", _("No"))],
        coerce=lambda v: {"True": True, "False": False}.get(v),
        empty_value=None,
    )
    language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=[("ko", "한국어"), ("en", "English"), ("ja", "日本語"), ("zh", "中文"), ("vi", "Tiếng Việt")],
    )
    legal_name = forms.CharField(label=_("Legal name (optional, encrypted)"), required=False, max_length=300)
    contact_email = forms.EmailField(label=_("E-mail (optional, encrypted)"), required=False)
    contact_phone = forms.CharField(label=_("Phone (optional, encrypted)"), required=False, max_length=40)
    safe_contact_channel = forms.ChoiceField(
        label=_("How we may contact them"), choices=ContactChannel.choices, initial=ContactChannel.NONE
    )
    safe_contact_times = forms.CharField(label=_("Safe times to contact"), required=False, max_length=200)
    may_leave_messages = forms.BooleanField(label=_("Messages may be left"), required=False)

    VICTIM_FIELDS = (
        "pseudonym",
        "is_minor",
        "language",
        "legal_name",
        "contact_email",
        "contact_phone",
        "safe_contact_channel",
        "safe_contact_times",
        "may_leave_messages",
    )


class ConsentForm(forms.Form):
    # Several forms share the case page: prefixes keep their field ids unique.
    prefix = "consent"

    kind = forms.ChoiceField(label=_("Consent"), choices=ConsentKind.choices)
    granted = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("yes", _("Given")), ("no", _("Withdrawn or refused"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    method = forms.ChoiceField(label=_("How it was given"), choices=ConsentMethod.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class AssignForm(forms.Form):
    # Several forms share the case page: prefixes keep their field ids unique.
    prefix = "assign"

    assigned_to = forms.ChoiceField(label=_("Assign to"), required=False)

    def __init__(self, *args: object, staff: object = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["assigned_to"].choices = [("", _("Nobody"))] + [(str(u.pk), u.username) for u in staff]  # type: ignore[attr-defined]


class StatusForm(forms.Form):
    # Several forms share the case page: prefixes keep their field ids unique.
    prefix = "status"

    status = forms.ChoiceField(label=_("Status"), choices=CaseStatus.choices)


class NoteForm(forms.Form):
    # Several forms share the case page: prefixes keep their field ids unique.
    prefix = "note"

    text = forms.CharField(label=_("Add a note"), max_length=20000, widget=forms.Textarea(attrs={"rows": 3}))


class ReferralForm(forms.Form):
    # Several forms share the case page: prefixes keep their field ids unique.
    prefix = "referral"

    kind = forms.ChoiceField(label=_("Refer to"), choices=ReferralKind.choices)
    organisation = forms.CharField(label=_("Organisation"), required=False, max_length=200)
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    override_reason = forms.CharField(
        label=_("Supervisor override: why act without consent?"),
        required=False,
        max_length=1000,
        help_text=_("Only when the victim has not consented. Recorded in the audit log."),
    )
    override_code = override_code_field()


class ReferralStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ReferralStatus.choices)
