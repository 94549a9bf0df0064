"""Shared fixtures: workspaces, members, tokens and API clients."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client

from warmline.tenancy.services import issue_token

from .factories import MemberFactory, WorkspaceFactory

DATASETS = Path(
    os.environ.get(
        "WARMLINE_DATASETS", Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    )
)


@pytest.fixture(autouse=True)
def fresh_live_trend_cache():
    """Each test's database goes away with it; the trend worker's per-process cache of
    it (warmline.proactive.live) must too, or the next test's workspace ids meet it."""
    from warmline.proactive import live

    live.forget()
    yield
    live.forget()


@pytest.fixture
def datasets_dir() -> Path:
    if not DATASETS.is_dir():
        pytest.skip("../shared/datasets is absent")
    return DATASETS


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Acme", slug="acme", time_zone="Europe/Madrid")


@pytest.fixture
def member(workspace):
    return MemberFactory(workspace=workspace, role="agent")


@pytest.fixture
def lead(workspace):
    return MemberFactory(workspace=workspace, role="lead")


class ApiClient(Client):
    """A test client that speaks JSON with a bearer token."""

    def __init__(self, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(headers=headers, **kwargs)

    def _json(self, method, path, data=None, **kw):
        return getattr(super(), method)(path, data=data, content_type="application/json", **kw)

    def post_json(self, path, data=None, **kw):
        return self._json("post", path, data, **kw)

    def patch_json(self, path, data=None, **kw):
        return self._json("patch", path, data, **kw)

    def put_json(self, path, data=None, **kw):
        return self._json("put", path, data, **kw)


@pytest.fixture
def api(member) -> ApiClient:
    _, secret = issue_token(member=member)
    return ApiClient(secret)


@pytest.fixture
def other_workspace(db):
    """A second brand whose data must stay invisible to the first."""
    return WorkspaceFactory(name="Globex", slug="globex")


@pytest.fixture
def other_api(other_workspace) -> ApiClient:
    m = MemberFactory(workspace=other_workspace, role="admin")
    _, secret = issue_token(member=m)
    return ApiClient(secret)
