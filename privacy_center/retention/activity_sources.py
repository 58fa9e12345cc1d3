"""What counts as an account's activity outside the privacy center: the sources declared under
the account rule's ``enforce: activity`` in content/retention.yaml, checked at start-up (the
kinds of source are described in activity.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from babel.lists import format_list
from flask_babel import get_locale, gettext

from ..connectors.config import ConnectorSet
from ..connectors.specs import BIND, ENV_NAME, KEY, READ_ONLY, HttpConnectorSpec, SqlConnectorSpec
from ..operator import ContentError, Translated

SQL, HTTP, EMAIL = "sql", "http", "email"
# Each type and the settings it takes besides key, type and label.
SOURCE_TYPES: dict[str, frozenset[str]] = {
    SQL: frozenset({"connector", "query"}),
    HTTP: frozenset({"connector"}),
    EMAIL: frozenset({"token_env", "redirect_to"}),
}


@dataclass(frozen=True)
class ActivitySource:
    """Where an account's activity outside the privacy center is seen."""

    key: str
    type: str
    # What counts, for the person and staff: "browsing the site while signed in".
    label: Translated
    connector: str | None = None
    query: str | None = None
    token_env: str | None = None
    redirect_to: tuple[str, ...] = ()


def _redirect_prefix(raw: Any, where: str) -> str:
    parts = urlsplit(raw) if isinstance(raw, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or not parts.path.endswith("/")
        or parts.query
        or parts.fragment
    ):
        raise ContentError(
            f"{where}: {raw!r} is not an address prefix like https://www.example.com/ (scheme, "
            "host and a path ending with /)"
        )
    return raw


def _query(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ContentError(f"{where}: query: expected an SQL SELECT")
    statement = raw.strip().rstrip(";").strip()
    if ";" in statement:
        raise ContentError(f"{where}: query: one SQL statement only (no ';' inside)")
    if not READ_ONLY.match(statement):
        raise ContentError(f"{where}: query: a query must be a SELECT (or WITH ... SELECT)")
    unknown = set(BIND.findall(statement)) - {"since"}
    if unknown:
        raise ContentError(
            f"{where}: query: unknown parameter(s) "
            f"{', '.join(':' + name for name in sorted(unknown))}; it may bind only :since"
        )
    return statement


def parse_activity(raw: Any, languages: Sequence[str], where: str) -> tuple[ActivitySource, ...]:
    """The sources of ``activity`` (a list), checked; ``where`` names the rule in messages."""
    if not isinstance(raw, list):
        raise ContentError(f"{where}: activity is a list of sources ({{key, type, label, ...}})")
    sources: list[ActivitySource] = []
    for index, entry in enumerate(raw):
        place = f"{where}: activity[{index}]"
        if not isinstance(entry, dict):
            raise ContentError(f"{place}: a source is a mapping with key, type and label")
        key = entry.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            raise ContentError(f"{place}: key {key!r} must be lower-case letters, digits and _")
        place = f"{where}: activity {key!r}"
        if any(source.key == key for source in sources):
            raise ContentError(f"{place}: declared twice")
        kind = entry.get("type")
        if kind not in SOURCE_TYPES:
            raise ContentError(f"{place}: type {kind!r} is not one of {', '.join(SOURCE_TYPES)}")
        unknown = set(entry) - {"key", "type", "label"} - SOURCE_TYPES[kind]
        if unknown:
            raise ContentError(
                f"{place}: {', '.join(sorted(unknown))} is not a setting of a {kind} source "
                f"(it takes {', '.join(sorted(SOURCE_TYPES[kind]))})"
            )
        label = entry.get("label")
        wanted = tuple(languages) or (tuple(label) if isinstance(label, dict) else ())
        settings: dict[str, Any] = {"label": Translated.parse(label, wanted, f"{place}: label")}
        if kind in (SQL, HTTP):
            connector = entry.get("connector")
            if not isinstance(connector, str) or not KEY.match(connector):
                raise ContentError(f"{place}: connector: the key of a connector of connectors.yaml")
            settings["connector"] = connector
        if kind == SQL:
            settings["query"] = _query(entry.get("query"), place)
        if kind == EMAIL:
            if any(source.type == EMAIL for source in sources):
                raise ContentError(f"{place}: only one email source may be declared")
            token_env = entry.get("token_env")
            if not isinstance(token_env, str) or not ENV_NAME.match(token_env):
                raise ContentError(
                    f"{place}: token_env must name the environment variable holding the "
                    "mailer's token, like MAILER_TOKEN"
                )
            targets = entry.get("redirect_to")
            if not isinstance(targets, list) or not targets:
                raise ContentError(
                    f"{place}: redirect_to lists the addresses a tracked link may lead to"
                )
            settings["token_env"] = token_env
            settings["redirect_to"] = tuple(
                _redirect_prefix(target, f"{place}: redirect_to[{number}]")
                for number, target in enumerate(targets)
            )
        sources.append(ActivitySource(key=key, type=kind, **settings))
    return tuple(sources)


def check_connectors(
    sources: Iterable[ActivitySource], connectors: ConnectorSet, where: str
) -> None:
    """Each sql or http source names a connector of that type (checked at start-up)."""
    specs = {spec.key: spec for spec in connectors.specs}
    for source in sources:
        if source.type not in (SQL, HTTP):
            continue
        spec = specs.get(source.connector or "")
        wanted = SqlConnectorSpec if source.type == SQL else HttpConnectorSpec
        if not isinstance(spec, wanted):
            declared = (
                ", ".join(key for key, item in specs.items() if isinstance(item, wanted)) or "none"
            )
            raise ContentError(
                f"{where}: activity {source.key!r}: connector {source.connector!r} is not a "
                f"{source.type} connector of connectors.yaml ({source.type} connectors: {declared})"
            )


def email_source(sources: Iterable[ActivitySource]) -> ActivitySource | None:
    return next((source for source in sources if source.type == EMAIL), None)


def activity_kinds(sources: Iterable[ActivitySource], language: str, style: str = "or") -> str:
    """What counts as activity, for people, in ``language`` (the current locale must be it):
    a sign-in, then each source's label, as a list of the language ("a, b or c"; ``style``
    "standard": "a, b and c")."""
    kinds = [gettext("signing in to your account")]
    kinds.extend(source.label(language) for source in sources)
    return format_list(kinds, style=style, locale=get_locale() or language)  # type: ignore[arg-type]
