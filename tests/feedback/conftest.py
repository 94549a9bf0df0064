from __future__ import annotations

import pytest

from tests.factories import ConversationFactory, CustomerFactory, IdentityFactory
from warmline.channels.models import EmailAddress
from warmline.feedback import services


@pytest.fixture(autouse=True)
def sends_email(workspace):
    """Invitations leave through send(): the workspace needs an address to send from."""
    return EmailAddress.objects.create(
        workspace=workspace, address="help@acme.example", from_name="Acme", is_default=True
    )


@pytest.fixture
def customer(workspace, member):
    customer = CustomerFactory(workspace=workspace, preferred_language="es", owner=member)
    IdentityFactory(workspace=workspace, customer=customer, kind="email", value="ana@example.org")
    return customer


@pytest.fixture
def conversation(workspace, customer, member):
    return ConversationFactory(
        workspace=workspace, customer=customer, owner=member, status="resolved"
    )


@pytest.fixture
def survey(workspace, conversation):
    return services.send_survey(workspace=workspace, conversation=conversation)
