from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from recovery_notices.templating import NoticeTemplates, load_templates
from recovery_shared.settings import ServiceSettings


class NoticesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTICES_", extra="ignore")

    service_name: str = "notices"
    http_port: int = 8083
    documents_dir: Path | None = Field(
        default=None,
        description="Where rendered PDFs are filed (<yyyy>/<mm>/<document id>.pdf); unset means <data_dir>/documents."
        " Every instance of the service must see the same folder.",
    )
    font_regular: Path | None = Field(
        default=None, description="A TrueType font for notices (e.g. DejaVuSans.ttf); unset means Helvetica"
    )
    font_bold: Path | None = Field(default=None, description="Its bold face; unset means the regular one")
    font_italic: Path | None = Field(default=None, description="Its italic face; unset means the regular one")
    templates_dir: Path | None = Field(
        default=None,
        description="The council's own notice templates (<notice type>.html); a notice type with no file there"
        " uses the packaged template. Unset means the packaged templates alone.",
    )

    def resolved_documents_dir(self) -> Path:
        return (self.documents_dir or self.data_dir / "documents").resolve()

    def notice_templates(self) -> NoticeTemplates:
        """The templates notices are worded with, compiled once per folder."""
        return load_templates(self.templates_dir.resolve() if self.templates_dir is not None else None)
