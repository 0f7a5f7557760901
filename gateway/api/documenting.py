"""Documenting the problems a view can answer with, as they are sent on the wire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest import Blueprint

from schemas.problem import PROBLEM_MEDIA_TYPE, ProblemSchema


def problems(blp: Blueprint, responses: dict[int, str],
             schema: type[ProblemSchema] = ProblemSchema) -> Callable[[Any], Any]:
    """``@problems(blp, {404: "why"})``: each status documented as application/problem+json,
    so the OpenAPI document lists every status the view can return."""
    def decorate(view: Any) -> Any:
        for status, description in responses.items():
            view = blp.alt_response(status, schema=schema, description=description,
                                    content_type=PROBLEM_MEDIA_TYPE)(view)
        return view
    return decorate
