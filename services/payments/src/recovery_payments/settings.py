from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from recovery_shared.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")

    service_name: str = "payments"
    http_port: int = 8081
