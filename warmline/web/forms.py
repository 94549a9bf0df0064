from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext as _

from warmline.tenancy import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    """Tells a throttled person how long to wait instead of a misleading 'wrong password'."""

    def clean(self):
        username = self.cleaned_data.get("username")
        wait = throttle.retry_after(self.request, username)
        if wait:
            raise forms.ValidationError(
                _("Too many failed sign-ins. Try again in %(seconds)s seconds.") % {"seconds": wait},
                code="throttled",
            )
        return super().clean()
