"""`warmline demo`: a deterministic two-year history in English and Spanish, loaded once."""

import datetime as dt
import inspect

from django.contrib.auth import authenticate
from django.core.management import call_command

from warmline.conversations.models import Conversation, TimelineEntry
from warmline.customers.models import Customer, CustomerEvent, Order
from warmline.tenancy.models import Member, Team, Workspace
from warmline.web.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo


def test_the_default_demo_is_at_least_the_promised_size():
    defaults = inspect.signature(load_demo).parameters
    assert defaults["customers_count"].default >= 300
    assert defaults["conversations_count"].default >= 1500


def test_a_small_demo_has_every_part_and_loads_once(db):
    ws = load_demo(customers_count=30, conversations_count=80)
    assert Customer.objects.filter(workspace=ws).count() == 30
    convs = Conversation.objects.filter(workspace=ws)
    assert convs.count() == 80
    assert set(convs.values_list("channel", flat=True)) == {"email", "chat", "sms", "voice"}
    entries = TimelineEntry.objects.filter(workspace=ws, kind="customer_message")
    assert {"en", "es"} <= set(entries.values_list("language", flat=True))
    first, last = (
        convs.order_by(f).values_list("opened_at", flat=True)[0]
        for f in ("opened_at", "-opened_at")
    )
    assert last - first > dt.timedelta(days=365)  # history spread over the two years
    assert Order.objects.filter(workspace=ws).exists()
    assert CustomerEvent.objects.filter(workspace=ws).exists()
    assert Team.objects.filter(workspace=ws).count() >= 3
    assert Member.objects.filter(workspace=ws).count() >= 4
    assert convs.exclude(owner=None).values("owner").distinct().count() >= 2
    assert authenticate(username=DEMO_EMAIL, password=DEMO_PASSWORD) is not None
    # A second run finds the demo and adds nothing.
    call_command("demo")
    assert Conversation.objects.filter(workspace=ws).count() == 80
    assert Workspace.objects.filter(slug="demo").count() == 1
