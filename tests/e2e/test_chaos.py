"""Chaos under load: every service SIGKILLed at random moments and the broker restarted
once, while bills and receipts flow. Afterwards the ledger is exact to the penny and no
receipt took effect twice, in payments or in the services that follow it (issue 9).

The test runs its own broker (its own port and data directory), so restarting it
touches nothing else. It is bounded: a fixed number of receipts, kills and seconds; the
seed is printed, and ``CHAOS_SEED`` replays a run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from recovery_shared import topics
from recovery_shared.admin import ensure_topics
from tests.factories import charge_raised, payment_received
from tests.infra import run_script
from tests.processes import LagProbe, ServiceProcess, process_map, send, wait_for, wait_quiet

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("CHAOS_SEED", random.randrange(1 << 30)))
ACCOUNTS = 40
BURSTS = 100
RECEIPTS_PER_BURST = 4
LOAD_PAUSE_S = 0.1
KILLS = 14
BROKER_RESTART_AT_KILL = 7


def _free_port_pair() -> int:
    """A client port whose next port (the KRaft controller's) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for the chaos test's broker")


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, str]]]:
    port = _free_port_pair()
    env = {"KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(tmp_path / "kafka"), "KAFKA_BOOTSTRAP_SERVERS": ""}
    run_script("kafka.sh", "start", env=env)
    bootstrap = f"127.0.0.1:{port}"
    try:
        await ensure_topics(bootstrap)
        yield bootstrap, env
    finally:
        run_script("kafka.sh", "stop", env=env)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


class Fleet:
    """The four services as processes, each restartable on the same database and group."""

    def __init__(self, workdir: Path, bootstrap: str) -> None:
        self.workdir = workdir
        self.bootstrap = bootstrap
        self.run = uuid.uuid4().hex[:8]
        self.procs: dict[str, ServiceProcess] = {}

    def start(self, name: str) -> ServiceProcess:
        proc = ServiceProcess(name, self.workdir, self.bootstrap, group_id=f"recovery-{name}-{self.run}")
        self.procs[name] = proc.start()
        return proc

    async def start_all(self) -> None:
        for name in process_map():
            self.start(name)
        for proc in self.procs.values():
            await proc.wait_healthy(timeout_s=90)

    async def kill_and_restart(self, name: str, down_s: float) -> None:
        self.procs[name].kill()
        self.procs[name].stop()
        await asyncio.sleep(down_s)
        self.start(name)

    async def wait_all_healthy(self) -> None:
        for proc in self.procs.values():
            await proc.wait_healthy(timeout_s=120)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()


async def test_sigkills_and_a_broker_restart_under_load_leave_the_ledger_exact(
    own_broker: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    bootstrap, broker_env = own_broker
    rng = random.Random(SEED)
    print(f"chaos seed {SEED} (CHAOS_SEED={SEED} replays this run)")
    fleet = Fleet(tmp_path, bootstrap)
    await fleet.start_all()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        accounts = [f"C{uuid.uuid4().hex[:9]}" for _ in range(ACCOUNTS)]
        # The bills first, and settled, so every receipt finds its debt and its schedule.
        await send(producer, topics.BILLING_CHARGES, [charge_raised(a, amount_pence=240_000) for a in accounts])
        payments_db = fleet.procs["payments"].database_path
        arrangements_db = fleet.procs["arrangements"].database_path
        await wait_for(
            lambda: rows(arrangements_db, "select count(distinct debt_id) from instalment")[0][0] == ACCOUNTS,
            timeout_s=60,
            what="every bill's instalment schedule",
        )

        sent: dict[str, int] = {}

        async def load() -> None:
            """Receipts in small steady bursts, so the kills land while batches are in hand."""
            for _ in range(BURSTS):
                receipts = []
                for _ in range(RECEIPTS_PER_BURST):
                    ref = f"R{uuid.uuid4().hex[:12]}"
                    amount = rng.randrange(100, 2_000)
                    sent[ref] = amount
                    receipts.append(payment_received(ref, amount, reference=rng.choice(accounts)))
                await send(producer, topics.PAYMENT_RECEIPTS, receipts)
                await asyncio.sleep(LOAD_PAUSE_S)

        async def chaos() -> None:
            for kill in range(KILLS):
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                if kill == BROKER_RESTART_AT_KILL:
                    await asyncio.to_thread(run_script, "kafka.sh", "stop", env=broker_env)
                    await asyncio.sleep(rng.uniform(1.0, 3.0))
                    await asyncio.to_thread(run_script, "kafka.sh", "start", env=broker_env)
                victim = rng.choice(sorted(fleet.procs))
                await fleet.kill_and_restart(victim, down_s=rng.uniform(0.1, 1.0))

        await asyncio.gather(load(), chaos())

        await fleet.wait_all_healthy()
        probe = LagProbe(bootstrap)
        await probe.start()
        try:
            await wait_quiet(probe, fleet.procs, timeout_s=180)
        finally:
            await probe.stop()

        total = sum(sent.values())
        # Payments: every receipt recorded once and every penny of it placed once.
        assert rows(payments_db, "select count(*), sum(amount_pence) from receipt") == [(len(sent), total)]
        assert rows(payments_db, "select sum(amount_pence) from allocation_line") == [(total,)]
        assert rows(payments_db, "select sum(paid_pence) from debt") == [(total,)]
        # Downstream: each allocation applied once to the instalments, and the cases agree.
        assert rows(arrangements_db, "select sum(paid_pence) from instalment") == [(total,)]
        enforcement_db = fleet.procs["enforcement"].database_path
        assert rows(enforcement_db, "select count(*), sum(paid_pence) from recovery_case") == [(ACCOUNTS, total)]
        # On the topic: one payment.allocated per receipt (a re-sent copy keeps its event id).
        allocated = await _allocations(bootstrap)
        assert {ref: len(ids) for ref, ids in allocated.items()} == dict.fromkeys(sent, 1)
    finally:
        await producer.stop()
        fleet.stop()


async def _allocations(bootstrap: str) -> dict[str, set[str]]:
    """receipt_ref -> the distinct event ids of its payment.allocated events."""
    consumer = AIOKafkaConsumer(
        topics.PAYMENT_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: dict[str, set[str]] = {}
    try:
        idle = 0
        while idle < 5:
            batches = await consumer.getmany(timeout_ms=300)
            idle = idle + 1 if not batches else 0
            for records in batches.values():
                for r in records:
                    event = json.loads(r.value)
                    if event.get("type") == "payment.allocated":
                        found.setdefault(event["data"]["receipt_ref"], set()).add(event["event_id"])
    finally:
        await consumer.stop()
    return found
