from __future__ import annotations

from recovery_shared.messaging.runtime import serve

from recovery_arrangements.settings import ArrangementsSettings


def main() -> None:
    serve("recovery_arrangements.app:create_app", ArrangementsSettings())


if __name__ == "__main__":
    main()
