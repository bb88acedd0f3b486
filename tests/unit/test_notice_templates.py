"""Notice wording lives in versioned template files a council may replace with its
own (``NOTICES_TEMPLATES_DIR``); each notice records the version it was worded
with, and notice.issued carries it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recovery_notices.domain import compose_notice
from recovery_notices.events import notice_issued
from recovery_notices.render import render_pdf
from recovery_notices.settings import NoticesSettings
from recovery_notices.templating import PACKAGED_DIR, NoticeTemplates, TemplateProblem, load_templates, parse_blocks
from recovery_shared.contracts.internal import NoticeType
from recovery_shared.refusal import Refused
from tests.unit.test_notice_rendering import COUNCIL, request
from tests.unit.test_notice_statutory_content import pdf_text

COUNCIL_REMINDER = """---
notice: reminder
version: westshire-2026.2
---
<h1>Westshire Council Tax reminder</h1>
<p>Dear {{ recipient.name }}, please pay {{ amount.amount_to_pay | pounds }} by {{ date.pay_by | long_date }}.</p>
<table>{% for line in amounts %}<tr><td>{{ line.label }}</td><td>{{ line.shown }}</td></tr>{% endfor %}</table>
"""


def council_folder(tmp_path: Path, name: str = "reminder.html", text: str = COUNCIL_REMINDER) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_every_notice_type_has_a_packaged_template_with_a_version() -> None:
    templates = load_templates()
    assert set(templates.versions()) == {t.value for t in NoticeType}
    # The letter before claim's wording changed when its Protocol enclosures were added.
    changed = {NoticeType.LETTER_BEFORE_CLAIM.value: "1.1"}
    assert templates.versions() == {t.value: changed.get(t.value, "1.0") for t in NoticeType}
    # One file per notice type, and the parts they include (named with a leading "_").
    notices = sorted(p.name for p in PACKAGED_DIR.glob("*.html") if not p.name.startswith("_"))
    assert notices == sorted(f"{t.value}.html" for t in NoticeType)


def test_each_template_is_compiled_once_and_reused() -> None:
    assert load_templates() is load_templates()
    compiled = load_templates().for_type(NoticeType.REMINDER).template
    compose_notice(request(NoticeType.REMINDER), COUNCIL)
    compose_notice(request(NoticeType.REMINDER, request_id="another"), COUNCIL)
    assert load_templates().for_type(NoticeType.REMINDER).template is compiled


def test_the_template_version_reaches_notice_issued() -> None:
    data = request(NoticeType.SUMMONS)
    content = compose_notice(data, COUNCIL)
    assert content.template_version == "1.0"
    issued = notice_issued(
        data, content, document_id="doc-1", checksum_sha256="a" * 64, location="file:///doc-1.pdf", size=4321
    )
    wire = json.loads(issued.model_dump_json())["data"]
    assert wire["template_version"] == "1.0"
    assert wire["served_on"] == "2026-05-06" and wire["size_bytes"] == 4321
    # Paper copies say it too, in the footer.
    assert "wording summons 1.0" in pdf_text(render_pdf(content, "doc-1"))


def test_a_councils_own_template_replaces_the_packaged_one_and_its_version_is_recorded(tmp_path: Path) -> None:
    templates = NoticeTemplates(council_folder(tmp_path))
    data = request(NoticeType.REMINDER)
    content = compose_notice(data, COUNCIL, templates)
    assert content.title == "Westshire Council Tax reminder"
    assert "Dear Alex Example, please pay £150.00 by 8 May 2026." in content.text()
    assert content.template_version == "westshire-2026.2"
    issued = notice_issued(data, content, document_id="d", checksum_sha256="0" * 64, location="file:///d", size=1)
    assert issued.data.template_version == "westshire-2026.2"
    # Notice types the council has no file for keep the packaged wording.
    summons = compose_notice(request(NoticeType.SUMMONS), COUNCIL, templates)
    assert summons.template_version == "1.0" and "You are summoned to appear" in summons.text()


def test_the_setting_points_notices_at_the_councils_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = council_folder(tmp_path)
    assert NoticesSettings(templates_dir=folder).notice_templates().versions()["reminder"] == "westshire-2026.2"
    assert NoticesSettings().notice_templates() is load_templates()
    monkeypatch.setenv("NOTICES_TEMPLATES_DIR", str(folder))
    assert NoticesSettings().notice_templates().versions()["reminder"] == "westshire-2026.2"


def test_values_are_escaped_so_a_name_cannot_become_markup() -> None:
    content = compose_notice(request(NoticeType.REMINDER, recipient_name="<b>Bold</b> & Co </p><p>"), COUNCIL)
    [greeting] = [b for b in content.blocks if b.plain().startswith("Dear ")]
    assert greeting.text == "Dear &lt;b&gt;Bold&lt;/b&gt; &amp; Co &lt;/p&gt;&lt;p&gt;,"
    assert greeting.plain() == "Dear <b>Bold</b> & Co </p><p>,"
    render_pdf(content, "doc")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("reminder.html", "<h1>No front matter</h1>", "starts with front matter"),
        ("reminder.html", "---\nnotice: summons\nversion: 1\n---\n<h1>x</h1>", "must say 'notice: reminder'"),
        ("reminder.html", "---\nnotice: reminder\n---\n<h1>x</h1>", "must give the template's version"),
        ("reminder.html", "---\nnotice: reminder\nversion: 2\n---\n<h1>{% if %}</h1>", "reminder.html, line 5"),
    ],
)
def test_a_broken_council_template_stops_loading_with_the_file_named(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    with pytest.raises(TemplateProblem, match=problem.replace("(", r"\(").replace(")", r"\)")):
        NoticeTemplates(council_folder(tmp_path, name, text))


def test_a_missing_council_folder_is_a_problem_at_load(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match="does not exist"):
        NoticeTemplates(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<h1>x</h1><p>{{ amount.no_such_amount | pounds }}</p>", "'dict object' has no attribute 'no_such_amount'"),
        ("<h1>x</h1>Dear {{ recipient.name }}", "text outside a block"),
        ("<p>No title</p>", "exactly one <h1> title"),
        ('<h1>x</h1><p class="shout">x</p>', '<p class="shout"> is not a paragraph style'),
    ],
)
def test_a_template_that_cannot_render_refuses_the_notice_naming_file_and_version(
    tmp_path: Path, body: str, reason: str
) -> None:
    text = f"---\nnotice: reminder\nversion: bad-1\n---\n{body}\n"
    templates = NoticeTemplates(council_folder(tmp_path, "reminder.html", text))
    with pytest.raises(Refused) as refused:
        compose_notice(request(NoticeType.REMINDER), COUNCIL, templates)
    assert "the reminder template reminder.html (version bad-1)" in str(refused.value)
    assert reason in str(refused.value)


def test_blocks_are_read_from_the_template_subset_of_html() -> None:
    blocks = parse_blocks(
        """<!-- a note --><h1>Title</h1>
        <h2>Heading</h2><p>One
        paragraph.</p><p class="notice">Boxed</p><p class="small">Small</p>
        <ul><li>First</li><li>Second</li></ul>
        <table><tr><td>Label</td><td>£1.00</td></tr><tr class="total"><td>Total</td><td>£2.00</td></tr></table>"""
    )
    assert [(b.kind, b.plain()) for b in blocks] == [
        ("title", "Title"),
        ("heading", "Heading"),
        ("paragraph", "One paragraph."),
        ("notice", "Boxed"),
        ("small", "Small"),
        ("item", "First"),
        ("item", "Second"),
        ("table", "Label: £1.00\nTotal: £2.00"),
    ]
    assert [row.total for row in blocks[-1].rows] == [False, True]


def test_a_council_can_replace_a_part_every_notice_includes(tmp_path: Path) -> None:
    """The amounts and key dates table is one file (_figures.html) the notices include."""
    (tmp_path / "_figures.html").write_text("<p>Figures as Westshire shows them.</p>\n")
    content = compose_notice(request(NoticeType.REMINDER), COUNCIL, NoticeTemplates(tmp_path))
    assert "Figures as Westshire shows them." in content.text()
