"""The public survey page: no login, the customer's language, one answer per token."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from warmline.errors import Conflict, InvalidInput, NotFound

from . import services, texts
from .models import SCALES, SurveyStatus


def _page(request: HttpRequest, template: str, ctx: dict, status: int = 200) -> HttpResponse:
    lang = ctx.get("lang", "en")
    ctx = {**ctx, "t": {k: texts.ui(k, lang) for k in texts.UI}}
    response = render(request, template, ctx, status=status)
    response["Content-Language"] = lang
    # Tokens are secrets: keep them out of caches and out of referrers to other sites.
    # Not "no-referrer": browsers then send "Origin: null" with the form's own POST, and
    # Django's CSRF check refuses it (found by the phone test in a real chromium).
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


def _problem(request: HttpRequest, key: str, status: int, lang: str = "en") -> HttpResponse:
    return _page(request, "feedback/problem.html", {"lang": lang, "key": key}, status=status)


def _questions(survey, cfg) -> list[dict]:
    out = []
    for kind in survey.kinds:
        lo, hi, _ = SCALES[kind]
        low, high = texts.labels(kind, survey.language)
        out.append(
            {
                "kind": kind,
                "text": texts.question(
                    kind, survey.language, brand=survey.workspace.name, overrides=cfg.questions
                ),
                "choices": list(range(lo, hi + 1)),
                "low": low,
                "high": high,
            }
        )
    return out


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    accept = texts.language_for(request.LANGUAGE_CODE if hasattr(request, "LANGUAGE_CODE") else "")
    try:
        found = services.survey_for_token(token)
    except NotFound:
        return _problem(request, "invalid", 404, accept)
    except services.SurveyGone as gone:
        return _problem(request, "expired", 410, gone.language)
    lang = found.language
    if found.status == SurveyStatus.ANSWERED:
        return _problem(request, "already", 409 if request.method == "POST" else 200, lang)
    cfg = services.get_settings(found.workspace)
    questions = _questions(found, cfg)
    error = ""
    status = 200
    if request.method == "POST":
        for q in questions:
            q["selected"] = request.POST.get(q["kind"], "")
        scores = {q["kind"]: request.POST.get(q["kind"]) or None for q in questions}
        try:
            result = services.submit_answers(
                token=token, scores=scores, comment=request.POST.get("comment", "")
            )
        except Conflict:
            return _problem(request, "already", 409, lang)
        except services.SurveyGone:
            return _problem(request, "expired", 410, lang)
        except InvalidInput as exc:
            error = texts.ui("required", lang) if exc.message.startswith("Please") else exc.message
            status = 422
        else:
            return _page(
                request,
                "feedback/thanks.html",
                {"lang": lang, "review_url": result.review_url, "brand": found.workspace.name},
            )
    return _page(
        request,
        "feedback/survey.html",
        {
            "lang": lang,
            "brand": found.workspace.name,
            "questions": questions,
            "error": error,
            "posted": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


def _cors(response: HttpResponse) -> HttpResponse:
    # The chat widget lives on the brand's own site. No cookie is read or sent (the
    # token in the path is the only credential), so any origin may post; nothing
    # else is exposed.
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # no ambient credential: a forged request would need the secret token itself
@require_http_methods(["POST", "OPTIONS"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    """The in-chat card's answer: ``{"scores": {"nps": 9}, "comment": ""}`` → JSON.

    Same rules as the page: one answer per token (409 after), expired 410, unknown
    404, a missing or out-of-scale score 422 naming the field.
    """
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))

    def reply(status: int, **body) -> HttpResponse:
        return _cors(JsonResponse(body, status=status))

    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return reply(422, error="invalid", field="body", message="The body must be JSON.")
    scores = body.get("scores") if isinstance(body, dict) else None
    if not isinstance(scores, dict):
        return reply(422, error="invalid", field="scores", message="Send the scores.")
    comment = body.get("comment", "")
    try:
        result = services.submit_answers(
            token=token, scores=scores, comment=comment if isinstance(comment, str) else ""
        )
    except NotFound as exc:
        return reply(404, error="not_found", field=None, message=exc.message)
    except services.SurveyGone as exc:
        return reply(410, error="gone", field=None, message=texts.ui("expired", exc.language))
    except Conflict:
        survey = services.survey_for_token(token)
        return reply(409, error="conflict", field=None,
                     message=texts.ui("already", survey.language))  # fmt: skip
    except InvalidInput as exc:
        return reply(422, error="invalid", field=exc.field, message=exc.message)
    lang = result.survey.language
    return reply(
        200,
        answered=True,
        thanks=texts.ui("thanks", lang),
        review_url=result.review_url,
        review_text=texts.ui("review", lang) if result.review_url else "",
    )
