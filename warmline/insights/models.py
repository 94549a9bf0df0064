"""Roll-ups: daily sums per workspace, team, owner, channel and tier.

Every KPI is a ratio of sums, so summing these rows over any period and filter
gives the same figure as the raw rows. ``ConversationContribution`` remembers
what each conversation last added, so a change is applied as a difference.
"""

from __future__ import annotations

from django.db import models

from warmline.conversations.models import Conversation
from warmline.tenancy.models import Member, Workspace, WorkspaceScoped

# The additive measures, in one place: the roll-up columns, the contribution keys,
# the from-scratch reference and the DuckDB bench all use these names.
MEASURES = (
    "opened",
    "resolved",
    "fcr",
    "reopened",
    "handoffs",
    "res_seconds",
    "res_business_seconds",
    "responded",
    "frt_seconds",
    "frt_business_seconds",
    "sentiment_n",
    "sentiment_last_micro",
    "sentiment_change_micro",
    "surveys_sent",
    "surveys_answered",
    "nps_n",
    "nps_promoters",
    "nps_detractors",
    "csat_n",
    "csat_sum",
    "csat_satisfied",
    "ces_n",
    "ces_sum",
    "ces_easy",
)
DIMENSIONS = ("team_id", "owner_id", "channel", "tier")


class Measures(models.Model):
    """The additive measures (one column each, named as in MEASURES)."""

    opened = models.BigIntegerField(default=0)
    resolved = models.BigIntegerField(default=0)
    fcr = models.BigIntegerField(default=0)
    reopened = models.BigIntegerField(default=0)
    handoffs = models.BigIntegerField(default=0)
    res_seconds = models.BigIntegerField(default=0)
    res_business_seconds = models.BigIntegerField(default=0)
    responded = models.BigIntegerField(default=0)
    frt_seconds = models.BigIntegerField(default=0)
    frt_business_seconds = models.BigIntegerField(default=0)
    sentiment_n = models.BigIntegerField(default=0)
    sentiment_last_micro = models.BigIntegerField(default=0)
    sentiment_change_micro = models.BigIntegerField(default=0)
    surveys_sent = models.BigIntegerField(default=0)
    surveys_answered = models.BigIntegerField(default=0)
    nps_n = models.BigIntegerField(default=0)
    nps_promoters = models.BigIntegerField(default=0)
    nps_detractors = models.BigIntegerField(default=0)
    csat_n = models.BigIntegerField(default=0)
    csat_sum = models.BigIntegerField(default=0)
    csat_satisfied = models.BigIntegerField(default=0)
    ces_n = models.BigIntegerField(default=0)
    ces_sum = models.BigIntegerField(default=0)
    ces_easy = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class DailyRollup(Measures):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="Local date in the workspace's time zone.")
    # 0 means "none": NULL would defeat the unique bucket key.
    team_id = models.PositiveBigIntegerField(default=0)
    owner_id = models.PositiveBigIntegerField(default=0)
    channel = models.CharField(max_length=12, default="")
    tier = models.CharField(max_length=12, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "team_id", "owner_id", "channel", "tier"],
                name="rollup_unique_bucket",
            ),
        ]
        # A filtered period reads only its team's / member's / channel's / tier's rows.
        indexes = [
            models.Index(fields=["workspace", "team_id", "day"], name="rollup_ws_team_day"),
            models.Index(fields=["workspace", "owner_id", "day"], name="rollup_ws_owner_day"),
            models.Index(fields=["workspace", "channel", "day"], name="rollup_ws_channel_day"),
            models.Index(fields=["workspace", "tier", "day"], name="rollup_ws_tier_day"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}"


class DailyTotal(Measures):
    """The same sums per workspace and day without dimensions: unfiltered queries
    (the headline tiles, the operator view) read a year in 365 rows per workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="Local date in the workspace's time zone.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], name="rollup_total_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day} (total)"


class ConversationContribution(models.Model):
    """What one conversation (with its surveys) last added to the roll-ups."""

    conversation_id = models.BigIntegerField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    buckets = models.JSONField(default=dict)
    refreshed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"contribution of conversation {self.conversation_id}"


class WorkSession(WorkspaceScoped):
    """An agent's active work on one written conversation, for average handle time.

    One row per open conversation page (kept across socket reconnects); the page pings while it is
    visible and the agent has used it recently, and each ping adds the time since
    the previous one, capped (``worktime.GAP_CAP_SECONDS``), so idle or hidden
    stretches count at most the cap. ``ended_at`` is the last ping.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=12, help_text="The conversation's channel then.")
    key = models.CharField(max_length=120, help_text="One open page: one session each.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    active_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="worksession_unique_key"),
        ]
        indexes = [
            models.Index(fields=["workspace", "ended_at"], name="worksession_ws_ended"),
            models.Index(
                fields=["workspace", "member", "ended_at"], name="worksession_ws_member_ended"
            ),
        ]

    def __str__(self) -> str:
        return f"work of member {self.member_id} on {self.conversation_id}"
