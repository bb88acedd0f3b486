from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.processes import ServiceProcess, process_map, start_group_at_end


@pytest.fixture(scope="module")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
async def services(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[dict[str, ServiceProcess]]:
    """The four services as separate processes, each with its own SQLite database."""
    workdir: Path = tmp_path_factory.mktemp("services")
    for name, subscribed in process_map().items():
        await start_group_at_end(kafka_bootstrap, f"recovery-{name}-{run_id}", *subscribed)
    procs = {
        name: ServiceProcess(name, workdir, kafka_bootstrap, group_id=f"recovery-{name}-{run_id}").start()
        for name in ("payments", "arrangements", "enforcement", "notices")
    }
    try:
        for proc in procs.values():
            await proc.wait_healthy()
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
