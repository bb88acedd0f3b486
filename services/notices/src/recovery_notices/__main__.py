from __future__ import annotations

from recovery_shared.messaging.runtime import serve

from recovery_notices.settings import NoticesSettings


def main() -> None:
    serve("recovery_notices.app:create_app", NoticesSettings())


if __name__ == "__main__":
    main()
