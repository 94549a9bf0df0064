"""Keep cached API-token lookups honest: saving what a token stands for forgets it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .models import ApiToken, Member, Workspace


def _forget(**scope) -> None:
    from .services import forget_tokens

    # After commit too: a request racing the change could cache the old row again.
    forget_tokens(**scope)
    transaction.on_commit(lambda: forget_tokens(**scope))


def _token_changed(sender, instance, **kwargs) -> None:
    from .services import forget_token_hash

    forget_token_hash(instance.token_hash)


def _member_changed(sender, instance, **kwargs) -> None:
    _forget(member_ids=[instance.pk])


def _workspace_changed(sender, instance, **kwargs) -> None:
    _forget(workspace_id=instance.pk)


def _user_changed(sender, instance, **kwargs) -> None:
    _forget(user_id=instance.pk)


def connect() -> None:
    for signal in (post_save, post_delete):
        signal.connect(_token_changed, sender=ApiToken, dispatch_uid=f"tenancy.token.{signal}")
        signal.connect(_member_changed, sender=Member, dispatch_uid=f"tenancy.member.{signal}")
        signal.connect(
            _workspace_changed, sender=Workspace, dispatch_uid=f"tenancy.workspace.{signal}"
        )
        signal.connect(
            _user_changed, sender=get_user_model(), dispatch_uid=f"tenancy.user.{signal}"
        )
