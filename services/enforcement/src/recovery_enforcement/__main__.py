from __future__ import annotations

from recovery_enforcement.settings import EnforcementSettings
from recovery_shared.messaging.runtime import serve


def main() -> None:
    serve("recovery_enforcement.app:create_app", EnforcementSettings())


if __name__ == "__main__":
    main()
