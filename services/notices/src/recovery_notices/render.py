"""A notice's content as an A4 PDF (reportlab platypus), byte-for-byte the same
for the same content: reportlab's invariant mode fixes the creation date and the
document id it would otherwise stamp, so a re-render after a crash produces the
same file and the same checksum.

CPU-bound and synchronous: callers run it in a worker thread.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from recovery_notices.domain import NoticeContent

MARGIN = 18 * mm
CREATOR = "recovery-notices"


@dataclass(frozen=True)
class Typeface:
    """The fonts a notice is set in. The default, Helvetica, needs no files but
    covers only Western European letters (a name such as 'Łukasz' loses its 'Ł');
    a deployment sets a Unicode TrueType font (e.g. DejaVu Sans) to cover more."""

    regular: str = "Helvetica"
    bold: str = "Helvetica-Bold"
    italic: str = "Helvetica-Oblique"


STANDARD = Typeface()


def load_typeface(regular: Path, bold: Path | None = None, italic: Path | None = None) -> Typeface:
    """Register TrueType files once (reportlab's font registry is process-wide)
    and name them by their file's stem, so the same files give the same PDFs."""
    names = []
    for path in (regular, bold or regular, italic or regular):
        name = f"Notice-{path.stem}"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(path)))
        names.append(name)
    return Typeface(*names)


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    statutory: ParagraphStyle
    council: ParagraphStyle
    service: ParagraphStyle
    address: ParagraphStyle
    title: ParagraphStyle
    heading: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    small: ParagraphStyle


@lru_cache(maxsize=8)
def _styles(face: Typeface) -> _Styles:
    body = ParagraphStyle("body", fontName=face.regular, fontSize=9.5, leading=12.5, spaceAfter=5)
    cell = ParagraphStyle("cell", fontName=face.regular, fontSize=9.5, leading=12)
    return _Styles(
        body=body,
        statutory=ParagraphStyle(
            "statutory",
            parent=body,
            fontName=face.italic,
            borderColor=colors.grey,
            borderWidth=0.5,
            borderPadding=4,
            backColor=colors.Color(0.95, 0.95, 0.95),
            spaceBefore=4,
            spaceAfter=9,
        ),
        council=ParagraphStyle("council", fontName=face.bold, fontSize=15, leading=18),
        service=ParagraphStyle("service", fontName=face.regular, fontSize=9, leading=11, textColor=colors.grey),
        address=ParagraphStyle("address", fontName=face.regular, fontSize=10, leading=12.5),
        title=ParagraphStyle("title", fontName=face.bold, fontSize=13, leading=16, spaceBefore=8, spaceAfter=8),
        heading=ParagraphStyle("heading", fontName=face.bold, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3),
        cell=cell,
        cell_right=ParagraphStyle("cell_right", parent=cell, alignment=TA_RIGHT),
        small=ParagraphStyle("small", fontName=face.regular, fontSize=8.5, leading=11),
    )


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _two_columns(rows: list[tuple[str, str]], st: _Styles, *, rule_above_last: bool = False) -> Table:
    width = A4[0] - 2 * MARGIN
    table = Table(
        [[_p(label, st.cell), _p(value, st.cell_right)] for label, value in rows],
        colWidths=[width * 0.68, width * 0.32],
        hAlign="LEFT",
    )
    style: list[tuple[object, ...]] = [
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if rule_above_last:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black))
    table.setStyle(TableStyle(style))
    return table


def _header(content: NoticeContent, st: _Styles) -> Table:
    width = A4[0] - 2 * MARGIN
    left: list[Flowable] = [
        _p(content.council_name, st.council),
        _p("Revenues and Benefits", st.service),
        Spacer(1, 10 * mm),
        _p(content.recipient_name, st.address),
        *[_p(line, st.address) for line in content.recipient_address],
    ]
    right_rows = [("Date", content.key_dates[0].shown), *content.references]
    right = Table(
        [[_p(k, st.small), _p(v, st.small)] for k, v in right_rows],
        colWidths=[width * 0.14, width * 0.24],
    )
    right.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 2)]))
    header = Table([[left, right]], colWidths=[width * 0.6, width * 0.4])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, -1), 0)]))
    return header


def _story(content: NoticeContent, st: _Styles) -> list[Flowable]:
    story: list[Flowable] = [_header(content, st), Spacer(1, 6 * mm), _p(content.title, st.title)]
    for clause in content.clauses:
        story.append(_p(clause.text, st.statutory if clause.statutory else st.body))
    if content.amounts:
        story.append(_p("Amounts", st.heading))
        total_last = content.amounts[-1].key == "total"
        story.append(_two_columns([(a.label, a.shown) for a in content.amounts], st, rule_above_last=total_last))
    story.append(_p("Key dates", st.heading))
    story.append(_two_columns([(d.label, d.shown) for d in content.key_dates], st))
    story.append(Spacer(1, 5 * mm))
    story += [_p(line, st.body) for line in content.closing]
    return story


def _footer(content: NoticeContent, document_id: str, face: Typeface) -> Callable[[Canvas, SimpleDocTemplate], None]:
    def draw(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(face.regular, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, 10 * mm, f"Document {document_id} \N{MIDDLE DOT} request {content.request_id}")
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def render_pdf(content: NoticeContent, document_id: str, face: Typeface = STANDARD) -> bytes:
    """The notice as A4 PDF bytes. The same content, document id and typeface
    always give the same bytes (reportlab's invariant mode)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=content.title,
        author=content.council_name,
        subject=f"{content.notice_type.value} {document_id}",
        creator=CREATOR,
        producer=CREATOR,
        invariant=1,
    )
    footer = _footer(content, document_id, face)
    doc.build(_story(content, _styles(face)), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


_PAGE_COUNT = re.compile(rb"/Type /Pages[^>]*?/Count (\d+)|/Count (\d+)[^>]*?/Type /Pages")


def page_count(pdf: bytes) -> int:
    """Pages in a PDF this module rendered (its page tree's /Count)."""
    match = _PAGE_COUNT.search(pdf)
    if match is None:
        raise ValueError("not a PDF page tree reportlab wrote")
    return int(match.group(1) or match.group(2))
