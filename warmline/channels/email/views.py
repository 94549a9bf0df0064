"""Attachments of inbound email, served to members of the workspace only.

Files come from strangers. Only raster images are shown in the page (with a
sandboxing CSP and ``nosniff``); everything else is a download, so nothing a
customer sent can run as a page of the helpdesk's own origin.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from warmline.conversations.models import TimelineEntry
from warmline.tenancy.services import memberships_for_user

SHOWN_INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@login_required
@require_GET
def attachment(request: HttpRequest, entry_id: int, index: int) -> FileResponse:
    workspace_ids = [m.workspace_id for m in memberships_for_user(request.user)]
    entry = (
        TimelineEntry.objects.filter(pk=entry_id, workspace_id__in=workspace_ids)
        .only("id", "workspace_id", "attachments")
        .first()
    )
    if entry is None or not 0 <= index < len(entry.attachments or []):
        raise Http404
    att = entry.attachments[index]
    path = att.get("path") or ""
    # Only files this workspace's mail path wrote: never a path someone else chose.
    if not path.startswith(f"attachments/ws{entry.workspace_id}/") or ".." in path:
        raise Http404
    try:
        fh = default_storage.open(path, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    ctype = att.get("content_type") or "application/octet-stream"
    inline = ctype in SHOWN_INLINE
    response = FileResponse(
        fh,
        as_attachment=not inline,
        filename=att.get("filename") or "attachment",
        content_type=ctype if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
