"""Requests to inspect or copy records, and challenges to records: the custodian's
queues and a parent's lists."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from gateway.records_requests.challenges import ChallengeStatus
from gateway.records_requests.fees import RequestKind
from gateway.store.models import (
    RecordChallenge,
    RecordsRequest,
    Requester,
    RequestStatus,
    Student,
    StudentRecord,
)
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


class ChallengeRepository(_Repository):
    """Challenges to records (Ed Code 49070)."""

    def add(self, challenge: RecordChallenge) -> RecordChallenge:
        return self._add(challenge)

    def get(self, challenge_id: uuid.UUID) -> RecordChallenge:
        return self._get(RecordChallenge, challenge_id)

    def of_student(self, student_id: uuid.UUID) -> list[RecordChallenge]:
        return list(self.session.scalars(
            select(RecordChallenge).where(RecordChallenge.student_id == student_id)
            .order_by(RecordChallenge.filed_at.desc(), RecordChallenge.id)))

    def open_queue(self, limit: int = 500,
                   ) -> list[tuple[RecordChallenge, Requester, Student, StudentRecord]]:
        """Open challenges, the one to decide soonest first."""
        return [tuple(row) for row in self.session.execute(  # type: ignore[misc]
            select(RecordChallenge, Requester, Student, StudentRecord)
            .join(Requester, RecordChallenge.challenger_id == Requester.id)
            .join(Student, RecordChallenge.student_id == Student.id)
            .join(StudentRecord, RecordChallenge.record_id == StudentRecord.id)
            .where(RecordChallenge.status == ChallengeStatus.OPEN)
            .order_by(RecordChallenge.decide_by, RecordChallenge.filed_at, RecordChallenge.id)
            .limit(limit))]
