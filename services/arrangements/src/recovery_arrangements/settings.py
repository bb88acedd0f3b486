from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from recovery_shared.settings import ServiceSettings


class ArrangementsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ARRANGEMENTS_", extra="ignore")

    service_name: str = "arrangements"
    http_port: int = 8082
    # A day's sweep commits tens of thousands of events at once; the relay streams them
    # to the broker in chunks within one transaction of this many rows (outbox.py).
    relay_batch_size: int = 20000
