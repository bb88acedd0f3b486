from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from recovery_shared.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")

    service_name: str = "payments"
    http_port: int = 8081
    # A receipts batch costs a fixed few queries (the prefetch) and bulk statements
    # (the flush) whatever its size, and a receipt itself little: at 1,000 records
    # payment intake on PostgreSQL runs about a sixth faster than at the kernel's
    # 500 (`./recovery.sh bench`, README), for a transaction still well under a second.
    consumer_batch_size: int = 1000
