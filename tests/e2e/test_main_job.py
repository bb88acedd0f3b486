"""The main job on a small council: the four services as separate processes, receipts
duplicated by the channels and delivered out of order, HBOP, TA and sundry invoices taken
up the civil ladder to a county court claim, and a penny-exact ledger at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_the_main_job_ends_with_a_penny_exact_ledger(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "demo",
            "--ct",
            "160",
            "--nndr",
            "20",
            "--civil",
            "30",
            "--until",
            "2026-06-22",
            "--workdir",
            str(tmp_path),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    [summary_path] = tmp_path.glob("*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["checks"] == {
        "every_receipt_recorded_once": True,
        "received_matches_channels": True,
        "every_penny_placed_once": True,
        "no_debt_for_a_not_recoverable_overpayment": True,
    }
    report = finished.stdout
    # The generated data really did carry duplicate copies and mistyped references.
    duplicates = int(report.split("(of which ")[1].split(" duplicate")[0])
    assert duplicates > 0
    assert summary["ledger"]["suspended_pence"] > 0
    counts = summary["counts"]
    assert counts["payment.allocated"] > 0 and counts["notice.requested:reminder"] > 0
    assert counts["notice.issued"] == sum(
        v for k, v in counts.items() if k.startswith("notice.requested:")
    ) - counts.get("notice.failed", 0)
    assert "ledger check: PASSED" in report
    civil = summary["civil"]
    hbop, ta, sundry = civil["HBOP"], civil["TA"], civil["SUNDRY"]
    # Each debt type has debtors who pay on time, part pay, and never pay.
    for row in civil.values():
        assert row["invoiced"] > 0 and row["paid_in_full"] > 0 and row["part_paid"] > 0, civil
        assert row["invoice_reminder"] >= row["letter_before_claim"] >= row["notice_of_intention"] > 0, civil
        assert row["claims_referred"] > 0 and row["claims_referred_pence"] > 0, civil
    # The claims are for what is still owed: never more than was invoiced.
    assert all(row["claims_referred_pence"] < row["invoiced_pence"] for row in civil.values()), civil
    # One sundry debtor answered the letter before claim, so their case waits for an officer
    # and gets no notice of intention.
    assert sundry["held_for_an_officer"] == 1 and ta["held_for_an_officer"] == hbop["held_for_an_officer"] == 0
    [replied] = summary["replied"]
    assert replied["notice.requested:letter_before_claim"] == replied["stage:reply_received"] == 1, replied
    assert "notice.requested:notice_of_intention" not in replied and "claim.referred" not in replied, replied
    # Official error nobody could have realised (SI 2006/213 reg 100(2)): listed for officers,
    # never invoiced, never noticed, never on the ledger; every recoverable one was notified.
    listed = summary["not_recoverable"]
    assert listed["count"] == hbop["not_recoverable"] > 0
    assert {o["classification"] for o in listed["overpayments"]} == {"council_official_error"}
    assert hbop["not_recoverable_pence"] == sum(o["amount_pence"] for o in listed["overpayments"]) > 0
    assert hbop["invoiced"] == hbop["decision_notices"] == hbop["accounts"] - hbop["not_recoverable"]
    assert ta["not_recoverable"] == sundry["not_recoverable"] == 0
    # Overpayments of people in work go to a Direct Earnings Attachment once the invoice and
    # reminder go unpaid (SI 2013/384 Part 6); their employers pay over by the 19th (reg 22).
    # TA and sundry debtors in work are not attached: a DEA recovers benefit overpaid.
    assert hbop["dea_employer"] == 2 and hbop["employer_remittances"] >= 1, hbop
    assert hbop["employer_remittances_pence"] > 0, hbop
    assert ta["dea_employer"] == sundry["dea_employer"] == 0, civil
    # Overpayments of people with no employer known go to the DWP next [S40][S41]; the job's
    # DWP agrees for the people on benefits (the part payers), paying over every four weeks,
    # and refuses the rest, whose letters and claims follow.
    assert hbop["dwp_requests"] > 0 and hbop["dwp_accepted"] > 0, hbop
    assert ta["dwp_requests"] == sundry["dwp_requests"] == 0, civil
    assert "civil recovery" in report and "claims referred" in report and "not recoverable" in report
    assert "DEA notices to employers" in report and "employer remittances" in report
