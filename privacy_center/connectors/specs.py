"""What ``content/connectors.yaml`` declares, once checked: one specification per connector.

The specifications know nothing of the connectors built from them (``sql.py``, ``http.py``);
``factory.py`` builds a connector from its specification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..operator import Translated
from .base import Category

KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# The only parameters a query may bind: the subject's identifiers.
SUBJECT_PARAMETERS = frozenset({"account_id", "email"})
# ":name" binds a parameter; "::type" is a PostgreSQL cast, not a parameter.
BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
READ_ONLY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """Where a category's data comes from (art. 15(1)(g)), in every language."""

    key: str
    text: Translated


@dataclass(frozen=True)
class ErasureRule:
    action: str
    statements: tuple[str, ...]
    reason: Translated


@dataclass(frozen=True)
class SqlCategory:
    category: Category
    query: str | None
    count_query: str | None
    erase: ErasureRule | None


@dataclass(frozen=True)
class SqlConnectorSpec:
    key: str
    label: Translated
    # None: the privacy center's own database (the caller's session).
    url: str | None
    url_env: str | None
    categories: tuple[SqlCategory, ...]


@dataclass(frozen=True)
class HttpConnectorSpec:
    key: str
    label: Translated
    url: str
    token_env: str | None
    timeout_seconds: float
    retries: int
    backoff_seconds: float
    categories: tuple[Category, ...]


ConnectorSpec = SqlConnectorSpec | HttpConnectorSpec
