"""``flask policy export-static DIR``: the pre-rendered policy for a CDN or nginx."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app, g
from flask.cli import AppGroup

from ..content import get_content
from ..content.policy_versions import PolicyVersion
from ..theme import asset_body
from .services import ExportedFile, export_files, write_static_export
from .views import offline_request, render_policy

policy_cli = AppGroup("policy", help="The published policy.")


def _render_for_export(kind: str, version: PolicyVersion, language: str) -> bytes:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # A fresh application context per page: ``g`` keeps the negotiated language.
    with app.app_context(), offline_request(app, f"/policy?lang={language}"):
        g.static_export = True
        return render_policy(kind, version, language)


@policy_cli.command("export-static")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_static_command(directory: Path) -> None:
    """Write every version of the policy, in every language, as static files into DIRECTORY.

    The folder is replaced as a whole only once everything is written.
    """
    content = get_content()
    files = export_files(
        content, _render_for_export, content.current_version(content.operator.today())
    )
    # The operator's theme and logo, at the addresses the pages link (theme.py).
    for name in ("theme.css", "logo.svg"):
        body = asset_body(name)
        if body is not None:
            files.append(ExportedFile(name, lambda body=body: body))
    try:
        count = write_static_export(directory, files)
    except OSError as error:
        raise click.ClickException(
            f"could not write the export into {directory}: {error}"
        ) from None
    click.echo(f"Wrote {count} pages and PDFs, and the static assets, into {directory}")
