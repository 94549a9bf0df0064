"""The agent workspace's pages (thin: validate, call services, render).

Every page reads through ``member_view`` (membership, language, time zone) and
fetches with workspace-scoped service calls; another workspace's conversation
or customer is a 404.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from warmline.channels import outbound
from warmline.conversations import inbox
from warmline.conversations import services as conversations
from warmline.conversations.models import Conversation, Priority, Status, TimelineEntry
from warmline.customers import services as customers
from warmline.customers.models import Channel, Customer
from warmline.customers.profile import build_profile
from warmline.errors import DomainError, NotFound
from warmline.knowledge import services as knowledge
from warmline.tenancy.models import Member, Notification, Team
from warmline.tenancy.services import mark_read, memberships_for_user, notify

from .context import current_member, member_language, member_view
from .forms import CustomerForm, PreferencesForm, SavedReplyForm, ThrottledAuthenticationForm
from .mentions import handle_of, notify_mentions
from .rows import annotate_entries
from .rows import present as present_rows

TIMELINE_LIMIT = 150  # entries per timeline page; older ones behind "show earlier"


class SignInView(LoginView):
    template_name = "web/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        """A member of several brands picks one first (unless a page asked for them)."""
        if not self.get_redirect_url() and len(memberships_for_user(self.request.user)) > 1:
            return reverse("web:pick_workspace")
        return super().get_success_url()


@login_required
def pick_workspace(request: HttpRequest) -> HttpResponse:
    """The workspace picker: one link per brand the signed-in person serves."""
    memberships = memberships_for_user(request.user)
    if not memberships:
        return render(request, "web/no_workspace.html", status=403)
    member = current_member(request)
    with translation.override(member_language(member)):
        request.LANGUAGE_CODE = member_language(member)
        return render(
            request,
            "web/pick_workspace.html",
            {"memberships": memberships, "chosen": request.session.get("workspace_id")},
        )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:login")


@login_required
def switch_workspace(request: HttpRequest, slug: str) -> HttpResponse:
    for m in memberships_for_user(request.user):
        if m.workspace.slug == slug:
            request.session["workspace_id"] = m.workspace_id
            return redirect("web:home")
    raise Http404


# --- shared pieces -------------------------------------------------------------------


def _members(member: Member, *, light: bool = False) -> list[Member]:
    """The workspace's active members; ``light`` loads only what pickers and names show
    (no JSON settings decoded per member on every page)."""
    qs = Member.objects.filter(workspace_id=member.workspace_id, is_active=True).select_related(
        "user"
    )
    if light:
        qs = qs.only(
            "id", "workspace_id", "display_name", "is_active", "user__id", "user__username"
        )
    return list(qs.order_by("display_name"))


def _teams(member: Member) -> list[Team]:
    return list(Team.objects.filter(workspace_id=member.workspace_id).order_by("name"))


def _base(request: HttpRequest, **extra) -> dict:
    member: Member = request.member
    unread = Notification.objects.filter(
        workspace_id=member.workspace_id, member=member, read_at__isnull=True
    ).count()
    return {
        "member": member,
        "memberships": request.memberships,
        "unread_notifications": unread,
        **extra,
    }


def _conversation(request: HttpRequest, number: int) -> Conversation:
    try:
        return conversations.get_conversation_by_number(
            workspace=request.member.workspace, number=number
        )
    except NotFound:
        raise Http404 from None


def _customer(request: HttpRequest, pk) -> Customer:
    try:
        return customers.get_customer(workspace=request.member.workspace, customer_id=pk)
    except NotFound:
        raise Http404 from None


def _error(request: HttpRequest, exc: DomainError) -> None:
    messages.error(request, exc.message)


# --- inbox ----------------------------------------------------------------------------


def _inbox_context(request: HttpRequest) -> dict:
    member = request.member
    q = inbox.parse(request.GET)
    member._team_ids = [t.pk for t in member.teams.all()]
    result = inbox.page(member, q)
    return {
        "q": q,
        "page": result,
        "rows": present_rows(result.rows),
        "counts": inbox.view_counts(member),
        "views": [
            ("mine", _("Mine")),
            ("unassigned", _("Unassigned")),
            ("team", _("My team")),
            ("all", _("All")),
            ("snoozed", _("Snoozed")),
            ("resolved", _("Resolved")),
        ],
        "sorts": [
            ("activity", _("Last activity")),
            ("waiting", _("Waiting longest")),
            ("priority", _("Priority")),
            ("sla", _("SLA due soonest")),
        ],
        "flags": [
            ("escalated", _("Escalated")),
            ("sla_breached", _("SLA breached")),
        ],
        "sentiments": [
            ("negative", _("Negative")),
            ("neutral", _("Neutral")),
            ("positive", _("Positive")),
        ],
        "channels": Channel.choices,
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "now": timezone.now(),
    }


@member_view
def home(request: HttpRequest) -> HttpResponse:
    ctx = _inbox_context(request)
    ctx["team_members"] = _members(request.member, light=True)
    ctx["teams"] = _teams(request.member)
    return render(request, "web/inbox.html", _base(request, **ctx))


@member_view
@require_GET
def inbox_rows(request: HttpRequest) -> HttpResponse:
    """The rows fragment, for live refresh and htmx filtering."""
    return render(
        request, "web/_inbox_rows.html", {"member": request.member, **_inbox_context(request)}
    )


@member_view
@require_POST
def inbox_bulk(request: HttpRequest) -> HttpResponse:
    """Assign or resolve the ticked conversations (at most one page of them)."""
    member = request.member
    numbers = [int(n) for n in request.POST.getlist("numbers") if n.isdigit()][: inbox.PAGE_SIZE]
    action = request.POST.get("action", "")
    changes: dict = {}
    if action == "resolve":
        changes = {"status": Status.RESOLVED}
    elif action == "assign":
        owner = request.POST.get("owner", "")
        changes = {"owner_id": int(owner) if owner.isdigit() else None}
    else:
        messages.error(request, _("Choose an action."))
    done = 0
    if changes and numbers:
        targets = Conversation.objects.filter(workspace_id=member.workspace_id, number__in=numbers)
        try:
            with transaction.atomic():
                for conv in targets:
                    conversations.update_conversation(
                        workspace=member.workspace, actor=member, conversation=conv, changes=changes
                    )
                    done += 1
        except DomainError as exc:
            _error(request, exc)
            done = 0
        if done and changes.get("owner_id") and changes["owner_id"] != member.pk:
            owner = Member.objects.filter(
                workspace_id=member.workspace_id, pk=changes["owner_id"]
            ).first()
            if owner:
                _notify_assignment(member, owner, numbers[0] if done == 1 else None, done)
    if done:
        messages.success(request, _("%(count)s conversations updated.") % {"count": done})
    if request.htmx:
        return _rows_after_bulk(request)
    return redirect(reverse("web:home") + "?" + request.POST.get("query", ""))


def _rows_after_bulk(request: HttpRequest) -> HttpResponse:
    request.GET = request.GET.copy()
    for key, value in _query_pairs(request.POST.get("query", "")):
        request.GET[key] = value
    return render(
        request, "web/_inbox_rows.html", {"member": request.member, **_inbox_context(request)}
    )


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query)


def _notify_assignment(actor: Member, owner: Member, number: int | None, count: int) -> None:
    with translation.override(member_language(owner)):
        if number is not None:
            text = _("%(actor)s assigned #%(number)s to you") % {"actor": actor, "number": number}
            link = reverse("web:conversation", args=[number])
        else:
            text = _("%(actor)s assigned %(count)s conversations to you") % {
                "actor": actor,
                "count": count,
            }
            link = reverse("web:home") + "?view=mine"
    notify(member=owner, kind="assignment", text=text, link=link)


# --- conversation --------------------------------------------------------------------


def _timeline(conv: Conversation, before: str) -> tuple[list[TimelineEntry], str]:
    """The newest ``TIMELINE_LIMIT`` entries, or those just before ``before``.

    Keyset, like the inbox: ``before`` is "<occurred_at ISO>~<id>" of the oldest
    entry shown, so a 2,000-entry case pages in steps of the same cost. Returns the
    entries (oldest first) and the token for the page before them ('' if none).
    """
    qs = TimelineEntry.objects.filter(workspace_id=conv.workspace_id, conversation=conv)
    cursor = _entry_cursor(before)
    if cursor is not None:
        at, pk = cursor
        qs = qs.filter(Q(occurred_at__lte=at) & (Q(occurred_at__lt=at) | Q(id__lt=pk)))
    newest = list(
        qs.select_related("author_member").order_by("-occurred_at", "-id")[: TIMELINE_LIMIT + 1]
    )
    entries = annotate_entries(list(reversed(newest[:TIMELINE_LIMIT])), str(conv.customer))
    earlier = ""
    if len(newest) > TIMELINE_LIMIT:
        earlier = f"{entries[0].occurred_at.isoformat()}~{entries[0].pk}"
    return entries, earlier


def _entry_cursor(token: str) -> tuple[dt.datetime, int] | None:
    try:
        at, pk = token.split("~")
        parsed = dt.datetime.fromisoformat(at)
        return (parsed, int(pk)) if parsed.tzinfo is not None else None
    except (ValueError, TypeError):
        return None


def _conversation_context(request: HttpRequest, conv: Conversation) -> dict:
    member = request.member
    before = request.GET.get("before", "")[:80]
    entries, earlier = _timeline(conv, before)
    members = _members(member, light=True)
    teams = _teams(member)
    return {
        "conv": conv,
        "entries": entries,
        "earlier": earlier,
        "paging_back": _entry_cursor(before) is not None,
        "members": members,
        "members_by_id": {m.pk: m for m in members},
        "teams": teams,
        "teams_by_id": {t.pk: t for t in teams},
        "handles": [handle_of(m) for m in members],
        "reply_channel": conv.last_channel or conv.channel,
        "channels": Channel.choices,
        "statuses": Status.choices,
        "priorities": Priority.choices,
    }


@member_view
def conversation(request: HttpRequest, number: int) -> HttpResponse:
    conv = _conversation(request, number)
    ctx = _conversation_context(request, conv)
    ctx["profile"] = build_profile(
        workspace=request.member.workspace, customer=conv.customer, exclude_conversation_id=conv.pk
    )
    ctx["saved_replies"] = knowledge.list_saved_replies(workspace=request.member.workspace)
    return render(request, "web/conversation.html", _base(request, **ctx))


@member_view
@require_GET
def conversation_timeline(request: HttpRequest, number: int) -> HttpResponse:
    conv = _conversation(request, number)
    ctx = _conversation_context(request, conv)
    return render(
        request, "web/_timeline.html", {"member": request.member, "with_meta": True, **ctx}
    )


@member_view
@require_GET
def conversation_panel(request: HttpRequest, number: int) -> HttpResponse:
    """The 360° panel alone (live refresh after a change to the case)."""
    conv = _conversation(request, number)
    profile = build_profile(
        workspace=request.member.workspace, customer=conv.customer, exclude_conversation_id=conv.pk
    )
    return render(
        request, "web/_panel.html", {"member": request.member, "conv": conv, "profile": profile}
    )


@member_view
@require_POST
def reply(request: HttpRequest, number: int) -> HttpResponse:
    """Reply to the customer, or add an internal note (kind=note) with @mentions."""
    member = request.member
    conv = _conversation(request, number)
    text = request.POST.get("text", "")
    kind = request.POST.get("kind", "reply")
    try:
        if kind == "note":
            conversations.add_note(
                workspace=member.workspace, member=member, conversation=conv, text=text
            )
            notify_mentions(author=member, text=text, members=_members(member), conversation=conv)
        else:
            channel = request.POST.get("channel") or None
            # The one outbound path: recorded on the timeline and in the outbox, then sent.
            outbound.send(
                workspace=member.workspace,
                actor=member,
                conversation=conv,
                text=text,
                channel=channel,
            )
            resolve = request.POST.get("then") == "resolve"
            if resolve:
                conversations.update_conversation(
                    workspace=member.workspace,
                    actor=member,
                    conversation=conv,
                    changes={"status": Status.RESOLVED},
                )
    except DomainError as exc:
        if request.htmx:
            return HttpResponse(exc.message, status=422)
        _error(request, exc)
    if request.htmx:
        conv = _conversation(request, number)
        return render(
            request,
            "web/_timeline.html",
            {"member": member, "with_meta": True, **_conversation_context(request, conv)},
        )
    return redirect("web:conversation", number=number)


@member_view
@require_POST
def update(request: HttpRequest, number: int) -> HttpResponse:
    """Status, priority, owner, team and snooze from the case header."""
    member = request.member
    conv = _conversation(request, number)
    changes: dict = {}
    post = request.POST
    if "status" in post and post["status"]:
        changes["status"] = post["status"]
    if "priority" in post and post["priority"]:
        changes["priority"] = post["priority"]
    if "owner" in post:
        changes["owner_id"] = int(post["owner"]) if post["owner"].isdigit() else None
    if "team" in post:
        changes["team_id"] = int(post["team"]) if post["team"].isdigit() else None
    if post.get("snooze"):
        until = _snooze_until(post["snooze"])
        if until is None:
            messages.error(request, _("Choose when the snooze ends."))
            return redirect("web:conversation", number=number)
        changes["status"] = Status.SNOOZED
        changes["snoozed_until"] = until
    old_owner = conv.owner_id
    try:
        conv = conversations.update_conversation(
            workspace=member.workspace, actor=member, conversation=conv, changes=changes
        )
    except DomainError as exc:
        _error(request, exc)
        return redirect("web:conversation", number=number)
    if conv.owner_id and conv.owner_id != old_owner and conv.owner_id != member.pk:
        owner = Member.objects.filter(workspace_id=member.workspace_id, pk=conv.owner_id).first()
        if owner:
            _notify_assignment(member, owner, conv.number, 1)
    messages.success(request, _("Conversation updated."))
    return redirect("web:conversation", number=number)


def _snooze_until(value: str) -> dt.datetime | None:
    """'1h', '4h', 'tomorrow', '1w' or an ISO local date-time, in the workspace's zone."""
    now = timezone.localtime()
    presets = {
        "1h": now + dt.timedelta(hours=1),
        "4h": now + dt.timedelta(hours=4),
        "tomorrow": (now + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0),
        "1w": (now + dt.timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0),
    }
    if value in presets:
        return presets[value]
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed if parsed > timezone.now() else None


@member_view
@require_POST
def merge(request: HttpRequest, number: int) -> HttpResponse:
    """Merge another conversation (by its number) into this one."""
    member = request.member
    keep = _conversation(request, number)
    other_number = request.POST.get("other", "").lstrip("#").strip()
    if not other_number.isdigit():
        messages.error(request, _("Enter the number of the conversation to merge."))
        return redirect("web:conversation", number=number)
    try:
        other = conversations.get_conversation_by_number(
            workspace=member.workspace, number=int(other_number)
        )
        conversations.merge_conversations(
            workspace=member.workspace, actor=member, keep=keep, other=other
        )
    except DomainError as exc:
        _error(request, exc)
        return redirect("web:conversation", number=number)
    messages.success(
        request, _("Conversation #%(number)s merged into this one.") % {"number": other.number}
    )
    return redirect("web:conversation", number=number)


@member_view
@require_GET
def saved_reply(request: HttpRequest, number: int, reply_id: int) -> HttpResponse:
    """A saved reply filled for this conversation's customer, as JSON text for the reply box."""
    member = request.member
    conv = _conversation(request, number)
    try:
        macro = knowledge.get_saved_reply(workspace=member.workspace, reply_id=reply_id)
    except NotFound:
        raise Http404 from None
    profile = build_profile(
        workspace=member.workspace, customer=conv.customer, exclude_conversation_id=conv.pk
    )
    variables = knowledge.macro_variables(
        customer=conv.customer, last_order=profile.last_order, agent=member
    )
    return JsonResponse({"text": knowledge.use_saved_reply(reply=macro, variables=variables)})


# --- customers ------------------------------------------------------------------------


@member_view
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    results = list(
        customers.search_customers(workspace=request.member.workspace, query=query).select_related(
            "owner"
        )[:50]
    )
    return render(request, "web/customers.html", _base(request, query=query, results=results))


@member_view
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    profile = build_profile(workspace=request.member.workspace, customer=customer)
    recent = list(
        conversations.list_conversations(
            workspace=request.member.workspace, customer_id=customer.pk
        )
        .select_related("owner")
        .order_by("-last_activity_at", "-id")[:50]
    )
    return render(
        request,
        "web/customer.html",
        _base(request, customer=customer, profile=profile, conversations=recent),
    )


@member_view
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    customer = _customer(request, pk)
    members = _members(member)
    if request.method == "POST":
        form = CustomerForm(request.POST, members=members)
        if form.is_valid():
            changes = dict(form.cleaned_data)
            try:
                customers.update_customer(
                    workspace=member.workspace, actor=member, customer=customer, changes=changes
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Customer saved."))
                return redirect("web:customer", pk=customer.pk)
    else:
        form = CustomerForm(
            initial={
                "name": customer.name,
                "preferred_language": customer.preferred_language,
                "preferred_channel": customer.preferred_channel,
                "tier": customer.tier,
                "lifecycle": customer.lifecycle,
                "customer_since": customer.customer_since,
                "owner_id": customer.owner_id,
                "notes": customer.notes,
            },
            members=members,
        )
    return render(request, "web/customer_edit.html", _base(request, customer=customer, form=form))


@member_view
def customer_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick a duplicate, preview what moves, then confirm."""
    member = request.member
    keep = _customer(request, pk)
    other = None
    preview = None
    other_id = request.POST.get("other") or request.GET.get("other")
    query = request.GET.get("q", "").strip()[:200]
    candidates = []
    if query:
        candidates = [
            c
            for c in customers.search_customers(workspace=member.workspace, query=query)[:20]
            if c.pk != keep.pk
        ]
    if other_id:
        other = _customer(request, other_id)
        if other.pk == keep.pk:
            messages.error(request, _("A customer cannot be merged with itself."))
            return redirect("web:customer_merge", pk=keep.pk)
        preview = customers.merge_preview(workspace=member.workspace, keep=keep, other=other)
        if request.method == "POST" and request.POST.get("confirm") == "1":
            try:
                customers.merge_customers(
                    workspace=member.workspace, actor=member, keep=keep, other=other
                )
            except DomainError as exc:
                _error(request, exc)
            else:
                messages.success(request, _("Customers merged."))
                return redirect("web:customer", pk=keep.pk)
    return render(
        request,
        "web/customer_merge.html",
        _base(request, keep=keep, other=other, preview=preview, query=query, candidates=candidates),
    )


# --- member's own pages ------------------------------------------------------------


@member_view
def notifications(request: HttpRequest) -> HttpResponse:
    member = request.member
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
        mark_read(member=member, notification_ids=ids or None)
        return redirect("web:notifications")
    items = list(
        Notification.objects.filter(workspace_id=member.workspace_id, member=member).order_by(
            "-created_at", "-id"
        )[:100]
    )
    return render(request, "web/notifications.html", _base(request, items=items))


@member_view
def preferences(request: HttpRequest) -> HttpResponse:
    member = request.member
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            Member.objects.filter(workspace_id=member.workspace_id, user=request.user).update(
                locale=form.cleaned_data["locale"]
            )
            return redirect("web:preferences")
    else:
        form = PreferencesForm(initial={"locale": member_language(member)})
    return render(request, "web/preferences.html", _base(request, form=form))


@member_view
def saved_replies(request: HttpRequest) -> HttpResponse:
    member = request.member
    form = SavedReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            knowledge.create_saved_reply(
                workspace=member.workspace, actor=member, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Saved reply created."))
            return redirect("web:saved_replies")
    items = knowledge.list_saved_replies(workspace=member.workspace)
    return render(request, "web/saved_replies.html", _base(request, form=form, items=items))
