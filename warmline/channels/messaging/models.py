"""Messaging accounts: where SMS / WhatsApp (Twilio-compatible) and JSON webhooks come from.

One row per provider account of a workspace. Inbound webhooks name the row by
its random ``key`` in the URL and are verified with its secret; outbound
messages use its credentials and base URL (any Twilio-compatible provider).
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from warmline.tenancy.models import WorkspaceScoped


def new_key() -> str:
    return secrets.token_urlsafe(18)


class Provider(models.TextChoices):
    TWILIO = "twilio", _("Twilio-compatible (SMS, WhatsApp)")
    WEBHOOK = "webhook", _("Generic JSON webhook")


class MessagingAccount(WorkspaceScoped):
    name = models.CharField(_("name"), max_length=120)
    provider = models.CharField(_("provider"), max_length=10, choices=Provider.choices)
    # The URL path component that names this account: /hooks/<provider>/<key>/.
    key = models.CharField(max_length=40, unique=True, default=new_key)
    is_active = models.BooleanField(_("active"), default=True)
    # Twilio-compatible.
    account_sid = models.CharField(_("account SID"), max_length=64, blank=True)
    auth_token = models.CharField(_("auth token"), max_length=128, blank=True)
    sms_number = models.CharField(_("SMS sender number"), max_length=32, blank=True)
    whatsapp_number = models.CharField(_("WhatsApp sender number"), max_length=32, blank=True)
    api_base_url = models.URLField(_("API base URL"), default="https://api.twilio.com")
    # The public base URL the provider calls (signatures cover the exact URL); empty:
    # the URL of the incoming request as Django sees it.
    public_url = models.URLField(_("public base URL"), blank=True)
    # Generic webhook.
    channel = models.CharField(_("channel"), max_length=12, default="social")
    secret = models.CharField(_("signing secret"), max_length=128, blank=True)
    outbound_url = models.URLField(_("outbound URL"), blank=True)

    class Meta:
        verbose_name = _("messaging account")

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"
