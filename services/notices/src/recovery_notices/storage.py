"""Filing rendered PDFs: ``<documents_dir>/<yyyy>/<mm>/<document id>.pdf`` by served date.

A document's id is derived from its request id, so a render repeated after a
crash (or by a second instance racing for the same request) lands on the same
path; each write goes to a temporary file first and is renamed into place, so a
reader never sees half a PDF.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import date
from pathlib import Path

# Fixed for ever: changing it would give every request a new document id.
DOCUMENT_NAMESPACE = uuid.UUID(
    "1d5b2f4d-d4b8-5908-a4e5-a6ddc11917b6"
)  # uuid5(URL, "urn:council-recovery:notices:document")


def document_id_for(request_id: str) -> str:
    return str(uuid.uuid5(DOCUMENT_NAMESPACE, request_id))


class DocumentFiling:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, document_id: str, served_on: date) -> Path:
        return self.root / f"{served_on.year:04d}" / f"{served_on.month:02d}" / f"{document_id}.pdf"

    def store(self, document_id: str, served_on: date, pdf: bytes) -> Path:
        """Write ``pdf`` atomically and durably; returns its path."""
        path = self.path_for(document_id, served_on)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{document_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pdf)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        return path


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every platform lets a directory be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
