"""Back office for channel plumbing: addresses, mailboxes, the outbox, the email quarantine."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import F
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from warmline.tenancy.admin_scoping import WorkspaceScopedAdmin

from . import outbound
from .models import (
    EmailAddress,
    ImapMailbox,
    OutboundMessage,
    OutboundStatus,
    QuarantinedEmail,
    QuarantineStatus,
)


class _SecretKeepingForm(forms.ModelForm):
    """Passwords are never sent back to the browser; an empty field keeps the stored one."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            if name in self.fields:
                self.fields[name].widget = forms.PasswordInput(render_value=False)
                self.fields[name].required = False
                if self.instance.pk and getattr(self.instance, name):
                    self.fields[name].help_text = _("Stored. Leave empty to keep it.")

    def clean(self):
        data = super().clean()
        for name in self.secret_fields:
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(self.instance, name)
        return data


class EmailAddressForm(_SecretKeepingForm):
    secret_fields = ("smtp_password",)

    class Meta:
        model = EmailAddress
        fields = ("workspace", "address", "from_name", "signature", "is_active", "is_default",
                  "smtp_host", "smtp_port", "smtp_username", "smtp_password", "smtp_security")  # fmt: skip


class ImapMailboxForm(_SecretKeepingForm):
    secret_fields = ("password",)

    class Meta:
        model = ImapMailbox
        fields = ("workspace", "name", "host", "port", "security", "username", "password",
                  "folder", "move_to", "is_active")  # fmt: skip


@admin.register(EmailAddress)
class EmailAddressAdmin(WorkspaceScopedAdmin):
    form = EmailAddressForm
    list_display = ("address", "workspace", "from_name", "is_default", "is_active", "smtp_host")
    list_filter = ("workspace", "is_active")
    search_fields = ("address", "from_name")


@admin.register(ImapMailbox)
class ImapMailboxAdmin(WorkspaceScopedAdmin):
    form = ImapMailboxForm
    list_display = ("name", "workspace", "host", "port", "security", "folder", "is_active",
                    "last_polled_at", "last_error")  # fmt: skip
    list_filter = ("workspace", "is_active", "security")
    readonly_fields = ("last_polled_at", "last_error")


@admin.register(OutboundMessage)
class OutboundMessageAdmin(WorkspaceScopedAdmin):
    list_display = ("id", "workspace", "channel", "recipient", "status", "attempts",
                    "next_attempt_at", "created_at", "last_error")  # fmt: skip
    list_filter = ("workspace", "channel", "status")
    search_fields = ("recipient", "external_id", "subject")
    raw_id_fields = ("conversation", "entry", "customer", "actor")
    readonly_fields = ("attempts", "sent_at", "status_at", "external_id", "locked_until")
    actions = ["retry_now"]

    @admin.action(description=_("Retry now"))
    def retry_now(self, request, queryset):
        ids = list(
            queryset.filter(status__in=[OutboundStatus.QUEUED, OutboundStatus.FAILED]).values_list(
                "id", flat=True
            )
        )
        # A failed send gets one more try from the record (the agent fixed the address…).
        OutboundMessage.objects.filter(pk__in=ids, status=OutboundStatus.FAILED).update(
            status=OutboundStatus.QUEUED, max_attempts=F("attempts") + 1
        )
        OutboundMessage.objects.filter(pk__in=ids).update(next_attempt_at=None)
        results = [outbound.attempt(i) for i in ids]
        sent = sum(1 for r in results if r in (OutboundStatus.SENT, OutboundStatus.DELIVERED))
        self.message_user(
            request, _("%(sent)d of %(total)d sent.") % {"sent": sent, "total": len(ids)}
        )


@admin.register(QuarantinedEmail)
class QuarantinedEmailAdmin(WorkspaceScopedAdmin):
    list_display = ("id", "created_at", "workspace", "status", "reason", "from_header",
                    "subject", "size", "source", "download")  # fmt: skip
    list_filter = ("status", "reason", "source", "workspace")
    search_fields = ("from_header", "subject", "envelope_from", "detail")
    readonly_fields = ("workspace", "status", "reason", "detail", "source", "sha256", "size",
                       "envelope_from", "envelope_to", "from_header", "subject", "attempts",
                       "reprocessed_at", "entry", "eml", "created_at")  # fmt: skip
    exclude = ()
    actions = ["reprocess_selected", "discard_selected"]

    def has_add_permission(self, request):
        return False  # quarantine is filled by the mail path only

    @admin.display(description=_("original"))
    def download(self, obj):
        url = reverse("admin:channel_adapters_quarantinedemail_eml", args=[obj.pk])
        return format_html('<a href="{}">.eml</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:pk>/eml/",
                self.admin_site.admin_view(self.eml_view),
                name="channel_adapters_quarantinedemail_eml",
            ),
            *super().get_urls(),
        ]

    def eml_view(self, request, pk: int):
        item = self.get_queryset(request).filter(pk=pk).first()
        if item is None or not self.has_view_permission(request, item):
            raise Http404
        # Served as a download, never rendered: the content is hostile until proven otherwise.
        return FileResponse(
            item.eml.open("rb"),
            as_attachment=True,
            filename=f"quarantine-{item.pk}.eml",
            content_type="message/rfc822",
        )

    @admin.action(description=_("Re-process selected email"))
    def reprocess_selected(self, request, queryset):
        from .email.services import reprocess

        done = held = 0
        for item in queryset.filter(status=QuarantineStatus.HELD):
            reprocess(item=item)
            item.refresh_from_db()
            if item.status == QuarantineStatus.REPROCESSED:
                done += 1
            else:
                held += 1
        level = messages.SUCCESS if not held else messages.WARNING
        self.message_user(
            request,
            ngettext("%(done)d taken in, %(held)d still held.",
                     "%(done)d taken in, %(held)d still held.", done) % {"done": done,
                                                                         "held": held},
            level,
        )  # fmt: skip

    @admin.action(description=_("Discard selected email (keeps the file)"))
    def discard_selected(self, request, queryset):
        count = queryset.filter(status=QuarantineStatus.HELD).update(
            status=QuarantineStatus.DISCARDED
        )
        self.message_user(request, _("%(count)d discarded.") % {"count": count})
