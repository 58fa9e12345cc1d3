"""What a PDF/A-3a (and PDF/UA-1) validator checks that can be read from the file with pikepdf,
and the text as pdftotext (poppler-utils) extracts it. veraPDF, the full validator, is not in
the registries the project installs from (PyPI, Debian, npm): README, "Archival PDFs"."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pikepdf


@dataclass
class Checked:
    """What the checks read from the file, for the caller's own assertions."""

    pdf: pikepdf.Pdf
    structure: list[str] = field(default_factory=list)  # struct element types, in tree order
    outline: list[str] = field(default_factory=list)  # bookmark titles, depth first
    links: list[str] = field(default_factory=list)  # link annotations' descriptions


def _struct_types(element: pikepdf.Object, seen: set[tuple[int, int]]) -> Iterator[str]:
    if not isinstance(element, pikepdf.Dictionary):
        return
    if element.is_indirect:
        if element.objgen in seen:
            return
        seen.add(element.objgen)
    if element.get("/Type") == "/StructElem" or "/S" in element:
        yield str(element.S)[1:]
    kids = element.get("/K")
    if kids is None:
        return
    for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
        yield from _struct_types(kid, seen)


def _outline_titles(items: Iterator) -> Iterator[str]:
    for item in items:
        yield str(item.title)
        yield from _outline_titles(item.children)


def _fonts(resources: pikepdf.Object, seen: set[tuple[int, int]]) -> Iterator[pikepdf.Object]:
    if not isinstance(resources, pikepdf.Dictionary):
        return
    yield from (resources.get("/Font") or {}).values()
    for xobject in (resources.get("/XObject") or {}).values():
        if xobject.objgen in seen:
            continue
        seen.add(xobject.objgen)
        yield from _fonts(xobject.get("/Resources"), seen)


def _font_is_embedded(font: pikepdf.Object) -> bool:
    if font.Subtype == "/Type3":
        return True  # its glyphs are drawn by the file's own procedures
    described = font.DescendantFonts[0] if font.Subtype == "/Type0" else font
    descriptor = described.get("/FontDescriptor")
    return descriptor is not None and any(
        key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
    )


def _parent_tree(root: pikepdf.Object) -> dict[int, pikepdf.Object]:
    numbers = root.StructTreeRoot.ParentTree.Nums
    return {int(numbers[i]): numbers[i + 1] for i in range(0, len(numbers), 2)}


def check_archival(
    data: bytes, *, lang: str, title: str, author: str, accessible: bool = False
) -> Checked:
    """Asserts the properties of a PDF/A-3a file (and of PDF/UA-1 if ``accessible``)."""
    pdf = pikepdf.open(io.BytesIO(data))
    root = pdf.Root
    checked = Checked(pdf)
    # Tagged, in a language, its title shown as the window's title.
    assert "/MarkInfo" in root and root.MarkInfo.get("/Marked") is True
    assert "/StructTreeRoot" in root
    assert str(root.get("/Lang")) == lang
    assert "/ViewerPreferences" in root
    assert root.ViewerPreferences.get("/DisplayDocTitle") is True
    # The output intent of PDF/A, with its ICC profile.
    assert "/OutputIntents" in root
    (intent,) = root.OutputIntents
    assert intent.S == "/GTS_PDFA1"
    assert len(intent.DestOutputProfile.read_bytes()) > 0
    # XMP metadata: the claims, and the document's own description.
    meta = pdf.open_metadata()
    assert meta.get("pdfaid:part") == "3"
    assert meta.get("pdfaid:conformance") == "A"
    assert meta.get("pdfuaid:part") == ("1" if accessible else None)
    assert meta.get("dc:title") == title
    assert meta.get("dc:creator") == [author]
    assert meta.get("dc:description")
    assert meta.get("dc:language") == {lang}
    assert meta.get("xmp:CreateDate")
    # PDF/A: the document information agrees with the XMP.
    assert str(pdf.docinfo["/Title"]) == title
    assert str(pdf.docinfo["/Author"]) == author
    assert str(pdf.docinfo["/Subject"]) == meta.get("dc:description")
    # Every font embedded.
    seen: set[tuple[int, int]] = set()
    fonts = [font for page in pdf.pages for font in _fonts(page.Resources, seen)]
    assert fonts
    for font in fonts:
        assert _font_is_embedded(font), font.get("/BaseFont")
    # Every link annotation described, and in the structure tree as a Link.
    parents = _parent_tree(root)
    for page in pdf.pages:
        for annotation in page.get("/Annots") or []:
            if annotation.Subtype != "/Link":
                continue
            description = str(annotation.get("/Contents", "")).strip()
            assert description, annotation
            assert parents[int(annotation.StructParent)].S == "/Link"
            checked.links.append(description)
    checked.structure = list(_struct_types(root.StructTreeRoot, set()))
    assert checked.structure[0] == "Document"
    with pdf.open_outline() as outline:
        checked.outline = list(_outline_titles(outline.root))
    return checked


def pdftotext(data: bytes) -> str:
    """The text in reading order, as poppler's pdftotext gives it, whitespace collapsed."""
    command = shutil.which("pdftotext")
    assert command, "pdftotext is missing: install poppler-utils (make system-test does)"
    result = subprocess.run(
        [command, "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    )
    return " ".join(result.stdout.decode().split())


def assert_in_order(text: str, parts: list[str]) -> None:
    """Each of ``parts`` is in ``text``, after the one before it (whitespace collapsed: no-break
    spaces, as French puts before a colon, come out of pdftotext as spaces)."""
    position = 0
    for part in (" ".join(part.split()) for part in parts):
        found = text.find(part, position)
        assert found >= 0, f"{part!r} missing, or not after {text[:position][-80:]!r}"
        position = found + len(part)
