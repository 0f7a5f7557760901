"""Copies of a student's records as one PDF (Ed Code 49065, 49069).

Rendered in memory from the opened records and never stored: the district keeps the
records, not copies of them. Text is set in DejaVu Sans (Debian's fonts-dejavu-core),
since reportlab's built-in fonts cannot write names like "Zoë Ångström-Núñez".
Output is reproducible (reportlab's invariant mode): the same records, the same bytes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
TEXT_TYPES = ("text/", "application/json", "application/xml")


class CopiesUnavailable(RuntimeError):
    """The PDF cannot be made on this machine (its fonts are missing)."""


@dataclass(frozen=True, slots=True)
class CopiedRecord:
    record_type: str
    category: str
    school_year: str
    originator: str
    originated_on: date | None
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class CopiesHeader:
    district: str
    student_sis_id: str
    request_id: str
    requested_by: str
    prepared_on: date
    fee: str


def _fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    try:
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    except Exception as exc:  # reportlab raises TTFError or OSError for a missing font
        raise CopiesUnavailable(f"fonts-dejavu-core is not installed ({FONT_DIR})") from exc


def render(header: CopiesHeader, records: Sequence[CopiedRecord]) -> tuple[bytes, int]:
    """The PDF and its number of pages."""
    _fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    title = ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=15, leading=19)
    heading = ParagraphStyle("heading", parent=body, fontName=BOLD, fontSize=11, leading=15,
                             spaceBefore=10)

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    story = [
        para("Copies of student records", title),
        para(f"{header.district}"),
        para(f"Student: {header.student_sis_id}"),
        para(f"Request: {header.request_id}, by {header.requested_by}"),
        para(f"Prepared on {header.prepared_on.isoformat()}. Fee: {header.fee}"),
        para("Copies made under Education Code 49065 and 49069. The records themselves stay "
             "with the district's custodian of records.", small),
        Spacer(1, 0.2 * inch),
    ]
    if not records:
        story.append(para("No records are on file for this student."))
    for number, record in enumerate(records, 1):
        story.append(para(f"{number}. {record.record_type.replace('_', ' ')}", heading))
        story.append(para(
            f"Category: {record.category.replace('_', ' ')}. School year of origin: "
            f"{record.school_year}. Originator: {record.originator}"
            + (f", dated {record.originated_on.isoformat()}" if record.originated_on else "")
            + ".", small))
        story.append(para(_printable(record)))
    buffer = io.BytesIO()
    pages: list[int] = []
    doc = SimpleDocTemplate(buffer, pagesize=LETTER, title="Copies of student records",
                            author=header.district, invariant=1,
                            leftMargin=inch, rightMargin=inch, topMargin=inch,
                            bottomMargin=inch)

    def footer(canvas, document) -> None:
        pages.append(document.page)
        canvas.setFont(FONT, 8)
        canvas.drawString(inch, 0.6 * inch, f"Request {header.request_id} · page "
                                            f"{document.page}")

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue(), len(pages)


def _printable(record: CopiedRecord) -> str:
    if record.media_type.startswith(TEXT_TYPES):
        try:
            return record.content.decode("utf-8")
        except UnicodeDecodeError:
            pass
    digest = hashlib.sha256(record.content).hexdigest()
    return (f"This record is kept as {record.media_type} ({len(record.content)} bytes, "
            f"SHA-256 {digest}), which cannot be printed here. Ask the custodian of "
            "records for a copy in its original form.")
