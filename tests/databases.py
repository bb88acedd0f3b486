"""Dropping the throwaway PostgreSQL databases the tests and benchmarks create."""

from __future__ import annotations

import time

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError


def drop_database(conn: Connection, name: str, *, attempts: int = 10) -> None:
    """Drops ``name``, ending its sessions. An autovacuum worker (the server's own role,
    which FORCE may not end) can still be in a database a test has just left: it finishes
    in moments, so the drop is tried again a second later."""
    for attempt in range(attempts):
        try:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
