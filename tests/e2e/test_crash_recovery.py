"""A service killed between its database commit and its offset commit applies the
event exactly once after a restart (design §5)."""

from __future__ import annotations

import uuid

import pytest

from recovery_shared import topics
from tests.factories import charge_raised
from tests.processes import (
    ServiceProcess,
    collect,
    envelope_of,
    process_map,
    publish,
    start_group_at_end,
    wait_for,
    wait_for_health,
)

pytestmark = pytest.mark.e2e


async def test_sigkill_after_db_commit_then_restart_applies_the_event_once(kafka_bootstrap: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    group = f"recovery-payments-crash-{uuid.uuid4().hex[:8]}"
    event = charge_raised(f"K{uuid.uuid4().hex[:10]}", amount_pence=4242)
    # Start the group at the end of every topic payments reads, so the only record it sees is ours.
    await start_group_at_end(kafka_bootstrap, group, *process_map()["payments"])
    first = ServiceProcess(
        "payments",
        tmp_path,
        kafka_bootstrap,
        group_id=group,
        extra_env={"RECOVERY_FAILPOINT": "after-db-commit"},
    )
    first.start()
    await first.wait_healthy()
    await publish(kafka_bootstrap, topics.BILLING_CHARGES, event)

    await wait_for(
        lambda: first.proc is not None and first.proc.poll() is not None,
        what="the failpoint to kill the service",
    )
    assert first.proc is not None and first.proc.returncode == -9
    first.stop()

    second = ServiceProcess("payments", tmp_path, kafka_bootstrap, group_id=group)
    second.start()
    try:
        await second.wait_healthy()
        # The restarted service gets the uncommitted record again; its inbox knows it.
        report = await wait_for_health(second, lambda r: r["consumed"][topics.BILLING_CHARGES]["duplicates"] >= 1)
        assert report["consumed"][topics.BILLING_CHARGES]["handled"] == 0
        balances = await collect(
            kafka_bootstrap,
            topics.PAYMENT_EVENTS,
            lambda r: envelope_of(r).get("data", {}).get("debt_id") == event.data.debt_id,
            expect=1,
            settle_s=2.0,
        )
        assert len(balances) == 1  # the outbox row written before the kill went out once
    finally:
        second.stop()
