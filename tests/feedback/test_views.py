from __future__ import annotations

import datetime as dt

from django.test import Client

from warmline.feedback.models import Answer, Survey


def _url(token: str) -> str:
    return f"/s/{token}/"


def test_page_is_public_in_customers_language_and_mobile_ready(survey):
    response = Client().get(_url(survey.token))
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == "es"
    assert 'name="viewport"' in body
    assert "recomiende Acme" in body and "Enviar" in body
    assert body.count('name="nps"') == 11 and body.count('name="csat"') == 5


def test_submit_thanks_and_double_submit_is_refused(survey):
    client = Client()
    first = client.post(_url(survey.token), {"nps": "9", "csat": "5", "comment": "¡genial!"})
    assert first.status_code == 200 and "Gracias" in first.content.decode()
    second = client.post(_url(survey.token), {"nps": "0", "csat": "1"})
    assert second.status_code == 409
    assert "ya fue respondida" in second.content.decode()
    assert Answer.objects.get(survey=survey, kind="nps").score == 9
    # Opening the link again explains instead of showing the form.
    again = client.get(_url(survey.token))
    assert again.status_code == 200 and 'name="nps"' not in again.content.decode()


def test_missing_score_redisplays_with_message(survey):
    response = Client().post(_url(survey.token), {"nps": "7"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "Elija una puntuación" in body
    assert 'value="7" required checked' in body
    assert not Answer.objects.exists()


def test_tampered_score_is_refused(survey):
    response = Client().post(_url(survey.token), {"nps": "42", "csat": "x"})
    assert response.status_code == 422
    assert not Answer.objects.exists()


def test_unknown_token_gets_a_clear_404(db):
    response = Client().get(_url("not-a-real-token"))
    assert response.status_code == 404
    assert "could not find this survey" in response.content.decode()


def test_expired_token_gets_a_clear_410(survey):
    Survey.objects.filter(pk=survey.pk).update(expires_at=survey.sent_at - dt.timedelta(seconds=1))
    response = Client().get(_url(survey.token))
    assert response.status_code == 410
    assert "caducado" in response.content.decode()
    assert Client().post(_url(survey.token), {"nps": "9", "csat": "5"}).status_code == 410


def test_promoter_sees_review_link(workspace, survey):
    from warmline.feedback.models import SurveySettings

    SurveySettings.objects.filter(workspace=workspace).update(review_url="https://r.example/x")
    response = Client().post(_url(survey.token), {"nps": "10", "csat": "5"})
    assert 'href="https://r.example/x"' in response.content.decode()


def test_page_is_not_cached(survey):
    assert Client().get(_url(survey.token))["Cache-Control"] == "no-store"


def test_token_stays_on_our_site_and_the_form_still_posts(survey):
    # "same-origin": no referrer to other sites, yet the page's own POST keeps its Origin.
    assert Client().get(_url(survey.token))["Referrer-Policy"] == "same-origin"
