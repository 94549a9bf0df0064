"""The JSON API at /api/v1 (OpenAPI at /api/docs), and its one error handler."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError

from warmline.api_auth import AUTH
from warmline.conversations.api import router as conversations_router
from warmline.customers.api import router as customers_router
from warmline.errors import DomainError, InvalidInput
from warmline.feedback.api import router as feedback_router
from warmline.insights.api import router as insights_router

api = NinjaAPI(
    title="Warmline API",
    version="1",
    description="Customer care platform API. Authenticate with `Authorization: Bearer <token>`.",
    auth=AUTH,
    urls_namespace="api",
    docs_url="/docs",
)


@api.exception_handler(InvalidInput)
def invalid_input(request: HttpRequest, exc: InvalidInput):
    loc = ["body", exc.field] if exc.field else ["body"]
    return api.create_response(
        request, {"detail": [{"loc": loc, "msg": exc.message, "type": "invalid"}]}, status=422
    )


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError):
    return api.create_response(
        request, {"detail": exc.message, "code": exc.code, "field": exc.field}, status=exc.status
    )


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: AuthenticationError):
    response = api.create_response(
        request, {"detail": "Authentication required: send a bearer token."}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="warmline"'
    return response


class HealthOut(Schema):
    status: str


@api.get("/health", auth=None, response=HealthOut, tags=["system"])
def health(request):
    return {"status": "ok"}


api.add_router("/", customers_router)
api.add_router("/", conversations_router)
api.add_router("/", "warmline.actions.api.router")
api.add_router("/", feedback_router)
api.add_router("/", insights_router)
api.add_router("/", "warmline.channels.voice.api.router")
api.add_router("/", "warmline.proactive.api.router")
