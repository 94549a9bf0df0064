"""Two identical deliveries racing through a real server store one message."""

import threading

import httpx
import pytest

from warmline.conversations.models import TimelineEntry
from warmline.customers.models import Customer, Identity
from warmline.tenancy.services import issue_token

from ..factories import MemberFactory, WorkspaceFactory


@pytest.mark.django_db(transaction=True)
def test_two_identical_posts_racing_store_one_message(live_server):
    ws = WorkspaceFactory()
    _, token = issue_token(member=MemberFactory(workspace=ws))
    headers = {"Authorization": f"Bearer {token}"}
    url = live_server.url + "/api/v1/messages"
    for round_ in range(5):
        body = {
            "channel": "sms",
            "external_id": f"SM{round_}",
            "from": {"phone": f"+1415555{round_:04d}"},
            "text": "Where is my order?",
        }
        barrier = threading.Barrier(2)
        results = []

        def post(body=body, barrier=barrier, results=results):
            with httpx.Client(timeout=30) as c:
                barrier.wait()
                results.append(c.post(url, json=body, headers=headers))

        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 201], [r.content for r in results]
        assert results[0].json() == results[1].json()
    assert TimelineEntry.objects.filter(workspace=ws).count() == 5
    assert Customer.objects.filter(workspace=ws).count() == 5
    assert Identity.objects.filter(workspace=ws).count() == 5


@pytest.mark.django_db(transaction=True)
def test_two_messages_of_one_customer_racing_open_one_case(live_server):
    """Different messages from one customer with no open case, at the same moment: one
    case, not two (on PostgreSQL the customer's row is locked while it is threaded)."""
    from warmline.conversations.models import Conversation

    ws = WorkspaceFactory()
    _, token = issue_token(member=MemberFactory(workspace=ws))
    headers = {"Authorization": f"Bearer {token}"}
    url = live_server.url + "/api/v1/messages"
    for round_ in range(5):
        email = f"racer{round_}@example.com"
        with httpx.Client(timeout=30) as c:  # the customer exists, with no open case
            first = c.post(
                url,
                json={
                    "channel": "email",
                    "external_id": f"R{round_}-0",
                    "from": {"email": email},
                    "text": "hello",
                    "sent_at": "2020-01-01T00:00:00Z",
                },
                headers=headers,
            )
            assert first.status_code == 201
        barrier = threading.Barrier(2)
        results = []

        def post(n, barrier=barrier, results=results, email=email, round_=round_):
            body = {
                "channel": "chat" if n else "email",
                "external_id": f"R{round_}-{n + 1}",
                "from": {"email": email},
                "text": f"my order is late ({n})",
            }
            with httpx.Client(timeout=30) as c:
                barrier.wait()
                results.append(c.post(url, json=body, headers=headers))

        threads = [threading.Thread(target=post, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(r.status_code for r in results) == [201, 201]
        assert results[0].json()["conversation_id"] == results[1].json()["conversation_id"]
    # One old case per customer (2020) and one new one, shared by the racing pair.
    assert Conversation.objects.filter(workspace=ws).count() == 10
