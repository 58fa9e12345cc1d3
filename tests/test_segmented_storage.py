"""Stored files encrypted in segments (privacy_center.segmented): they round-trip, are written as
they come and atomically, and any truncation, reordering, splice, extension or flipped byte is
refused when they are read; key rotation handles them beside the older whole-file format."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from privacy_center.segmented import (
    HEADER_BYTES,
    MAGIC,
    TAG_BYTES,
    VERSION,
    SegmentedWriter,
    key_id,
    open_segmented,
    open_stored,
    read_stored,
    reencrypt_stored,
    write_segmented,
)
from privacy_center.storage import rotate_folder
from privacy_center.uploads.storage import DocumentNotFound, DocumentTampered, store_document

KEY, OLD, OTHER = (secrets.token_bytes(32) for _ in range(3))
SEGMENT = 1024  # the smallest allowed, so that a few KiB make several segments
BLOCK = SEGMENT + TAG_BYTES


def store(directory: Path, plain: bytes, key: bytes = KEY) -> str:
    return write_segmented([plain], directory=directory, key=key, segment_size=SEGMENT).name


def read(
    directory: Path, name: str, key: bytes = KEY, previous_keys: tuple[bytes, ...] = ()
) -> bytes:
    return read_stored(name, directory=directory, key=key, previous_keys=previous_keys)


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT, 3 * SEGMENT + 500]
)
def test_a_file_round_trips_at_every_size_around_a_segment(tmp_path: Path, size: int) -> None:
    plain = secrets.token_bytes(size)
    name = store(tmp_path, plain)
    sealed = (tmp_path / name).read_bytes()
    segments = max(1, -(-size // SEGMENT))
    assert len(sealed) == HEADER_BYTES + size + segments * TAG_BYTES
    assert sealed[:4] == MAGIC and sealed[4] == VERSION
    assert sealed[5:13] == key_id(KEY) != key_id(OLD)
    assert read(tmp_path, name) == plain
    with open_segmented(name, directory=tmp_path, keys=[KEY]) as reader:
        assert reader.plain_size == size
        pieces = list(reader)
    assert b"".join(pieces) == plain
    assert all(len(piece) <= SEGMENT for piece in pieces)


def test_the_file_is_written_as_its_content_comes(tmp_path: Path) -> None:
    """Segments reach the disk while the content is still being produced, never all at once."""
    sizes_seen: list[int] = []

    def produce() -> Iterator[bytes]:
        for _ in range(8):
            yield secrets.token_bytes(SEGMENT)
            (partial,) = tmp_path.glob(".*.partial")
            sizes_seen.append(partial.stat().st_size)

    name = write_segmented(produce(), directory=tmp_path, key=KEY, segment_size=SEGMENT).name
    # Before the writer sees chunk n + 1 it cannot know whether chunk n is the last segment.
    assert sizes_seen == [HEADER_BYTES + n * BLOCK for n in range(8)]
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def produce() -> Iterator[bytes]:
        yield secrets.token_bytes(5 * SEGMENT)
        raise ConnectionError("connector went away")

    with pytest.raises(ConnectionError):
        write_segmented(produce(), directory=tmp_path, key=KEY, segment_size=SEGMENT)
    assert list(tmp_path.iterdir()) == []

    with pytest.raises(KeyboardInterrupt), SegmentedWriter(tmp_path, KEY) as writer:
        writer.write(b"x" * 200_000)
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="32 bytes"):
        SegmentedWriter(tmp_path, b"short key")


# --- tampering --------------------------------------------------------------------------------

PLAIN = bytes(range(256)) * 16  # 4 full segments
PLAIN_TAIL = PLAIN + b"tail"  # and a short fifth one


def blocks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    body = sealed[HEADER_BYTES:]
    return sealed[:HEADER_BYTES], [body[i : i + BLOCK] for i in range(0, len(body), BLOCK)]


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def truncated_at_a_segment_boundary(sealed: bytes) -> bytes:
    header, parts = blocks(sealed)
    return header + b"".join(parts[:-1])


def truncated_inside_a_segment(sealed: bytes) -> bytes:
    return sealed[: HEADER_BYTES + 2 * BLOCK + 100]


def only_the_header(sealed: bytes) -> bytes:
    return sealed[:HEADER_BYTES]


def shorter_than_its_header(sealed: bytes) -> bytes:
    return sealed[: HEADER_BYTES - 1]


def a_segment_dropped(sealed: bytes) -> bytes:
    header, parts = blocks(sealed)
    return header + b"".join(parts[:1] + parts[2:])


def two_segments_swapped(sealed: bytes) -> bytes:
    header, parts = blocks(sealed)
    parts[1], parts[2] = parts[2], parts[1]
    return header + b"".join(parts)


def a_segment_repeated(sealed: bytes) -> bytes:
    header, parts = blocks(sealed)
    return header + b"".join(parts[:2] + parts[1:])


def extended_by_a_copy_of_the_last_segment(sealed: bytes) -> bytes:
    return sealed + blocks(sealed)[1][-1]


def extended_by_random_bytes(sealed: bytes) -> bytes:
    return sealed + secrets.token_bytes(BLOCK)


def a_byte_flipped_in_a_segment(sealed: bytes) -> bytes:
    return flip(sealed, HEADER_BYTES + BLOCK + 7)


def a_byte_flipped_in_a_tag(sealed: bytes) -> bytes:
    return flip(sealed, HEADER_BYTES + 3 * BLOCK - 1)


def a_byte_flipped_in_the_last_segment(sealed: bytes) -> bytes:
    return flip(sealed, len(sealed) - TAG_BYTES - 1)


def the_salt_changed(sealed: bytes) -> bytes:
    return flip(sealed, HEADER_BYTES - 1)


def the_segment_size_changed(sealed: bytes) -> bytes:
    # 1024 -> 1025: still within bounds, the blocks no longer line up with the tags.
    return flip(sealed, HEADER_BYTES - 16 - 1)


def the_version_changed(sealed: bytes) -> bytes:
    return flip(sealed, 4)


TAMPERINGS: list[Callable[[bytes], bytes]] = [
    truncated_at_a_segment_boundary, truncated_inside_a_segment, only_the_header,
    shorter_than_its_header, a_segment_dropped, two_segments_swapped, a_segment_repeated,
    extended_by_a_copy_of_the_last_segment, extended_by_random_bytes,
    a_byte_flipped_in_a_segment, a_byte_flipped_in_a_tag, a_byte_flipped_in_the_last_segment,
    the_salt_changed, the_segment_size_changed, the_version_changed,
]  # fmt: skip


@pytest.mark.parametrize("plain", [PLAIN, PLAIN_TAIL], ids=["full-last-segment", "short-last"])
@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda tamper: tamper.__name__)
def test_a_tampered_file_is_refused(
    tmp_path: Path, plain: bytes, tamper: Callable[[bytes], bytes]
) -> None:
    name = store(tmp_path, plain)
    path = tmp_path / name
    path.write_bytes(tamper(path.read_bytes()))
    with pytest.raises(DocumentTampered, match=name):
        read(tmp_path, name)
    # verify() reads the whole file before anything is sent; iterating never yields the content
    # beyond the first bad segment, nor a complete copy.
    with pytest.raises(DocumentTampered):
        reader = open_stored(name, directory=tmp_path, key=KEY)
        try:
            reader.verify()
        finally:
            reader.close()


def test_the_intact_file_used_by_the_tamperings_reads(tmp_path: Path) -> None:
    """The tamperings above act on a readable file with four or five segments."""
    for plain, segments in ((PLAIN, 4), (PLAIN_TAIL, 5)):
        name = store(tmp_path, plain)
        assert len(blocks((tmp_path / name).read_bytes())[1]) == segments
        assert read(tmp_path, name) == plain


def test_a_file_renamed_to_another_files_id_is_refused(tmp_path: Path) -> None:
    mine = store(tmp_path, PLAIN)
    theirs = store(tmp_path, PLAIN)
    (tmp_path / mine).replace(tmp_path / theirs)
    with pytest.raises(DocumentTampered, match=theirs):
        read(tmp_path, theirs)


def test_a_segment_spliced_from_another_file_is_refused(tmp_path: Path) -> None:
    """Same key, same plain content, same position: still refused (each file has its own key)."""
    first = store(tmp_path, PLAIN)
    second = store(tmp_path, PLAIN)
    header, parts = blocks((tmp_path / first).read_bytes())
    parts[2] = blocks((tmp_path / second).read_bytes())[1][2]
    (tmp_path / first).write_bytes(header + b"".join(parts))
    with pytest.raises(DocumentTampered, match="segment 2"):
        read(tmp_path, first)
    # The header of another file (its salt) does not help either.
    (tmp_path / first).write_bytes(blocks((tmp_path / second).read_bytes())[0] + b"".join(parts))
    with pytest.raises(DocumentTampered):
        read(tmp_path, first)


def test_missing_files_and_unknown_keys_are_refused_clearly(tmp_path: Path) -> None:
    name = store(tmp_path, PLAIN, key=OTHER)
    with pytest.raises(DocumentTampered, match="PREVIOUS_KEYS"):
        read(tmp_path, name)
    with pytest.raises(DocumentNotFound):
        read(tmp_path, secrets.token_urlsafe(32))
    os.symlink(tmp_path / name, tmp_path / (link := secrets.token_urlsafe(32)))
    with pytest.raises(DocumentTampered, match="link"):
        read(tmp_path, link)


# --- the older format and key rotation --------------------------------------------------------


def test_files_of_the_whole_file_format_stay_readable(tmp_path: Path) -> None:
    name = store_document(b"an older copy", directory=tmp_path, key=OLD)
    assert read(tmp_path, name, previous_keys=(OLD,)) == b"an older copy"
    with pytest.raises(DocumentTampered):
        read(tmp_path, name)
    with open_stored(name, directory=tmp_path, key=KEY, previous_keys=[OLD]) as reader:
        assert (reader.plain_size, reader.key_index) == (len(b"an older copy"), 1)


def test_a_segmented_file_of_a_previous_key_is_read_then_rewritten(tmp_path: Path) -> None:
    name = store(tmp_path, PLAIN_TAIL, key=OLD)
    assert read(tmp_path, name, previous_keys=(OLD,)) == PLAIN_TAIL
    assert reencrypt_stored(name, directory=tmp_path, key=KEY, previous_keys=[OLD]) is True
    assert (tmp_path / name).read_bytes()[5:13] == key_id(KEY)
    assert read(tmp_path, name) == PLAIN_TAIL
    with pytest.raises(DocumentTampered):
        read(tmp_path, name, key=OLD)
    assert reencrypt_stored(name, directory=tmp_path, key=KEY, previous_keys=[OLD]) is False
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left


def test_rotating_a_folder_handles_both_formats(tmp_path: Path) -> None:
    segmented_old = store(tmp_path, PLAIN, key=OLD)
    whole_old = store_document(b"whole", directory=tmp_path, key=OLD)
    segmented_new = store(tmp_path, b"new")
    foreign = store(tmp_path, b"foreign", key=OTHER)
    damaged = store(tmp_path, PLAIN, key=OLD)
    (tmp_path / damaged).write_bytes(two_segments_swapped((tmp_path / damaged).read_bytes()))
    damaged_bytes = (tmp_path / damaged).read_bytes()

    report = rotate_folder(tmp_path, KEY, [OLD])

    assert (report.rewritten, report.current) == (2, 1)
    assert sorted(report.unreadable) == sorted([foreign, damaged])
    assert read(tmp_path, segmented_old) == PLAIN
    assert read(tmp_path, whole_old) == b"whole"
    assert read(tmp_path, segmented_new) == b"new"
    # A file that fails its check is left exactly as it was, never half rewritten.
    assert (tmp_path / damaged).read_bytes() == damaged_bytes
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_by_default_segments_hold_64_kib(tmp_path: Path) -> None:
    plain = secrets.token_bytes(3 * 64 * 1024 + 10)
    name = write_segmented([plain], directory=tmp_path, key=KEY).name
    with open_segmented(name, directory=tmp_path, keys=[KEY]) as reader:
        assert reader.segment_size == 64 * 1024
        assert [len(piece) for piece in reader] == [65536, 65536, 65536, 10]
