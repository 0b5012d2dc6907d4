from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import override_code_field


class BulkForm(forms.Form):
    prefix = "bulk"
    urls = forms.CharField(
        label=_("Addresses to take down (paste one per line, or CSV)"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=2_000_000,
    )
    csv_file = forms.FileField(label=_("…or a text or CSV file"), required=False)
    evidence = forms.MultipleChoiceField(label=_("Link to evidence"), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: object, evidence_choices: object = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["evidence"].choices = list(evidence_choices)  # type: ignore[attr-defined, call-overload]


class ApproveForm(forms.Form):
    override_reason = forms.CharField(
        label=_("Supervisor override: why send without the victim's consent?"), required=False, max_length=1000
    )
    override_code = override_code_field()
