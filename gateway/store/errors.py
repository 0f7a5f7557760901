"""Errors of the store.

Messages name ids the gateway made up, fields and citations, never student data: they
may reach a log line or a problem document.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass


class StoreError(Exception):
    """Something the store refuses or cannot do."""


class NotFound(StoreError):
    def __init__(self, what: str, ident: uuid.UUID) -> None:
        super().__init__(f"no {what} with id {ident}")
        self.what = what
        self.ident = ident


class RecordRefused(StoreError):
    """A record the regulation does not let the district keep in this form."""

    def __init__(self, citation: str, reason: str, missing: Sequence[str] = ()) -> None:
        super().__init__(f"{citation}: {reason}")
        self.citation = citation
        self.reason = reason
        self.missing = tuple(missing)


class RecordDestroyed(StoreError):
    """The record was destroyed (crypto-shredded); only its tombstone remains."""

    def __init__(self, record_id: uuid.UUID) -> None:
        super().__init__(f"student record {record_id} was destroyed")
        self.record_id = record_id


class NotAParent(StoreError):
    """A guardianship names a requester who is not registered as a parent."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One refused row of an import: its position (1-based), the field, the problem.

    Never the value: it is student data.
    """

    row: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.problem}"


class ImportRejected(StoreError):
    """An import with at least one bad row; nothing of it was written."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = tuple(errors)
        rows = len({e.row for e in self.errors})
        super().__init__(f"{rows} row(s) refused, nothing was imported; first: {self.errors[0]}"
                         if self.errors else "nothing was imported")
