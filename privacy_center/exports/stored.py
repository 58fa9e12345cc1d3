"""The file of a copy prepared in the background: written as the zip is built, served while it
is decrypted, never whole in memory (privacy_center.segmented).

A stored file that fails its integrity check (altered, truncated, reordered, replaced) is never
sent: the download fails with an error page, the copy is marked failed (so it does not count and
its owner may ask again) and the failure is logged for the operator.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..models import DataExport
from ..models.types import utcnow
from ..segmented import SegmentedReader, WholeFileReader, open_stored, write_segmented
from ..uploads.storage import StoredDocumentError

log = logging.getLogger(__name__)

# The ``error`` of a copy whose stored file could not be read back intact (for staff; the
# status page tells its owner in their language).
DAMAGED = "The stored file failed its integrity check when it was downloaded"


@dataclass(frozen=True)
class StoredArchive:
    name: str
    size: int
    sha256: str


def store_archive(chunks: Iterable[bytes], *, directory: Path, key: bytes) -> StoredArchive:
    """Encrypt the zip into a new segmented file of ``directory`` as its chunks come: only one
    segment is ever held. The file appears complete or not at all (an error in ``chunks``
    leaves nothing behind)."""
    hasher = hashlib.sha256()

    def measured() -> Iterator[bytes]:
        for chunk in chunks:
            hasher.update(chunk)
            yield chunk

    writer = write_segmented(measured(), directory=directory, key=key)
    return StoredArchive(writer.name, writer.plain_size, hasher.hexdigest())


@dataclass
class ExportDownload:
    """A checked stored copy, ready to stream: :meth:`chunks` decrypts it again as it is sent."""

    export_id: int
    reader: SegmentedReader | WholeFileReader

    @property
    def length(self) -> int:
        return self.reader.plain_size

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self.reader
        except StoredDocumentError:
            # Changed on disk after it was checked: the response is cut short, never completed
            # (its Content-Length is not reached), so the download visibly fails.
            log.error(
                "export %s: its stored file failed its check while it was sent", self.export_id
            )
            raise
        finally:
            self.reader.close()

    def close(self) -> None:
        self.reader.close()


def open_download(
    session: Session, export: DataExport, config: Mapping[str, Any]
) -> ExportDownload | None:
    """Check a ready copy's stored file from its first segment to its last (keeping nothing) and
    record the download; None when the file fails the check: the copy is then marked failed,
    with :data:`DAMAGED` as its error, and the failure logged."""
    try:
        if export.stored_name is None:
            raise StoredDocumentError(f"export {export.id} has no stored file")
        reader = open_stored(
            export.stored_name,
            directory=Path(config["EXPORT_DIR"]),
            key=config["EXPORT_KEY"],
            previous_keys=config.get("EXPORT_PREVIOUS_KEYS", ()),
        )
        try:
            reader.verify()
        except BaseException:
            reader.close()
            raise
    except StoredDocumentError as error:
        log.error("export %s was not sent: %s", export.id, error)
        export.state = "failed"
        export.error = f"{DAMAGED}: {error}"
        session.commit()
        return None
    export.downloaded_at = utcnow()
    session.commit()
    return ExportDownload(export.id, reader)


def damaged(export: DataExport) -> bool:
    return export.state == "failed" and (export.error or "").startswith(DAMAGED)
