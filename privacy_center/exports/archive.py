"""The copy of a person's data, as a zip streamed in constant memory.

Members, in this order:

- ``data.json``: every category, its rows written one by one as they are read;
- ``data.schema.json``: the JSON Schema (draft 2020-12) of data.json, generated from the
  connectors' declarations;
- ``csv/<category>.csv``: one per category, UTF-8 with a byte-order mark (so that spreadsheet
  programs show accented letters correctly; any CSV reader skips it with ``utf-8-sig``), a header
  row of field names, CRLF line ends (RFC 4180);
- ``summary.html`` and ``summary.pdf``: counts per category, the first rows, and the art. 15(1)
  information, rendered by the caller once the rows have been counted; summary.pdf (PDF/A-3)
  also carries data.json and data.schema.json as associated files, so that the one file is both
  the readable copy and the machine-readable one (data.json only up to EMBED_MAX_BYTES: above
  it, the PDF says that the data is in data.json beside it);
- ``manifest.json``: the size and SHA-256 of every other member, computed while streaming.

The zip is ZIP64 (no size limit); rows are read twice, once for data.json and once for the CSV
files, and never held in memory beyond a buffer of about 64 KB.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stream_zip import ZIP_64, stream_zip

from ..connectors import Category, Connector, Subject
from ..letters.rendering import Attachment

FORMAT = "privacy-center-export/1"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Text is encoded and handed to the zip writer in pieces of about this size.
BUFFER_CHARS = 64 * 1024
# Rows between two progress reports.
PROGRESS_EVERY = 1000
# A spreadsheet runs a cell starting with one of these as a formula: such cells get a leading
# apostrophe in the CSV files (data.json keeps the exact value).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEMBER_MODE = stat.S_IFREG | 0o644
# The largest data.json summary.pdf embeds: it is kept in memory on its way to the PDF (never
# written unencrypted to disk), and the PDF writer holds it too; a copy of a million rows stays
# within its memory budget (bench/export_memory.py).
EMBED_MAX_BYTES = 16 * 1024 * 1024


class _KeptCopy:
    """A copy, in memory, of a member's chunks as they stream by, given up once it passes
    ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.chunks: list[bytes] | None = []

    def tee(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.size += len(chunk)
            if self.chunks is not None:
                if self.size > self.limit:
                    self.chunks = None
                else:
                    self.chunks.append(chunk)
            yield chunk

    def take(self) -> bytes | None:
        """The whole member (once), or None if it was too large to keep."""
        chunks, self.chunks = self.chunks, None
        return None if chunks is None else b"".join(chunks)


@dataclass(frozen=True)
class PlannedCategory:
    connector: Connector
    category: Category


@dataclass
class Tally:
    """What streaming data.json found in one category: its rows and the first few of them."""

    rows: int = 0
    first_rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ExportPlan:
    subject: Subject
    language: str
    generated_at: datetime
    entries: tuple[PlannedCategory, ...]
    # Who holds the data (art. 15: the controller): name, legal name, address, contact.
    controller: Mapping[str, Any]
    # Texts given with each category in data.json: where the data comes from, how long it is
    # kept (already in the person's language), by category key.
    sources: Mapping[str, str]
    retention: Mapping[str, str]

    def csv_name(self, category: Category) -> str:
        return f"csv/{category.key}.csv"

    def tabular(self) -> list[PlannedCategory]:
        """The categories with rows (held by another company: none here)."""
        return [entry for entry in self.entries if entry.category.held_by is None]


# --- JSON Schema ----------------------------------------------------------------------------

_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "object": {"type": ["object", "array"]},
}


def _field_schema(kind: str, nullable: bool, description: str) -> dict[str, Any]:
    schema = dict(_FIELD_SCHEMAS[kind])
    if nullable:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*types, "null"]
    schema["description"] = description
    return schema


def json_schema(plan: ExportPlan, title: str, description: str) -> dict[str, Any]:
    """The JSON Schema of data.json, its descriptions in the person's language."""
    language = plan.language
    text = {"type": "string"}
    nullable_text = {"type": ["string", "null"]}
    categories: dict[str, Any] = {}
    for entry in plan.entries:
        category = entry.category
        fields = {
            item.key: _field_schema(item.type, item.nullable, item.description(language))
            for item in category.fields
        }
        categories[category.key] = {
            "title": category.label(language),
            "type": "object",
            "additionalProperties": False,
            "required": ["label", "connector", "source", "retention", "held_by", "rows"],
            "properties": {
                "label": text,
                "connector": text,
                "source": nullable_text,
                "retention": nullable_text,
                "held_by": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "contact", "note"],
                            "properties": {"name": text, "contact": text, "note": text},
                        },
                    ]
                },
                "rows": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": list(fields),
                        "properties": fields,
                    },
                    **({"maxItems": 0} if category.held_by is not None else {}),
                },
            },
        }
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:privacy-center:{FORMAT}",
        "title": title,
        "description": description,
        "type": "object",
        "additionalProperties": False,
        "required": ["format", "generated_at", "language", "controller", "subject", "categories"],
        "properties": {
            "format": {"const": FORMAT},
            "generated_at": {"type": "string", "format": "date-time"},
            "language": {"type": "string"},
            "controller": {
                "type": "object",
                "required": ["name", "legal_name", "address", "email"],
                "properties": {
                    "name": text,
                    "legal_name": text,
                    "address": {"type": "array", "items": text},
                    "email": text,
                    "website": text,
                },
            },
            "subject": {
                "type": "object",
                "required": ["email"],
                "properties": {"email": text, "account_id": {"type": ["integer", "null"]}},
            },
            "categories": {
                "type": "object",
                "additionalProperties": False,
                "required": list(categories),
                "properties": categories,
            },
        },
    }


# --- data.json --------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _encoded(pieces: Iterable[str]) -> Iterator[bytes]:
    """Join small pieces of text into chunks of about BUFFER_CHARS, encoded as UTF-8."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= BUFFER_CHARS:
            yield "".join(buffer).encode()
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer).encode()


class _Counter:
    """Reports rows to ``on_rows`` every PROGRESS_EVERY rows (and at the end of a category)."""

    def __init__(self, on_rows: Callable[[int], None] | None) -> None:
        self.on_rows = on_rows
        self.pending = 0

    def add(self) -> None:
        self.pending += 1
        if self.pending >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.pending and self.on_rows is not None:
            self.on_rows(self.pending)
        self.pending = 0


def _data_json_text(
    plan: ExportPlan, tallies: dict[str, Tally], summary_rows: int, counter: _Counter
) -> Iterator[str]:
    language = plan.language
    head = {
        "format": FORMAT,
        "generated_at": plan.generated_at.isoformat().replace("+00:00", "Z"),
        "language": language,
        "controller": dict(plan.controller),
        "subject": {"email": plan.subject.email, "account_id": plan.subject.account_id},
    }
    yield "{\n" + "".join(f"{_dumps(key)}:{_dumps(value)},\n" for key, value in head.items())
    yield '"categories":{'
    for index, entry in enumerate(plan.entries):
        category = entry.category
        held_by = category.held_by
        meta = {
            "label": category.label(language),
            "connector": entry.connector.key,
            "source": plan.sources.get(category.key),
            "retention": plan.retention.get(category.key),
            "held_by": None
            if held_by is None
            else {"name": held_by.name, "contact": held_by.contact, "note": held_by.note(language)},
        }
        # The metadata object, left open for its rows.
        yield ("," if index else "") + f"\n{_dumps(category.key)}:" + _dumps(meta)[:-1]
        yield ',"rows":['
        tally = tallies.setdefault(category.key, Tally())
        if held_by is None:
            separator = "\n"
            for row in entry.connector.collect(plan.subject, category.key):
                yield separator + _dumps(row)
                separator = ",\n"
                tally.rows += 1
                if len(tally.first_rows) < summary_rows:
                    tally.first_rows.append(row)
                counter.add()
            counter.flush()
        yield "\n]}"
    yield "\n}\n}\n"


# --- CSV --------------------------------------------------------------------------------------


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_STARTS) else text


def spreadsheet_csv(
    header: Iterable[str], rows: Iterable[Iterable[Any]], *, rows_per_chunk: int = 1
) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (for spreadsheets), every cell through ``csv_cell``,
    streamed: the header first, then a chunk every ``rows_per_chunk`` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> bytes:
        chunk = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        return chunk

    buffer.write("\ufeff")
    writer.writerow(header)
    yield take()
    for count, row in enumerate(rows, 1):
        writer.writerow(csv_cell(value) for value in row)
        if count % rows_per_chunk == 0:
            yield take()
    rest = take()
    if rest:
        yield rest


def _csv_chunks(plan: ExportPlan, entry: PlannedCategory, counter: _Counter) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    keys = entry.category.field_keys
    buffer.write("\ufeff")
    writer.writerow(keys)
    for row in entry.connector.collect(plan.subject, entry.category.key):
        writer.writerow([csv_cell(row[key]) for key in keys])
        counter.add()
        if buffer.tell() >= BUFFER_CHARS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    counter.flush()
    yield buffer.getvalue().encode()


# --- the zip ----------------------------------------------------------------------------------


@dataclass
class Digest:
    size: int = 0
    sha256: str = ""


def _measured(chunks: Iterable[bytes], digest: Digest) -> Iterator[bytes]:
    hasher = hashlib.sha256()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
        yield chunk
    digest.size, digest.sha256 = size, hasher.hexdigest()


def _lazy(produce: Callable[[], bytes]) -> Iterator[bytes]:
    """One member whose content is only made when the zip writer reaches it."""
    yield produce()


def _compressor() -> Any:
    # Level 6: nearly the size of level 9 for this kind of text, in much less time.
    return zlib.compressobj(level=6, wbits=-zlib.MAX_WBITS)


def stream_export(
    plan: ExportPlan,
    *,
    schema: Mapping[str, Any],
    render_summary: Callable[[Mapping[str, Tally], bool, bool], str],
    render_pdf: Callable[..., bytes],
    summary_rows: int = 5,
    on_rows: Callable[[int], None] | None = None,
    embed_max_bytes: int | None = None,
    attachment_descriptions: tuple[str, str] = ("data.json", "data.schema.json"),
) -> Iterator[bytes]:
    """The zip, chunk by chunk. ``render_summary(tallies, for_pdf, attached)`` gives the
    summary's HTML once data.json has been streamed (``attached``: summary.pdf carries
    data.json); ``render_pdf(html, attachments=...)`` makes summary.pdf, whose attached
    data.json and schema are described by ``attachment_descriptions`` (in the person's
    language). ``on_rows(n)`` is told
    of rows written (each row is written twice: in data.json and in its CSV file). Connector
    failures propagate (ConnectorError): the caller decides what the person sees."""
    tallies: dict[str, Tally] = {}
    kept_data = _KeptCopy(EMBED_MAX_BYTES if embed_max_bytes is None else embed_max_bytes)
    schema_bytes = (json.dumps(schema, ensure_ascii=False, indent=2) + "\n").encode()
    digests: dict[str, Digest] = {}
    counter = _Counter(on_rows)
    moment = plan.generated_at

    def member(
        name: str, chunks: Iterable[bytes]
    ) -> tuple[str, datetime, int, Any, Iterable[bytes]]:
        digest = digests[name] = Digest()
        return name, moment, MEMBER_MODE, ZIP_64, _measured(chunks, digest)

    def manifest() -> bytes:
        files = [
            {"name": name, "size": digest.size, "sha256": digest.sha256}
            for name, digest in digests.items()
        ]
        document = {
            "format": FORMAT,
            "generated_at": plan.generated_at.isoformat().replace("+00:00", "Z"),
            "algorithm": "sha256",
            "files": files,
        }
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()

    def members() -> Iterator[tuple[str, datetime, int, Any, Iterable[bytes]]]:
        data = _encoded(_data_json_text(plan, tallies, summary_rows, counter))
        yield member("data.json", kept_data.tee(data))
        yield member("data.schema.json", iter((schema_bytes,)))
        for entry in plan.tabular():
            yield member(plan.csv_name(entry.category), _csv_chunks(plan, entry, counter))
        yield member("summary.html", _lazy(lambda: render_summary(tallies, False, False).encode()))
        yield member("summary.pdf", _lazy(summary_pdf))
        # Not measured: it lists the others.
        yield "manifest.json", moment, MEMBER_MODE, ZIP_64, _lazy(manifest)

    def summary_pdf() -> bytes:
        content = kept_data.take()
        attachments = [
            Attachment(
                "data.schema.json",
                schema_bytes,
                attachment_descriptions[1],
                relationship="Supplement",
            )
        ]
        if content is not None:
            attachments.insert(
                0, Attachment("data.json", content, attachment_descriptions[0], "Data")
            )
        html = render_summary(tallies, True, content is not None)
        return render_pdf(html, attachments=attachments)

    return stream_zip(members(), get_compressobj=_compressor)
