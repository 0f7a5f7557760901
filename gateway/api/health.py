"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from gateway.api.parsing import Blueprint
from gateway.problems import problem
from gateway.services import find

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(Schema):
    status = fields.String(required=True)


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """The process is up."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="The database cannot be reached")
    def get(self):
        """The process can serve: its database answers."""
        if not find().database_is_reachable():
            return problem(503, "Service Unavailable", "The database cannot be reached.",
                           kind="not-ready", headers={"Retry-After": "5"})
        return {"status": "ready"}
