"""Structured logging without personal data.

JSON lines when not on a terminal, so ops tooling can index them. A processor
drops any field whose name suggests personal data (names, addresses, NI numbers,
bank details) before anything is written: safer than trusting every call site.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

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


def configure_logging(service: str, level: str = "INFO") -> None:
    renderer: Any
    if sys.stderr.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
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
