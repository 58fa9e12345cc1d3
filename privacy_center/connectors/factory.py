"""Builds a connector from its specification: one implementation per kind of specification."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from .base import Connector
from .http import HttpConnector
from .specs import ConnectorSpec, SqlConnectorSpec
from .sql import SqlConnector


def build_connector(spec: ConnectorSpec, own_session: Callable[[], Session]) -> Connector:
    """The connector a specification declares, ready to use. ``own_session`` gives the session
    on the privacy center's own database (for SQL connectors declared with ``url: null``)."""
    if isinstance(spec, SqlConnectorSpec):
        return SqlConnector(spec, own_session)
    return HttpConnector(spec)
