"""``content/processing.yaml``: what a person is told with a copy of their data (art. 15(1)).

Purposes with their legal bases, recipients, transfers outside the European Union and automated
decisions, in every operator language; read and checked at start-up like the rest of content/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from ..operator import ContentError, Translated, read_yaml, require

PROCESSING_KEY = "privacy_center.processing"


@dataclass(frozen=True)
class Purpose:
    key: str
    purpose: Translated
    legal_basis: Translated


@dataclass(frozen=True)
class ProcessingInformation:
    purposes: tuple[Purpose, ...]
    recipients: tuple[Translated, ...]
    transfers: Translated
    automated_decisions: Translated


def load_processing(path: Path, languages: tuple[str, ...]) -> ProcessingInformation:
    raw = read_yaml(path) or {}
    where = str(path)
    if not isinstance(raw, dict):
        raise ContentError(
            f"{where}: expected purposes, recipients, transfers, automated_decisions"
        )
    purposes: list[Purpose] = []
    for index, entry in enumerate(raw.get("purposes") or ()):
        key = str(require(entry, "key", f"{where}: purposes[{index}]"))
        place = f"{where}: purpose {key!r}"
        if any(purpose.key == key for purpose in purposes):
            raise ContentError(f"{place}: declared twice")
        purposes.append(
            Purpose(
                key=key,
                purpose=Translated.parse(entry.get("purpose"), languages, f"{place}: purpose"),
                legal_basis=Translated.parse(
                    entry.get("legal_basis"), languages, f"{place}: legal_basis"
                ),
            )
        )
    if not purposes:
        raise ContentError(f"{where}: no purpose is declared (purposes)")
    recipients = tuple(
        Translated.parse(entry, languages, f"{where}: recipients[{index}]")
        for index, entry in enumerate(raw.get("recipients") or ())
    )
    if not recipients:
        raise ContentError(f"{where}: no recipient is declared (recipients)")
    return ProcessingInformation(
        purposes=tuple(purposes),
        recipients=recipients,
        transfers=Translated.parse(raw.get("transfers"), languages, f"{where}: transfers"),
        automated_decisions=Translated.parse(
            raw.get("automated_decisions"), languages, f"{where}: automated_decisions"
        ),
    )


def get_processing() -> ProcessingInformation:
    """The running application's processing information (loaded at start-up, exports/setup.py)."""
    return current_app.extensions[PROCESSING_KEY]
