"""How the kernel tells a bad message from a bad moment."""

from __future__ import annotations

import asyncio
import sqlite3

import psycopg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, StatementError

from recovery_shared.refusal import Refused

__all__ = ["Refused", "backoff_delays", "describe_failure", "is_transient", "safe_text"]

_DESCRIPTION_CHARS = 2000  # a dead letter's reason holds this much

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
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        # SQLite files everything under OperationalError, a missing table, a read-only
        # file and a full disk as well as a lock: only the lock passes with time.
        return _sqlite_busy(exc.orig) if isinstance(exc.orig, sqlite3.Error) else True
    if isinstance(exc, _TRANSIENT_DRIVER_ERRORS):
        return True
    if isinstance(exc, sqlite3.Error):
        return _sqlite_busy(exc)
    return isinstance(exc, KafkaConnectionError | KafkaTimeoutError | asyncio.TimeoutError | ConnectionError)


def _sqlite_busy(exc: sqlite3.Error) -> bool:
    message = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message)


def describe_failure(exc: BaseException) -> str:
    """The error's type and message, fit for a log line and a dead letter's reason.

    SQLAlchemy's message carries the statement's parameters, PostgreSQL's carries
    the offending row in its DETAIL and CONTEXT lines, and pydantic's names each
    input value: any of them could hold a name or an address. Only the driver's
    primary message is kept, and of a validation error where and what, not what
    it was given."""
    inner: BaseException = exc
    if isinstance(exc, StatementError) and isinstance(exc.orig, BaseException):
        inner = exc.orig
    if isinstance(inner, ValidationError):
        message = _validation_failures(inner)
    elif isinstance(inner, psycopg.Error):
        # A server error without diagnostics never reached the server: the driver's
        # own message then names no row. One that did keeps only its first line.
        message = inner.diag.message_primary or str(inner).split("\n", 1)[0]
    else:
        message = str(inner)
    described = f"{type(inner).__name__}: {message}" if message else type(inner).__name__
    return safe_text(described, _DESCRIPTION_CHARS)


def safe_text(text: str, limit: int) -> str:
    """``text`` as every driver, JSON encoder and log renderer we use accepts it: a
    lone surrogate (which UTF-8 cannot encode) and NUL (which PostgreSQL's text
    refuses) replaced, and cut to ``limit`` characters."""
    return text.encode("utf-8", "replace").decode().replace("\x00", "\ufffd")[:limit]


def _validation_failures(exc: ValidationError) -> str:
    failures = [
        f"{'.'.join(str(step) for step in error['loc']) or '(the whole value)'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return f"{exc.error_count()} validation error(s) for {exc.title}: " + "; ".join(failures)


def backoff_delays(initial: float = 0.1, ceiling: float = 5.0, attempts: int = 10) -> list[float]:
    delays, delay = [], initial
    for _ in range(attempts):
        delays.append(delay)
        delay = min(delay * 2, ceiling)
    return delays
