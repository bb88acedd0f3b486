"""The tests drive services through the same process runner as the demo."""

from demo.cluster import (
    ServiceProcess,
    collect,
    envelope_of,
    free_port,
    publish,
    start_group_at_end,
    wait_for,
    wait_for_health,
)

__all__ = [
    "ServiceProcess",
    "collect",
    "envelope_of",
    "free_port",
    "publish",
    "start_group_at_end",
    "wait_for",
    "wait_for_health",
]
