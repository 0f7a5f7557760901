"""Marshmallow wire schemas: API bodies, problem details, exports."""
