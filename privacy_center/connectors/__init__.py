"""Where a subject's data lives: pluggable connectors declared in ``content/connectors.yaml``.

``get_connectors()`` gives the connectors of the running application; each one declares its
categories, streams a subject's rows (``collect``), counts them, and erases or anonymises them
with a report of what was removed, anonymised or kept, and why.

- ``base.py``: what a connector is (categories, fields, subjects, erasure reports);
- ``specs.py``: what ``connectors.yaml`` declares, once checked (knows no implementation);
- ``config.py``: the file read and checked, the set of declared connectors;
- ``sql.py``, ``http.py``: the two implementations; ``factory.py`` builds one from its spec;
- ``erasure.py``: a subject erased through every connector (the erasure request and the
  retention run share it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy.orm import Session

from ..content import EXTENSION_KEY as CONTENT_KEY
from ..extensions import db
from .base import (
    ERASURE_ACTIONS,
    FIELD_TYPES,
    Category,
    CategoryOutcome,
    Connector,
    ConnectorError,
    ErasureReport,
    Field,
    HeldBy,
    Subject,
)
from .config import ConnectorSet, load_connectors
from .specs import Source

EXTENSION_KEY = "privacy_center.connectors"

__all__ = [
    "ERASURE_ACTIONS",
    "FIELD_TYPES",
    "Category",
    "CategoryOutcome",
    "Connector",
    "ConnectorError",
    "ConnectorSet",
    "ErasureReport",
    "Field",
    "HeldBy",
    "Source",
    "Subject",
    "get_connector_set",
    "get_connectors",
    "init_app",
    "load_connectors",
]


def init_app(app: Flask) -> None:
    """Read and check ``connectors.yaml`` at start-up (after the rest of the content)."""
    content = app.extensions[CONTENT_KEY]
    app.extensions[EXTENSION_KEY] = load_connectors(
        Path(app.config["CONTENT_DIR"]) / "connectors.yaml",
        content.operator.languages,
        {rule.key for rule in content.retention},
    )


def get_connector_set() -> ConnectorSet:
    return current_app.extensions[EXTENSION_KEY]


def get_connectors(own_session: Callable[[], Session] | None = None) -> list[Connector]:
    """The application's connectors; ``own_session`` (default: ``db.session``) reaches the
    privacy center's own database."""
    return get_connector_set().build(own_session or (lambda: db.session))
