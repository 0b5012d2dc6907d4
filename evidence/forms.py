from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadForm(forms.Form):
    prefix = "evidence"
    upload = forms.FileField(
        label=_("Files"),
        widget=MultipleFileInput(attrs={"multiple": True}),
        help_text=_("Images, videos or PDF documents. Several at once are fine."),
        required=False,
    )
    source_url = forms.URLField(
        label=_("Where it was found (URL, optional)"), required=False, max_length=2000, assume_scheme="https"
    )
    description = forms.CharField(label=_("Description (optional)"), required=False, max_length=5000)


class RevealForm(forms.Form):
    reason = forms.CharField(label=_("Why do you need to see it unblurred?"), min_length=5, max_length=1000)


class DownloadForm(forms.Form):
    reason = forms.CharField(label=_("Why do you need the original?"), min_length=5, max_length=1000)
    code = forms.RegexField(
        label=_("Fresh authenticator code"),
        regex=r"^\s*\d{6}\s*$",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class GrantForm(forms.Form):
    prefix = "grant"
    user = forms.ChoiceField(label=_("Caseworker"))
    hours = forms.IntegerField(label=_("For how many hours"), min_value=1, max_value=72, initial=4)
    reason = forms.CharField(label=_("Reason"), min_length=5, max_length=1000)

    def __init__(self, *args: object, staff: object = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["user"].choices = [(str(u.pk), u.username) for u in staff]  # type: ignore[attr-defined]
