"""What changed between two versions of the policy, section by section and word by word."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from html.parser import HTMLParser

from ..content.policy_versions import PolicyDocument

BLOCK_TAGS = {"h2", "h3", "h4", "p", "li", "dt", "dd", "tr", "th", "td", "blockquote", "pre"}
HEADING_TAGS = {"h2", "h3", "h4"}
_WORDS = re.compile(r"\S+\s*")


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[str, ...]
    # The title of the heading it belongs to ("" for a top-level one): two sections may share a
    # title ("Chrome" under the browser settings and under third-party cookies).
    parent: str = ""


@dataclass(frozen=True)
class Segment:
    op: str  # "equal", "insert" or "delete"
    text: str


@dataclass(frozen=True)
class BlockChange:
    op: str  # "insert", "delete" or "replace"
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class SectionChange:
    id: str
    title: str
    status: str  # "added", "removed" or "changed"
    blocks: tuple[BlockChange, ...]
    parent: str = ""


class _SectionSplitter(HTMLParser):
    """Splits rendered policy HTML into sections (one per heading) of plain-text blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self._id = ""
        self._title = ""
        self._blocks: list[str] = []
        self._buffer: list[str] = []
        self._heading_id: str | None = None
        self._link_target: str | None = None
        self._parent = ""
        self._level = 0
        self._open_headings: list[tuple[int, str]] = []

    def _flush(self) -> str:
        text = " ".join("".join(self._buffer).split())
        self._buffer = []
        return text

    def _close_section(self) -> None:
        if self._id or self._blocks:
            self.sections.append(Section(self._id, self._title, tuple(self._blocks), self._parent))
        self._blocks = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            text = self._flush()
            if text:
                self._blocks.append(text)
        if tag in HEADING_TAGS:
            self._close_section()
            self._heading_id = dict(attrs).get("id") or ""
            self._level = int(tag[1])
        if tag == "a":
            href = dict(attrs).get("href") or ""
            # An external address is part of what the reader is told; show when it changes.
            self._link_target = href if href.startswith(("http", "mailto:")) else None

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link_target:
            label = "".join(self._buffer).rstrip()
            if not label.endswith(self._link_target.removeprefix("mailto:")):
                self._buffer.append(f" <{self._link_target}>")
            self._link_target = None
        if tag in HEADING_TAGS and self._heading_id is not None:
            self._id, self._title = self._heading_id, self._flush()
            self._heading_id = None
            while self._open_headings and self._open_headings[-1][0] >= self._level:
                self._open_headings.pop()
            self._parent = self._open_headings[-1][1] if self._open_headings else ""
            self._open_headings.append((self._level, self._title))
        elif tag in BLOCK_TAGS:
            text = self._flush()
            if text:
                self._blocks.append(text)

    def handle_data(self, data: str) -> None:
        self._buffer.append(data)

    def close(self) -> None:
        super().close()
        text = self._flush()
        if text:
            self._blocks.append(text)
        self._close_section()


def split_sections(document: PolicyDocument) -> list[Section]:
    splitter = _SectionSplitter()
    splitter.feed(document.html)
    splitter.close()
    return splitter.sections


def _word_diff(old: str, new: str) -> tuple[Segment, ...]:
    old_words, new_words = _WORDS.findall(old), _WORDS.findall(new)
    pieces: list[tuple[str, str]] = []
    # Words are compared without the space after them: "Explorer" ending a title is the same
    # word as "Explorer " followed by more.
    matcher = SequenceMatcher(
        a=[word.rstrip() for word in old_words],
        b=[word.rstrip() for word in new_words],
        autojunk=False,
    )
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(("equal", "".join(new_words[b1:b2])))
            continue
        if a2 > a1:
            pieces.append(("delete", "".join(old_words[a1:a2])))
        if b2 > b1:
            pieces.append(("insert", "".join(new_words[b1:b2])))
    # A block's last word has no space after it; one is needed when another piece follows.
    return tuple(
        Segment(op, text if index == len(pieces) - 1 or text[-1:].isspace() else f"{text} ")
        for index, (op, text) in enumerate(pieces)
    )


def _block_changes(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[BlockChange, ...]:
    changes: list[BlockChange] = []
    matcher = SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            continue
        removed, added = list(old[a1:a2]), list(new[b1:b2])
        # Pair a rewritten paragraph with its new wording, so the reader sees the words that moved;
        # one rewritten through and through reads better whole, the old one then the new one.
        while removed and added:
            before, after = removed.pop(0), added.pop(0)
            segments = _word_diff(before, after)
            kept = sum(len(segment.text.split()) for segment in segments if segment.op == "equal")
            lengths = sorted((len(before.split()), len(after.split())))
            if kept == lengths[0] or kept * 2 >= lengths[1]:
                changes.append(BlockChange("replace", segments))
            else:
                changes.append(BlockChange("delete", (Segment("delete", before),)))
                changes.append(BlockChange("insert", (Segment("insert", after),)))
        changes.extend(BlockChange("delete", (Segment("delete", text),)) for text in removed)
        changes.extend(BlockChange("insert", (Segment("insert", text),)) for text in added)
    return tuple(changes)


def compare_documents(old: PolicyDocument, new: PolicyDocument) -> list[SectionChange]:
    """Sections that differ between ``old`` and ``new``, in the new document's order."""
    old_sections = {section.id: section for section in split_sections(old)}
    new_sections = split_sections(new)
    new_ids = {section.id for section in new_sections}
    changes: list[SectionChange] = []
    for section in new_sections:
        before = old_sections.get(section.id)
        if before is None:
            blocks = _block_changes((), section.blocks)
            changes.append(
                SectionChange(section.id, section.title, "added", blocks, section.parent)
            )
        elif before.blocks != section.blocks or before.title != section.title:
            blocks = _block_changes(
                (before.title, *before.blocks), (section.title, *section.blocks)
            )
            changes.append(
                SectionChange(section.id, section.title, "changed", blocks, section.parent)
            )
    for section in old_sections.values():
        if section.id not in new_ids:
            blocks = _block_changes(section.blocks, ())
            changes.append(
                SectionChange(section.id, section.title, "removed", blocks, section.parent)
            )
    return changes
