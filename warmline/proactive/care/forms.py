"""Forms for leads: playbooks and care settings. Lists are typed as comma-separated words."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from warmline.customers.models import Tier
from warmline.tenancy.models import Member

from .models import Playbook


def _words(value: str) -> list[str]:
    return [w.strip() for w in (value or "").split(",") if w.strip()]


class PlaybookForm(forms.ModelForm):
    """Trigger, conditions and actions on one page; services.save_playbook validates."""

    tiers = forms.MultipleChoiceField(
        label=_("Tiers"), choices=Tier.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    languages = forms.CharField(
        label=_("Languages"), required=False, help_text=_("Comma-separated, e.g. en, es.")
    )
    tags = forms.CharField(
        label=_("Tags (any of)"), required=False, help_text=_("Comma-separated.")
    )
    attributes = forms.CharField(
        label=_("Custom attributes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One key=value per line; all must match."),
    )
    owners = forms.ModelMultipleChoiceField(
        label=_("Owners"), queryset=Member.objects.none(), required=False
    )

    class Meta:
        model = Playbook
        fields = [
            "name",
            "description",
            "is_active",
            "trigger",
            "event_type",
            "days",
            "threshold",
            "date_label",
            "tiers",
            "languages",
            "ltv_min",
            "ltv_max",
            "tags",
            "owners",
            "attributes",
            "message_subject",
            "message_body",
            "task_text",
            "task_due_days",
            "incentive",
            "incentive_amount",
            "note_text",
            "allow_open_conversation",
        ]
        widgets = {"message_body": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owners"].queryset = Member.objects.filter(
            workspace=workspace, is_active=True
        ).select_related("user")
        if self.instance.pk:
            self.initial["languages"] = ", ".join(self.instance.languages or [])
            self.initial["tags"] = ", ".join(self.instance.tags or [])
            self.initial["attributes"] = "\n".join(
                f"{k}={v}" for k, v in (self.instance.attributes or {}).items()
            )
            self.initial["owners"] = list(self.instance.owners.values_list("pk", flat=True))

    GROUPS = (
        (_("Playbook"), ("name", "description", "is_active")),
        (_("Trigger"), ("trigger", "event_type", "days", "threshold", "date_label")),
        (
            _("Conditions (segment; empty means anyone)"),
            ("tiers", "languages", "ltv_min", "ltv_max", "tags", "owners", "attributes"),
        ),
        (
            _("Actions"),
            (
                "message_subject",
                "message_body",
                "task_text",
                "task_due_days",
                "incentive",
                "incentive_amount",
                "note_text",
                "allow_open_conversation",
            ),
        ),
    )

    def groups(self):
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS]

    def clean_languages(self) -> list[str]:
        return [w.lower() for w in _words(self.cleaned_data.get("languages", ""))]

    def clean_tags(self) -> list[str]:
        return _words(self.cleaned_data.get("tags", ""))

    def clean_attributes(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in (self.cleaned_data.get("attributes") or "").splitlines():
            if not line.strip():
                continue
            if "=" not in line:
                raise forms.ValidationError(_("Write each attribute as key=value."))
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
        return out

    def service_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "owners"}
        data["tiers"] = list(data.get("tiers") or [])
        data["incentive"] = data.get("incentive") or ""
        return data


class CareSettingsForm(forms.Form):
    weekly_cap = forms.IntegerField(
        label=_("At most this many proactive contacts per customer per 7 days"),
        min_value=0,
        max_value=50,
    )
    quiet_start = forms.TimeField(label=_("Quiet hours start (customer's time)"))
    quiet_end = forms.TimeField(label=_("Quiet hours end (customer's time)"))
    w_sentiment = forms.FloatField(label=_("Weight: sentiment trend"), min_value=0)
    w_issues = forms.FloatField(label=_("Weight: open and reopened issues"), min_value=0)
    w_contacts = forms.FloatField(label=_("Weight: contacts against their normal"), min_value=0)
    w_surveys = forms.FloatField(label=_("Weight: recent survey answers"), min_value=0)
    w_recency = forms.FloatField(label=_("Weight: activity against their cadence"), min_value=0)
    w_escalations = forms.FloatField(label=_("Weight: escalations"), min_value=0)
    w_tenure = forms.FloatField(label=_("Weight: tenure"), min_value=0)

    def health(self, existing: dict) -> dict:
        weights = {
            name[2:]: value for name, value in self.cleaned_data.items() if name.startswith("w_")
        }
        return {**(existing or {}), "weights": weights}
