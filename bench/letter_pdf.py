"""Time of a one-page letter PDF, as a ratio to WeasyPrint rendering a bare one-page document.

Budget (DESIGN.md): at most 1.5x. The letter is an acknowledgement rendered through the real code
path (letters.services.preview_letter: fields checked, Jinja template in the request's language,
letterhead, print stylesheet, page numbers, the one PDF function with its local-only URL fetcher).
The bare document holds the same words, one <p> per line of the letter, with no stylesheet at
all, rendered by WeasyPrint directly: the ratio is what the letter's code path and layout add to
WeasyPrint's own cost for a page of that text. Both are rendered alternately in the same process
(after a warm-up), and the median of the per-round ratios is compared with the budget. For
reference the script also prints the time of a page holding only "Hello".

    python bench/letter_pdf.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGET = 1.5
WARM_UP = 5
BLOCK_TAGS = frozenset({"p", "div", "header", "footer", "li", "blockquote", "br", "h1", "h2"})


class _Words(HTMLParser):
    """The text of an HTML body, one entry per block (what a bare document would hold)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._in_body = False
        self._skip = 0

    def _flush(self) -> None:
        text = " ".join("".join(self._current).split())
        if text:
            self.blocks.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "body":
            self._in_body = True
        elif tag in ("style", "title"):
            self._skip += 1
        if tag in BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1
        if tag in BLOCK_TAGS or tag == "body":
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_body and not self._skip:
            self._current.append(data)


def bare_document(letter_html: str) -> str:
    parser = _Words()
    parser.feed(letter_html)
    parser.close()
    paragraphs = "".join(f"<p>{escape(block)}</p>" for block in parser.blocks)
    return f"<!doctype html><html><body>{paragraphs}</body></html>"


def pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def timed(render: Callable[[], bytes]) -> float:
    start = time.perf_counter()
    render()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    arguments = parser.parse_args()

    os.environ.setdefault("PC_ENV", "development")
    from weasyprint import HTML

    from privacy_center import create_app
    from privacy_center.letters.services import preview_letter, render_letter_html
    from privacy_center.models import PrivacyRequest

    # Nothing is read from or written to a database: the letter is previewed, never stored.
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    today = date(2026, 11, 26)
    request = PrivacyRequest(
        reference="PC-7K4M-9Q2X",
        kind="access",
        state="in_progress",
        language="fr",
        email="camille.martin@example.org",
        requester_name="Camille Martin",
        received_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        clock_started_on=date(2026, 11, 25),
        status_token_hash="0" * 64,
    )
    request.transitions = []

    with app.app_context():
        _, _, letter_html = render_letter_html(request, "acknowledgement", {}, today=today)
        bare = bare_document(letter_html)

        def letter() -> bytes:
            return preview_letter(None, request, "acknowledgement", {}, today=today)

        def bare_page() -> bytes:
            return HTML(string=bare).write_pdf()

        def hello_page() -> bytes:
            return HTML(string="<!doctype html><html><body><p>Hello</p></body></html>").write_pdf()

        letter_pages, bare_pages = pages(letter()), pages(bare_page())
        if letter_pages != 1 or bare_pages != 1:
            raise SystemExit(f"expected one page each, got {letter_pages} and {bare_pages}")
        for _ in range(WARM_UP):
            letter(), bare_page(), hello_page()
        letter_times, bare_times, hello_times, ratios = [], [], [], []
        for round_number in range(arguments.rounds):
            # Alternate which goes first, so that neither always runs on a warmer cache.
            if round_number % 2:
                bare_time, letter_time = timed(bare_page), timed(letter)
            else:
                letter_time, bare_time = timed(letter), timed(bare_page)
            letter_times.append(letter_time)
            bare_times.append(bare_time)
            hello_times.append(timed(hello_page))
            ratios.append(letter_time / bare_time)

    ratio = statistics.median(ratios)
    passed = ratio <= BUDGET
    print(
        f"acknowledgement letter: median {statistics.median(letter_times) * 1000:.1f} ms; "
        f"bare one-page document with the same words: {statistics.median(bare_times) * 1000:.1f}"
        f" ms; a page holding only 'Hello': {statistics.median(hello_times) * 1000:.1f} ms "
        f"({arguments.rounds} alternated rounds)"
    )
    verdict = "PASS" if passed else "FAIL"
    print(f"median ratio letter / bare: {ratio:.2f} (budget {BUDGET}): {verdict}")
    print(json.dumps({"budget": f"letter PDF / bare page <= {BUDGET}",
                      "figure": f"{ratio:.2f}x", "pass": passed}))  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
