"""The child process that opens uploaded documents (see document_sandbox.py, its only caller).

Run as ``python -I document_worker.py OPERATION LIMITS`` with the file on standard input. It
imports nothing of the application (no Flask, no settings, no keys: it is started with an
empty environment) and limits itself first thing, before any parser is loaded: address space
(RLIMIT_AS), processor time (RLIMIT_CPU), no file written (RLIMIT_FSIZE). The parent adds a
wall-clock timeout. A hostile file can then crash, exhaust or hang only this process.

Operations:

- ``inspect`` (PDF): every object qpdf finds (through the cross-reference tables, inside object
  streams, names with #xx escapes decoded), every stream decoded through its whole filter
  chain and searched again, for active content: scripts, actions that open programs, addresses
  or other files, forms that send data, XFA forms, attached files, multimedia.
- ``render`` (PDF, JPEG, PNG): each page as a PNG image, at most ``max_pages`` pages of at most
  ``max_page_pixels`` pixels each (pdfium, forms and scripts never initialised).

Standard output: one line of JSON (the header), then the PNG images back to back, whose
lengths the header lists. Exit status 0 whenever a header was written.
"""

from __future__ import annotations

import io
import json
import math
import re
import resource
import sys

# Action types (PDF 32000-1, 12.6.4) other than GoTo (a jump inside the document itself).
ACTIVE_ACTIONS = frozenset(
    {
        "GoToR", "GoToE", "GoToDp", "Launch", "Thread", "URI", "Sound", "Movie", "Hide",
        "Named", "SubmitForm", "ResetForm", "ImportData", "SetOCGState", "Rendition", "Trans",
        "GoTo3DView", "JavaScript", "RichMediaExecute",
    }
)  # fmt: skip
# Names that make a document active, wherever they appear (key or value), by what they mean.
DANGEROUS_NAMES = {
    "JS": "javascript",
    "JavaScript": "javascript",
    "Launch": "launch",
    "EmbeddedFile": "embedded",
    "EmbeddedFiles": "embedded",
    "FileAttachment": "embedded",
    "GoToE": "embedded",
    "URI": "active",
    "SubmitForm": "active",
    "ImportData": "active",
    "GoToR": "active",
    "XFA": "active",
    "AA": "active",
    "RichMedia": "active",
    "RichMediaContent": "active",
    "RichMediaExecute": "active",
    "Sound": "active",
    "Movie": "active",
    "Rendition": "active",
    "Screen": "active",
    "3D": "active",
}
_ESCAPED = re.compile(rb"#([0-9A-Fa-f]{2})")
# A name in PDF syntax: a slash, then regular characters (escapes included).
_NAME_TOKEN = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]+)")
# Streams of pixels or font programs: binary, never PDF syntax (random bytes could pass for a
# name there).
_BINARY_SUBTYPES = frozenset({"/Image", "/Type1C", "/CIDFontType0C", "/OpenType"})
_FONT_LENGTHS = ("/Length1", "/Length2", "/Length3")


def apply_limits(limits: dict) -> None:
    memory = int(limits["memory_bytes"])
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def applied_limits() -> dict:
    """What the kernel enforces on this process (the tests read it back)."""
    return {
        "RLIMIT_AS": resource.getrlimit(resource.RLIMIT_AS)[0],
        "RLIMIT_CPU": resource.getrlimit(resource.RLIMIT_CPU)[0],
        "RLIMIT_FSIZE": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
    }


class Refused(Exception):
    """The file is refused for ``reason`` ("damaged", "too_complex", "encrypted", ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def names_in_syntax(blob: bytes) -> set[str]:
    """The meanings of the dangerous names written in some PDF syntax (escapes decoded)."""
    found = set()
    for match in _NAME_TOKEN.finditer(blob):
        name = _ESCAPED.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        meaning = DANGEROUS_NAMES.get(name.decode("latin-1"))
        if meaning:
            found.add(meaning)
    return found


def inspect_pdf(data: bytes, limits: dict) -> dict:
    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise Refused("encrypted") from None
    except pikepdf.PdfError:
        raise Refused("damaged") from None
    with pdf:
        if pdf.is_encrypted or "/Encrypt" in pdf.trailer:
            raise Refused("encrypted")
        declared = int(pdf.trailer.get("/Size", 0))
        if declared > limits["max_objects"]:
            raise Refused("too_complex")
        pages = len(pdf.pages)
        if pages == 0:
            raise Refused("damaged")
        if pages > limits["max_pages"]:
            raise Refused("too_many_pages")
        found: set[str] = set()
        unpacked = 0
        for count, obj in enumerate(pdf.objects, 1):
            if count > limits["max_objects"]:
                raise Refused("too_complex")
            found |= _findings_of_object(obj)
            if isinstance(obj, pikepdf.Stream):
                content = _stream_syntax(obj)
                if content is not None:
                    unpacked += len(content)
                    if unpacked > limits["max_unpacked_bytes"]:
                        raise Refused("too_complex")
                    found |= names_in_syntax(content)
        return {"findings": sorted(found), "pages": pages}


def _findings_of_object(obj: object) -> set[str]:
    """Dangerous names among the keys and values of one object, nested containers included
    (qpdf has already decoded #xx escapes), and action dictionaries of any active type."""
    import pikepdf

    found: set[str] = set()
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, pikepdf.Name):
            meaning = DANGEROUS_NAMES.get(str(item)[1:])
            if meaning:
                found.add(meaning)
        elif isinstance(item, (pikepdf.Dictionary, pikepdf.Stream)):
            for key in list(item.keys()):
                meaning = DANGEROUS_NAMES.get(key[1:])
                if meaning:
                    found.add(meaning)
                value = item.get(key)
                if isinstance(value, pikepdf.Object) and value.is_indirect:
                    if isinstance(value, pikepdf.Name):
                        pending.append(value)
                    continue  # indirect objects are visited on their own
                action = str(value)[1:] if isinstance(value, pikepdf.Name) else ""
                if key == "/S" and action in ACTIVE_ACTIONS:
                    found.add(DANGEROUS_NAMES.get(action, "active"))
                pending.append(value)
        elif isinstance(item, pikepdf.Array):
            for value in item:
                if isinstance(value, pikepdf.Object) and value.is_indirect:
                    continue
                pending.append(value)
    return found


def _stream_syntax(stream: object) -> bytes | None:
    """A stream's decoded content when it may hold PDF syntax (object streams, content
    streams, anything not pixels or a font program); None otherwise."""
    import pikepdf

    if str(stream.get("/Subtype", "")) in _BINARY_SUBTYPES or stream.get("/Type") == "/XRef":
        return None
    if any(key in stream for key in _FONT_LENGTHS):
        return None
    try:
        return stream.read_bytes()
    except pikepdf.PdfError:
        # A filter qpdf cannot undo (images only, in sound files): its raw bytes are searched.
        return stream.read_raw_bytes()


def render(data: bytes, limits: dict) -> dict:
    """PNG images of the pages; the header's "pages" lists their sizes."""
    if data.startswith(b"%PDF"):
        images = _render_pdf(data, limits)
    else:
        images = [_render_image(data, limits)]
    return {"pages": [len(image) for image in images]}, images


def _scale(width: float, height: float, limits: dict, dpi: float) -> float:
    area = max(width * height, 1.0)
    scale = min(dpi, math.sqrt(limits["max_page_pixels"] / area))
    # The renderer rounds each side up.
    while (
        scale > 0.01
        and math.ceil(width * scale) * math.ceil(height * scale) > limits["max_page_pixels"]
    ):
        scale *= 0.99
    return scale


def _render_pdf(data: bytes, limits: dict) -> list[bytes]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise Refused("damaged") from None
    images = []
    try:
        if len(document) == 0:
            raise Refused("damaged")
        for index in range(min(len(document), limits["max_pages"])):
            page = document[index]
            width, height = page.get_size()
            scale = _scale(width, height, limits, 150 / 72)
            bitmap = page.render(scale=scale, may_draw_forms=False)
            images.append(_png(bitmap.to_pil()))
            page.close()
            if sum(len(image) for image in images) > limits["max_output_bytes"]:
                raise Refused("too_complex")
    finally:
        document.close()
    return images


def _render_image(data: bytes, limits: dict) -> bytes:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = limits["max_image_pixels"]
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as image:
            if image.width * image.height > limits["max_image_pixels"]:
                raise Refused("too_complex")
            image = ImageOps.exif_transpose(image)  # phones store photos sideways
            scale = min(1.0, _scale(image.width, image.height, limits, 1.0))
            if scale < 1.0:
                size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
                image = image.resize(size)
            return _png(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise Refused("damaged") from None


def _png(image: object) -> bytes:
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def main(argv: list[str]) -> int:
    operation, limits = argv[1], json.loads(argv[2])
    apply_limits(limits)
    data = sys.stdin.buffer.read()
    images: list[bytes] = []
    try:
        if operation == "inspect":
            header = inspect_pdf(data, limits)
        elif operation == "render":
            header, images = render(data, limits)
        else:
            raise SystemExit(f"unknown operation {operation!r}")
        header["ok"] = True
    except Refused as refusal:
        header = {"ok": False, "reason": refusal.reason}
    except (MemoryError, RecursionError):
        header = {"ok": False, "reason": "too_complex"}
    header["limits"] = applied_limits()
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode() + b"\n")
    for image in images:
        out.write(image)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
