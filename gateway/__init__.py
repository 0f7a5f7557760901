"""records-gateway: AR 5125 decisions in front of a district's student records."""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any):
    """The Flask application (see gateway.app); imported lazily so that the pure engine
    (gateway.policy) loads without Flask or SQLAlchemy."""
    from gateway.app import create_app as factory

    return factory(*args, **kwargs)
