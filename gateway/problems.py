"""RFC 9457 problem details: how every error leaves the gateway."""

from __future__ import annotations

from typing import Any

from flask import Response, g, json

from schemas.problem import PROBLEM_MEDIA_TYPE

# Problem types are URIs; these name the gateway's own kinds of problem.
TYPE_BASE = "tag:records-gateway,2026:problem:"


def problem(status: int, title: str, detail: str | None = None, *, kind: str | None = None,
            headers: dict[str, str] | None = None, **extensions: Any) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind if kind else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request_id := g.get("request_id"):
        body["request_id"] = request_id
    body.update({k: v for k, v in extensions.items() if v is not None})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(headers or {})
    return response
