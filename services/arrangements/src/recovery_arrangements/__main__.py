from __future__ import annotations

from recovery_arrangements.settings import ArrangementsSettings
from recovery_shared.messaging.runtime import serve


def main() -> None:
    serve("recovery_arrangements.app:create_app", ArrangementsSettings())


if __name__ == "__main__":
    main()
