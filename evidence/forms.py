from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Accepts several files in one field (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


class UploadForm(forms.Form):
    prefix = "evidence"
    upload = MultipleFileField(
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


class CaptureForm(forms.Form):
    prefix = "capture"
    urls = forms.CharField(
        label=_("Web addresses to preserve (one per line)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=200_000,
        help_text=_("A worker saves each page as a web archive and stores every image and video on it as locked evidence."),
    )
