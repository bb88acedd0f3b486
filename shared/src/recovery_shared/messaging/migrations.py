"""Alembic, run the same way by every service.

Each service keeps its own migration history inside its package
(``recovery_<service>/migrations``) against its own metadata. Services upgrade
to head at start-up (or ops run ``recovery-<service> migrate`` as a prestart
step); ``create_all`` is for unit tests only.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, engine_from_config, pool, text

from recovery_shared.messaging.db import is_sqlite, sync_url

# Any fixed 64-bit number: the PostgreSQL advisory lock instances of a service take
# so they migrate one at a time.
MIGRATION_LOCK_KEY = 0x7265636F76_01


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade_to_head(migrations_dir: Path, url: str) -> None:
    """Bring the database to head. Instances that start together against one
    PostgreSQL database (notices scales out) would otherwise collide on the same
    ``CREATE TABLE`` and all but one would fail to start; they take turns."""
    if is_sqlite(url):
        command.upgrade(alembic_config(migrations_dir, url), "head")  # one instance per SQLite file
        return
    engine = create_engine(sync_url(url), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                command.upgrade(alembic_config(migrations_dir, url), "head")
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()


def run_env(metadata: MetaData) -> None:
    """Body of each service's ``migrations/env.py``."""
    from alembic import context

    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


def new_revision(migrations_dir: Path, metadata: MetaData, message: str) -> None:
    """Autogenerate the next revision against a scratch SQLite database at head.

    Developers run ``python -m recovery_shared.messaging.new_migration <service> "<message>"``.
    """
    import tempfile

    del metadata  # env.py imports the service's metadata itself
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/scratch.sqlite"
        config = alembic_config(migrations_dir, url)
        command.upgrade(config, "head")
        command.revision(config, message=message, autogenerate=True)
