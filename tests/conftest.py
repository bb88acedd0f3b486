from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.databases import drop_database
from tests.infra import docker_available, run_script

_containers: list[Any] = []


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    elif docker_available():
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer("apache/kafka:4.2.1").with_kraft()
        container.start()
        _containers.append(container)
        bootstrap = container.get_bootstrap_server()
    else:
        run_script("kafka.sh", "start")
        bootstrap = run_script("kafka.sh", "bootstrap")
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    from recovery_shared.admin import ensure_topics

    asyncio.run(ensure_topics(bootstrap))
    yield bootstrap


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16", driver="psycopg")
        container.start()
        _containers.append(container)
        yield container.get_connection_url()
        return
    run_script("postgres.sh", "start")
    yield run_script("postgres.sh", "url", "postgres")


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            drop_database(conn, name)
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """Every store test runs on both backends (design §6)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        yield request.getfixturevalue("postgres_url")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for container in _containers:
        container.stop()


@pytest.fixture
async def anyio_backend() -> AsyncIterator[str]:
    yield "asyncio"
