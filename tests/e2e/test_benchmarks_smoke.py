"""Every benchmark case runs to completion on tiny sizes (the figures themselves come
from ``./recovery.sh bench``, never from a timed test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_every_benchmark_case_runs_on_tiny_sizes(kafka_bootstrap: str, postgres_admin_url: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TEST_POSTGRES_URL": postgres_admin_url}
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out), "--workdir", str(tmp_path / "bench")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    cases = {(r["case"], r["database"]) for r in results}
    expected = {("baseline", "-"), ("notices: bare renderer", "-")} | {
        (case, db)
        for db in ("sqlite", "postgresql")
        for case in (
            "payment intake",
            "enforcement catch-up",
            "daily sweep",
            "notices: 1 instance",
            "notices: 2 instances",
        )
    }
    assert cases == expected
    for r in results:
        assert r["n"] > 0 and r["seconds"] > 0, r
        if r["case"] not in {"baseline", "notices: bare renderer"}:
            assert r["peak_rss_mb"] > 0, r
            if r["case"] != "enforcement catch-up":
                assert "ratio" in r and "met" in r, r
