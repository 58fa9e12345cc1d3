"""Policy versions (``content/policy/``): Markdown per version and language, checked at load."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import markdown
import yaml

from ..operator import ContentError, Translated, read_yaml, require
from .policy_facts import Choice, Fact, FactResolver

SUMMARY_KEYS = ("who", "what", "why", "how-long", "recipients", "rights")
# Generated parts (``[[name]]``), each with the first version that must hold it once: a new part
# is required from the version that introduces it, never in versions published before it.
PLACEHOLDERS = {"cookie-list": 1, "authorities": 1, "retention": 1}
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_PLACEHOLDER = re.compile(r"<p>\[\[([a-z-]+)\]\]</p>")
_HEADING_WITHOUT_ID = re.compile(r"^#{1,6} (?!.*\{#[\w-]+\}\s*$).*$", re.MULTILINE)


@dataclass(frozen=True)
class Heading:
    id: str
    title: str
    level: int
    children: tuple[Heading, ...] = ()


@dataclass(frozen=True)
class SummaryPoint:
    key: str
    title: str
    text: str
    section: str


@dataclass(frozen=True)
class PolicyDocument:
    """One version of the policy in one language, rendered."""

    language: str
    title: str
    summary: tuple[SummaryPoint, ...]
    # The body as HTML fragments and generated parts: ("html", markup) or ("placeholder", name).
    parts: tuple[tuple[str, str], ...]
    toc: tuple[Heading, ...]
    sha256: str

    @property
    def headings(self) -> tuple[Heading, ...]:
        """Every heading, in document order."""
        ordered: list[Heading] = []

        def walk(nodes: tuple[Heading, ...]) -> None:
            for node in nodes:
                ordered.append(node)
                walk(node.children)

        walk(self.toc)
        return tuple(ordered)

    @property
    def html(self) -> str:
        """The body with the placeholders left as markers (for comparisons and plain text)."""
        return "".join(text if kind == "html" else "" for kind, text in self.parts)


@dataclass(frozen=True)
class PolicyVersion:
    number: int
    effective: date
    changes: Translated
    documents: dict[str, PolicyDocument] = field(hash=False)
    # False for a version kept as it was published, its facts typed as text (versions.yaml).
    generated_parts: bool = True

    def document(self, language: str) -> PolicyDocument:
        return self.documents[language]


def _toc(tokens: list[dict]) -> tuple[Heading, ...]:
    return tuple(
        Heading(
            id=token["id"],
            title=token["name"],
            level=token["level"],
            children=_toc(token["children"]),
        )
        for token in tokens
    )


def render_document(
    path: Path,
    language: str,
    *,
    facts: Mapping[str, Fact] | None = None,
    choices: Mapping[str, Choice] | None = None,
    check_typed: bool = False,
) -> PolicyDocument:
    """One document, its fact tokens replaced by the configuration's values (policy_facts.py)."""
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError(f"{path}: file not found") from None
    where = str(path)
    match = _FRONT_MATTER.match(source)
    if not match:
        raise ContentError(f"{where}: the file must start with a YAML front matter between '---'")
    try:
        front = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        raise ContentError(f"{where}: front matter is not valid YAML: {error}") from None
    if not isinstance(front, dict):
        raise ContentError(f"{where}: the front matter must be a mapping (title, summary…)")
    resolver = FactResolver.for_document(
        front,
        facts=facts or {},
        choices=choices or {},
        language=language,
        where=where,
        check_typed=check_typed,
    )
    body = resolver.markdown(
        source[match.end() :], first_line=source.count("\n", 0, match.end()) + 1
    )
    missing_id = _HEADING_WITHOUT_ID.search(body)
    if missing_id:
        raise ContentError(f"{where}: heading without an anchor {{#id}}: {missing_id.group(0)!r}")

    summary = []
    for index, point in enumerate(front.get("summary") or ()):
        point_where = f"{where}: summary[{index}]"
        summary.append(
            SummaryPoint(
                key=require(point, "key", point_where),
                title=require(point, "title", point_where),
                text=resolver.text(require(point, "text", point_where)),
                section=require(point, "section", point_where),
            )
        )
    if tuple(point.key for point in summary) != SUMMARY_KEYS:
        raise ContentError(f"{where}: summary keys must be, in order: {', '.join(SUMMARY_KEYS)}")

    converter = markdown.Markdown(
        extensions=["attr_list", "def_list", "tables", "toc"],
        extension_configs={"toc": {"toc_depth": "2-4"}},
        output_format="html",
    )
    html = converter.convert(body)
    toc = _toc(converter.toc_tokens)  # type: ignore[attr-defined]

    parts: list[tuple[str, str]] = []
    position = 0
    for placeholder in _PLACEHOLDER.finditer(html):
        name = placeholder.group(1)
        if name not in PLACEHOLDERS:
            raise ContentError(f"{where}: unknown placeholder [[{name}]]")
        parts.append(("html", html[position : placeholder.start()]))
        parts.append(("placeholder", name))
        position = placeholder.end()
    parts.append(("html", html[position:]))

    document = PolicyDocument(
        language=language,
        title=resolver.text(require(front, "title", where)),
        summary=tuple(summary),
        parts=tuple(parts),
        toc=toc,
        # Of the text as rendered: a fact that changes changes the document.
        sha256=hashlib.sha256(body.encode()).hexdigest(),
    )
    anchors = {heading.id for heading in document.headings}
    for point in document.summary:
        if point.section not in anchors:
            raise ContentError(
                f"{where}: summary {point.key!r} links to #{point.section}, which no heading has"
            )
    return document


def load_versions(
    policy_dir: Path,
    languages: tuple[str, ...],
    *,
    facts: Mapping[str, Fact] | None = None,
    choices: Mapping[str, Choice] | None = None,
) -> tuple[PolicyVersion, ...]:
    index_path = policy_dir / "versions.yaml"
    raw = read_yaml(index_path) or {}
    # From this version on, the facts are named, never typed (earlier ones were published so).
    facts_from = raw.get("facts_from", 1)
    if not isinstance(facts_from, int) or isinstance(facts_from, bool) or facts_from < 1:
        raise ContentError(f"{index_path}: facts_from must be a version number")
    versions: list[PolicyVersion] = []
    for position, entry in enumerate(raw.get("versions") or ()):
        where = f"{index_path}: versions[{position}]"
        number = require(entry, "number", where)
        effective = require(entry, "effective", where)
        if not isinstance(number, int) or number != position + 1:
            raise ContentError(f"{where}: versions are numbered 1, 2, 3… in order")
        if not isinstance(effective, date):
            raise ContentError(f"{where}: effective must be a date like 2026-01-31")
        if versions and effective <= versions[-1].effective:
            raise ContentError(f"{where}: effective date must come after the previous version's")
        # A version kept word for word as it was published declares ``generated_parts: false``:
        # it has no placeholder, its cookie list, periods and authorities are the text of then.
        generated_parts = entry.get("generated_parts", True)
        if not isinstance(generated_parts, bool):
            raise ContentError(f"{where}: generated_parts must be true or false")
        expected = (
            sorted(name for name, since in PLACEHOLDERS.items() if number >= since)
            if generated_parts
            else []
        )
        documents = {
            language: render_document(
                policy_dir / f"v{number}" / f"{language}.md",
                language,
                facts=facts,
                choices=choices,
                check_typed=number >= facts_from,
            )
            for language in languages
        }
        reference = documents[languages[0]]
        for language, document in documents.items():
            if [h.id for h in document.headings] != [h.id for h in reference.headings]:
                raise ContentError(
                    f"{policy_dir / f'v{number}' / f'{language}.md'}: its headings' anchors "
                    f"differ from {languages[0]}.md; every language must have the same anchors "
                    "in the same order"
                )
            placeholders = [text for kind, text in document.parts if kind == "placeholder"]
            if sorted(placeholders) != expected and generated_parts:
                raise ContentError(
                    f"{policy_dir / f'v{number}' / f'{language}.md'}: each of the placeholders "
                    f"{', '.join(f'[[{name}]]' for name in expected)} must appear once"
                )
            if sorted(placeholders) != expected:
                raise ContentError(
                    f"{policy_dir / f'v{number}' / f'{language}.md'}: has a placeholder "
                    f"[[{placeholders[0]}]], but versions.yaml says this version has no "
                    "generated parts (generated_parts: false)"
                )
        versions.append(
            PolicyVersion(
                number=number,
                effective=effective,
                changes=Translated.parse(entry.get("changes"), languages, f"{where}: changes"),
                documents=documents,
                generated_parts=generated_parts,
            )
        )
    if not versions:
        raise ContentError(f"{index_path}: no policy version")
    return tuple(versions)
