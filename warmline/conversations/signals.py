"""Announcements that higher layers subscribe to (trends, health, playbooks, KPIs).

Sent after commit only, so a subscriber never sees a row that was rolled back.
"""

from django.dispatch import Signal

# kwargs: workspace_id, entry_id, conversation_id, customer_id, created_conversation, reopened
message_ingested = Signal()
# The same kwargs, sent in the worker by the one task queued per message
# (warmline.conversations.announce): background subscribers work here, inline.
message_ingested_background = Signal()
# kwargs: workspace_id, conversation_id, changes (dict field -> [old, new]), actor_id
conversation_changed = Signal()
