"""The audit log: append-only, chained, sealed with a key kept outside the database.

Every row carries the HMAC-SHA256, under the audit key (``PC_AUDIT_KEY``), of its own content and
of the previous row's hash, and the id of that key. Editing a row breaks its seal; deleting one
leaves the next row pointing at a hash that no longer precedes it; rewriting the rows and
computing their hashes again needs the key. What the chain alone cannot show (the last rows
deleted) the checkpoints show: the head's hash and the row count, written outside the database
(``audit_checkpoints``) by every ``audit verify`` that finds the log whole and by every retention
run. ``verify`` names what is missing or changed.

Rows written before the chain was keyed have no key id and a plain SHA-256 hash; they are checked
as they were written, and the first keyed row after them seals them in turn. No unkeyed row may
follow a keyed one.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from . import audit_checkpoints
from .audit_checkpoints import Checkpoint, CheckpointUnreadable
from .extensions import db
from .models import AuditEvent
from .models.types import utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# Any constant: PostgreSQL's transaction-level lock that makes appends take turns.
_CHAIN_LOCK = 0x50435F4155444954
# Problems named by one verification, at most (the first ones; the count says how many more).
MAX_FINDINGS = 20


@functools.lru_cache(maxsize=32)
def key_id(key: bytes) -> str:
    """A key's public name: 16 hex digits derived from it one way (it reveals nothing of it)."""
    return hmac.new(key, b"privacy-center audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class ChainKeys:
    """The key that seals new rows and every key that may have sealed older ones, by key id."""

    current: bytes
    by_id: Mapping[str, bytes]

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ChainKeys:
        current = settings["AUDIT_KEY"]
        keys = [current, *settings.get("AUDIT_PREVIOUS_KEYS", ())]
        return cls(current=current, by_id={key_id(key): key for key in keys})


def _document(
    previous_hash: str,
    at: datetime,
    actor: str,
    action: str,
    request_id: int | None,
    details: dict[str, Any],
    sealed_by: str | None = None,
) -> bytes:
    fields: dict[str, Any] = {
        "previous": previous_hash,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "request": request_id,
        "details": details,
    }
    if sealed_by is not None:
        fields["key"] = sealed_by
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(
    previous_hash: str,
    at: datetime,
    actor: str,
    action: str,
    request_id: int | None,
    details: dict[str, Any],
) -> str:
    """The plain SHA-256 of a row written before the chain was keyed (no key id)."""
    return hashlib.sha256(
        _document(previous_hash, at, actor, action, request_id, details)
    ).hexdigest()


def row_mac(
    key: bytes,
    previous_hash: str,
    at: datetime,
    actor: str,
    action: str,
    request_id: int | None,
    details: dict[str, Any],
) -> str:
    """The HMAC-SHA256 of a row under ``key`` (its key id is part of what is sealed)."""
    document = _document(previous_hash, at, actor, action, request_id, details, key_id(key))
    return hmac.new(key, document, hashlib.sha256).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    request_id: int | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it is kept only if the caller commits),
    sealed with the application's current audit key."""
    key: bytes = current_app.config["AUDIT_KEY"]
    if session.get_bind().dialect.name == "postgresql":
        # Two transactions appending at once would both chain to the same row.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    previous = session.scalar(select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1))
    moment = at or utcnow()
    payload = dict(details or {})
    event = AuditEvent(
        at=moment,
        actor=actor,
        action=action,
        request_id=request_id,
        details=payload,
        previous_hash=previous or GENESIS,
        row_hash=row_mac(key, previous or GENESIS, moment, actor, action, request_id, payload),
        key_id=key_id(key),
    )
    session.add(event)
    session.flush()
    return event


# --- Verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing missing or changed. ``kind``: "deleted", "edited", "recomputed",
    "unknown_key" or "checkpoint"."""

    kind: str
    event_id: int | None
    message: str


@dataclass
class Verification:
    checked: int = 0
    head_id: int | None = None
    head_hash: str | None = None
    # Rows written before the chain was keyed (plain SHA-256), all before the first keyed row.
    unkeyed: int = 0
    findings: list[Finding] = field(default_factory=list)
    more_findings: int = 0
    # The last checkpoint compared with the log (None: there was none yet).
    checkpoint: Checkpoint | None = None

    @property
    def intact(self) -> bool:
        return not self.findings

    def add(self, kind: str, event_id: int | None, message: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(kind, event_id, message))
        else:
            self.more_findings += 1


@dataclass
class _Unsealed:
    """Consecutive rows, linked to each other, whose seal does not match."""

    first: int
    last: int
    plain: bool  # the first one's hash is a plain SHA-256 of its content

    @property
    def rows(self) -> str:
        return (
            f"row {self.first}" if self.first == self.last else f"rows {self.first} to {self.last}"
        )

    def report(self, result: Verification, followed_by_sealed_row: bool) -> None:
        if followed_by_sealed_row or (self.first == self.last and not self.plain):
            # The next row still links to their hashes (or nothing shows the hash was computed
            # again): they were changed in place.
            result.add(
                "edited",
                self.first,
                f"{self.rows} changed after being written: the MAC does not match the content",
            )
            return
        how = " with plain SHA-256" if self.plain else ""
        result.add(
            "recomputed",
            self.first,
            f"chain recomputed without the key{how} from row {self.first}: {self.rows} are "
            "linked to each other but not sealed by the audit key (a row was changed and the "
            "hashes after it computed again)",
        )


def _seal_matches(event: AuditEvent, previous: str, keys: ChainKeys) -> bool | None:
    """Whether the row's hash is its seal (None: sealed with a key that is not configured)."""
    if event.key_id is None:
        expected = content_hash(
            previous, event.at, event.actor, event.action, event.request_id, event.details
        )
        return hmac.compare_digest(event.row_hash, expected)
    key = keys.by_id.get(event.key_id)
    if key is None or key_id(key) != event.key_id:
        return None
    expected = row_mac(
        key, previous, event.at, event.actor, event.action, event.request_id, event.details
    )
    return hmac.compare_digest(event.row_hash, expected)


def _is_plain_sha256(event: AuditEvent) -> bool:
    """Whether the row's hash is a plain SHA-256 of its content (what someone without the key
    would compute), with or without its key id."""
    plain = content_hash(
        event.previous_hash, event.at, event.actor, event.action, event.request_id, event.details
    )
    if event.row_hash == plain:
        return True
    document = _document(
        event.previous_hash,
        event.at,
        event.actor,
        event.action,
        event.request_id,
        event.details,
        event.key_id,
    )
    return event.row_hash == hashlib.sha256(document).hexdigest()


def verify(session: Session, keys: ChainKeys, checkpoint: Checkpoint | None = None) -> Verification:
    """Check the whole chain against the keys, and against ``checkpoint`` (the last one written,
    if any): every row linked to the one before it and sealed by a configured key, and the
    checkpoint's head still there, with its hash and the rows before it."""
    result = Verification(checkpoint=checkpoint)
    previous, previous_id = GENESIS, None
    seen_keyed, unsealed = False, None
    # Key id -> (first row sealed with it, rows): keys that are not configured.
    unknown_keys: dict[str, tuple[int, int]] = {}
    head_seen = False
    rows = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )
    with rows:  # a server-side cursor on PostgreSQL: closed even when the loop stops early
        for event in rows:
            result.checked += 1
            if event.previous_hash != previous:
                if unsealed is not None:
                    unsealed.report(result, followed_by_sealed_row=False)
                    unsealed = None
                if previous_id is None:
                    result.add(
                        "deleted",
                        event.id,
                        f"row {event.id} is the first of the log but does not start the chain: "
                        "the rows before it were deleted",
                    )
                else:
                    result.add(
                        "deleted",
                        event.id,
                        f"row {event.id} does not follow row {previous_id}: the rows between "
                        "them were deleted (or the hash of the row before was rewritten)",
                    )
            if event.key_id is None and seen_keyed:
                sealed: bool | None = False  # unkeyed after keyed: written without the key
            else:
                sealed = _seal_matches(event, event.previous_hash, keys)
            if event.key_id is None:
                result.unkeyed += 0 if seen_keyed else 1
            else:
                seen_keyed = True
            if sealed is None:
                first, rows_sealed = unknown_keys.get(event.key_id or "", (event.id, 0))
                unknown_keys[event.key_id or ""] = (first, rows_sealed + 1)
            if sealed is False:
                if unsealed is None:
                    unsealed = _Unsealed(event.id, event.id, _is_plain_sha256(event))
                else:
                    unsealed.last = event.id
            elif unsealed is not None:
                unsealed.report(result, followed_by_sealed_row=sealed is True)
                unsealed = None
            if checkpoint is not None and event.id == checkpoint.head_id:
                head_seen = True
                _compare_head(result, checkpoint, event)
            previous, previous_id = event.row_hash, event.id
            result.head_id, result.head_hash = event.id, event.row_hash
    if unsealed is not None:
        unsealed.report(result, followed_by_sealed_row=False)
    for unknown, (first, rows_sealed) in unknown_keys.items():
        result.add(
            "unknown_key",
            first,
            f"{rows_sealed} row(s) from row {first} are sealed with audit key {unknown}, which is "
            "neither PC_AUDIT_KEY nor one of PC_AUDIT_PREVIOUS_KEYS: they cannot be checked",
        )
    if checkpoint is not None and checkpoint.head_id is not None and not head_seen:
        _report_missing_head(result, checkpoint)
    return result


def _compare_head(result: Verification, checkpoint: Checkpoint, event: AuditEvent) -> None:
    if event.row_hash != checkpoint.head_hash:
        result.add(
            "checkpoint",
            event.id,
            f"row {event.id}, the head of {checkpoint.describe()}, is no longer the row "
            "recorded there (its hash differs): the rows from it on were deleted and their ids "
            "used again, or the chain was rewritten up to it",
        )
    if result.checked != checkpoint.count:
        difference = checkpoint.count - result.checked
        what = f"{difference} row(s) deleted" if difference > 0 else f"{-difference} row(s) added"
        result.add(
            "deleted" if difference > 0 else "checkpoint",
            event.id,
            f"{checkpoint.describe()}; the log now holds {result.checked} up to it: {what} "
            "before it",
        )


def _report_missing_head(result: Verification, checkpoint: Checkpoint) -> None:
    assert checkpoint.head_id is not None
    if result.head_id is None or result.head_id < checkpoint.head_id:
        ends = (
            f"the log now ends at row {result.head_id} with {result.checked} rows"
            if result.head_id is not None
            else "the log is now empty"
        )
        result.add(
            "deleted",
            result.head_id,
            f"the last rows of the log were deleted: {checkpoint.describe()}; {ends} "
            f"({max(checkpoint.count - result.checked, 1)} row(s) at least are missing)",
        )
        return
    result.add(
        "deleted",
        checkpoint.head_id,
        f"row {checkpoint.head_id}, the head of {checkpoint.describe()}, is missing: rows "
        "were deleted",
    )


# --- Checkpoints -------------------------------------------------------------------------------


def last_checkpoint(settings: Mapping[str, Any], keys: ChainKeys) -> Checkpoint | None:
    return audit_checkpoints.last(settings["AUDIT_CHECKPOINT_FILE"], keys.by_id)


def check_and_checkpoint(
    session: Session, settings: Mapping[str, Any], *, reason: str
) -> tuple[Verification, Checkpoint | None]:
    """Verify the whole log against the keys and the last checkpoint; when it is whole, append
    a new checkpoint of its head to ``AUDIT_CHECKPOINT_FILE`` and to the application log.

    A log found cut or changed gets no checkpoint (a new one would hide what the last one shows):
    the findings are logged as errors and returned."""
    keys = ChainKeys.from_settings(settings)
    unreadable = None
    try:
        previous = last_checkpoint(settings, keys)
    except CheckpointUnreadable as error:
        previous, unreadable = None, str(error)
    result = verify(session, keys, previous)
    if unreadable is not None:  # the chain is still checked, without the checkpoint
        result.findings.insert(0, Finding("checkpoint", None, unreadable))
    if not result.intact:
        for finding in result.findings:
            log.error("audit log not checkpointed (%s): %s", reason, finding.message)
        return result, None
    # The head that was checked, and the rows up to it (read by one statement: appends take
    # turns, so no row before the head can commit after it).
    written = Checkpoint(
        at=utcnow(),
        reason=reason,
        head_id=result.head_id,
        head_hash=result.head_hash,
        count=result.checked,
        key_id=keys.current_id,
    )
    line = audit_checkpoints.append(settings["AUDIT_CHECKPOINT_FILE"], written, keys.current)
    log.info("audit checkpoint: %s", line)
    return result, written


def checkpoint_quietly(session: Session, settings: Mapping[str, Any], *, reason: str) -> None:
    """:func:`check_and_checkpoint` for a scheduled run that has other work to report (the
    retention run): what it finds goes to the application log, and the run goes on."""
    try:
        check_and_checkpoint(session, settings, reason=reason)
    except Exception:  # the file cannot be written, the database went away: said, not raised
        log.exception("audit log not checkpointed (%s)", reason)


def events_of_request(session: Session, request_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        )
    )


audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Check that no row of the audit log was changed or deleted; checkpoint it when whole."""
    try:
        result, written = check_and_checkpoint(
            db.session, current_app.config, reason="audit verify"
        )
    except OSError as error:
        raise click.ClickException(
            f"The checkpoint could not be written to {current_app.config['AUDIT_CHECKPOINT_FILE']} "
            f"({error.strerror or error}): fix PC_AUDIT_CHECKPOINT_FILE or the folder's "
            "permissions and run it again."
        ) from None
    if not result.intact:
        lines = [f"  - {finding.message}" for finding in result.findings]
        if result.more_findings:
            lines.append(f"  - and {result.more_findings} more")
        raise click.ClickException(
            f"The audit log was cut or changed ({result.checked} rows read):\n"
            + "\n".join(lines)
            + "\nNo checkpoint was written."
        )
    assert written is not None
    click.echo(f"The audit log is intact: {result.checked} rows checked.")
    if result.unkeyed:
        click.echo(
            f"  {result.unkeyed} of them, written before the chain was keyed, carry a plain "
            "SHA-256 chain, sealed by the keyed rows after them."
        )
    if result.checkpoint is None:
        click.echo("  No checkpoint before this one: it is the first.")
    else:
        click.echo(f"  It matches {result.checkpoint.describe()}.")
        if result.checkpoint.key_id != written.key_id:
            click.echo(
                f"  The audit key changed since (key {result.checkpoint.key_id} to "
                f"{written.key_id}): this checkpoint is the first sealed with the new key."
            )
    click.echo(
        f"  Checkpoint written to {current_app.config['AUDIT_CHECKPOINT_FILE']}: "
        f"{written.count} rows up to row {written.head_id}, key {written.key_id}."
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_cli)
    # The checkpoints go to the application log as well (INFO, on stderr unless configured).
    app.logger  # noqa: B018 - installs Flask's handler on the package's logger
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
