"""The committed AsyncAPI documents must match the code (regenerate with
``./recovery.sh docs``, which runs ``faststream docs gen``)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = ["payments", "arrangements", "enforcement", "notices"]


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_is_current(service: str) -> None:
    app = importlib.import_module(f"recovery_{service}.app").asyncapi_app()
    generated = app.schema.to_specification().to_jsonable()
    committed_path = REPO / "services" / service / "asyncapi.json"
    assert committed_path.exists(), f"missing {committed_path}; run ./recovery.sh docs"
    committed = json.loads(committed_path.read_text())
    assert generated == committed, f"services/{service}/asyncapi.json is stale; run ./recovery.sh docs"


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_names_every_consumed_and_published_topic(service: str) -> None:
    committed = json.loads((REPO / "services" / service / "asyncapi.json").read_text())
    addresses = {c["address"] for c in committed["channels"].values()}
    runtime_topics = importlib.import_module(f"recovery_{service}.app").asyncapi_app().context.get("runtime").consumers
    for topic in runtime_topics:
        assert topic in addresses
        assert f"{topic}.dlq" in addresses
