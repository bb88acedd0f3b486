"""A notice's content as an A4 PDF (reportlab platypus), byte-for-byte the same
for the same content: reportlab's invariant mode fixes the creation date and the
document id it would otherwise stamp, so a re-render after a crash produces the
same file and the same checksum.

CPU-bound and synchronous: callers run it in a worker thread.
"""

from __future__ import annotations

import html
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
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from recovery_notices.domain import NoticeContent
from recovery_notices.templating import Block, TableRow

MARGIN = 18 * mm
_CELL_PADDING = 6  # reportlab's default on each side of a table cell
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
    face: Typeface
    body: ParagraphStyle
    notice: ParagraphStyle
    council: ParagraphStyle
    service: ParagraphStyle
    address: ParagraphStyle
    title: ParagraphStyle
    heading: ParagraphStyle
    item: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    small: ParagraphStyle


@lru_cache(maxsize=8)
def _styles(face: Typeface) -> _Styles:
    body = ParagraphStyle("body", fontName=face.regular, fontSize=9.5, leading=12.5, spaceAfter=5)
    cell = ParagraphStyle("cell", fontName=face.regular, fontSize=9.5, leading=12)
    return _Styles(
        face=face,
        body=body,
        notice=ParagraphStyle(
            "notice",
            parent=body,
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
        heading=ParagraphStyle(
            "heading", fontName=face.bold, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3, keepWithNext=1
        ),
        item=ParagraphStyle("item", parent=body, leftIndent=12, bulletIndent=3, spaceAfter=2),
        cell=cell,
        cell_right=ParagraphStyle("cell_right", parent=cell, alignment=TA_RIGHT),
        small=ParagraphStyle("small", fontName=face.regular, fontSize=8.5, leading=11),
    )


def _cell(markup: str, style: ParagraphStyle, width: float) -> str | Paragraph:
    """A table cell: a short one without tags as a plain string, which the table
    draws in one call; a Paragraph is parsed, wrapped and measured, and those
    steps are most of a notice's rendering time. Anything that might wrap stays
    a Paragraph."""
    if "<" not in markup:
        text = html.unescape(markup)
        if pdfmetrics.stringWidth(text, style.fontName, style.fontSize) <= width:
            return text
    return Paragraph(markup, style)


def _string_cells(style: ParagraphStyle, right_aligned_column: int | None) -> list[tuple[object, ...]]:
    # What a plain string cell is set in; Paragraph cells carry their own style.
    commands: list[tuple[object, ...]] = [("FONT", (0, 0), (-1, -1), style.fontName, style.fontSize, style.leading)]
    if right_aligned_column is not None:
        commands.append(("ALIGN", (right_aligned_column, 0), (right_aligned_column, -1), "RIGHT"))
    return commands


def _table(rows: tuple[TableRow, ...], st: _Styles) -> Table:
    """A template's table: the last column (the figures) right-aligned; two
    columns share the width 68/32, more share it evenly after a wider first one."""
    width = A4[0] - 2 * MARGIN
    columns = max(len(row.cells) for row in rows)
    if columns == 2:
        widths = [width * 0.68, width * 0.32]
    else:
        first = width * 0.36
        widths = [first] + [(width - first) / (columns - 1)] * (columns - 1)
    room = [w - 2 * _CELL_PADDING for w in widths]
    data = [
        [
            _cell(cell, st.cell_right if i == columns - 1 and i > 0 else st.cell, room[i])
            for i, cell in enumerate(row.cells)
        ]
        + [""] * (columns - len(row.cells))
        for row in rows
    ]
    table = Table(data, colWidths=widths, hAlign="LEFT")
    style: list[tuple[object, ...]] = [
        *_string_cells(st.cell, columns - 1 if columns > 1 else None),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for index, row in enumerate(rows):
        if row.total:
            style.append(("LINEABOVE", (0, index), (-1, index), 0.8, colors.black))
    table.setStyle(TableStyle(style))
    return table


# A DL or C5 windowed envelope shows the address through a window 90mm wide: every
# line of the address block is wrapped to that width, so none of it is hidden.
ADDRESS_WINDOW = 90 * mm
# A wrapped address line's continuation is indented, so it reads as the rest of
# the line above, not as an address line of its own.
_ADDRESS_HANGING = 4 * mm
# The address block's sizes, largest first: the smallest that lets the header fit on
# a page when it would not at 10pt; never below 8pt, so the address stays legible.
ADDRESS_SIZES = (10.0, 9.5, 9.0, 8.5, 8.0)
# What the first page's frame holds (SimpleDocTemplate pads its frame 6pt a side).
_FRAME_WIDTH = A4[0] - 2 * MARGIN - 12
_FRAME_HEIGHT = A4[1] - 2 * MARGIN - 12


@lru_cache(maxsize=32)
def _address_style(address: ParagraphStyle, size: float) -> ParagraphStyle:
    if size == address.fontSize:
        return address
    return ParagraphStyle(f"address-{size:g}", parent=address, fontSize=size, leading=size * 1.25)


def _header(content: NoticeContent, st: _Styles) -> Table:
    """The council, the address block and the references. Every address line is
    printed whole: Royal Mail needs all of it, so a long one wraps within the
    window rather than being cut. Where the block is taller than a page at 10pt
    it is set smaller; where it still is at 8pt, it continues on the next page
    between address lines."""
    for size in ADDRESS_SIZES:
        header = _header_table(content, st, _address_style(st.address, size), continued=False)
        if header.wrap(_FRAME_WIDTH, _FRAME_HEIGHT)[1] <= _FRAME_HEIGHT:
            return header
    return _header_table(content, st, _address_style(st.address, ADDRESS_SIZES[-1]), continued=True)


def _header_table(content: NoticeContent, st: _Styles, address: ParagraphStyle, *, continued: bool) -> Table:
    width = A4[0] - 2 * MARGIN
    top: list[Flowable] = [
        _text(escape(content.council_name), st.council, st.face),
        _text("Revenues and Benefits", st.service, st.face),
        Spacer(1, 10 * mm),
    ]
    block = [
        _Lines(escape(line), address, st.face, hanging=_ADDRESS_HANGING, limit=ADDRESS_WINDOW)
        for line in (content.recipient_name, *content.recipient_address)
    ]
    right_rows = [("Date", content.key_dates[0].shown), *content.references]
    widths = [width * 0.14, width * 0.24]
    right = Table(
        [[_cell(escape(k), st.small, widths[0] - 8), _cell(escape(v), st.small, widths[1] - 8)] for k, v in right_rows],
        colWidths=widths,
    )
    right.setStyle(
        TableStyle(
            [
                *_string_cells(st.small, None),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    style: list[tuple[object, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, -1), 0)]
    if not continued:
        header = Table([[[*top, *block], right]], colWidths=[width * 0.6, width * 0.4])
    else:
        # One row per address line, so the table can break between them: a line
        # is never split across pages, and the block reads on where it left off.
        header = Table([[top, right], *[[line, ""] for line in block]], colWidths=[width * 0.6, width * 0.4])
        style += [("BOTTOMPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 1), (-1, -1), 0)]
    header.setStyle(TableStyle(style))
    return header


# The inline markup templates use: <b>, <i> and <br/>, with escaped text between.
_INLINE = re.compile(r"<(/?)([bi])>|<br\s*/>|([^<]+)")
_SIMPLE = re.compile(r"(?:[^<]|</?[bi]>|<br\s*/>)*")
_SPACES = re.compile(r"(\s+)")

Word = tuple[tuple[str, str], ...]
"""A word as its pieces of (text, font name): "2026," may be bold then regular."""


@lru_cache(maxsize=32768)
def _width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, font, size))


def _words(markup: str, base: str, face: Typeface) -> list[Word | None]:
    """The words of simple markup in reading order, in ``base`` unless marked bold or
    italic; ``None`` is a forced line break."""
    words: list[Word | None] = []
    current: list[tuple[str, str]] = []
    bold = italic = 0
    for match in _INLINE.finditer(markup):
        closing, tag, text = match.groups()
        if tag is not None:
            step = -1 if closing else 1
            bold, italic = (bold + step, italic) if tag == "b" else (bold, italic + step)
            continue
        if text is None:
            if current:
                words.append(tuple(current))
                current = []
            words.append(None)
            continue
        font = face.bold if bold > 0 else face.italic if italic > 0 else base
        for part in _SPACES.split(html.unescape(text)):
            if not part:
                continue
            if part.isspace():
                if current:
                    words.append(tuple(current))
                    current = []
            else:
                current.append((part, font))
    if current:
        words.append(tuple(current))
    return words


def _split_word(word: Word, size: float, first: float, rest: float) -> list[Word]:
    """``word`` in pieces, each as wide as fits: the first within ``first``, the
    others within ``rest``; each piece has at least one letter, however narrow."""
    pieces: list[Word] = []
    piece: list[tuple[str, str]] = []
    x = 0.0
    for text, font in word:
        for letter in text:
            w = _width(letter, font, size)
            if piece and x + w > (rest if pieces else first):
                pieces.append(tuple(piece))
                piece, x = [], 0.0
            if piece and piece[-1][1] == font:
                piece[-1] = (piece[-1][0] + letter, font)
            else:
                piece.append((letter, font))
            x += w
    pieces.append(tuple(piece))
    return pieces


class _Lines(Flowable):  # type: ignore[misc]  # reportlab ships no type hints
    """A paragraph in the markup templates use (<b>, <i>, <br/>), left-aligned and
    broken into lines greedily, as a Paragraph would be, with each word's width
    looked up once per process. A Paragraph parses its markup and measures every
    word on every notice, which was most of a notice's rendering time."""

    def __init__(
        self,
        markup: str,
        style: ParagraphStyle,
        face: Typeface,
        bullet: str = "",
        hanging: float = 0.0,
        limit: float | None = None,
    ) -> None:
        super().__init__()
        self.style = style
        self.face = face
        self.bullet = bullet
        self.hanging = hanging  # how far lines after the first are indented
        self.limit = limit  # the widest a line may be, when narrower than the space given
        self.words = _words(markup, style.fontName, face)
        self.lines: list[list[Word]] = []

    def _break(self, width: float) -> list[list[Word]]:
        size = self.style.fontSize
        space = _width(" ", self.style.fontName, size)
        lines: list[list[Word]] = []
        line: list[Word] = []
        x = 0.0
        for word in self.words:
            if word is None:
                lines.append(line)
                line, x = [], 0.0
                continue
            w = sum(_width(text, font, size) for text, font in word)
            if line and x + space + w > (width if not lines else width - self.hanging):
                lines.append(line)
                line, x = [], 0.0
            room = width if not lines else width - self.hanging
            if not line and w > room:
                # A word wider than the line (a long reference, text with no spaces)
                # is broken between letters rather than printed past the edge.
                *whole, word = _split_word(word, size, room, width - self.hanging)
                lines.extend([piece] for piece in whole)
                w = sum(_width(text, font, size) for text, font in word)
            x += (space if line else 0.0) + w
            line.append(word)
        if line or not lines:
            lines.append(line)
        return lines

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        width = availWidth if self.limit is None else min(availWidth, self.limit)
        self.lines = self._break(width - self.style.leftIndent)
        return availWidth, len(self.lines) * self.style.leading

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        return []  # short paragraphs move whole to the next page

    def getSpaceBefore(self) -> float:
        return float(self.style.spaceBefore)

    def getSpaceAfter(self) -> float:
        return float(self.style.spaceAfter)

    def draw(self) -> None:
        style = self.style
        text = self.canv.beginText()
        text.setFillColor(style.textColor)
        y = len(self.lines) * style.leading - style.fontSize
        if self.bullet:
            text.setTextOrigin(style.bulletIndent, y)
            text.setFont(style.fontName, style.fontSize)
            text.textOut(self.bullet)
        for number, line in enumerate(self.lines):
            text.setTextOrigin(style.leftIndent + (self.hanging if number else 0.0), y)
            runs: list[list[str]] = []  # [font, text] with consecutive same-font pieces joined
            for index, word in enumerate(line):
                for piece, font in word:
                    if runs and runs[-1][0] == font:
                        runs[-1][1] += piece
                    else:
                        runs.append([font, piece])
                if index < len(line) - 1:
                    runs[-1][1] += " "
            for font, piece in runs:
                text.setFont(font, style.fontSize)
                text.textOut(piece)
            y -= style.leading
        self.canv.drawText(text)


# The frame's width less its padding (reportlab's 6pt each side).
_LINE_WIDTH = A4[0] - 2 * MARGIN - 12


def _flowable(block: Block, st: _Styles) -> Flowable:
    # Block text is already reportlab markup: the template escaped every value.
    if block.kind == "table":
        return _table(block.rows, st)
    if block.kind == "item":
        return _text(block.text, st.item, st.face, bullet="\N{BULLET}")
    style: ParagraphStyle = getattr(st, _STYLE_FOR[block.kind])
    if block.kind == "notice":
        return Paragraph(block.text, style)  # a Paragraph draws the box
    return _text(block.text, style, st.face)


def _text(markup: str, style: ParagraphStyle, face: Typeface, bullet: str = "") -> Flowable:
    """Markup in the templates' subset as ``_Lines``; anything richer (a council's
    template may use any reportlab markup) as a Paragraph."""
    if _SIMPLE.fullmatch(markup):
        return _Lines(markup, style, face, bullet)
    return Paragraph(markup, style, bulletText=bullet or None)


_STYLE_FOR = {
    "title": "title",
    "heading": "heading",
    "enclosure": "title",
    "paragraph": "body",
    "notice": "notice",
    "small": "small",
}


def _story(content: NoticeContent, st: _Styles) -> list[Flowable]:
    story: list[Flowable] = [_header(content, st), Spacer(1, 6 * mm)]
    previous = None
    for block in content.blocks:
        if previous == "item" and block.kind != "item":
            story.append(Spacer(1, 1.5 * mm))
        if block.kind == "enclosure":
            story.append(PageBreak())
        story.append(_flowable(block, st))
        if block.kind == "table":
            story.append(Spacer(1, 2 * mm))
        previous = block.kind
    return story


def _footer(content: NoticeContent, document_id: str, face: Typeface) -> Callable[[Canvas, SimpleDocTemplate], None]:
    def draw(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(face.regular, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(
            MARGIN,
            10 * mm,
            f"Document {document_id} \N{MIDDLE DOT} request {content.request_id}"
            f" \N{MIDDLE DOT} wording {content.notice_type.value} {content.template_version}",
        )
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
