"""Checkpoints of the audit log, kept outside the database.

A checkpoint is one line of JSON appended to a file (``AUDIT_CHECKPOINT_FILE``): when it was
written and why, the id and hash of the chain's last row (its head), how many rows the log held
up to it, and the id of the audit key that seals the line (HMAC-SHA256), so that no one without
the key can write a checkpoint that matches a cut log. ``audit.verify`` compares the log with the
last one: fewer rows, or a head that is gone or different, means rows were deleted or rewritten.

Lines are appended whole or not at all (one ``write`` under an exclusive lock, undone if it is
short, then ``fsync``); a reader ignores a last line without its newline (a crash mid-write).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

_LABEL = b"privacy-center audit checkpoint\n"


class CheckpointUnreadable(RuntimeError):
    """The last checkpoint cannot be trusted: the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    at: datetime
    reason: str
    # None: the log was empty.
    head_id: int | None
    head_hash: str | None
    # Rows of the log with an id up to head_id.
    count: int
    key_id: str

    def fields(self) -> dict[str, Any]:
        values = asdict(self)
        values["at"] = self.at.isoformat(timespec="microseconds")
        return values

    def describe(self) -> str:
        head = f"row {self.head_id}" if self.head_id is not None else "an empty log"
        return (
            f"the checkpoint of {self.at.isoformat(timespec='seconds')} ({self.reason}): "
            f"{self.count} rows up to {head}"
        )


def _mac(key: bytes, fields: Mapping[str, Any]) -> str:
    document = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, _LABEL + document.encode(), hashlib.sha256).hexdigest()


def line_of(checkpoint: Checkpoint, key: bytes) -> str:
    """The checkpoint as the line written to the file and the log (with its MAC)."""
    fields = checkpoint.fields()
    return json.dumps({**fields, "mac": _mac(key, fields)}, sort_keys=True, ensure_ascii=False)


def append(path: str | Path, checkpoint: Checkpoint, key: bytes) -> str:
    """Append the checkpoint's line to ``path`` (created with mode 0600); returns the line."""
    line = line_of(checkpoint, key)
    data = (line + "\n").encode()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"only {written} of {len(data)} bytes of the checkpoint written")
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)  # no torn line left behind
            raise
    finally:
        os.close(fd)  # also releases the lock
    return line


def last(path: str | Path, keys: Mapping[str, bytes]) -> Checkpoint | None:
    """The last complete checkpoint of ``path`` (None when there is none), its MAC checked with
    the key it names among ``keys`` (key id -> key)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    lines = text.split("\n")[:-1]  # what follows the last newline is a torn write, if anything
    lines = [line for line in lines if line.strip()]
    if not lines:
        return None
    number = len(lines)
    where = f"line {number} of {path}"
    try:
        values = json.loads(lines[-1])
        mac = values.pop("mac")
        checkpoint = Checkpoint(
            at=datetime.fromisoformat(values["at"]),
            reason=str(values["reason"]),
            head_id=None if values["head_id"] is None else int(values["head_id"]),
            head_hash=values["head_hash"],
            count=int(values["count"]),
            key_id=str(values["key_id"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CheckpointUnreadable(f"the last checkpoint ({where}) is not readable") from None
    key = keys.get(checkpoint.key_id)
    if key is None:
        raise CheckpointUnreadable(
            f"the last checkpoint ({where}) is sealed with audit key {checkpoint.key_id}, which "
            "is neither PC_AUDIT_KEY nor one of PC_AUDIT_PREVIOUS_KEYS"
        )
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, values)):
        raise CheckpointUnreadable(
            f"the last checkpoint ({where}) was altered: its MAC does not match its content"
        )
    return checkpoint
