from __future__ import annotations

from recovery_notices.settings import NoticesSettings
from recovery_shared.messaging.runtime import serve


def main() -> None:
    serve("recovery_notices.app:create_app", NoticesSettings())


if __name__ == "__main__":
    main()
