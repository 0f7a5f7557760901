"""A district's policy pack: the clauses of its AR 5125 as data.

The engine knows what each clause means; the pack says where the district's
regulation states it, which laws it cites, whether the district uses each
discretionary disclosure, and (where the law bounds it) which records a clause
reaches. A district edits its pack, never the Python. A broken pack is refused
at load time with a message that names the file and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType

from gateway.policy.facts import RecordType

RT = RecordType

# Every clause the engine implements, with the records the law lets it reach
# (None: any record) and whether the regulation leaves it to the district's discretion.
CLAUSE_SCOPES: Mapping[str, frozenset[RecordType] | None] = MappingProxyType({
    "parent_of_minor": None,
    "adult_student": None,
    "parent_of_incompetent_adult": None,
    "parent_of_dependent_adult": None,
    "student_16_or_grade_10": None,
    "school_official": None,
    "custodian_of_records": None,
    "sarb": None,
    "other_school_enrollment": None,
    "audit_evaluation": None,
    "county_placing_agency": None,
    "court_order_or_subpoena": None,
    "district_attorney_truancy": None,
    "district_attorney_compulsory_education": None,
    "criminal_investigation": None,
    "truancy_judge_or_probation": None,
    # Ed Code 49069.3: grades, transcripts and the IEP only.
    "foster_family_agency": frozenset({RT.COURSES_AND_MARKS, RT.IEP}),
    # Ed Code 48902: special education and disciplinary records.
    "law_enforcement_48902": frozenset({
        RT.SPECIAL_EDUCATION, RT.IEP, RT.EXPULSION_ORDER, RT.ROUTINE_DISCIPLINE,
        RT.DISCIPLINARY_NOTICE,
    }),
    # Ed Code 49076.5: the student's identity and location only.
    "peace_officer_49076_5": frozenset({
        RT.LEGAL_NAME, RT.BIRTH_VERIFICATION, RT.SEX, RT.PARENT_NAME_ADDRESS,
        RT.RESIDENCE_VERIFICATION, RT.ENROLLMENT_DATES, RT.DIRECTORY_INFORMATION,
    }),
    "emergency": None,
    "accrediting_association": None,
    "research_study": None,
    "private_school_enrollment": None,
    # Health and Safety Code 120440: immunization information and what identifies it.
    "immunization_registry": frozenset({
        RT.IMMUNIZATION, RT.LEGAL_NAME, RT.BIRTH_VERIFICATION, RT.SEX, RT.PARENT_NAME_ADDRESS,
    }),
    "contractor": None,
    "financial_aid": None,
    # 34 CFR 99.37: identifying whom to offer voter registration.
    "elections_official": frozenset({
        RT.LEGAL_NAME, RT.BIRTH_VERIFICATION, RT.PARENT_NAME_ADDRESS,
        RT.RESIDENCE_VERIFICATION, RT.DIRECTORY_INFORMATION,
    }),
    "written_consent": None,
    "directory_information": frozenset({RT.DIRECTORY_INFORMATION}),
    "deidentified_release": None,
    "no_basis": None,
    "unrecognized_request": None,
    "access_log_readers": None,
    "challenge": None,
    "record_keeping": None,
    "no_additions_after_departure": None,
})

DISCRETIONARY: frozenset[str] = frozenset({
    "emergency", "accrediting_association", "research_study", "private_school_enrollment",
    "immunization_registry", "contractor", "financial_aid", "elections_official",
    "directory_information", "deidentified_release",
})


class PolicyPackError(ValueError):
    """The pack cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Clause:
    id: str
    section: str  # where the district's regulation states it, e.g. "AR 5125(c) item 1"
    title: str
    citations: tuple[str, ...]
    discretionary: bool = False
    used: bool = True  # for a discretionary clause: does the district make this disclosure?
    records: frozenset[RecordType] | None = None  # None: any record

    def reaches(self, record_type: RecordType) -> bool:
        return self.records is None or record_type in self.records


@dataclass(frozen=True, slots=True)
class PolicyPack:
    id: str
    title: str
    district: str
    version: str
    approved: date
    clauses: Mapping[str, Clause]

    def clause(self, clause_id: str) -> Clause:
        return self.clauses[clause_id]


def load_pack(path: str | Path) -> PolicyPack:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyPackError(f"{path}: cannot read the policy pack ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise PolicyPackError(f"{path}: cannot read the policy pack (not UTF-8 text)") from None
    return parse_pack(text, source=str(path))


def parse_pack(text: str, *, source: str = "<policy pack>") -> PolicyPack:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyPackError(f"{source}: not valid TOML: {exc}") from None
    return _Reader(source).pack(data)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> PolicyPackError:
        return PolicyPackError(f"{self.source}: {where}: {problem}")

    def table(self, data: Mapping[str, object], key: str, where: str) -> Mapping[str, object]:
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key}", "a table is required")
        return value

    def text(self, data: Mapping[str, object], key: str, where: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", "a non-empty string is required")
        return value.strip()

    def pack(self, data: Mapping[str, object]) -> PolicyPack:
        head = self.table(data, "pack", "")
        unknown = set(data) - {"pack", "clauses"}
        if unknown:
            raise self.fail(sorted(unknown)[0], "unknown table (expected [pack] and [clauses.*])")
        approved = head.get("approved")
        if not isinstance(approved, date):
            raise self.fail("pack.approved", "a date (YYYY-MM-DD) is required")
        clauses_data = self.table(data, "clauses", "")
        clauses = {cid: self.clause(cid, c) for cid, c in clauses_data.items()}
        missing = [cid for cid in CLAUSE_SCOPES if cid not in clauses]
        if missing:
            raise self.fail(f"clauses.{missing[0]}", "missing: the pack must define every clause")
        return PolicyPack(
            id=self.text(head, "id", "pack"),
            title=self.text(head, "title", "pack"),
            district=self.text(head, "district", "pack"),
            version=self.text(head, "version", "pack"),
            approved=approved,
            clauses=MappingProxyType(clauses),
        )

    def clause(self, cid: str, data: object) -> Clause:
        where = f"clauses.{cid}"
        if cid not in CLAUSE_SCOPES:
            raise self.fail(where, "unknown clause (the engine implements: "
                            + ", ".join(CLAUSE_SCOPES) + ")")
        if not isinstance(data, dict):
            raise self.fail(where, "a table is required")
        unknown = set(data) - {"section", "title", "citations", "use", "records"}
        if unknown:
            raise self.fail(f"{where}.{sorted(unknown)[0]}", "unknown key")
        citations = data.get("citations")
        if (not isinstance(citations, list) or not citations
                or not all(isinstance(c, str) and c.strip() for c in citations)):
            raise self.fail(f"{where}.citations", "a non-empty list of citations is required")
        discretionary = cid in DISCRETIONARY
        used = data.get("use", True)
        if not isinstance(used, bool):
            raise self.fail(f"{where}.use", "true or false is required")
        if "use" in data and not discretionary:
            raise self.fail(f"{where}.use", "the law requires this clause; only discretionary "
                            "disclosures can be switched off")
        return Clause(
            id=cid,
            section=self.text(data, "section", where),
            title=self.text(data, "title", where),
            citations=tuple(" ".join(c.split()) for c in citations),
            discretionary=discretionary,
            used=used,
            records=self.records(cid, data.get("records"), f"{where}.records"),
        )

    def records(self, cid: str, value: object, where: str) -> frozenset[RecordType] | None:
        allowed = CLAUSE_SCOPES[cid]
        if value is None:
            return allowed
        if allowed is None:
            raise self.fail(where, "this clause is not limited to certain records")
        if not isinstance(value, list):
            raise self.fail(where, "a list of record types is required")
        chosen = set()
        for i, name in enumerate(value):
            try:
                record_type = RecordType(name)
            except ValueError:
                raise self.fail(f"{where}[{i}]", f"{name!r} is not a record type") from None
            if record_type not in allowed:
                raise self.fail(f"{where}[{i}]", f"{name!r} is beyond what the law lets this "
                                "clause reach")
            chosen.add(record_type)
        return frozenset(chosen)
