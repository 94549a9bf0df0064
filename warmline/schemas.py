"""Shared API schema pieces."""

from __future__ import annotations

from ninja import Schema


class ErrorOut(Schema):
    detail: str | list
    code: str | None = None
