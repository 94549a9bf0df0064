from __future__ import annotations

from tests.factories import ConversationFactory, CustomerFactory
from warmline.channels.models import OutboundMessage
from warmline.feedback import services
from warmline.feedback.models import Survey


def test_send_on_demand(api, conversation):
    response = api.post_json(
        "/api/v1/surveys",
        {"conversation_id": conversation.pk, "kinds": ["ces"], "channel": "email"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kinds"] == ["ces"] and body["trigger"] == "manual"
    assert body["url"].endswith(f"/s/{body['url'].rsplit('/', 2)[-2]}/")
    # The invitation left through the one outbound path (outbox + timeline).
    sent = OutboundMessage.objects.get(conversation=conversation)
    assert sent.channel == "email" and body["url"] in sent.text
    assert sent.recipient == "ana@example.org" and sent.entry.kind == "assistant_reply"


def test_unreachable_channel_is_422_and_keeps_nothing(api, conversation):
    # Nobody has this conversation open in the chat widget: an in-chat card cannot go.
    response = api.post_json(
        "/api/v1/surveys", {"conversation_id": conversation.pk, "channel": "chat"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "channel"
    assert not Survey.objects.filter(conversation=conversation).exists()
    assert not OutboundMessage.objects.filter(conversation=conversation).exists()


def test_throttled_on_demand_is_409(api, conversation, survey):
    response = api.post_json("/api/v1/surveys", {"conversation_id": conversation.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "throttled"


def test_other_workspaces_conversation_is_404(api, other_workspace):
    foreign = ConversationFactory(customer=CustomerFactory(workspace=other_workspace))
    response = api.post_json("/api/v1/surveys", {"conversation_id": foreign.pk})
    assert response.status_code == 404


def test_other_workspaces_survey_and_task_are_404(other_api, survey):
    services.submit_answers(token=survey.token, scores={"nps": 1, "csat": 1})
    task = survey.workspace and services.list_recovery_tasks(workspace=survey.workspace).get()
    assert other_api.get(f"/api/v1/surveys/{survey.pk}").status_code == 404
    assert other_api.get("/api/v1/surveys").json() == []
    assert other_api.get("/api/v1/recovery-tasks").json() == []
    assert other_api.post(f"/api/v1/recovery-tasks/{task.pk}/done").status_code == 404


def test_recovery_tasks_listed_and_completed(api, survey, member):
    services.submit_answers(token=survey.token, scores={"nps": 2, "csat": 2})
    tasks = api.get("/api/v1/recovery-tasks").json()
    assert len(tasks) == 1 and tasks[0]["member_id"] == member.pk
    done = api.post(f"/api/v1/recovery-tasks/{tasks[0]['id']}/done")
    assert done.status_code == 200 and done.json()["done_at"]
    assert api.get("/api/v1/recovery-tasks").json() == []


def test_settings_need_a_lead(api, lead):
    from tests.conftest import ApiClient
    from warmline.tenancy.services import issue_token

    assert api.patch_json("/api/v1/survey-settings", {"ces_enabled": True}).status_code == 403
    _, secret = issue_token(member=lead)
    lead_api = ApiClient(secret)
    response = lead_api.patch_json("/api/v1/survey-settings", {"ces_enabled": True})
    assert response.status_code == 200 and response.json()["ces_enabled"] is True
    assert lead_api.get("/api/v1/survey-settings").json()["ces_enabled"] is True
