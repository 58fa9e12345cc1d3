"""Ids from outside (a URL's path, a filter's query string, a JSON body), checked once.

A database id is a whole number from 1 to 2**31 - 1: the ids are ``Integer`` columns, INTEGER
on SQLite (64 bits) but a 32-bit ``integer`` on PostgreSQL, the production database. A larger
number, or one written with other digits than 0-9 ("²", "٣"), is no id: asking the database
for it fails (SQLite cannot bind an integer beyond 64 bits, PostgreSQL answers "integer out of
range" beyond 32), and the visitor got an error page (500) for a typing mistake. So:

- every ``<int:...>`` of a route goes through ``DatabaseIdConverter`` (``init_app`` puts it in
  place of Werkzeug's ``int``, before any blueprint adds its rules): a value it refuses matches
  no route, and the answer is 404;
- a query-string or JSON id goes through ``parse_id``, and the caller answers 400 (or shows a
  form error, or counts it as nobody's) when it gives ``None``.
"""

from __future__ import annotations

import builtins
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

# PostgreSQL's integer. Ids of BigInteger tables (browsing events, audience statistics) never
# appear in an address or a filter.
MAX_ID = 2**31 - 1
# Enough digits for MAX_ID, no more: a longer value is refused before it is even converted.
MAX_DIGITS = len(str(MAX_ID))


def parse_id(value: Any) -> int | None:
    """The database id ``value`` stands for (ASCII digits, or an int), or None when it is none:
    empty, signed, another kind of digit, zero, or beyond ``MAX_ID``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS
    ):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


class DatabaseIdConverter(IntegerConverter):
    """``<int:name>``: ASCII digits only, from 1 to ``MAX_ID``. Arguments (``fixed_digits``,
    ``min``, ``max``) may narrow it, never widen it; ``signed`` does not exist here."""

    regex = rf"[0-9]{{1,{MAX_DIGITS}}}"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int = 1, max: int = MAX_ID) -> None:
        super().__init__(map, fixed_digits, builtins.max(min, 1), builtins.min(max, MAX_ID))


def init_app(app: Flask) -> None:
    """Route every ``<int:...>`` through ``DatabaseIdConverter``; call it before any rule is
    added (a rule takes its converter when it is added)."""
    app.url_map.converters["int"] = DatabaseIdConverter
