"""Inbound webhooks (thin: verify, call services, answer after commit)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from warmline.channels.models import OutboundMessage
from warmline.errors import DomainError

from . import services
from .models import Provider

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _error(exc: DomainError) -> JsonResponse:
    status = exc.status if exc.status >= 400 else 400
    if exc.code == "invalid":
        status = 422
    return JsonResponse(
        {"detail": [{"loc": ["body", exc.field or ""], "msg": exc.message, "type": exc.code}]},
        status=status,
    )


def _signed_url(request: HttpRequest, account) -> str:
    if account.public_url:
        return account.public_url.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


def _twilio(request: HttpRequest, key: str, handler) -> HttpResponse:
    try:
        account = services.get_account(provider=Provider.TWILIO, key=key)
        params = [(k, v) for k in request.POST for v in request.POST.getlist(k)]
        services.verify_twilio(
            account,
            url=_signed_url(request, account),
            params=params,
            signature=request.headers.get("X-Twilio-Signature", ""),
        )
        handler(account=account, params=params)
    except DomainError as exc:
        log.warning("twilio webhook %s refused: %s", key, exc.message)
        return _error(exc)
    # Committed by now: only then does the provider hear 200 and stop retrying.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_message(request: HttpRequest, key: str) -> HttpResponse:
    return _twilio(request, key, services.receive_twilio)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest, key: str) -> HttpResponse:
    return _twilio(request, key, services.twilio_status)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, key: str) -> HttpResponse:
    try:
        account = services.get_account(provider=Provider.WEBHOOK, key=key)
        body = request.body
        services.verify_webhook(
            account,
            body=body,
            timestamp=request.headers.get("X-Warmline-Timestamp", ""),
            signature=request.headers.get("X-Warmline-Signature", ""),
        )
        result = services.receive_webhook(account=account, data=services.parse_webhook(body))
    except DomainError as exc:
        log.warning("webhook %s refused: %s", key, exc.message)
        return _error(exc)
    if result is None:  # a status for a message that is not ours
        return JsonResponse({"status": "ignored"})
    if isinstance(result, OutboundMessage):
        return JsonResponse({"status": "updated", "outbound_id": result.pk})
    return JsonResponse({"status": "stored", "id": result.entry.pk, "created": result.created})
