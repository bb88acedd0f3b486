"""How the kernel tells a bad message from a bad moment."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from recovery_shared.refusal import Refused

__all__ = ["Refused", "backoff_delays", "is_transient"]


def is_transient(exc: BaseException) -> bool:
    """Errors that mean 'try again shortly': a locked or unreachable database, an
    unreachable broker. They are retried with backoff, never dead-lettered."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, KafkaConnectionError | KafkaTimeoutError | asyncio.TimeoutError | ConnectionError)


def backoff_delays(initial: float = 0.1, ceiling: float = 5.0, attempts: int = 10) -> list[float]:
    delays, delay = [], initial
    for _ in range(attempts):
        delays.append(delay)
        delay = min(delay * 2, ceiling)
    return delays
