"""How the kernel tells a bad message from a bad moment."""

from __future__ import annotations

import asyncio
import sqlite3

import psycopg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, StatementError

from recovery_shared.refusal import Refused

__all__ = ["Refused", "backoff_delays", "describe_failure", "is_transient"]

# The bulk paths (COPY on PostgreSQL, the driver's executemany on SQLite) reach the
# drivers directly, so their errors arrive unwrapped by SQLAlchemy. psycopg files
# serialization failures, deadlocks, lock timeouts and lost connections under its
# OperationalError; a row that does not fit (DataError, IntegrityError) is not one.
_TRANSIENT_DRIVER_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def is_transient(exc: BaseException) -> bool:
    """Errors that mean 'try again shortly': a locked or unreachable database, a
    serialization failure or deadlock, an unreachable broker, or a record another
    writer changed meanwhile (any exception class marked ``transient = True``).
    They are retried with backoff; only one that outlasts its retries is poison."""
    if getattr(type(exc), "transient", False) is True:
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, _TRANSIENT_DRIVER_ERRORS):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    return isinstance(exc, KafkaConnectionError | KafkaTimeoutError | asyncio.TimeoutError | ConnectionError)


def describe_failure(exc: BaseException) -> str:
    """The error's type and message, fit for a log line and a dead letter's reason.

    SQLAlchemy's message carries the statement's parameters, and PostgreSQL's
    carries the offending row in its CONTEXT line: either could hold a name or an
    address. Only the driver's primary message is kept."""
    inner: BaseException = exc
    if isinstance(exc, StatementError) and isinstance(exc.orig, BaseException):
        inner = exc.orig
    message = str(inner)
    if isinstance(inner, psycopg.Error) and inner.diag.message_primary:
        message = inner.diag.message_primary
    return f"{type(inner).__name__}: {message}" if message else type(inner).__name__


def backoff_delays(initial: float = 0.1, ceiling: float = 5.0, attempts: int = 10) -> list[float]:
    delays, delay = [], initial
    for _ in range(attempts):
        delays.append(delay)
        delay = min(delay * 2, ceiling)
    return delays
