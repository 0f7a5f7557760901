"""What copies of records cost (Ed Code 49065).

- Locating and retrieving a record is free; so is inspecting and reviewing it.
- A former student gets up to two transcripts and up to two verifications free.
- Otherwise copies cost the district's charge per page, which may not exceed its actual
  cost of providing them (the district states both; the loader refuses a charge above
  the cost).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

FREE_FOR_A_FORMER_STUDENT = 2  # transcripts, and verifications, each (Ed Code 49065)


class RequestKind(enum.StrEnum):
    INSPECT = "inspect"  # inspect and review, with staff to explain (Ed Code 49069)
    COPIES = "copies"  # copies of the records
    TRANSCRIPT = "transcript"
    VERIFICATION = "verification"  # verification of records (e.g. enrolment, graduation)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    charge_per_page_cents: int
    actual_cost_per_page_cents: int

    def __post_init__(self) -> None:
        for name in ("charge_per_page_cents", "actual_cost_per_page_cents"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: a whole number of cents, zero or more")
        if self.charge_per_page_cents > self.actual_cost_per_page_cents:
            raise ValueError("charge_per_page_cents: may not exceed the actual cost of "
                             "providing the copies (Ed Code 49065)")


@dataclass(frozen=True, slots=True)
class Fee:
    cents: int
    basis: str  # why this amount, for the requester and the custodian

    @property
    def free(self) -> bool:
        return self.cents == 0


def fee_for(schedule: FeeSchedule, kind: RequestKind, pages: int, *, former_student: bool,
            free_ones_given: int) -> Fee:
    """The fee for one fulfilled request.

    ``free_ones_given``: how many requests of this kind the student was already given
    free of charge as a former student.
    """
    if pages < 0:
        raise ValueError("pages cannot be negative")
    if kind is RequestKind.INSPECT:
        return Fee(0, "Inspecting and reviewing records is free; so is locating and "
                      "retrieving them (Ed Code 49065).")
    if (kind in (RequestKind.TRANSCRIPT, RequestKind.VERIFICATION) and former_student
            and free_ones_given < FREE_FOR_A_FORMER_STUDENT):
        return Fee(0, f"A former student's first {FREE_FOR_A_FORMER_STUDENT} {kind}s are "
                      "free (Ed Code 49065).")
    cents = pages * schedule.charge_per_page_cents
    return Fee(cents, f"{pages} page(s) at {schedule.charge_per_page_cents} cents a page, "
                      "not above the district's actual cost; no charge to locate or "
                      "retrieve the records (Ed Code 49065).")
