"""A refusal: the one exception business rules raise.

Dependency-free so domain modules can raise it without importing the messaging
kernel. A consumer dead-letters the message with this reason; an officer's
command answers with it. The reason must make sense to a person and say what to do.
"""

from __future__ import annotations


class Refused(Exception):
    """The message or command breaks a business rule; ``str(exc)`` says which and why."""
