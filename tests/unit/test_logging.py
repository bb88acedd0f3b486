from __future__ import annotations

import io
import json
from contextlib import redirect_stderr

import structlog

from recovery_shared.logging import configure_logging, drop_personal_data


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
