"""What a process killed while writing leaves in the encrypted folders is swept (issue 8).

A SIGKILL runs no cleanup: files.write_atomically may leave its ".<random>.partial" temporary,
and an upload or a prepared copy may leave its encrypted file without the row that was about to
be committed. `flask storage sweep` (and `flask exports purge`, run on the same timer) remove
them once they are older than the grace period, never a file that a row names.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask

from privacy_center.models import DataExport
from privacy_center.models.types import utcnow
from privacy_center.storage import SWEEP_GRACE_SECONDS, sweep_folder
from privacy_center.uploads.storage import store_document, stored_names

KEY = secrets.token_bytes(32)


def _age(path: Path, seconds: float) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def test_old_leftovers_go_recent_files_and_named_files_stay(tmp_path: Path) -> None:
    named = store_document(b"kept: a row names it", directory=tmp_path, key=KEY)
    orphan = store_document(b"its row was never committed", directory=tmp_path, key=KEY)
    fresh_orphan = store_document(b"its row is about to be committed", directory=tmp_path, key=KEY)
    temporary = tmp_path / ".abc123.partial"
    temporary.write_bytes(b"half a file")
    fresh_temporary = tmp_path / ".def456.partial"
    fresh_temporary.write_bytes(b"being written")
    other = tmp_path / "README"
    other.write_text("not ours")
    for path in (tmp_path / named, tmp_path / orphan, temporary, other):
        _age(path, SWEEP_GRACE_SECONDS + 60)

    report = sweep_folder(tmp_path, {named})

    assert (report.temporaries, report.orphans) == (1, 1)
    assert sorted(stored_names(tmp_path)) == sorted([named, fresh_orphan])
    assert not temporary.exists() and fresh_temporary.exists() and other.exists()
    # Running it again finds nothing more.
    again = sweep_folder(tmp_path, {named})
    assert (again.temporaries, again.orphans) == (0, 0)


def test_a_missing_folder_is_nothing_to_sweep(tmp_path: Path) -> None:
    report = sweep_folder(tmp_path / "absent", set())
    assert (report.temporaries, report.orphans) == (0, 0)


def test_the_purge_command_sweeps_what_a_killed_preparation_left(
    app: Flask, db, make_account
) -> None:
    directory = Path(app.config["EXPORT_DIR"])
    key = app.config["EXPORT_KEY"]
    holder = make_account()
    ready = store_document(b"a ready copy", directory=directory, key=key)
    db.add(
        DataExport(
            account_id=holder.id, copy_number=1, language="fr", state="ready",
            stored_name=ready, created_at=utcnow(),
        )
    )  # fmt: skip
    db.flush()
    orphan = store_document(b"killed before its commit", directory=directory, key=key)
    temporary = directory / f".{secrets.token_hex(4)}.partial"
    temporary.write_bytes(b"killed while writing")
    for path in (directory / ready, directory / orphan, temporary):
        _age(path, SWEEP_GRACE_SECONDS + 60)

    result = app.test_cli_runner().invoke(args=["exports", "purge"])

    assert result.exit_code == 0, result.output
    assert "1 temporary and 1 orphaned file(s) removed" in result.output
    assert (directory / ready).exists()
    assert not (directory / orphan).exists() and not temporary.exists()


def test_the_storage_sweep_command_reports_each_folder(app: Flask, db) -> None:
    result = app.test_cli_runner().invoke(args=["storage", "sweep"])
    assert result.exit_code == 0, result.output
    assert "identity-documents:" in result.output and "exports:" in result.output
