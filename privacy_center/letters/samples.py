"""``flask letters sample``: every letter the console sends, filled with demo data, as PDF.

For review (an operator's lawyer reads each template in each language): the letters are rendered
by the same code as the ones sent (letters.services.preview_letter, the one PDF function), for a
request that is never stored. A sample's name is the letter's kind, or ``completion-<right>``
for the completion letter of one right (post-mortem requests included).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from ..content import get_content
from ..files import write_atomically
from ..models import PrivacyRequest
from .kinds import LETTER_KINDS, LetterField
from .services import LetterError, preview_letter

letters_cli = AppGroup("letters", help="Letters to requesters.")

# Demo text written "by staff", in the letter's language.
DEMO_TEXT = {
    "en": "Text written by staff for this letter: it is printed here as they typed it.",
    "fr": "Texte écrit par l'équipe pour cette lettre : il est imprimé tel qu'elle l'a saisi.",
    "es": "Texto escrito por el personal para esta carta: se imprime tal como lo escribió.",
    "de": "Vom Personal für diesen Brief geschriebener Text: Er wird so gedruckt, wie er "
    "eingegeben wurde.",
}
DEMO_DECEASED = "Jeanne Dupré"
SAMPLE_DAY = date(2026, 11, 26)


def sample_names() -> list[str]:
    """Every letter the console sends: each kind, and each completion letter per right."""
    names = []
    for kind in LETTER_KINDS.values():
        if kind.variants:
            names.extend(f"{kind.key}-{right}" for right in kind.variants)
        else:
            names.append(kind.key)
    return names


def _split(name: str) -> tuple[str, str]:
    """(letter kind, request kind) of a sample's name."""
    kind, _, right = name.partition("-")
    letter_kind = LETTER_KINDS.get(kind)
    if letter_kind is None or name not in sample_names():
        raise LetterError(f"{name!r} is not a letter; choose one of: {', '.join(sample_names())}")
    return kind, right or "access"


def _demo_value(spec: LetterField, language: str) -> Any:
    text = DEMO_TEXT.get(language, DEMO_TEXT["en"])
    if spec.type == "date":
        return SAMPLE_DAY.isoformat()
    if spec.type == "amount":
        return "15 EUR"
    if spec.type == "outcomes":
        return [
            {"category": "Newsletter", "action": "removed", "reason": ""},
            {"category": "Invoices", "action": "kept", "reason": text},
            {"category": "Payments", "action": "elsewhere", "reason": text},
        ]
    return text


def demo_request(right: str, language: str) -> PrivacyRequest:
    """A request that is never stored, for the demo requester."""
    request = PrivacyRequest(
        reference="PC-7K4M-9Q2X",
        kind=right,
        state="in_progress",
        language=language,
        channel="web",
        email="camille.martin@example.org",
        requester_name="Camille Martin",
        received_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        clock_started_on=date(2026, 11, 25),
        status_token_hash="0" * 64,
        specifics={"deceased_name": DEMO_DECEASED} if right.startswith("postmortem_") else {},
    )
    request.transitions = []
    return request


def render_sample(name: str, language: str) -> bytes:
    """The PDF of the sample ``name`` in ``language``; :class:`LetterError` for an unknown one."""
    operator = get_content().operator
    if language not in operator.languages:
        raise LetterError(
            f"{language!r} is not one of the operator's languages ({', '.join(operator.languages)})"
        )
    kind, right = _split(name)
    fields: Mapping[str, Any] = {
        spec.name: _demo_value(spec, language)
        for spec in LETTER_KINDS[kind].fields_for(right)
        if spec.required or spec.name == "note"
    }
    return preview_letter(None, demo_request(right, language), kind, fields, today=SAMPLE_DAY)


@letters_cli.command("sample")
@click.argument("kind", required=False)
@click.option("--lang", "language", help="The letter's language (fr, en, es, de...).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--all",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every letter in every language into this folder (KIND-LANG.pdf).",
)
def sample_command(
    kind: str | None, language: str | None, output: Path | None, directory: Path | None
) -> None:
    """Write the letter KIND, filled with demo data, to a PDF file (-o FILE), or every letter
    in every language (--all DIR). KIND is one of the kinds the console sends; a completion
    letter is completion-RIGHT (completion-erasure, completion-postmortem_closure...)."""
    try:
        if directory is not None:
            if kind or output:
                raise click.UsageError("--all DIR writes every letter: give no KIND and no -o")
            directory.mkdir(parents=True, exist_ok=True)
            count = 0
            for lang in get_content().operator.languages:
                for name in sample_names():
                    write_atomically(directory / f"{name}-{lang}.pdf", render_sample(name, lang))
                    count += 1
            click.echo(f"Wrote {count} letters into {directory}")
            return
        if not kind or not output or not language:
            raise click.UsageError(
                "give KIND, --lang and -o FILE (or --all DIR); KIND is one of: "
                + ", ".join(sample_names())
            )
        write_atomically(output, render_sample(kind, language))
        click.echo(f"Wrote {output}")
    except LetterError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"could not write the letter: {error}") from None
