"""The shape every service keeps (issue 8): rules that import no infrastructure,
short use cases, dispatch by route table rather than ``isinstance`` chains."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = ["payments", "arrangements", "enforcement", "notices"]
RULE_MODULES = [REPO / "services" / s / "src" / f"recovery_{s}" / "domain.py" for s in SERVICES] + sorted(
    (REPO / "shared" / "src" / "recovery_shared" / "statute").glob("*.py")
)
INFRASTRUCTURE = ("recovery_shared.messaging", "sqlalchemy", "sqlmodel", "aiokafka", "faststream", "psycopg")
USE_CASE_MAX_LINES = 60


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", RULE_MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_rules_import_no_messaging_kernel_database_or_broker(module: Path) -> None:
    offending = {n for n in imports_of(module) if n.startswith(INFRASTRUCTURE)}
    assert not offending, f"{module.name} imports {sorted(offending)}"


def handlers(service: str) -> Path:
    return REPO / "services" / service / "src" / f"recovery_{service}" / "handlers.py"


@pytest.mark.parametrize("service", SERVICES)
def test_no_use_case_is_longer_than_about_sixty_lines(service: str) -> None:
    tree = ast.parse(handlers(service).read_text())
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > USE_CASE_MAX_LINES
    ]
    assert not long, f"{service}: {long}"


@pytest.mark.parametrize("service", SERVICES)
def test_use_cases_do_not_dispatch_on_the_event_class(service: str) -> None:
    tree = ast.parse(handlers(service).read_text())
    on_events = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "isinstance"
        and isinstance(node.args[0], ast.Name | ast.Attribute)
        and "event" in ast.unparse(node.args[0])
    ]
    assert not on_events, f"{service}: isinstance on an event at lines {on_events}; route each type instead"
