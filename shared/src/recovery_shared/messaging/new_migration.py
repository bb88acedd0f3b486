"""Autogenerate a migration for one service: ``python -m recovery_shared.messaging.new_migration payments "add x"``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from recovery_shared.messaging.migrations import new_revision


def main() -> None:
    service, message = sys.argv[1], sys.argv[2]
    models = importlib.import_module(f"recovery_{service}.models")
    app_module = importlib.import_module(f"recovery_{service}")
    migrations_dir = Path(app_module.__file__ or "").parent / "migrations"
    new_revision(migrations_dir, models.metadata, message)


if __name__ == "__main__":
    main()
