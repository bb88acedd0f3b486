"""Notice wording as Jinja2 templates a council's legal team edits without Python.

One file per notice type, ``<notice type>.html`` (``reminder.html``,
``summons.html`` ...), in ``recovery_notices/templates/`` or in the council's own
folder (``NOTICES_TEMPLATES_DIR``); a file in the council's folder replaces the
packaged one of the same name, and any it leaves out stay packaged. Each file
opens with front matter naming its notice type and version::

    ---
    notice: reminder
    version: 1.0
    ---

The version goes into ``notice.issued``, so every notice on file can be traced to
the wording it was sent with: change the wording, change the version.

The body is a small subset of HTML, so a template can be previewed in a browser:
``<h1>`` (the notice's title, once), ``<h2>`` headings (``class="enclosure"``
for the title of an enclosure, which starts a page of its own), ``<p>`` paragraphs
(``class="notice"`` for a boxed statement, ``class="small"`` for small print),
``<li>`` list items and ``<table>`` rows of ``<td>`` cells (``<tr class="total">``
for a total). Inside a block, ``<b>``, ``<i>`` and ``<br/>`` work. Values are
escaped on the way in, so a name such as "O'Brien & Sons" is safe. Any text
outside those blocks is an error rather than silently dropped.

Each file is compiled once, when the set is loaded (``load_templates`` caches
the set per folder); rendering a notice is then a render of a compiled template
and one pass of a regular expression.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import jinja2

from recovery_shared.contracts.internal import NoticeType
from recovery_shared.money import pounds
from recovery_shared.refusal import Refused

PACKAGED_DIR = Path(__file__).with_name("templates")
SUFFIX = ".html"

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(day: date) -> str:
    """'2 May 2026', the same whatever the machine's locale."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def weekday_date(day: date) -> str:
    """'Thursday 28 May 2026', for hearing dates and deadlines a person must not misread."""
    return f"{day.strftime('%A')} {long_date(day)}"


class TemplateProblem(ValueError):
    """A template file that cannot be used: raised when the set is loaded, so a
    council's broken template stops the service at start-up, not mid-batch."""


BlockKind = Literal["title", "heading", "enclosure", "paragraph", "notice", "small", "item", "table"]


@dataclass(frozen=True)
class TableRow:
    cells: tuple[str, ...]
    total: bool = False


@dataclass(frozen=True)
class Block:
    """One printed block. ``text`` (and each cell) is reportlab paragraph markup:
    escaped text with ``<b>``, ``<i>`` and ``<br/>``."""

    kind: BlockKind
    text: str = ""
    rows: tuple[TableRow, ...] = ()

    def plain(self) -> str:
        if self.kind == "table":
            return "\n".join(": ".join(_plain(cell) for cell in row.cells) for row in self.rows)
        return _plain(self.text)


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _plain(markup: str) -> str:
    return html.unescape(_TAG.sub("", markup.replace("<br/>", " ")))


_BLOCK = re.compile(
    r"<table\b[^>]*>(?P<table>.*?)</table\s*>"
    r"|<(?P<tag>h1|h2|p|li)(?:\s+class=\"(?P<cls>[\w-]+)\")?\s*>(?P<body>.*?)</(?P=tag)\s*>",
    re.S,
)
_ROW = re.compile(r"<tr(?:\s+class=\"(?P<cls>[\w-]+)\")?\s*>(?P<body>.*?)</tr\s*>", re.S)
_CELL = re.compile(r"<t[dh]\b[^>]*>(?P<body>.*?)</t[dh]\s*>", re.S)
# Wrappers a template may use for a browser preview; they carry nothing printed.
_WRAPPERS = re.compile(r"</?(?:ul|ol|html|body|div)\b[^>]*>|<!--.*?-->", re.S)
_PARAGRAPH_KINDS: dict[str | None, BlockKind] = {None: "paragraph", "notice": "notice", "small": "small"}


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def parse_blocks(markup: str) -> tuple[Block, ...]:
    """The blocks in a rendered template; raises ``ValueError`` on text outside them."""
    blocks: list[Block] = []
    position = 0
    for match in _BLOCK.finditer(markup):
        _check_between(markup[position : match.start()])
        position = match.end()
        if match.group("table") is not None:
            rows = tuple(
                TableRow(
                    cells=tuple(_squash(cell.group("body")) for cell in _CELL.finditer(row.group("body"))),
                    total=row.group("cls") == "total",
                )
                for row in _ROW.finditer(match.group("table"))
            )
            if rows:
                blocks.append(Block("table", rows=rows))
            continue
        tag, cls, body = match.group("tag"), match.group("cls"), _squash(match.group("body"))
        if tag == "h1":
            blocks.append(Block("title", body))
        elif tag == "h2":
            # An enclosure (the Protocol's Reply Form, say) goes in the same PDF, so it
            # is printed and posted with the letter, but on its own pages.
            blocks.append(Block("enclosure" if cls == "enclosure" else "heading", body))
        elif tag == "li":
            blocks.append(Block("item", body))
        elif cls in _PARAGRAPH_KINDS:
            if body:
                blocks.append(Block(_PARAGRAPH_KINDS[cls], body))
        else:
            raise ValueError(f'<p class="{cls}"> is not a paragraph style; use notice or small')
    _check_between(markup[position:])
    return tuple(blocks)


def _check_between(text: str) -> None:
    stray = _squash(_WRAPPERS.sub("", text))
    if stray:
        raise ValueError(f"text outside a block (put it in <p>...</p>): {stray[:60]!r}")


@dataclass(frozen=True)
class NoticeTemplate:
    notice_type: NoticeType
    version: str
    path: Path
    template: jinja2.Template

    def render(self, context: Mapping[str, object]) -> tuple[Block, ...]:
        """The template's blocks for ``context``. A template that cannot render
        (an unknown name, stray text) is refused with the file and version named,
        so the notice is reported as failed instead of retried for ever."""
        try:
            blocks = parse_blocks(self.template.render(context))
        except (jinja2.TemplateError, ValueError, TypeError) as exc:
            raise Refused(
                f"the {self.notice_type.value} template {self.path.name} (version {self.version}) cannot be"
                f" rendered: {exc}"
            ) from exc
        if sum(1 for b in blocks if b.kind == "title") != 1:
            raise Refused(
                f"the {self.notice_type.value} template {self.path.name} (version {self.version}) must have"
                " exactly one <h1> title"
            )
        return blocks


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<head>.*?)\n---[ \t]*\n", re.S)


def split_front_matter(source: str, path: Path) -> tuple[dict[str, str], str]:
    """``(front matter, body)``; the body keeps the front matter's lines blank so
    line numbers in Jinja's errors match the file."""
    match = _FRONT_MATTER.match(source)
    if match is None:
        raise TemplateProblem(f"{path}: a notice template starts with front matter (---, notice:, version:, ---)")
    head: dict[str, str] = {}
    for line in match.group("head").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line[:1].isspace():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise TemplateProblem(f"{path}: front matter line {line!r} is not 'key: value'")
        head[key.strip()] = value.strip()
    return head, "\n" * match.group(0).count("\n") + source[match.end() :]


class _FrontMatterLoader(jinja2.BaseLoader):
    """Finds ``name`` in the council's folder first, then the packaged one, and
    hands Jinja the body without its front matter."""

    def __init__(self, folders: tuple[Path, ...]) -> None:
        self.folders = folders

    def locate(self, name: str) -> Path:
        for folder in self.folders:
            path = folder / name
            if path.is_file():
                return path
        raise jinja2.TemplateNotFound(name)

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.locate(template)
        source = path.read_text(encoding="utf-8")
        if template.startswith("_"):
            return source, str(path), lambda: True  # a part several notices include: no front matter
        _, body = split_front_matter(source, path)
        return body, str(path), lambda: True


class NoticeTemplates:
    """Every notice type's template, compiled once. ``folder`` is the council's
    own (files there replace packaged ones of the same name); ``None`` means the
    packaged set alone."""

    def __init__(self, folder: Path | None = None) -> None:
        folders = (PACKAGED_DIR,) if folder is None else (Path(folder), PACKAGED_DIR)
        if folder is not None and not Path(folder).is_dir():
            raise TemplateProblem(f"notice templates folder {folder} does not exist")
        self.folder = folder
        loader = _FrontMatterLoader(folders)
        self.environment = jinja2.Environment(
            loader=loader,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            # Whitespace is collapsed when the blocks are read, so a tag at the end of
            # a line keeps its newline as the space between two words.
            trim_blocks=False,
            auto_reload=False,
        )
        self.environment.filters["pounds"] = pounds
        self.environment.filters["long_date"] = long_date
        self.environment.filters["weekday_date"] = weekday_date
        self._templates: dict[NoticeType, NoticeTemplate] = {}
        for notice_type in NoticeType:
            name = f"{notice_type.value}{SUFFIX}"
            try:
                path = loader.locate(name)
            except jinja2.TemplateNotFound:
                continue
            head, _ = split_front_matter(path.read_text(encoding="utf-8"), path)
            if head.get("notice") != notice_type.value:
                raise TemplateProblem(f"{path}: front matter must say 'notice: {notice_type.value}'")
            if not head.get("version"):
                raise TemplateProblem(f"{path}: front matter must give the template's version")
            try:
                compiled = self.environment.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateProblem(f"{path}, line {exc.lineno}: {exc.message}") from exc
            self._templates[notice_type] = NoticeTemplate(notice_type, head["version"], path, compiled)

    def __contains__(self, notice_type: NoticeType) -> bool:
        return notice_type in self._templates

    def for_type(self, notice_type: NoticeType) -> NoticeTemplate:
        try:
            return self._templates[notice_type]
        except KeyError:
            raise Refused(f"notices has no template for {notice_type.value}") from None

    def versions(self) -> dict[str, str]:
        """Each notice type's template version, for start-up logs and reports."""
        return {t.value: template.version for t, template in self._templates.items()}


def load_templates(folder: Path | None = None) -> NoticeTemplates:
    """The template set for ``folder`` (``None``: the packaged set), built once per process."""
    return _load(folder)


@lru_cache(maxsize=8)
def _load(folder: Path | None) -> NoticeTemplates:
    return NoticeTemplates(folder)
