"""Requests to inspect or copy records, as the custodian's queue and a parent's list."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from gateway.records_requests.fees import RequestKind
from gateway.store.models import RecordsRequest, Requester, RequestStatus, Student
from gateway.store.repositories import _Repository


class RecordsRequestRepository(_Repository):
    def add(self, request: RecordsRequest) -> RecordsRequest:
        return self._add(request)

    def get(self, request_id: uuid.UUID) -> RecordsRequest:
        return self._get(RecordsRequest, request_id)

    def of_requester(self, requester_id: uuid.UUID, limit: int = 200,
                     ) -> list[tuple[RecordsRequest, Student]]:
        """A requester's requests, newest first."""
        return [(r, s) for r, s in self.session.execute(
            select(RecordsRequest, Student).join(Student, RecordsRequest.student_id == Student.id)
            .where(RecordsRequest.requester_id == requester_id)
            .order_by(RecordsRequest.requested_at.desc(), RecordsRequest.id).limit(limit))]

    def open_queue(self, limit: int = 500,
                   ) -> list[tuple[RecordsRequest, Requester, Student]]:
        """Open requests, the one due soonest (so the most overdue) first."""
        return [(r, q, s) for r, q, s in self.session.execute(
            select(RecordsRequest, Requester, Student)
            .join(Requester, RecordsRequest.requester_id == Requester.id)
            .join(Student, RecordsRequest.student_id == Student.id)
            .where(RecordsRequest.status == RequestStatus.OPEN)
            .order_by(RecordsRequest.due_on, RecordsRequest.requested_at, RecordsRequest.id)
            .limit(limit))]

    def free_ones_given(self, student_id: uuid.UUID, kind: RequestKind) -> int:
        """How many requests of this kind for the student were fulfilled free of charge."""
        return self.session.scalar(
            select(func.count()).select_from(RecordsRequest).where(
                RecordsRequest.student_id == student_id, RecordsRequest.kind == kind,
                RecordsRequest.status == RequestStatus.FULFILLED,
                RecordsRequest.fee_cents == 0)) or 0
