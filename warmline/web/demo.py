"""The demo workspace: a deterministic, seeded history a new user can explore.

Two brands (an online outfitter and a small telecom) served by one contact
centre, two years of cases across email, chat, SMS and voice in English and
Spanish, with orders, events, owners and teams. Everything goes through the
same services production uses, so the demo exercises the real paths.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from warmline.conversations import services as conversations
from warmline.conversations.inbound import InboundMessage, Sender, ThreadHints
from warmline.customers import services as customers
from warmline.customers.models import Customer
from warmline.tenancy import services as tenancy
from warmline.tenancy.models import Availability, Member, Team, Workspace

DEMO_EMAIL = "demo@warmline.example"
DEMO_PASSWORD = "warmline-demo"  # noqa: S105 - the published demo login

FIRST_EN = "Emma Liam Olivia Noah Ava Ethan Sophia Mason Isabella Lucas Mia Oliver Amelia James Harper Benjamin Evelyn Henry Abigail Jack".split()
LAST_EN = "Smith Johnson Brown Taylor Wilson Clarke Walker Wright Hughes Green Baker Hall Turner Cooper Ward Morgan Bennett Reed Price Foster".split()
FIRST_ES = "Lucía Hugo Martina Mateo Sofía Leo Valeria Daniel Carmen Pablo Elena Álvaro Paula Diego Marta Javier Irene Sergio Alba Manuel".split()
LAST_ES = "García Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Navarro Torres Domínguez Vázquez".split()


@dataclass(frozen=True)
class Scenario:
    key: str
    team: str
    subject: str
    opener: str
    follow_up: str
    reply: str
    closing: str


SCENARIOS = {
    "en": [
        Scenario(
            "late",
            "Logistics",
            "Where is my order {order}?",
            "Hi, my order {order} was supposed to arrive on Tuesday and the tracking hasn't moved for four days. I need it for a trip this weekend.",
            "Any update? I'm starting to worry it's lost.",
            "Hi {first}, I'm sorry for the wait. The carrier confirmed {order} was delayed at their depot; it's out for delivery tomorrow morning and I've upgraded it to priority at no cost.",
            "It arrived, thank you so much for chasing it!",
        ),
        Scenario(
            "double",
            "Billing",
            "Charged twice",
            "I was charged twice for order {order}. Two payments of {amount} on my card statement. Please fix this.",
            "This is really frustrating, that's money I need this week.",
            "Hi {first}, you're right, the second charge was a duplicate authorisation. I've refunded {amount} to your card; you'll see it in 3-5 business days.",
            "Thanks, I can see it pending now.",
        ),
        Scenario(
            "return",
            "Support",
            "Return for {order}",
            "Hello, the jacket from order {order} doesn't fit. How do I return it?",
            "Do I need to print a label?",
            "Hi {first}, no printing needed: I've emailed you a QR code you can show at any drop-off point. The refund goes out as soon as it's scanned.",
            "Perfect, dropped it off today.",
        ),
        Scenario(
            "exchange",
            "Support",
            "Wrong size",
            "I ordered a medium but received a large in order {order}. Can I exchange it?",
            "Sorry to chase, just checking you got my message.",
            "Hi {first}, apologies for the mix-up. A medium is on its way today and you can keep the large until the courier collects it.",
            "Great service, thanks!",
        ),
        Scenario(
            "login",
            "Technical",
            "Can't log in",
            "I can't log in to my account, it keeps saying my password is wrong even after resetting it.",
            "Still locked out, I've tried three times now.",
            "Hi {first}, your account was locked after several attempts. I've unlocked it and sent a fresh reset link that's valid for one hour.",
            "That worked, I'm in.",
        ),
        Scenario(
            "cancel",
            "Billing",
            "Cancel my membership",
            "Please cancel my membership. It's too expensive and I'm thinking of switching to another shop.",
            "Can you confirm it's cancelled?",
            "Hi {first}, I'm sorry to hear that. Before I cancel: as a member for {tenure} you qualify for 30% off the next year. Would you like that instead, or shall I go ahead?",
            "OK, I'll stay with the discount.",
        ),
        Scenario(
            "damaged",
            "Logistics",
            "Item arrived damaged",
            "The boots in order {order} arrived with a torn sole. Really disappointed, they were a gift.",
            "I attached photos yesterday, did you see them?",
            "Hi {first}, thank you for the photos, and I'm sorry the gift arrived like that. A replacement pair ships today by express, and there's no need to send the damaged ones back.",
            "Thank you, that's very kind.",
        ),
        Scenario(
            "address",
            "Logistics",
            "Change delivery address",
            "I just placed order {order} but I moved last week. Can I change the delivery address?",
            "It hasn't shipped yet, right?",
            "Hi {first}, caught it in time: {order} hadn't left the warehouse, and the new address is on it now.",
            "Brilliant, thanks.",
        ),
        Scenario(
            "invoice",
            "Billing",
            "Invoice question",
            "I don't understand the invoice for order {order}. There's a fee of {amount} I didn't expect.",
            "Could someone explain this charge please?",
            "Hi {first}, that was the express-shipping fee, which shouldn't have applied because your order qualified for free shipping. I've refunded it.",
            "Thanks for clearing that up.",
        ),
        Scenario(
            "thanks",
            "Support",
            "Just wanted to say thanks",
            "Just wanted to say your colleague was brilliant last week, really appreciated the help!",
            "",
            "Thank you {first}, that made our day. I've passed your note on to the team.",
            "",
        ),
        Scenario(
            "promo",
            "Support",
            "Promo code not working",
            "The code WINTER20 isn't working at checkout, it says invalid.",
            "I'm going to lose the items in my basket.",
            "Hi {first}, that code expired yesterday, but I've applied the 20% to your basket manually; it's held for 24 hours.",
            "Got it, order placed.",
        ),
    ],
    "es": [
        Scenario(
            "late",
            "Logistics",
            "¿Dónde está mi pedido {order}?",
            "Hola, mi pedido {order} tenía que llegar el martes y el seguimiento no se mueve desde hace cuatro días.",
            "¿Alguna novedad? Empiezo a preocuparme.",
            "Hola {first}, siento la espera. El transportista confirma que {order} se retrasó en su almacén; se entrega mañana por la mañana y lo he pasado a envío prioritario sin coste.",
            "Ya ha llegado, ¡muchas gracias!",
        ),
        Scenario(
            "double",
            "Billing",
            "Me habéis cobrado dos veces",
            "Me habéis cobrado dos veces el pedido {order}: dos cargos de {amount} en la tarjeta. Por favor, solucionadlo.",
            "Es muy frustrante, necesito ese dinero esta semana.",
            "Hola {first}, tienes razón: el segundo cargo era una autorización duplicada. Te he devuelto {amount}; lo verás en 3-5 días hábiles.",
            "Gracias, ya lo veo pendiente.",
        ),
        Scenario(
            "return",
            "Support",
            "Devolución del pedido {order}",
            "Hola, la chaqueta del pedido {order} no me queda bien. ¿Cómo la devuelvo?",
            "¿Tengo que imprimir una etiqueta?",
            "Hola {first}, no hace falta imprimir nada: te he enviado un código QR para cualquier punto de entrega. El reembolso sale en cuanto lo escaneen.",
            "Perfecto, ya la he entregado.",
        ),
        Scenario(
            "cancel",
            "Billing",
            "Cancelar mi suscripción",
            "Quiero darme de baja. Es demasiado caro y estoy pensando en cambiarme a otra tienda.",
            "¿Me confirmáis la baja?",
            "Hola {first}, siento leerlo. Antes de cancelar: como cliente desde hace {tenure} tienes un 30% de descuento el próximo año. ¿Lo prefieres o sigo con la baja?",
            "Vale, me quedo con el descuento.",
        ),
        Scenario(
            "damaged",
            "Logistics",
            "Producto dañado",
            "Las botas del pedido {order} llegaron con la suela rota. Qué decepción, eran un regalo.",
            "Ayer os mandé fotos, ¿las habéis visto?",
            "Hola {first}, gracias por las fotos y perdona que el regalo llegara así. Hoy sale un par nuevo por envío urgente y no hace falta devolver las dañadas.",
            "Muchas gracias, sois muy amables.",
        ),
        Scenario(
            "login",
            "Technical",
            "No puedo entrar en mi cuenta",
            "No puedo iniciar sesión, me dice que la contraseña es incorrecta aunque la he cambiado.",
            "Sigo sin poder entrar.",
            "Hola {first}, la cuenta se bloqueó tras varios intentos. La he desbloqueado y te he enviado un enlace nuevo, válido durante una hora.",
            "Ya funciona, gracias.",
        ),
        Scenario(
            "invoice",
            "Billing",
            "Duda con la factura",
            "No entiendo la factura del pedido {order}, hay un cargo de {amount} que no esperaba.",
            "¿Alguien me lo puede explicar?",
            "Hola {first}, era el envío urgente, que no debía aplicarse porque tu pedido tenía envío gratis. Te lo he devuelto.",
            "Gracias por aclararlo.",
        ),
        Scenario(
            "thanks",
            "Support",
            "Gracias",
            "Solo quería daros las gracias, vuestra compañera me ayudó muchísimo la semana pasada.",
            "",
            "¡Gracias {first}! Se lo hemos hecho llegar al equipo.",
            "",
        ),
    ],
}

CHANNELS = ["email"] * 45 + ["chat"] * 30 + ["sms"] * 15 + ["voice"] * 10
PRODUCTS = [
    ("Trail jacket", "89.00"),
    ("Hiking boots", "129.00"),
    ("Merino socks", "19.50"),
    ("Day pack", "64.00"),
    ("Rain shell", "110.00"),
    ("Fleece", "55.00"),
]


def tenure_words(since: dt.date, today: dt.date, lang: str) -> str:
    months = max(1, (today.year - since.year) * 12 + today.month - since.month)
    if months >= 12:
        years = months // 12
        return (
            (f"{years} year" + ("s" if years > 1 else ""))
            if lang == "en"
            else (f"{years} año" + ("s" if years > 1 else ""))
        )
    return (
        (f"{months} month" + ("s" if months > 1 else ""))
        if lang == "en"
        else (f"{months} mes" + ("es" if months > 1 else ""))
    )


def load_demo(
    *, stdout=None, customers_count: int = 320, conversations_count: int = 1560
) -> Workspace:
    """Create the demo workspaces unless they exist. Deterministic for a given day."""
    existing = Workspace.objects.filter(slug="demo").first()
    if existing:
        return existing
    rng = random.Random(20260101)  # noqa: S311 - demo data, not security
    end = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=730)
    with transaction.atomic():
        ws = tenancy.create_workspace(
            name="Northwind Outfitters",
            slug="demo",
            time_zone="Europe/Madrid",
            languages=["en", "es"],
            currency="EUR",
            brand_group="Northwind Contact Centre",
            settings={"phone_region": "ES"},
        )
        admin = tenancy.create_member(
            workspace=ws,
            email=DEMO_EMAIL,
            role="admin",
            password=DEMO_PASSWORD,
            display_name="Dana Demo",
            languages=["en", "es"],
        )
        admin.user.is_staff = True
        admin.user.is_superuser = True
        admin.user.first_name = "Dana"
        admin.user.save()
        admin.availability = Availability.ONLINE
        admin.save()
        agents = [admin]
        for email, name, langs, role in [
            ("lucia@northwind.example", "Lucía Romero", ["es", "en"], "lead"),
            ("tom@northwind.example", "Tom Baker", ["en"], "agent"),
            ("ines@northwind.example", "Inés Navarro", ["es"], "agent"),
            ("sam@northwind.example", "Sam Okafor", ["en"], "agent"),
            ("marco@northwind.example", "Marco Díaz", ["es", "en"], "agent"),
        ]:
            agents.append(
                tenancy.create_member(
                    workspace=ws,
                    email=email,
                    role=role,
                    password=DEMO_PASSWORD,
                    display_name=name,
                    languages=langs,
                )
            )
        teams = {}
        for name, dept in [
            ("Support", "support"),
            ("Billing", "billing"),
            ("Logistics", "logistics"),
            ("Technical", "technical"),
        ]:
            team = Team.objects.create(workspace=ws, name=name, department=dept, lead=agents[1])
            team.members.set(agents)
            teams[name] = team
    with transaction.atomic():  # one commit, not thousands: the demo loads in seconds
        people = _customers(ws, rng, agents, customers_count, start, end)
        _history(ws, rng, agents, teams, people, conversations_count, start, end, stdout)
        _second_brand(admin.user, rng, end)
    return ws


def _customers(ws, rng, agents, count, start, end):
    people = []
    for i in range(count):
        lang = "es" if rng.random() < 0.4 else "en"
        first = rng.choice(FIRST_ES if lang == "es" else FIRST_EN)
        last = rng.choice(LAST_ES if lang == "es" else LAST_EN)
        since = (start + dt.timedelta(days=rng.randint(0, 600))).date()
        email = (
            f"{first.lower()}.{last.lower()}{i}@example.{'es' if lang == 'es' else 'com'}".encode(
                "ascii", "ignore"
            ).decode()
        )
        phone = (
            f"+34 6{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
            if lang == "es"
            else f"+44 7700 9{rng.randint(10000, 99999)}"
        )
        tier = rng.choices(["standard", "silver", "gold", "platinum"], [60, 25, 11, 4])[0]
        c = customers.create_customer(
            workspace=ws,
            actor=None,
            identities=[("email", email), ("phone", phone)],
            name=f"{first} {last}",
            preferred_language=lang,
            preferred_channel=rng.choice(["email", "chat", "sms"]),
            tier=tier,
            customer_since=since,
            owner=rng.choice(agents)
            if tier in ("gold", "platinum") or rng.random() < 0.3
            else None,
            special_dates=[
                {
                    "label": "birthday",
                    "date": f"1990-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                }
            ]
            if rng.random() < 0.3
            else [],
            preferences={"contact_time": rng.choice(["morning", "afternoon", "evening"])},
        )
        orders = []
        for n in range(rng.randint(1, 8)):
            placed = dt.datetime.combine(since, dt.time(12), tzinfo=dt.UTC) + dt.timedelta(
                days=rng.randint(0, max(1, (end.date() - since).days))
            )
            items = rng.sample(PRODUCTS, rng.randint(1, 3))
            total = sum(Decimal(p) for _, p in items)
            status = rng.choices(
                ["delivered", "shipped", "pending", "cancelled", "returned"], [75, 8, 5, 6, 6]
            )[0]
            order, _ = customers.upsert_order(
                workspace=ws,
                customer=c,
                external_id=f"NW{100000 + i * 10 + n}",
                status=status,
                items=[{"name": name, "price": price, "quantity": 1} for name, price in items],
                total=total,
                currency="EUR",
                payment_method=rng.choice(["visa ending 4242", "mastercard ending 4444", "paypal"]),
                placed_at=placed,
                delivered_at=placed + dt.timedelta(days=3)
                if status in ("delivered", "returned")
                else None,
            )
            orders.append(order)
        customers.record_events(
            workspace=ws,
            events=[
                {
                    "customer": c,
                    "type": "purchase",
                    "value": o.total,
                    "currency": "EUR",
                    "occurred_at": o.placed_at,
                    "external_id": f"ev-{o.external_id}",
                }
                for o in orders
            ]
            + [
                {
                    "customer": c,
                    "type": "login",
                    "occurred_at": end - dt.timedelta(days=rng.randint(0, 90)),
                }
            ],
        )
        people.append((c, email, phone, lang, orders))
    return people


def _history(ws, rng, agents, teams, people, count, start, end, stdout):
    """Conversations spread over two years; each customer's cases are spaced apart."""
    busy: dict[int, list[dt.datetime]] = {}
    gap = dt.timedelta(days=ws.reopen_window_days + 3)
    slots = []
    attempts = 0
    while len(slots) < count and attempts < count * 20:
        attempts += 1
        person = rng.choice(people)
        c = person[0]
        since = dt.datetime.combine(c.customer_since, dt.time(8), tzinfo=dt.UTC)
        lo = max(since, start)
        at = lo + dt.timedelta(minutes=rng.randint(0, int((end - lo).total_seconds() // 60)))
        if any(abs(at - other) <= gap for other in busy.get(c.pk, [])):
            continue  # keep each customer's cases apart so they stay separate cases
        busy.setdefault(c.pk, []).append(at)
        slots.append((at, person))
    slots.sort(key=lambda s: s[0])  # history arrives in the order it happened
    made = 0
    for at, (c, email, phone, lang, orders) in slots:
        recent = end - at < dt.timedelta(days=6)
        scenario = rng.choice(SCENARIOS[lang])
        channel = rng.choice(CHANNELS)
        order = rng.choice(orders) if orders else None
        fmt = {
            "order": order.external_id if order else "NW000000",
            "amount": f"€{order.total if order else '49.00'}",
            "first": c.name.split(" ")[0],
            "tenure": tenure_words(c.customer_since, at.date(), lang),
        }
        sender = (
            Sender(email=email, name=c.name)
            if channel == "email"
            else Sender(phone=phone, name=c.name)
        )
        if channel == "chat":
            sender = Sender(chat_visitor=f"visitor-{c.pk}", email=email, name=c.name)
        text = scenario.opener.format(**fmt)
        if channel == "voice":
            text = (
                "Call transcript — customer: " if lang == "en" else "Transcripción — cliente: "
            ) + text
        first = conversations.ingest(
            workspace=ws,
            message=InboundMessage(
                channel=channel,
                text=text,
                subject=scenario.subject.format(**fmt),
                sender=sender,
                external_id=f"demo-{made}-0",
                sent_at=at,
                language=lang,
            ),
        )
        conv = first.conversation
        # Routing may already have given the case an owner (the customer's advocate
        # first); keep that choice rather than transferring the case without reason.
        by_pk = {a.pk: a for a in agents}
        owner = (
            by_pk.get(conv.owner_id)
            or c.owner
            or next((a for a in agents if lang in a.languages and rng.random() < 0.5), agents[1])
        )
        t = at + dt.timedelta(minutes=rng.randint(2, 240))
        conv = conversations.update_conversation(
            workspace=ws,
            actor=None,
            conversation=conv,
            changes={"owner_id": owner.pk, "team_id": teams[scenario.team].pk},
            at=at + dt.timedelta(minutes=1),
        )
        if scenario.follow_up and rng.random() < 0.45:
            conversations.ingest(
                workspace=ws,
                message=InboundMessage(
                    channel=channel,
                    text=scenario.follow_up,
                    sender=sender,
                    external_id=f"demo-{made}-1",
                    sent_at=t,
                    thread=ThreadHints(conversation_id=conv.pk),
                ),
            )
            t += dt.timedelta(minutes=rng.randint(5, 600))
        if recent and rng.random() < 0.5:
            made += 1
            continue  # still waiting for us: the inbox has work in it
        conversations.record_reply(
            workspace=ws,
            member=owner,
            conversation=conv,
            text=scenario.reply.format(**fmt),
            channel=channel,
            at=t,
            delivery_status="delivered",
        )
        t += dt.timedelta(minutes=rng.randint(10, 1440))
        if scenario.closing and rng.random() < 0.6:
            conversations.ingest(
                workspace=ws,
                message=InboundMessage(
                    channel=channel,
                    text=scenario.closing,
                    sender=sender,
                    external_id=f"demo-{made}-2",
                    sent_at=t,
                    thread=ThreadHints(conversation_id=conv.pk),
                ),
            )
            t += dt.timedelta(minutes=5)
        status = "pending" if recent and rng.random() < 0.5 else "resolved"
        conversations.update_conversation(
            workspace=ws, actor=owner, conversation=conv, changes={"status": status}, at=t
        )
        made += 1
        if stdout and made % 300 == 0:
            stdout.write(f"  … {made} conversations")


def _second_brand(user, rng, end):
    """A second client of the same contact centre, so the workspace picker has a use."""
    ws = tenancy.create_workspace(
        name="Sierra Telecom",
        slug="sierra",
        time_zone="America/Mexico_City",
        languages=["es", "en"],
        brand_group="Northwind Contact Centre",
        settings={"phone_region": "MX"},
    )
    member = Member.objects.create(
        workspace=ws, user=user, role="admin", display_name="Dana Demo", languages=["en", "es"]
    )
    texts = [
        "Mi internet no funciona desde ayer por la noche.",
        "I was billed for a plan I cancelled last month.",
        "¿Cuándo llega el técnico? Llevo tres días sin línea.",
        "My phone shows no signal since the update.",
    ]
    for i in range(40):
        conversations.ingest(
            workspace=ws,
            message=InboundMessage(
                channel=rng.choice(["sms", "whatsapp", "chat"]),
                text=rng.choice(texts),
                sender=Sender(phone=f"+52 55 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"),
                external_id=f"sierra-{i}",
                sent_at=end - dt.timedelta(hours=rng.randint(1, 24 * 20)),
            ),
        )
    return member


def customer_count(ws: Workspace) -> int:
    return Customer.objects.filter(workspace=ws).count()
