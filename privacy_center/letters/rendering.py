"""The one PDF function of the project.

WeasyPrint may only read the application's own static files (stylesheets, fonts, images) and
``data:`` URLs. Every other URL, remote ones above all, is refused: a letter never sends a request
to a third party and never depends on the network.

Every PDF it makes is PDF/A-3a: archival (fonts embedded, sRGB output intent, XMP metadata) and
tagged (structure tree, document language, title shown as the window title, links described).
The document gives its metadata in its ``<head>``: ``<html lang>``, ``<title>``, ``<meta
name=author>`` (the operator), ``<meta name=description>`` (the subject) and, optionally,
``<meta name=dcterms.created>`` (the moment of rendering otherwise).
"""

from __future__ import annotations

import io
import mimetypes
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

import pydyf
from weasyprint import CSS, HTML
from weasyprint import Attachment as WeasyAttachment
from weasyprint.css import ColorProfile
from weasyprint.pdf.metadata import DocumentMetadata
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from ..config import STATIC_DIR


class LocalOnlyURLFetcher(URLFetcher):
    """Serves ``data:`` URLs and files under the static folder; refuses everything else."""

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme == "data":
            return super().fetch(url, headers)
        if parts.scheme == "file":
            path = Path(unquote(parts.path)).resolve()
            if path.is_relative_to(STATIC_DIR) and path.is_file():
                media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(
                    path.as_uri(), path.read_bytes(), headers={"Content-Type": media_type}
                )
        # WeasyPrint logs the refusal and renders the document without the resource.
        raise ValueError(f"refused to fetch {url!r}: only the application's own files are used")


@lru_cache(maxsize=32)
def _parsed_stylesheet(path: Path, modified_ns: int) -> CSS:
    """A static stylesheet parsed once per version of the file (its modification time is part
    of the key): letters reuse it instead of parsing it again for every PDF."""
    del modified_ns
    return CSS(
        string=path.read_text(encoding="utf-8"),
        base_url=path.as_uri(),
        url_fetcher=LocalOnlyURLFetcher(),
    )


def _stylesheet(name: str) -> CSS:
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise ValueError(f"{name!r} is not a stylesheet of the static folder")
    return _parsed_stylesheet(path, path.stat().st_mtime_ns)


_thread_fonts = threading.local()


def _font_configuration() -> FontConfiguration:
    """This thread's font configuration, made once: making one loads Fontconfig's configuration
    and opens the system fonts again (about 10 ms, a tenth of a one-page letter). Pango's font
    map is not thread-safe, hence one per thread. The documents use system fonts only (no
    @font-face), so nothing accumulates in it from one document to the next."""
    fonts = getattr(_thread_fonts, "configuration", None)
    if fonts is None:
        fonts = _thread_fonts.configuration = FontConfiguration()
    return fonts


# Archival and tagged; a document can also claim PDF/UA-1 (``accessible=True``): both are PDF 1.7.
PDF_VARIANT = "pdf/a-3a"

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
# PDF/A only admits the XMP schemas it predefines, or ones the file declares: pdfuaid is not
# predefined, so a file that claims PDF/UA-1 declares it (ISO 14289-1, 5).
_PDFUA_PARTS = f"""<rdf:Description xmlns:rdf="{_RDF}" rdf:about=""
 xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
 xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
 xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
<pdfaProperty:name>part</pdfaProperty:name>
<pdfaProperty:valueType>Integer</pdfaProperty:valueType>
<pdfaProperty:category>internal</pdfaProperty:category>
<pdfaProperty:description>Part of ISO 14289 the file follows</pdfaProperty:description>
</rdf:li></rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>
<rdf:Description xmlns:rdf="{_RDF}" rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/">
<pdfuaid:part>1</pdfuaid:part>
</rdf:Description>"""


class _ArchivalMetadata(DocumentMetadata):
    """WeasyPrint's XMP, plus the document's language (dc:language) and, for an accessible
    document, the PDF/UA-1 claim."""

    accessible = False

    def generate_rdf_metadata(self, variant, version, conformance):  # type: ignore[override]
        rdf = super().generate_rdf_metadata(variant, version, conformance)
        extra = ""
        if self.lang:
            language = escape(self.lang)
            extra += (
                f'<rdf:Description xmlns:rdf="{_RDF}" rdf:about="" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:language><rdf:Bag><rdf:li>{language}</rdf:li></rdf:Bag></dc:language>"
                "</rdf:Description>"
            )
        if self.accessible:
            extra += _PDFUA_PARTS
        closing = rdf.rindex(b"</rdf:RDF>")
        return rdf[:closing] + extra.encode() + rdf[closing:]


@dataclass(frozen=True)
class Attachment:
    """A file embedded in a PDF as an associated file (PDF/A-3), e.g. the data a summary shows.

    ``relationship`` is the file's relation to the document (ISO 32000-2, 7.11.3): ``Data``
    for the data the document presents, ``Supplement`` for what helps read it, ``Source``..."""

    name: str
    content: bytes
    description: str
    relationship: str = "Data"


def _finish(document, pdf) -> None:
    """Gives every link annotation the words of its link (and where it goes) as its
    description: WeasyPrint describes a link by its bare URL, which a screen reader spells out.
    Lists each associated file once (WeasyPrint 70 lists them twice in the catalog's /AF)."""
    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))
    for page in document.pages:
        for box in page._page_box.descendants():
            annotation = getattr(box, "link_annotation", None)
            if annotation is None or box.element is None:
                continue
            words = " ".join("".join(box.element.itertext()).split())
            label = box.element.get("aria-label") or box.element.get("title") or words
            # An external link also says where it goes; an internal one is its words.
            action = annotation.get("A")
            target = action["URI"].string if action is not None else ""
            if target and target not in label:
                label = f"{label} ({target})" if label else target
            annotation["Contents"] = pydyf.String(label)


# The output intent. WeasyPrint's own "srgb" opens its ICC file on every PDF and never closes it:
# the profile is read once here, and given under another name.
_OUTPUT_INTENT = "archival-srgb"


@lru_cache(maxsize=1)
def _srgb_profile() -> bytes:
    return (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()


def _color_profiles() -> dict[str, ColorProfile]:
    # A new one per document: WeasyPrint writes the profile's PDF reference into it.
    profile = ColorProfile(
        io.BytesIO(_srgb_profile()), "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"])
    )
    return {_OUTPUT_INTENT: profile}


def _now_w3c() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def render_pdf(
    html: str,
    *,
    stylesheets: Sequence[str] = (),
    attachments: Sequence[Attachment] = (),
    accessible: bool = False,
) -> bytes:
    """Render an HTML document to a PDF/A-3a file; relative URLs resolve inside the static folder.

    ``stylesheets`` are static files (``"css/letter.css"``), parsed once and reused across
    renders; they apply as user stylesheets (the document's own ``<style>`` wins a conflict).
    ``attachments`` are embedded as associated files. ``accessible`` also claims PDF/UA-1 (the
    document must then be fit for it: headings in order, every image described).
    """
    fetcher = LocalOnlyURLFetcher()
    document = HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=fetcher).render(
        stylesheets=[_stylesheet(name) for name in stylesheets],
        font_config=_font_configuration(),
        color_profiles=_color_profiles(),
        pdf_variant=PDF_VARIANT,
        output_intent=_OUTPUT_INTENT,
    )
    metadata = _ArchivalMetadata(**vars(document.metadata))
    metadata.accessible = accessible
    metadata.created = metadata.created or _now_w3c()
    document.metadata = metadata
    return document.write_pdf(
        pdf_variant=PDF_VARIANT,
        output_intent=_OUTPUT_INTENT,
        finisher=_finish,
        attachments=[
            WeasyAttachment(
                file_obj=io.BytesIO(item.content),
                url_fetcher=fetcher,
                name=item.name,
                description=item.description,
                relationship=item.relationship,
            )
            for item in attachments
        ],
    )
