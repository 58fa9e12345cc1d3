import itertools

import pytest
from sqlalchemy import delete, update

from privacy_center.audit import GENESIS, record, verify
from privacy_center.models import AuditEvent


def chain(db, length=4):
    return [
        record(db, actor="staff:1", action="test.step", details={"step": n, "note": "é"})
        for n in range(length)
    ]


def test_events_are_chained_and_the_chain_verifies(db):
    events = chain(db)
    assert events[0].previous_hash in (GENESIS, *[e.row_hash for e in db.query(AuditEvent)])
    for earlier, later in itertools.pairwise(events):
        assert later.previous_hash == earlier.row_hash
    checked, broken = verify(db)
    assert broken is None and checked >= 4


def test_an_edited_row_is_caught(db):
    events = chain(db)
    db.execute(update(AuditEvent).where(AuditEvent.id == events[1].id).values(actor="staff:2"))
    db.expire_all()
    _, broken = verify(db)
    assert broken is not None and broken.event_id == events[1].id
    assert "changed" in broken.reason


def test_a_deleted_row_is_caught(db):
    events = chain(db)
    db.execute(delete(AuditEvent).where(AuditEvent.id == events[2].id))
    db.expire_all()
    _, broken = verify(db)
    assert broken is not None and broken.event_id == events[3].id
    assert "deleted" in broken.reason


@pytest.mark.parametrize("outcome", ["intact", "edited"])
def test_the_command_reports_the_first_broken_row(app, db, outcome):
    events = chain(db, 3)
    if outcome == "edited":
        db.execute(
            update(AuditEvent).where(AuditEvent.id == events[0].id).values(details={"step": 9})
        )
        db.expire_all()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    if outcome == "intact":
        assert result.exit_code == 0 and "intact" in result.output
    else:
        assert result.exit_code == 1
        assert f"broken at row {events[0].id}" in result.output
