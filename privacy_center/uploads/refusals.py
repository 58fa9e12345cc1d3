"""What every check of an upload shares: the refusal a person reads, and the scan for another
kind of file hidden in an image or a PDF (a polyglot)."""

from __future__ import annotations

import re


class RejectedUpload(ValueError):
    """The file is refused; ``str()`` tells the person what to do instead (translated)."""


# What a polyglot hides in an image or a PDF (in a comment, metadata, after the end): web
# page code, archives and programs. Each pattern is long enough never to occur by chance in
# the compressed pixels of a 10 MB photo.
_SMUGGLED_ANYWHERE = re.compile(
    rb"<\s*(?:script|html|iframe|object|embed)[\s/>]|<\?php|javascript:"
    rb"|Rar!\x1a\x07|7z\xbc\xaf\x27\x1c|This program cannot be run in DOS mode",
    re.IGNORECASE,
)
# A zip archive (or a jar, docx...) is found by readers from its end record, in the last 64 KB.
_ZIP_END = b"PK\x05\x06"
_ZIP_END_WINDOW = 22 + 65535


def smuggled_in_image(data: bytes) -> bool:
    """Whether an image (or a PDF) is also another kind of file: a polyglot, such as a
    "GIFAR"."""
    return _SMUGGLED_ANYWHERE.search(data) is not None or _ZIP_END in data[-_ZIP_END_WINDOW:]
