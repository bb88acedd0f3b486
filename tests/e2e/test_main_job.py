"""The main job on a small council: the four services as separate processes, receipts
duplicated by the channels and delivered out of order, and a penny-exact ledger at the end."""

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
            "--until",
            "2026-06-10",
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
