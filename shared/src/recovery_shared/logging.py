"""Structured logging without personal data.

JSON lines when not on a terminal, so ops tooling can index them. A processor
drops any field whose name suggests personal data (names, addresses, NI numbers,
bank details) before anything is written: safer than trusting every call site.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from recovery_shared.contracts.envelope import Envelope

HANDLING: ContextVar[Envelope | None] = ContextVar("recovery_handling", default=None)
"""The event a consumer is applying. One context variable set per event costs far
less than binding three log fields for every event of a busy batch; the ids are
read from it only when a line is actually logged (``add_event_context``)."""

PERSONAL_DATA_KEYS = frozenset(
    {
        "name",
        "recipient_name",
        "debtor_name",
        "address",
        "address_lines",
        "recipient_address",
        "postcode",
        "ni_number",
        "nino",
        "national_insurance_number",
        "bank_account",
        "account_number",
        "sort_code",
        "iban",
        "email",
        "phone",
        "date_of_birth",
        "liable_party",
    }
)


def drop_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in PERSONAL_DATA_KEYS:
            event_dict[key] = "[withheld]"
    return event_dict


def add_event_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """event_id, correlation_id and account_ref of the event being handled, if any."""
    event = HANDLING.get()
    if event is not None:
        event_dict.setdefault("event_id", str(event.event_id))
        event_dict.setdefault("correlation_id", str(event.correlation_id or event.event_id))
        event_dict.setdefault("account_ref", event.key)
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    renderer: Any
    if sys.stderr.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_event_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            drop_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Quieten libraries that log message contents at INFO/DEBUG.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for noisy in ("aiokafka", "faststream", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
