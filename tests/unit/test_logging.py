from __future__ import annotations

import io
import json
from contextlib import redirect_stderr

import structlog

from recovery_shared.logging import HANDLING, configure_logging, drop_personal_data
from tests.factories import charge_raised


def test_personal_data_never_reaches_the_log() -> None:
    cleaned = drop_personal_data(
        None,
        "info",
        {
            "event": "x",
            "name": "Jo Bloggs",
            "ni_number": "QQ123456C",
            "sort_code": "00-00-00",
            "account_ref": "1001",
        },
    )
    assert cleaned["name"] == "[withheld]"
    assert cleaned["ni_number"] == "[withheld]"
    assert cleaned["sort_code"] == "[withheld]"
    assert cleaned["account_ref"] == "1001"


def test_logs_are_json_lines_off_a_terminal() -> None:
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        structlog.reset_defaults()
        configure_logging("payments")
        structlog.get_logger("t").info("receipt taken", account_ref="1001", bank_account="12345678")
    structlog.reset_defaults()
    line = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert line["event"] == "receipt taken"
    assert line["service"] == "payments"
    assert line["bank_account"] == "[withheld]"
    assert "12345678" not in buffer.getvalue()


def test_a_line_logged_while_an_event_is_handled_carries_its_ids() -> None:
    event = charge_raised("1001")
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        structlog.reset_defaults()
        configure_logging("payments")
        token = HANDLING.set(event)
        try:
            structlog.get_logger("t").info("debt opened")
        finally:
            HANDLING.reset(token)
        structlog.get_logger("t").info("idle")
    structlog.reset_defaults()
    during, after = (json.loads(line) for line in buffer.getvalue().strip().splitlines()[-2:])
    assert (during["event_id"], during["correlation_id"], during["account_ref"]) == (
        str(event.event_id),
        str(event.event_id),
        "1001",
    )
    assert "event_id" not in after and "account_ref" not in after
