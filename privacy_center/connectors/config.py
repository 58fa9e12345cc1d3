"""``content/connectors.yaml``: where the operator's data about a person lives.

Read and checked once, when the application starts, like the rest of ``content/``: a mistake
stops start-up with a :class:`~privacy_center.operator.ContentError` naming the file, the
connector, the category and the entry. The checked declarations are the specifications of
``specs.py``; :class:`ConnectorSet` holds them and builds the connectors through ``factory.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..operator import ContentError, Translated, read_yaml, require
from .base import ERASURE_ACTIONS, FIELD_TYPES, Category, Connector, Field, HeldBy
from .factory import build_connector
from .specs import (
    BIND,
    ENV_NAME,
    KEY,
    READ_ONLY,
    SUBJECT_PARAMETERS,
    ConnectorSpec,
    ErasureRule,
    HttpConnectorSpec,
    Source,
    SqlCategory,
    SqlConnectorSpec,
)


@dataclass(frozen=True)
class ConnectorSet:
    """Every declared connector, in the order of the file (the order of the export)."""

    specs: tuple[ConnectorSpec, ...]
    sources: tuple[Source, ...]

    def build(self, own_session: Callable[[], Session]) -> list[Connector]:
        """The connectors, ready to use. ``own_session`` gives the session on the privacy
        center's own database (for SQL connectors declared with ``url: null``)."""
        return [build_connector(spec, own_session) for spec in self.specs]

    def source(self, key: str | None) -> Source | None:
        return next((source for source in self.sources if source.key == key), None)

    def categories(self) -> list[Category]:
        found: list[Category] = []
        for spec in self.specs:
            if isinstance(spec, SqlConnectorSpec):
                found.extend(item.category for item in spec.categories)
            else:
                found.extend(spec.categories)
        return found


def _key(raw: Any, name: str, where: str) -> str:
    value = require(raw, name, where)
    if not isinstance(value, str) or not KEY.match(value):
        raise ContentError(
            f"{where}: {name} {value!r} must be lower-case letters, digits and _ (like "
            "browsing_events)"
        )
    return value


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ContentError(f"{where}: expected a mapping (key: value lines)")
    return raw


def _env_name(raw: dict[str, Any], name: str, where: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise ContentError(f"{where}: {name} must name an environment variable, like CRM_TOKEN")
    return value


def _positive_number(raw: dict[str, Any], name: str, default: float, where: str) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ContentError(f"{where}: {name} must be a number of seconds (got {value!r})")
    return float(value)


def _check_statement(sql: Any, where: str, *, read_only: bool) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise ContentError(f"{where}: expected an SQL statement")
    statement = sql.strip().rstrip(";").strip()
    if ";" in statement:
        raise ContentError(f"{where}: one SQL statement only (no ';' inside)")
    if read_only and not READ_ONLY.match(statement):
        raise ContentError(f"{where}: a query must be a SELECT (or WITH ... SELECT)")
    parameters = set(BIND.findall(statement))
    unknown = parameters - SUBJECT_PARAMETERS
    if unknown:
        raise ContentError(
            f"{where}: unknown parameter(s) {', '.join(':' + name for name in sorted(unknown))}; "
            "a statement may bind only :account_id and :email"
        )
    if not parameters:
        # A statement that is not restricted to the subject would read or erase everyone's data.
        raise ContentError(
            f"{where}: the statement must be restricted to the person with :account_id or :email"
        )
    return statement


def _load_fields(raw: Any, languages: tuple[str, ...], where: str) -> tuple[Field, ...]:
    if not isinstance(raw, list) or not raw:
        raise ContentError(f"{where}: fields: at least one field is needed")
    fields: list[Field] = []
    for index, entry in enumerate(raw):
        place = f"{where}: fields[{index}]"
        key = _key(entry, "key", place)
        place = f"{where}: field {key!r}"
        if any(item.key == key for item in fields):
            raise ContentError(f"{place}: declared twice")
        kind = entry.get("type", "string")
        if kind not in FIELD_TYPES:
            raise ContentError(f"{place}: type {kind!r} is not one of {', '.join(FIELD_TYPES)}")
        nullable = entry.get("nullable", False)
        if not isinstance(nullable, bool):
            raise ContentError(f"{place}: nullable is true or false")
        fields.append(
            Field(
                key=key,
                type=kind,
                description=Translated.parse(
                    entry.get("description"), languages, f"{place}: description"
                ),
                nullable=nullable,
            )
        )
    return tuple(fields)


def _load_held_by(raw: Any, languages: tuple[str, ...], where: str) -> HeldBy:
    raw = _mapping(raw, f"{where}: held_by")
    return HeldBy(
        name=str(require(raw, "name", f"{where}: held_by")),
        contact=str(require(raw, "contact", f"{where}: held_by")),
        note=Translated.parse(raw.get("note"), languages, f"{where}: held_by: note"),
    )


def _load_category(
    raw: Any,
    index: int,
    languages: tuple[str, ...],
    where: str,
    known: dict[str, Collection[str]],
) -> tuple[Category, dict[str, Any]]:
    raw = _mapping(raw, f"{where}: categories[{index}]")
    key = _key(raw, "key", f"{where}: categories[{index}]")
    place = f"{where}: category {key!r}"
    label = Translated.parse(raw.get("label"), languages, f"{place}: label")
    references: dict[str, str | None] = {}
    for name in ("source", "retention"):
        value = raw.get(name)
        if value is not None and value not in known[name]:
            raise ContentError(
                f"{place}: {name} {value!r} is unknown; use one of "
                f"{', '.join(sorted(known[name])) or '(none declared)'}"
            )
        references[name] = value
    if raw.get("held_by") is not None:
        extra = sorted({"fields", "query", "count", "erase"} & set(raw))
        if extra:
            raise ContentError(
                f"{place}: a category held by another company has no {', '.join(extra)}"
            )
        category = Category(
            key=key,
            label=label,
            source=references["source"],
            retention=references["retention"],
            held_by=_load_held_by(raw["held_by"], languages, place),
        )
        return category, raw
    category = Category(
        key=key,
        label=label,
        fields=_load_fields(raw.get("fields"), languages, place),
        source=references["source"],
        retention=references["retention"],
    )
    return category, raw


def _load_erasure(raw: Any, languages: tuple[str, ...], where: str) -> ErasureRule:
    where = f"{where}: erase"
    if raw is None:
        raise ContentError(
            f"{where}: missing; say what an erasure does to this category (action: removed, "
            "anonymised or kept) and why (reason)"
        )
    raw = _mapping(raw, where)
    action = raw.get("action")
    if action not in ERASURE_ACTIONS[:3]:
        raise ContentError(f"{where}: action must be removed, anonymised or kept (got {action!r})")
    statements = raw.get("statements") or []
    if action == "kept" and statements:
        raise ContentError(f"{where}: data that is kept has no statements")
    if action != "kept" and not statements:
        raise ContentError(f"{where}: {action} needs the statements that do it")
    if not isinstance(statements, list):
        raise ContentError(f"{where}: statements is a list of SQL statements")
    checked = tuple(
        _check_statement(sql, f"{where}: statements[{number}]", read_only=False)
        for number, sql in enumerate(statements)
    )
    return ErasureRule(
        action=action,
        statements=checked,
        reason=Translated.parse(raw.get("reason"), languages, f"{where}: reason"),
    )


LoadedCategories = list[tuple[Category, dict[str, Any]]]


def _load_sql(
    raw: dict[str, Any],
    key: str,
    label: Translated,
    categories: LoadedCategories,
    where: str,
    languages: tuple[str, ...],
) -> SqlConnectorSpec:
    url = raw.get("url")
    url_env = _env_name(raw, "url_env", where)
    if url is not None and not isinstance(url, str):
        raise ContentError(f"{where}: url is a database URL, or null for the privacy center's own")
    if url and url_env:
        raise ContentError(f"{where}: give url or url_env, not both")
    if url and re.search(r"://[^/@]*:[^/@]*@", url):
        raise ContentError(
            f"{where}: the url carries a password; put the whole URL in an environment variable "
            "and name it with url_env"
        )
    loaded = []
    for category, entry in categories:
        place = f"{where}: category {category.key!r}"
        if category.held_by is not None:
            loaded.append(SqlCategory(category, None, None, None))
            continue
        query = _check_statement(entry.get("query"), f"{place}: query", read_only=True)
        count = entry.get("count")
        loaded.append(
            SqlCategory(
                category=category,
                query=query,
                count_query=_check_statement(count, f"{place}: count", read_only=True)
                if count is not None
                else None,
                erase=_load_erasure(entry.get("erase"), languages, place),
            )
        )
    return SqlConnectorSpec(
        key=key, label=label, url=url or None, url_env=url_env, categories=tuple(loaded)
    )


def _load_http(
    raw: dict[str, Any], key: str, label: Translated, categories: LoadedCategories, where: str
) -> HttpConnectorSpec:
    url = require(raw, "url", where)
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
        raise ContentError(f"{where}: url must look like https://crm.example.com/privacy")
    for category, entry in categories:
        extra = sorted({"query", "count", "erase"} & set(entry))
        if extra:
            raise ContentError(
                f"{where}: category {category.key!r}: an HTTP connector's endpoint collects and "
                f"erases; remove {', '.join(extra)}"
            )
    retries = raw.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ContentError(f"{where}: retries is a whole number from 0 to 10 (got {retries!r})")
    timeout = _positive_number(raw, "timeout_seconds", 10.0, where)
    if timeout == 0:
        raise ContentError(f"{where}: timeout_seconds must be more than 0")
    return HttpConnectorSpec(
        key=key,
        label=label,
        url=url.rstrip("/"),
        token_env=_env_name(raw, "token_env", where),
        timeout_seconds=timeout,
        retries=retries,
        backoff_seconds=_positive_number(raw, "backoff_seconds", 0.5, where),
        categories=tuple(category for category, _ in categories),
    )


def load_connectors(
    path: Path, languages: tuple[str, ...], retention_keys: Collection[str]
) -> ConnectorSet:
    """Read and check ``connectors.yaml``; ``retention_keys`` are the rules of retention.yaml."""
    raw = _mapping(read_yaml(path) or {}, str(path))
    sources: list[Source] = []
    for index, entry in enumerate(raw.get("sources") or ()):
        key = _key(entry, "key", f"{path}: sources[{index}]")
        if any(source.key == key for source in sources):
            raise ContentError(f"{path}: source {key!r} is declared twice")
        sources.append(
            Source(key, Translated.parse(entry.get("text"), languages, f"{path}: source {key!r}"))
        )
    known = {"source": {source.key for source in sources}, "retention": set(retention_keys)}
    specs: list[ConnectorSpec] = []
    seen_categories: dict[str, str] = {}
    for index, entry in enumerate(raw.get("connectors") or ()):
        entry = _mapping(entry, f"{path}: connectors[{index}]")
        key = _key(entry, "key", f"{path}: connectors[{index}]")
        where = f"{path}: connector {key!r}"
        if any(spec.key == key for spec in specs):
            raise ContentError(f"{where}: declared twice")
        label = Translated.parse(entry.get("label"), languages, f"{where}: label")
        categories = [
            _load_category(category, number, languages, where, known)
            for number, category in enumerate(entry.get("categories") or ())
        ]
        if not categories:
            raise ContentError(f"{where}: at least one category is needed")
        for category, _ in categories:
            if category.key in seen_categories:
                raise ContentError(
                    f"{where}: category {category.key!r} is already declared by connector "
                    f"{seen_categories[category.key]!r}; a category lives in one place"
                )
            seen_categories[category.key] = key
        kind = entry.get("type")
        if kind == "sql":
            specs.append(_load_sql(entry, key, label, categories, where, languages))
        elif kind == "http":
            specs.append(_load_http(entry, key, label, categories, where))
        else:
            raise ContentError(f"{where}: type must be sql or http (got {kind!r})")
    if not specs:
        raise ContentError(f"{path}: no connector is declared (connectors)")
    return ConnectorSet(specs=tuple(specs), sources=tuple(sources))
