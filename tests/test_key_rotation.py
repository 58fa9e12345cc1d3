"""Rotating the keys of the encrypted folders: old files stay readable during the rotation,
`flask storage rotate-keys` re-encrypts them, and a file no key opens is reported, not lost."""

from __future__ import annotations

import base64
import secrets

import pytest

from privacy_center.config import ConfigurationError, previous_keys
from privacy_center.storage import rotate_folder
from privacy_center.uploads.storage import (
    DocumentTampered,
    read_document,
    reencrypt_document,
    store_document,
    stored_names,
)

OLD, NEW, OTHER = (secrets.token_bytes(32) for _ in range(3))


def test_a_file_of_the_previous_key_is_read_then_rewritten_with_the_new_key(tmp_path):
    name = store_document(b"passport scan", directory=tmp_path, key=OLD)
    with pytest.raises(DocumentTampered):
        read_document(name, directory=tmp_path, key=NEW)
    assert read_document(name, directory=tmp_path, key=NEW, previous_keys=[OLD]) == b"passport scan"

    assert reencrypt_document(name, directory=tmp_path, key=NEW, previous_keys=[OLD]) is True
    assert read_document(name, directory=tmp_path, key=NEW) == b"passport scan"
    with pytest.raises(DocumentTampered):
        read_document(name, directory=tmp_path, key=OLD)
    # Already with the current key: nothing to do.
    assert reencrypt_document(name, directory=tmp_path, key=NEW, previous_keys=[OLD]) is False


def test_rotating_a_folder_reports_and_keeps_what_no_key_opens(tmp_path):
    old_files = [store_document(b"old %d" % n, directory=tmp_path, key=OLD) for n in range(3)]
    new_file = store_document(b"new", directory=tmp_path, key=NEW)
    foreign = store_document(b"foreign", directory=tmp_path, key=OTHER)
    foreign_bytes = (tmp_path / foreign).read_bytes()
    (tmp_path / "notes.txt").write_text("not a document")

    report = rotate_folder(tmp_path, NEW, [OLD])

    assert (report.rewritten, report.current, report.unreadable) == (3, 1, [foreign])
    for number, name in enumerate(old_files):
        assert read_document(name, directory=tmp_path, key=NEW) == b"old %d" % number
    assert read_document(new_file, directory=tmp_path, key=NEW) == b"new"
    assert (tmp_path / foreign).read_bytes() == foreign_bytes
    assert (tmp_path / "notes.txt").read_text() == "not a document"
    assert sorted(stored_names(tmp_path)) == sorted([*old_files, new_file, foreign])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left

    again = rotate_folder(tmp_path, NEW, [OLD])
    assert (again.rewritten, again.current) == (0, 4)


def _encoded(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def test_previous_keys_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PC_EXPORT_PREVIOUS_KEYS", f"{_encoded(OLD)}, {_encoded(OTHER)}")
    assert previous_keys("exports") == (OLD, OTHER)
    monkeypatch.setenv("PC_EXPORT_PREVIOUS_KEYS", "not-a-key")
    with pytest.raises(ConfigurationError, match="PC_EXPORT_PREVIOUS_KEYS"):
        previous_keys("exports")


def test_the_command_rotates_every_folder(make_app, tmp_path):
    documents, exports = tmp_path / "documents", tmp_path / "exports"
    application = make_app(
        IDENTITY_DOCUMENT_DIR=str(documents),
        IDENTITY_DOCUMENT_KEY=NEW,
        IDENTITY_DOCUMENT_PREVIOUS_KEYS=(OLD,),
        EXPORT_DIR=str(exports),
        EXPORT_KEY=NEW,
        EXPORT_PREVIOUS_KEYS=(OLD,),
    )
    document = store_document(b"id", directory=documents, key=OLD)
    copy = store_document(b"zip", directory=exports, key=OLD)

    result = application.test_cli_runner().invoke(args=["storage", "rotate-keys"])

    assert result.exit_code == 0, result.output
    assert "identity-documents: 1 re-encrypted, 0 already with the current key" in result.output
    assert "exports: 1 re-encrypted" in result.output
    assert read_document(document, directory=documents, key=NEW) == b"id"
    assert read_document(copy, directory=exports, key=NEW) == b"zip"

    store_document(b"lost key", directory=documents, key=OTHER)
    result = application.test_cli_runner().invoke(args=["storage", "rotate-keys"])
    assert result.exit_code == 1
    assert "No configured key opens these files" in result.output
