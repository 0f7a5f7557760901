"""RFC 9457 problem details, the one error shape of the API."""

from __future__ import annotations

from marshmallow import Schema, fields

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemSchema(Schema):
    type = fields.String(metadata={"description": "A URI naming the kind of problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    request_id = fields.String()
    errors = fields.Dict(metadata={"description": "Field errors of an unprocessable request"})
    decision = fields.Dict(metadata={"description": "The AR 5125 decision behind a refusal"})
