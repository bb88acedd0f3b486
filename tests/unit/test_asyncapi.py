"""Each service's AsyncAPI document is generated from its route table and must
match both the code and the table (regenerate with ``./recovery.sh docs``, which
runs ``faststream docs gen``)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from recovery_shared.messaging.routes import RouteTable

REPO = Path(__file__).resolve().parents[2]
SERVICES = ["payments", "arrangements", "enforcement", "notices"]


def routes_of(service: str) -> RouteTable:
    table: RouteTable = importlib.import_module(f"recovery_{service}.app").ROUTES
    return table


def document(service: str) -> dict[str, Any]:
    path = REPO / "services" / service / "asyncapi.json"
    assert path.exists(), f"missing {path}; run ./recovery.sh docs"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def event_types_in(doc: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Every envelope ``type`` a payload schema admits, following $refs and unions."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if "$ref" in node:
            *_, name = node["$ref"].split("/")
            stack.append(doc["components"]["schemas"][name])
            continue
        for key in ("oneOf", "anyOf", "allOf"):
            stack.extend(node.get(key, []))
        if node.get("type") == "array" and "items" in node:
            stack.append(node["items"])
        kind = node.get("properties", {}).get("type", {})
        if "const" in kind:
            found.add(kind["const"])
        found.update(kind.get("enum", []))
    return found


def documented(service: str, action: str) -> dict[str, set[str]]:
    """topic -> event types, for the document's receive or send operations."""
    doc = document(service)
    result: dict[str, set[str]] = {}
    for operation in doc["operations"].values():
        if operation["action"] != action:
            continue
        channel = doc["channels"][operation["channel"]["$ref"].split("/")[-1]]
        for message in channel["messages"].values():
            payload = doc["components"]["messages"][message["$ref"].split("/")[-1]]["payload"]
            result.setdefault(channel["address"], set()).update(event_types_in(doc, payload))
    return result


def type_name(event: Any) -> str:
    name: str = event.model_fields["type"].default
    return name


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_document_is_current(service: str) -> None:
    app = importlib.import_module(f"recovery_{service}.app").asyncapi_app()
    generated = app.schema.to_specification().to_jsonable()
    assert generated == document(service), f"services/{service}/asyncapi.json is stale; run ./recovery.sh docs"


@pytest.mark.parametrize("service", SERVICES)
def test_every_routed_type_is_documented_and_every_documented_type_routed(service: str) -> None:
    routes = routes_of(service)
    expected = {topic: {type_name(r.event) for r in routes.routed(topic)} for topic in routes.topics()}
    assert documented(service, "receive") == expected


@pytest.mark.parametrize("service", SERVICES)
def test_every_published_type_is_documented_with_a_dead_letter_topic_per_consumed_topic(service: str) -> None:
    routes = routes_of(service)
    sent = documented(service, "send")
    for publication in routes.publishes:
        assert sent.pop(publication.topic) == {type_name(e) for e in publication.events}
    # What remains are the dead-letter topics: one per consumed topic, carrying raw bytes.
    assert set(sent) == {f"{topic}.dlq" for topic in routes.topics()}
