"""Each service's migrations build exactly the schema its models describe, on SQLite
and PostgreSQL: a table or column added to a model without its revision fails here."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, pool

from recovery_shared.messaging.db import sync_url
from recovery_shared.messaging.migrations import upgrade_to_head

SERVICES = ("payments", "arrangements", "enforcement", "notices")


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_at_head_match_the_models(service: str, database_url: str) -> None:
    package = import_module(f"recovery_{service}")
    models = import_module(f"recovery_{service}.models")
    upgrade_to_head(Path(package.__file__ or "").parent / "migrations", database_url)
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), models.metadata)
    finally:
        engine.dispose()
    assert differences == []
