"""Settings every service shares; each service subclasses with its own env prefix.

``KAFKA_BOOTSTRAP_SERVERS`` is read without a prefix because every service on a
host talks to the same cluster; the database URL is per service
(``PAYMENTS_DATABASE_URL`` ...), since no service reads another's tables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recovery_shared.council import CouncilConfig, load_council_config

DEFAULT_BOOTSTRAP = "127.0.0.1:19092"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    service_name: str = "service"
    kafka_bootstrap_servers: str = Field(
        default=DEFAULT_BOOTSTRAP,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    data_dir: Path = Field(default=Path("var/data"), description="Embedded SQLite files and rendered documents")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; unset means a SQLite file")
    http_host: str = "127.0.0.1"
    http_port: int = 0
    consumer_batch_size: int = 500
    consumer_batch_timeout_ms: int = 50
    relay_batch_size: int = 1000
    council_config: Path | None = Field(default=None, description="Per-council policy file (TOML)")
    log_level: str = "INFO"
    group_id: str | None = Field(default=None, description="Kafka consumer group; defaults to recovery-<service>")

    # --- failures (issue 9: no message may wedge a service) ---------------------------
    transient_retries: int = Field(
        default=6,
        ge=0,
        description="Retries of a transient failure (database locked or unreachable, broker away) before "
        "a batch goes message by message; a message that still fails after as many is dead-lettered",
    )
    retry_initial_s: float = Field(default=0.1, gt=0, description="First backoff delay; it doubles each retry")
    retry_ceiling_s: float = Field(default=5.0, gt=0, description="Longest backoff delay")
    max_message_bytes: int = Field(
        default=1_000_000,
        gt=1024,
        description="Largest record the relay sends (keep under the broker's message.max.bytes); a larger "
        "outbound event is kept as an outbound dead letter and reported, never sent",
    )

    # --- readiness (GET /health) ----------------------------------------------------------
    stall_after_s: float = Field(
        default=60.0, gt=0, description="Not ready when a partition has not advanced this long while messages wait"
    )
    outbox_max_age_s: float = Field(
        default=60.0, gt=0, description="Not ready when the outbox holds a row older than this"
    )
    relay_failures_before_unready: int = Field(
        default=5, ge=1, description="Not ready after this many relay rounds in a row have failed"
    )
    broker_wait_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a starting service waits for the broker to answer before it gives up",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.sqlite').resolve()}"

    def council(self) -> CouncilConfig:
        return load_council_config(self.council_config)

    @property
    def consumer_group(self) -> str:
        return self.group_id or f"recovery-{self.service_name}"
