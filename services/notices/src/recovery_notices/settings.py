from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from recovery_shared.settings import ServiceSettings


class NoticesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTICES_", extra="ignore")

    service_name: str = "notices"
    http_port: int = 8083
