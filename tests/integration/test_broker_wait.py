"""A service that starts while the broker is away (restarting, a node being replaced)
waits for it instead of failing its start-up for good (issue 9: every path ends)."""

from __future__ import annotations

import asyncio
import time

import pytest

from recovery_shared.messaging.runtime import wait_for_broker
from tests.processes import free_port


async def test_a_running_broker_is_found_at_once(kafka_bootstrap: str) -> None:
    started = time.monotonic()
    await wait_for_broker(kafka_bootstrap, timeout_s=30)
    assert time.monotonic() - started < 10


async def test_a_broker_that_never_answers_stops_the_start_up_with_a_reason_after_the_wait() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"the broker at {bootstrap} did not answer within 2 s"):
        await wait_for_broker(bootstrap, timeout_s=2)
    assert 1.0 < time.monotonic() - started < 10


async def test_a_broker_that_comes_back_is_waited_for(kafka_bootstrap: str) -> None:
    """The broker is reached through a port that only starts forwarding after a while,
    as a restarting broker only starts listening after a while."""
    host, port = kafka_bootstrap.split(":")
    listen_port = free_port()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))

    async def open_later() -> asyncio.Server:
        await asyncio.sleep(1.5)
        return await asyncio.start_server(forward, "127.0.0.1", listen_port)

    opening = asyncio.create_task(open_later())
    started = time.monotonic()
    # The cluster's metadata names the real broker, which is all the wait needs to see.
    await wait_for_broker(f"127.0.0.1:{listen_port}", timeout_s=30)
    waited = time.monotonic() - started
    server = await opening
    server.close()
    assert waited >= 1.5
