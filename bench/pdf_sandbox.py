"""Hostile PDFs against the upload check: the parsing happens in the sandbox's child process.

A 10 MB PDF of 200,000 objects (once with an honest trailer, once with one that lies about the
count, so that the child has to count them) goes through ``check_identity_document``: it must
be refused as too complex, within the child's limits, while this process's peak memory does
not grow by more than 32 MB (it used to parse it in-process: seconds and 250 MB). A clean
three-page PDF is then rendered to page images. Prints one JSON row per budget.

    python bench/pdf_sandbox.py
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import pikepdf
from flask import Flask
from flask_babel import Babel
from hostile_pdfs import many_objects

from privacy_center.document_sandbox import DEFAULT_LIMITS, render_pages
from privacy_center.uploads.checks import check_identity_document
from privacy_center.uploads.refusals import RejectedUpload


def clean_pdf(pages: int) -> bytes:
    pdf = pikepdf.new()
    for number in range(pages):
        page = pdf.add_blank_page(page_size=(595, 842))
        page.Contents = pdf.make_stream(b"0 0 1 rg %d 100 200 300 re f" % (50 + 40 * number))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    app = Flask(__name__)
    Babel(app)
    honest = many_objects()
    lying = honest.replace(b"/Size 200004 ", b"/Size 4 ")
    rows = []
    with app.test_request_context():
        for name, data in (("honest trailer", honest), ("lying trailer", lying)):
            before = peak_mb()
            began = time.monotonic()
            try:
                check_identity_document("scan.pdf", data)
                refused = ""
            except RejectedUpload as error:
                refused = str(error)
            seconds = time.monotonic() - began
            grown = peak_mb() - before
            rows.append(
                {
                    "budget": f"200,000 objects ({name}, {len(data) / 1e6:.1f} MB): refused, "
                    f"parent +<32 MB, under the {DEFAULT_LIMITS.wall_seconds:.0f} s limit",
                    "figure": f"{seconds:.2f} s, parent +{grown:.1f} MB",
                    "pass": "too complex" in refused
                    and grown < 32
                    and seconds < DEFAULT_LIMITS.wall_seconds,
                }
            )
    began = time.monotonic()
    pages = render_pages(clean_pdf(3))
    seconds = time.monotonic() - began
    rows.append(
        {
            "budget": "clean 3-page PDF rendered to PNG pages in under 10 s",
            "figure": f"{len(pages)} pages in {seconds:.2f} s",
            "pass": len(pages) == 3 and seconds < 10,
        }
    )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
