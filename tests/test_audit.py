"""The audit log: a chain sealed with a key kept outside the database, and checkpoints of its head
kept outside it too. `flask --app wsgi audit verify` names what was deleted or changed: the last
rows, a row edited in place, a chain recomputed without the key.

The test database may hold other tests' committed rows: the chain is whatever precedes the rows a
test writes, and assertions look at those rows.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, func, select, update

from privacy_center.audit import (
    GENESIS,
    ChainKeys,
    content_hash,
    key_id,
    record,
    row_mac,
    verify,
)
from privacy_center.audit_checkpoints import (
    Checkpoint,
    CheckpointUnreadable,
    append,
    last,
)
from privacy_center.config import ConfigurationError, load_config
from privacy_center.content import get_content
from privacy_center.models import AuditEvent, BrowsingEvent
from privacy_center.retention.rules import enforced_rules
from privacy_center.retention.services import run_retention
from privacy_center.retention.steps import Context


def chain(db, length=4):
    return [
        record(db, actor="staff:1", action="test.step", details={"step": n, "note": "é"})
        for n in range(length)
    ]


def keys(app) -> ChainKeys:
    return ChainKeys.from_settings(app.config)


def audit_verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def checkpoint_lines(app) -> list[dict]:
    path = Path(app.config["AUDIT_CHECKPOINT_FILE"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def rows_count(db) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent))


def recompute_without_key(db, events, *, drop_key_id=False):
    """What someone without the key can do: rewrite rows and chain them again with plain
    SHA-256, as the unkeyed log did."""
    previous = events[0].previous_hash
    for event in events:
        new_hash = content_hash(
            previous, event.at, event.actor, event.action, event.request_id, event.details
        )
        values = {"previous_hash": previous, "row_hash": new_hash}
        if drop_key_id:
            values["key_id"] = None
        db.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(**values))
        previous = new_hash
    db.expire_all()


# --- The chain ---------------------------------------------------------------------------------


def test_events_are_chained_sealed_with_the_key_and_the_chain_verifies(app, db):
    events = chain(db)
    assert events[0].previous_hash in (GENESIS, *[e.row_hash for e in db.query(AuditEvent)])
    for earlier, later in itertools.pairwise(events):
        assert later.previous_hash == earlier.row_hash
    for event in events:
        assert event.key_id == key_id(app.config["AUDIT_KEY"])
        # Not a hash anyone could compute: the plain SHA-256 of the row is something else.
        plain = content_hash(
            event.previous_hash, event.at, event.actor, event.action, None, event.details
        )
        assert event.row_hash != plain
    result = verify(db, keys(app))
    assert result.intact and result.checked >= 4 and result.head_id == events[-1].id


def test_an_edited_row_is_caught(app, db):
    events = chain(db)
    db.execute(update(AuditEvent).where(AuditEvent.id == events[1].id).values(actor="staff:2"))
    db.expire_all()
    result = verify(db, keys(app))
    assert [(f.kind, f.event_id) for f in result.findings] == [("edited", events[1].id)]
    assert "changed" in result.findings[0].message


def test_a_deleted_row_is_caught(app, db):
    events = chain(db)
    db.execute(delete(AuditEvent).where(AuditEvent.id == events[2].id))
    db.expire_all()
    result = verify(db, keys(app))
    assert [(f.kind, f.event_id) for f in result.findings] == [("deleted", events[3].id)]
    assert f"does not follow row {events[1].id}" in result.findings[0].message


def test_rows_deleted_at_the_start_are_caught(app, db):
    chain(db, 2)
    first = db.scalar(select(func.min(AuditEvent.id)))
    second = db.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.id > first))
    db.execute(delete(AuditEvent).where(AuditEvent.id == first))
    db.expire_all()
    result = audit_verify(app)
    assert result.exit_code == 1
    assert f"row {second} is the first of the log but does not start the chain" in result.output


def test_sealing_a_row_adds_no_query(app, db):
    """Appending reads the last row's hash and inserts, as the unkeyed log did (PostgreSQL also
    takes its advisory lock): the key comes from the settings, not the database."""
    chain(db, 1)
    statements: list[str] = []
    connection = db.connection()

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper())

    sa.event.listen(connection, "before_cursor_execute", count)
    try:
        record(db, actor="system", action="test.count")
    finally:
        sa.event.remove(connection, "before_cursor_execute", count)
    expected = ["SELECT", "INSERT"]
    if db.get_bind().dialect.name == "postgresql":
        expected = ["SELECT", *expected]  # pg_advisory_xact_lock
    assert statements == expected


# --- The command -------------------------------------------------------------------------------


def test_a_valid_log_passes_and_writes_a_checkpoint(app, db, caplog):
    events = chain(db, 3)
    caplog.set_level(logging.INFO, logger="privacy_center.audit")
    result = audit_verify(app)
    assert result.exit_code == 0, result.output
    count = rows_count(db)
    assert f"The audit log is intact: {count} rows checked." in result.output
    assert "No checkpoint before this one" in result.output
    [line] = checkpoint_lines(app)
    assert line["head_id"] == events[-1].id and line["head_hash"] == events[-1].row_hash
    assert line["count"] == count and line["reason"] == "audit verify"
    assert line["key_id"] == key_id(app.config["AUDIT_KEY"])
    # The same line goes to the application log.
    logged = [r.getMessage() for r in caplog.records if r.name == "privacy_center.audit"]
    assert any(message.endswith(json.dumps(line, sort_keys=True, ensure_ascii=False))
               for message in logged)  # fmt: skip

    chain(db, 1)
    again = audit_verify(app)
    assert again.exit_code == 0, again.output
    assert f"It matches the checkpoint of {line['at'][:19]}" in again.output
    assert f"{count} rows up to row {events[-1].id}" in again.output
    assert [entry["count"] for entry in checkpoint_lines(app)] == [count, count + 1]


def test_editing_a_row_without_recomputing_names_the_row(app, db):
    events = chain(db, 3)
    db.execute(update(AuditEvent).where(AuditEvent.id == events[0].id).values(details={"step": 9}))
    db.expire_all()
    result = audit_verify(app)
    assert result.exit_code == 1
    assert f"row {events[0].id} changed after being written" in result.output
    assert "No checkpoint was written." in result.output
    assert checkpoint_lines(app) == []


def test_deleting_the_last_rows_is_named(app, db):
    events = chain(db, 4)
    assert audit_verify(app).exit_code == 0
    before = checkpoint_lines(app)
    db.execute(delete(AuditEvent).where(AuditEvent.id.in_([events[2].id, events[3].id])))
    db.expire_all()
    result = audit_verify(app)
    assert result.exit_code == 1, result.output
    assert "the last rows of the log were deleted" in result.output
    assert f"up to row {events[3].id}" in result.output
    assert f"the log now ends at row {events[1].id}" in result.output
    assert "2 row(s) at least are missing" in result.output
    # A cut log is not checkpointed: the next verify still sees the cut.
    assert checkpoint_lines(app) == before
    assert audit_verify(app).exit_code == 1


def test_deleting_the_last_rows_then_adding_rows_is_named(app, db):
    events = chain(db, 3)
    assert audit_verify(app).exit_code == 0
    db.execute(delete(AuditEvent).where(AuditEvent.id == events[2].id))
    db.expire_all()
    chain(db, 2)  # the chain goes on from row events[1], as if nothing had been there
    result = audit_verify(app)
    assert result.exit_code == 1
    assert f"row {events[2].id}, the head of the checkpoint" in result.output
    # PostgreSQL never gives an id twice; SQLite gives the deleted last id to the next row.
    assert (
        "is missing: rows were deleted" in result.output
        or "is no longer the row recorded there (its hash differs)" in result.output
    )


@pytest.mark.parametrize("drop_key_id", [False, True], ids=["key-id-kept", "key-id-dropped"])
def test_editing_a_row_and_recomputing_the_unkeyed_chain_is_named(app, db, drop_key_id):
    events = chain(db, 4)
    db.execute(update(AuditEvent).where(AuditEvent.id == events[1].id).values(actor="staff:9"))
    db.expire_all()
    recompute_without_key(db, events[1:], drop_key_id=drop_key_id)
    result = audit_verify(app)
    assert result.exit_code == 1, result.output
    assert (
        f"chain recomputed without the key with plain SHA-256 from row {events[1].id}"
        in result.output
    )
    assert f"rows {events[1].id} to {events[3].id} are linked to each other" in result.output


def test_recomputing_the_whole_log_without_the_key_is_caught_by_the_checkpoint(app, db):
    chain(db, 3)
    assert audit_verify(app).exit_code == 0
    everything = list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    db.execute(update(AuditEvent).where(AuditEvent.id == everything[-2].id).values(actor="x"))
    db.expire_all()
    # Every row rewritten as if the log had never been keyed: a consistent unkeyed chain.
    recompute_without_key(
        db, list(db.scalars(select(AuditEvent).order_by(AuditEvent.id))), drop_key_id=True
    )
    result = audit_verify(app)
    assert result.exit_code == 1, result.output
    assert f"row {everything[-1].id}, the head of the checkpoint" in result.output
    assert "is no longer the row recorded there (its hash differs)" in result.output


def test_an_altered_checkpoint_is_refused(app, db):
    chain(db, 2)
    assert audit_verify(app).exit_code == 0
    path = Path(app.config["AUDIT_CHECKPOINT_FILE"])
    [line] = checkpoint_lines(app)
    path.write_text(json.dumps({**line, "count": line["count"] - 1}) + "\n")
    result = audit_verify(app)
    assert result.exit_code == 1
    assert "was altered: its MAC does not match its content" in result.output
    assert path.read_text().count("\n") == 1  # and nothing written after it


def test_a_checkpoint_file_that_cannot_be_written_is_said(app, db, tmp_path, monkeypatch):
    chain(db, 1)
    (tmp_path / "file").write_text("")
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_FILE", str(tmp_path / "file" / "cp"))
    result = audit_verify(app)
    assert result.exit_code == 1
    assert "The checkpoint could not be written to" in result.output
    assert "Traceback" not in result.output


# --- Keys --------------------------------------------------------------------------------------


def test_key_rotation_keeps_old_rows_verifiable(app, db, monkeypatch):
    old_key = app.config["AUDIT_KEY"]
    old_rows = chain(db, 2)
    assert audit_verify(app).exit_code == 0  # the checkpoint before the switch

    new_key = secrets.token_bytes(32)
    monkeypatch.setitem(app.config, "AUDIT_KEY", new_key)
    monkeypatch.setitem(app.config, "AUDIT_PREVIOUS_KEYS", (old_key,))
    new_rows = chain(db, 2)
    assert {e.key_id for e in old_rows} == {key_id(old_key)}
    assert {e.key_id for e in new_rows} == {key_id(new_key)}
    result = audit_verify(app)
    assert result.exit_code == 0, result.output
    assert (
        f"The audit key changed since (key {key_id(old_key)} to {key_id(new_key)}): this "
        "checkpoint is the first sealed with the new key." in result.output
    )
    assert checkpoint_lines(app)[-1]["key_id"] == key_id(new_key)
    assert checkpoint_lines(app)[-1]["head_id"] == new_rows[-1].id

    # Without the previous key, the rows it sealed cannot be checked: said, not passed.
    monkeypatch.setitem(app.config, "AUDIT_PREVIOUS_KEYS", ())
    result = audit_verify(app)
    assert result.exit_code == 1
    assert f"sealed with audit key {key_id(old_key)}" in result.output
    assert "neither PC_AUDIT_KEY nor one of PC_AUDIT_PREVIOUS_KEYS" in result.output


def test_rows_written_before_the_chain_was_keyed_still_verify(app, db):
    db.execute(delete(AuditEvent))  # rolled back with the test: a log from before the upgrade
    previous = GENESIS
    legacy = []
    for n in range(3):
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n)
        row_hash = content_hash(previous, at, "system", "old.step", None, {"n": n})
        event = AuditEvent(
            at=at,
            actor="system",
            action="old.step",
            details={"n": n},
            previous_hash=previous,
            row_hash=row_hash,
            key_id=None,
        )
        db.add(event)
        legacy.append(event)
        previous = row_hash
    db.flush()
    keyed = chain(db, 2)
    assert keyed[0].previous_hash == legacy[-1].row_hash

    result = audit_verify(app)
    assert result.exit_code == 0, result.output
    assert "3 of them, written before the chain was keyed" in result.output

    # Rewriting an old row and its plain chain breaks the link the first keyed row seals.
    db.execute(update(AuditEvent).where(AuditEvent.id == legacy[1].id).values(actor="x"))
    db.expire_all()
    recompute_without_key(db, legacy[1:], drop_key_id=True)
    result = audit_verify(app)
    assert result.exit_code == 1
    assert f"row {keyed[0].id} does not follow row {legacy[2].id}" in result.output


def _encoded(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def test_production_requires_the_audit_key(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("TRUSTED_HOSTS", "privacy.example")
    for name in ("IDENTITY_DOCUMENT", "EXPORT"):
        monkeypatch.setenv(f"PC_{name}_KEY", _encoded(os.urandom(32)))
    monkeypatch.delenv("PC_AUDIT_KEY", raising=False)
    monkeypatch.delenv("PC_AUDIT_CHECKPOINT_FILE", raising=False)
    with pytest.raises(ConfigurationError, match="PC_AUDIT_KEY is missing"):
        load_config("production", str(tmp_path))
    key, previous = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("PC_AUDIT_KEY", _encoded(key))
    monkeypatch.setenv("PC_AUDIT_PREVIOUS_KEYS", _encoded(previous))
    config = load_config("production", str(tmp_path))
    assert (key, (previous,)) == (config.AUDIT_KEY, config.AUDIT_PREVIOUS_KEYS)
    assert str(tmp_path.resolve() / "audit-checkpoints.jsonl") == config.AUDIT_CHECKPOINT_FILE
    monkeypatch.setenv("PC_AUDIT_CHECKPOINT_FILE", str(tmp_path / "elsewhere.jsonl"))
    assert load_config("production", str(tmp_path)).AUDIT_CHECKPOINT_FILE.endswith(
        "elsewhere.jsonl"
    )


def test_development_creates_the_audit_key_once(monkeypatch, tmp_path):
    monkeypatch.delenv("PC_AUDIT_KEY", raising=False)
    first = load_config("development", str(tmp_path)).AUDIT_KEY
    key_file = tmp_path / "audit-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert first == load_config("development", str(tmp_path)).AUDIT_KEY and len(first) == 32


# --- The checkpoint file -----------------------------------------------------------------------


def _checkpoint(count: int) -> Checkpoint:
    return Checkpoint(
        at=datetime(2026, 12, 7, 10, tzinfo=UTC),
        reason="test",
        head_id=count,
        head_hash="ab" * 32,
        count=count,
        key_id=key_id(KEY),
    )


KEY = secrets.token_bytes(32)


def test_checkpoints_are_appended_and_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "sub" / "checkpoints.jsonl"
    assert last(path, {key_id(KEY): KEY}) is None
    append(path, _checkpoint(1), KEY)
    append(path, _checkpoint(2), KEY)
    assert path.stat().st_mode & 0o777 == 0o600
    assert last(path, {key_id(KEY): KEY}) == _checkpoint(2)
    with path.open("a") as file:
        file.write('{"at": "2026-12-07T11:00')  # a crash in the middle of a write
    assert last(path, {key_id(KEY): KEY}) == _checkpoint(2)
    with pytest.raises(CheckpointUnreadable, match="PC_AUDIT_PREVIOUS_KEYS"):
        last(path, {})


# --- The retention run -------------------------------------------------------------------------


def retention(app, db):
    ctx = Context(now=datetime.now(UTC), content=get_content(), settings=app.config)
    return run_retention(db, list(enforced_rules()), ctx)


def test_the_retention_run_writes_a_checkpoint(app, db):
    chain(db, 2)
    run = retention(app, db)
    [line] = checkpoint_lines(app)
    assert line["reason"] == "retention run"
    completed = db.scalar(
        select(AuditEvent).where(AuditEvent.action == "retention.run_completed")
        .order_by(AuditEvent.id.desc()).limit(1)
    )  # fmt: skip
    assert completed.details["run"] == run.id
    assert (line["head_id"], line["head_hash"]) == (completed.id, completed.row_hash)
    assert line["count"] == rows_count(db)


def test_a_stopped_retention_run_writes_a_checkpoint_too(app, db, make_account):
    account = make_account()
    moment = datetime(2030, 1, 15, tzinfo=UTC)
    db.add_all(
        BrowsingEvent(account_id=account.id, occurred_at=moment, path=f"/{n}", device="desktop")
        for n in range(2)
    )
    db.flush()
    visits = next(rule for rule in enforced_rules() if rule.key == "raw-visits")
    ctx = Context(now=moment + relativedelta(months=14), content=get_content(), settings=app.config)

    def power_cut(progress):
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        run_retention(db, [visits], ctx, batch_size=1, on_batch=power_cut)
    [line] = checkpoint_lines(app)
    stopped = db.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert stopped.action == "retention.run_stopped"
    assert (line["reason"], line["head_id"]) == ("retention run", stopped.id)


def test_the_retention_run_does_not_checkpoint_a_cut_log(app, db, caplog):
    events = chain(db, 3)
    assert audit_verify(app).exit_code == 0
    db.execute(delete(AuditEvent).where(AuditEvent.id == events[-1].id))
    db.expire_all()
    run = retention(app, db)
    assert run.status == "completed"
    assert [line["reason"] for line in checkpoint_lines(app)] == ["audit verify"]
    assert any(
        "audit log not checkpointed (retention run)" in record.getMessage()
        and record.levelno == logging.ERROR
        for record in caplog.records
    )


# --- What it cannot see (the README says so) ---------------------------------------------------


def test_what_audit_verify_cannot_see(app, db):
    events = chain(db, 2)
    assert audit_verify(app).exit_code == 0
    # Rows appended after the last checkpoint and deleted before the next one.
    later = chain(db, 2)
    db.execute(delete(AuditEvent).where(AuditEvent.id.in_([e.id for e in later])))
    db.expire_all()
    assert audit_verify(app).exit_code == 0
    # The last rows deleted together with the checkpoint file.
    db.execute(delete(AuditEvent).where(AuditEvent.id == events[-1].id))
    db.expire_all()
    Path(app.config["AUDIT_CHECKPOINT_FILE"]).unlink()
    result = audit_verify(app)
    assert result.exit_code == 0 and "No checkpoint before this one" in result.output
    # Someone holding the key rewrites a row written after the last checkpoint and seals again.
    [row] = chain(db, 1)
    key = app.config["AUDIT_KEY"]
    forged = row_mac(key, row.previous_hash, row.at, "staff:9", row.action, None, row.details)
    db.execute(
        update(AuditEvent).where(AuditEvent.id == row.id).values(actor="staff:9", row_hash=forged)
    )
    db.expire_all()
    assert audit_verify(app).exit_code == 0
