from __future__ import annotations

from recovery_payments.settings import PaymentsSettings
from recovery_shared.messaging.runtime import serve


def main() -> None:
    serve("recovery_payments.app:create_app", PaymentsSettings())


if __name__ == "__main__":
    main()
