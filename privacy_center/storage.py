"""The encrypted folders (identity documents, prepared copies): key rotation.

A rotation: put the current key in ``PC_<NAME>_PREVIOUS_KEYS``, a new key in ``PC_<NAME>_KEY``,
restart (files sealed with either key are read), then run ``flask storage rotate-keys``, which
re-encrypts every file still sealed with a previous key; once it reports none left, drop the
previous key. docs/deployment.md gives the steps.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import DataExport, IdentityDocument, PostmortemDelivery
from .page_images import all_caches, caches_without_document
from .segmented import reencrypt_stored
from .uploads.storage import StoredDocumentError, delete_document, stored_names

# Each encrypted folder's settings: (directory, current key, previous keys).
FOLDERS = {
    "identity-documents": (
        "IDENTITY_DOCUMENT_DIR",
        "IDENTITY_DOCUMENT_KEY",
        "IDENTITY_DOCUMENT_PREVIOUS_KEYS",
    ),
    "exports": ("EXPORT_DIR", "EXPORT_KEY", "EXPORT_PREVIOUS_KEYS"),
}


@dataclass
class RotationReport:
    rewritten: int = 0
    current: int = 0
    # Files no configured key opens (altered, or sealed with a key no longer configured).
    unreadable: list[str] = field(default_factory=list)


def rotate_folder(directory: Path, key: bytes, previous_keys: Sequence[bytes]) -> RotationReport:
    """Re-encrypt with ``key`` every file of ``directory`` sealed with a previous key, in its own
    format (whole-file or segmented, see segmented.py). Each file is replaced atomically, so an
    interrupted rotation is simply run again."""
    report = RotationReport()
    # Page images are only derived from the documents: dropped rather than re-encrypted, they
    # are rendered again, under the current key, at the next view.
    for cache in all_caches(directory):
        cache.unlink(missing_ok=True)
    for name in stored_names(directory):
        try:
            rewritten = reencrypt_stored(
                name, directory=directory, key=key, previous_keys=previous_keys
            )
        except FileNotFoundError:
            continue  # deleted meanwhile (identity decided, copy expired)
        except StoredDocumentError:
            report.unreadable.append(name)
            continue
        if rewritten:
            report.rewritten += 1
        else:
            report.current += 1
    return report


def rotate_all(settings: Mapping[str, Any]) -> dict[str, RotationReport]:
    return {
        name: rotate_folder(
            Path(settings[directory]), settings[key], tuple(settings.get(previous) or ())
        )
        for name, (directory, key, previous) in FOLDERS.items()
    }


# A file is swept only when it is older than this: a document is written, then its row is
# committed a moment later (an upload, a prepared copy); that moment is never cut short.
SWEEP_GRACE_SECONDS = 3600


@dataclass
class SweepReport:
    # Temporary files (".*.partial") left by a process killed while writing.
    temporaries: int = 0
    # Stored files that no row names (the process was killed between the file and its commit).
    orphans: int = 0


def sweep_folder(
    directory: Path,
    referenced: Collection[str],
    *,
    now: float | None = None,
    grace_seconds: float = SWEEP_GRACE_SECONDS,
) -> SweepReport:
    """Remove from ``directory`` what a killed process left behind: temporary files of
    files.write_atomically, and stored files whose row was never committed. Only files older
    than ``grace_seconds`` go, so that a write about to be committed is left alone."""
    report = SweepReport()
    if not directory.is_dir():
        return report
    cutoff = (time.time() if now is None else now) - grace_seconds
    names = set(referenced)
    for entry in directory.iterdir():
        try:
            if entry.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        if entry.name.startswith(".") and entry.name.endswith(".partial"):
            entry.unlink(missing_ok=True)
            report.temporaries += 1
    for cache in caches_without_document(directory):
        try:
            if cache.stat().st_mtime > cutoff:
                continue  # its document may be about to be committed, like the document itself
        except FileNotFoundError:
            continue
        cache.unlink(missing_ok=True)
        report.orphans += 1
    for name in stored_names(directory):
        if name in names:
            continue
        try:
            if (directory / name).stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        if delete_document(name, directory=directory):
            report.orphans += 1
    return report


def sweep_all(
    session: Session, settings: Mapping[str, Any], *, now: float | None = None
) -> dict[str, SweepReport]:
    """Sweep both encrypted folders against the rows that name their files."""
    referenced = {
        "identity-documents": set(session.scalars(select(IdentityDocument.stored_name))),
        "exports": set(
            session.scalars(
                select(DataExport.stored_name).where(DataExport.stored_name.is_not(None))
            )
        )
        # Data of deceased holders awaiting download share the copies' folder and key.
        | set(
            session.scalars(
                select(PostmortemDelivery.stored_name).where(
                    PostmortemDelivery.stored_name.is_not(None)
                )
            )
        ),
    }
    return {
        name: sweep_folder(Path(settings[directory]), referenced[name], now=now)
        for name, (directory, _key, _previous) in FOLDERS.items()
    }


storage_cli = AppGroup("storage", help="The encrypted folders (identity documents, copies).")


@storage_cli.command("rotate-keys")
def rotate_keys_command() -> None:
    """Re-encrypt with the current keys every file still sealed with a previous key."""
    reports = rotate_all(current_app.config)
    for name, report in reports.items():
        click.echo(
            f"{name}: {report.rewritten} re-encrypted, {report.current} already with the "
            f"current key, {len(report.unreadable)} unreadable"
        )
    unreadable = [f"{name}/{file}" for name, r in reports.items() for file in r.unreadable]
    if unreadable:
        raise click.ClickException(
            "No configured key opens these files (altered, or sealed with a key that is no "
            "longer in the PREVIOUS_KEYS setting); they were left as they are: "
            + ", ".join(unreadable)
        )


@storage_cli.command("sweep")
def sweep_command() -> None:
    """Remove files left by a process killed while writing (temporaries, files without a row)."""
    from .extensions import db

    for name, report in sweep_all(db.session, current_app.config).items():
        click.echo(
            f"{name}: {report.temporaries} temporary and {report.orphans} orphaned file(s) removed"
        )


def init_app(app: Flask) -> None:
    app.cli.add_command(storage_cli)
