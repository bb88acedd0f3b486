"""The outbox relay publishes only committed work, and nothing is lost while the
broker is down: rows wait and go out when it returns (design §5)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from recovery_payments.app import build_runtime
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.admin import ensure_topics
from recovery_shared.messaging.outbox import OutboxRelay
from recovery_shared.topics import TopicSpec
from tests.factories import charge_raised
from tests.infra import run_script
from tests.processes import collect, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A throwaway broker of our own, so the test can stop and restart it."""
    port = free_port()
    env = {
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_DATA_DIR": str(tmp_path / "kafka"),
    }
    env_without_override = {**env, "KAFKA_BOOTSTRAP_SERVERS": ""}
    run_script("kafka.sh", "start", env=env_without_override)
    try:
        yield {**env_without_override, "bootstrap": f"127.0.0.1:{port}"}
    finally:
        run_script("kafka.sh", "stop", env=env_without_override)
        shutil.rmtree(tmp_path / "kafka", ignore_errors=True)


async def test_outbox_waits_for_commit_and_survives_a_broker_outage(
    own_broker: dict[str, str], database_url: str
) -> None:
    bootstrap = own_broker["bootstrap"]
    await ensure_topics(bootstrap, [TopicSpec(topics.PAYMENT_EVENTS, 3)])
    runtime = build_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    relay = OutboxRelay(db=runtime.db, kernel=runtime.kernel, bootstrap_servers=bootstrap, client_id="test-relay")
    outbox = runtime.kernel.outbox

    async def depth() -> int:
        async with runtime.db.session() as session:
            return int((await session.execute(select(func.count()).select_from(outbox))).scalar_one())

    # 1. Not yet committed: the relay sees nothing.
    before_commit = charge_raised(f"O{uuid.uuid4().hex[:8]}")
    async with runtime.unit() as uow:
        uow.publish_raw(topics.PAYMENT_EVENTS, before_commit.key, before_commit.to_bytes(), {})
        await uow.flush_outbox()  # written, not committed
        assert await relay.relay_once() == 0
        await uow.commit()
    assert await relay.relay_once() == 1
    sent = await collect(bootstrap, topics.PAYMENT_EVENTS, lambda r: r.key == before_commit.key.encode(), expect=1)
    assert len(sent) == 1

    # 2. The broker goes down; a transaction commits an event meanwhile.
    run_script("kafka.sh", "stop", env=own_broker)
    during_outage = charge_raised(f"O{uuid.uuid4().hex[:8]}")
    async with runtime.unit() as uow:
        uow.publish_raw(topics.PAYMENT_EVENTS, during_outage.key, during_outage.to_bytes(), {})
        await uow.commit()
    relay = OutboxRelay(db=runtime.db, kernel=runtime.kernel, bootstrap_servers=bootstrap, client_id="test-relay")
    await relay.start()
    await asyncio.sleep(3)
    assert relay.last_error is not None, "the relay should be failing while the broker is down"
    assert relay.failures_in_a_row >= 1, "each failed round is counted, for readiness"
    assert await depth() == 1, "the event must wait in the outbox, not be dropped"

    # 3. The broker returns: the waiting event goes out, exactly once.
    run_script("kafka.sh", "start", env=own_broker)
    for _ in range(300):
        if await depth() == 0:
            break
        await asyncio.sleep(0.2)
    for _ in range(50):
        if relay.failures_in_a_row == 0:
            break
        await asyncio.sleep(0.1)
    failures_after_return = relay.failures_in_a_row
    await relay.stop()
    assert await depth() == 0
    assert failures_after_return == 0, "a round that succeeds ends the run of failures"
    sent = await collect(bootstrap, topics.PAYMENT_EVENTS, lambda r: r.key == during_outage.key.encode(), expect=1)
    assert len(sent) == 1
    # The broker being away is a bad moment, not a bad event: nothing was dead-lettered.
    async with runtime.db.session() as session:
        letters = runtime.kernel.dead_letters
        assert (await session.execute(select(func.count()).select_from(letters))).scalar_one() == 0
    await runtime.db.dispose()
