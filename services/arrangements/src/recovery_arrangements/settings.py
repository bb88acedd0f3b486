from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from recovery_shared.settings import ServiceSettings


class ArrangementsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ARRANGEMENTS_", extra="ignore")

    service_name: str = "arrangements"
    http_port: int = 8082
