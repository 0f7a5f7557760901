"""The API's blueprints.

They parse bodies with a parser that refuses what Python's json module cannot read
safely: nesting deep enough to exhaust the recursion limit, and integers longer than the
interpreter converts (4,300 digits). Both are a 400 like any invalid JSON body, not a
500. And their answers carry student data, so none is kept by a cache.
"""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from webargs.flaskparser import FlaskParser


class _Parser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs' own handling: an empty body is missing, else a 400
        except (RecursionError, ValueError) as exc:
            self._handle_invalid_json_error(exc, req)  # type: ignore[arg-type]


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.after_request(_no_store)


def _no_store(response: flask.Response) -> flask.Response:
    # Records, decisions, directories, the access log: no cache keeps a copy.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
