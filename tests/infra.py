"""Where the tests find a real Kafka broker and a real PostgreSQL.

In order: an explicit override (KAFKA_BOOTSTRAP_SERVERS / TEST_POSTGRES_URL);
testcontainers when a Docker engine is reachable; otherwise the project's own
scripts start both from Maven Central and Debian's packages (no Docker needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_script(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["bash", str(REPO / "deploy" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise RuntimeError(f"deploy/{script} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()
