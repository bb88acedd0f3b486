from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from recovery_shared.settings import ServiceSettings


class EnforcementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENFORCEMENT_", extra="ignore")

    service_name: str = "enforcement"
    http_port: int = 8084
