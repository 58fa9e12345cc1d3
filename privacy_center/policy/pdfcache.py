"""The policy's PDFs, made ahead of time and kept on disk.

Rendering a policy PDF takes one to three seconds; its HTML takes milliseconds. A PDF is kept in
POLICY_PDF_DIR under its version, its language and a digest of everything it is made from (its
HTML, which holds the operator's content, the print stylesheet, the PDF function's code and
WeasyPrint's version): a published change of any of them names another file, and the old one is
deleted when the new one is written. Files are written atomically; several processes may share
the folder. A folder that cannot be written only costs the time of rendering again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

import weasyprint

from ..config import STATIC_DIR
from ..files import write_atomically
from ..letters import rendering

LOGGER = logging.getLogger(__name__)
STYLESHEET = STATIC_DIR / "css" / "print.css"


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """What, besides the HTML, makes the PDF (read once per process: code and static files
    change with a deployment, which restarts it)."""
    digest = hashlib.sha256(weasyprint.__version__.encode())
    for path in (STYLESHEET, Path(rendering.__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_path(directory: Path, number: int, language: str, html: str) -> Path:
    digest = hashlib.sha256((_code_digest() + html).encode()).hexdigest()[:32]
    return directory / f"policy-v{number}-{language}-{digest}.pdf"


def cached_pdf(
    directory: Path, number: int, language: str, html: str, render: Callable[[str], bytes]
) -> bytes:
    """The PDF of ``html`` (version ``number`` in ``language``), from the folder or rendered
    by ``render`` and kept there."""
    path = cache_path(directory, number, language, html)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as error:
        LOGGER.warning("policy PDF cache: cannot read %s: %s", path, error)
    pdf = render(html)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(path, pdf)
        for stale in directory.glob(f"policy-v{number}-{language}-*.pdf"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as error:
        LOGGER.warning("policy PDF cache: cannot write %s: %s", path, error)
    return pdf


class Prerenderer:
    """Runs ``render_each`` (which makes every policy PDF) once, in a daemon thread started by
    the first call of :meth:`start`: after start-up, never during it, and never in a command."""

    def __init__(self, render_each: Callable[[], Iterable[object]], lock_file: Path) -> None:
        self._render_each = render_each
        self.lock_file = lock_file
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        with self._lock:
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="policy-pdf-prerender", daemon=True
                )
                self.thread.start()
            return self.thread

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            # Requests go first: this thread runs at the lowest priority (Linux: per thread).
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            with self.lock_file.open("a") as lock:
                try:
                    # One process renders; the others' workers read what it writes.
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return
                for _ in self._render_each():
                    pass
        except Exception:
            # The PDFs are then rendered on their first request, as before.
            LOGGER.exception("policy PDF prerendering failed")
