"""structlog: context bound once per request, one line per request, JSON in production.

Never log student data: log lines carry ids the gateway made up (request ids, record
ids), categories and outcomes, never names, birth dates or record content.
"""

from __future__ import annotations

import logging
import time
import uuid

import structlog
from flask import Flask, g, request

REQUEST_ID_HEADER = "X-Request-Id"


def configure_logging(log_format: str) -> None:
    renderer = (structlog.processors.JSONRenderer() if log_format == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        # One write(2) per line: print() (structlog's default PrintLogger) writes the text
        # and its newline apart, so two gunicorn workers sharing standard output merged
        # their lines. Whole lines stay whole (O_APPEND files, pipes up to PIPE_BUF).
        logger_factory=structlog.WriteLoggerFactory(),
        cache_logger_on_first_use=True,
    )


def init_app(app: Flask) -> None:
    log = structlog.get_logger("gateway.request")

    @app.before_request
    def bind_request() -> None:
        # Accept the caller's id only when it is short and plain, so it cannot smuggle
        # anything into the log; otherwise make one.
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if given.isascii() and given.replace("-", "").isalnum() \
            and len(given) <= 64 else uuid.uuid4().hex
        g.started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def log_request(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        log.info(
            "request",
            method=request.method,
            path=request.url_rule.rule if request.url_rule else "<unmatched>",
            status=response.status_code,
            duration_ms=round((time.perf_counter() - g.get("started", time.perf_counter()))
                              * 1000, 2),
            **g.get("log_fields", {}),
        )
        return response

    @app.teardown_request
    def unbind(_exc: BaseException | None) -> None:
        structlog.contextvars.clear_contextvars()


def add_log_fields(**fields: object) -> None:
    """Add non-identifying facts (requester category, decision, clause) to this request's line."""
    g.setdefault("log_fields", {}).update(fields)
