from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from warmline.customers.models import Channel, Lifecycle, Tier
from warmline.tenancy import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    """Tells a throttled person how long to wait instead of a misleading 'wrong password'."""

    def clean(self):
        username = self.cleaned_data.get("username")
        wait = throttle.retry_after(self.request, username)
        if wait:
            raise forms.ValidationError(
                _("Too many failed sign-ins. Try again in %(seconds)s seconds.")
                % {"seconds": wait},
                code="throttled",
            )
        return super().clean()


class CustomerForm(forms.Form):
    """The profile fields an agent may edit; identities and merges have their own pages."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    preferred_language = forms.ChoiceField(
        label=gettext_lazy("Preferred language"),
        required=False,
        choices=[
            ("", "—"),
            *settings.LANGUAGES,
            ("fr", "Français"),
            ("de", "Deutsch"),
            ("pt", "Português"),
        ],
    )
    preferred_channel = forms.ChoiceField(
        label=gettext_lazy("Preferred channel"),
        required=False,
        choices=[("", "—"), *Channel.choices],
    )
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), choices=Tier.choices)
    lifecycle = forms.ChoiceField(label=gettext_lazy("Lifecycle"), choices=Lifecycle.choices)
    customer_since = forms.DateField(
        label=gettext_lazy("Customer since"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    owner_id = forms.TypedChoiceField(
        label=gettext_lazy("Owner"), required=False, coerce=int, empty_value=None
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_id"].choices = [("", "—")] + [(m.pk, str(m)) for m in members]


class SavedReplyForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120)
    body = forms.CharField(
        label=gettext_lazy("Text"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy(
            "Variables: {{first_name}}, {{name}}, {{customer_since}}, {{tenure}}, {{last_order}}, {{agent_name}}"
        ),
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language"), required=False, choices=[("", "—"), *settings.LANGUAGES]
    )


class PreferencesForm(forms.Form):
    locale = forms.ChoiceField(label=gettext_lazy("Interface language"), choices=settings.LANGUAGES)
