"""Officer commands: each idempotent by its command id, with one effect however many
copies of it arrive, and however many officers act on the same thing at once.

The officer's client generates a ``command_id`` for each command it means to give
and sends it with the request, with the ``officer`` who gives it. The command runs
in one unit of work that also records it in the ``officer_command`` table: its
id, its name, a fingerprint of the request and the outcome. So:

- a repeat of the same command id with the same request (a retry after a lost
  answer, a double click) answers the stored outcome with ``"repeated": true``
  and changes nothing;
- the same id with a different request is refused with a 409: an id names one
  command, and a client that reuses one has a bug the officer needs to hear of;
- concurrent copies race to record the id; the losers see the winner's row and
  answer as it did. What stops two *different* commands from both acting on one
  record is the record's own compare-and-set (``records.StaleRecord``).

A transient failure (SQLite's lock, PostgreSQL's serialization failure or
deadlock, a concurrent copy's row, a stale record) runs the whole unit again
after a short, bounded, jittered wait; the retry reads the state as it now is.
A refusal records nothing: it changed nothing, and once the officer has fixed
the cause the same command may be sent again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from recovery_shared.clock import utc_now
from recovery_shared.contracts.common import MAX_TEXT
from recovery_shared.messaging.errors import is_transient
from recovery_shared.messaging.unit_of_work import SqlUnitOfWork
from recovery_shared.refusal import Refused

log = structlog.get_logger("recovery.commands")

COMMAND_ID_LENGTH = 100
OFFICER_LENGTH = 200

RETRY_DELAYS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.25, 0.25, 0.25, 0.25)
"""Seconds before each retry: about 1.3 s at most in all, which outlasts any burst
of copies a client or a pair of officers can send, and answers well inside a
browser's patience."""

U = TypeVar("U", bound=SqlUnitOfWork)


class UnreadableCommand(Exception):
    """The request cannot be read as the command (HTTP 422); ``str(exc)`` says what to send."""


@dataclass(frozen=True)
class OfficerCommand:
    """One command as an officer's client sent it."""

    name: str
    """What the command does, as recorded: ``reverse-receipt``."""
    command_id: str
    officer: str
    request: Mapping[str, Any]
    """The request body as sent, ``command_id`` and ``officer`` included."""

    def text(self, field: str) -> str:
        value: str = self.request[field]
        return value

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical request: keys sorted, no spaces, so two clients'
        serialisations of the same request agree."""
        canonical = json.dumps(self.request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def read_command(name: str, body: object, fields: Sequence[str]) -> OfficerCommand:
    """The command in a request body, which must give ``command_id``, ``officer`` and
    the command's own ``fields``, each as text."""
    if not isinstance(body, dict):
        raise UnreadableCommand("the request body must be a JSON object")
    required = ("command_id", "officer", *fields)
    missing = [f for f in required if body.get(f) in (None, "")]
    if missing:
        raise UnreadableCommand(f"missing {', '.join(missing)}: give {', '.join(required)}")
    not_text = [f for f in required if not isinstance(body[f], str)]
    if not_text:
        raise UnreadableCommand(f"give {', '.join(not_text)} as text")
    too_long = [f for f in fields if len(body[f]) > MAX_TEXT]
    if too_long:
        # The events a command publishes carry its text, and they are bounded.
        raise UnreadableCommand(f"{', '.join(too_long)} must be at most {MAX_TEXT} characters")
    command_id, officer = body["command_id"], body["officer"]
    if len(command_id) > COMMAND_ID_LENGTH:
        raise UnreadableCommand(
            f"command_id must be at most {COMMAND_ID_LENGTH} characters; a UUID made for each command will do"
        )
    if len(officer) > OFFICER_LENGTH:
        raise UnreadableCommand(f"officer must be at most {OFFICER_LENGTH} characters")
    return OfficerCommand(name=name, command_id=command_id, officer=officer, request=body)


@dataclass(frozen=True)
class Answer:
    """What to answer the officer: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]


async def run_once(
    units: Callable[[], U],
    command: OfficerCommand,
    apply: Callable[[U], Awaitable[Mapping[str, Any]]],
    *,
    delays: Sequence[float] = RETRY_DELAYS,
) -> Answer:
    """Run ``apply`` (the command's use case, answering its outcome) once for this
    command id, in a unit from ``units`` that also records the command; answer its
    outcome, the stored one for a repeat, or the refusal."""
    for attempt, delay in enumerate([*delays, None], start=1):
        try:
            return await _attempt(units, command, apply)
        except Exception as exc:
            if delay is None or not _worth_retrying(exc):
                raise
            log.info("officer command retried", command=command.name, attempt=attempt, error=type(exc).__name__)
            # Jitter keeps copies that collided once from colliding again in step.
            await asyncio.sleep(delay * (0.5 + random.random()))
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _attempt(
    units: Callable[[], U], command: OfficerCommand, apply: Callable[[U], Awaitable[Mapping[str, Any]]]
) -> Answer:
    async with units() as uow:
        table = uow.kernel.officer_commands
        recorded = (
            await uow.session.execute(
                select(table.c.command, table.c.fingerprint, table.c.outcome).where(
                    table.c.command_id == command.command_id
                )
            )
        ).one_or_none()
        if recorded is not None:
            return _answer_to_repeat(command, recorded.command, recorded.fingerprint, recorded.outcome)
        try:
            outcome = dict(await apply(uow))
        except Refused as exc:
            return Answer(409, {"refused": str(exc)})
        # Written before the use case's own changes, so a concurrent copy of this
        # command waits on (PostgreSQL) or fails on (SQLite) this row before it can
        # reach the records, and then answers as this one did.
        await uow.session.execute(
            insert(table).values(
                command_id=command.command_id,
                command=command.name,
                fingerprint=command.fingerprint,
                officer=command.officer,
                outcome=outcome,
                recorded_at=utc_now(),
            )
        )
        await uow.commit()
    return Answer(200, {**outcome, "repeated": False})


def _answer_to_repeat(command: OfficerCommand, name: str, fingerprint: str, outcome: Mapping[str, Any]) -> Answer:
    if name != command.name:
        return Answer(409, {"refused": _reused(command, f"a {name} command")})
    if fingerprint != command.fingerprint:
        return Answer(409, {"refused": _reused(command, f"a different {name} request")})
    return Answer(200, {**outcome, "repeated": True})


def _reused(command: OfficerCommand, what: str) -> str:
    return (
        f"command id {command.command_id!r} was already used for {what}; give each new command "
        "a new command id, and send a repeat only unchanged"
    )


def _worth_retrying(exc: BaseException) -> bool:
    # A unique violation here is a concurrent copy's officer_command row: the next
    # attempt finds it. Any other integrity error would repeat and so run out of
    # attempts, still bounded.
    return is_transient(exc) or getattr(type(exc), "transient", False) is True or isinstance(exc, IntegrityError)
