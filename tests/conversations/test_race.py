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
