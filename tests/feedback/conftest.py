from __future__ import annotations

import pytest

from tests.factories import ConversationFactory, CustomerFactory
from warmline.feedback import services


@pytest.fixture
def customer(workspace, member):
    return CustomerFactory(workspace=workspace, preferred_language="es", owner=member)


@pytest.fixture
def conversation(workspace, customer, member):
    return ConversationFactory(
        workspace=workspace, customer=customer, owner=member, status="resolved"
    )


@pytest.fixture
def survey(workspace, conversation):
    return services.send_survey(workspace=workspace, conversation=conversation)
