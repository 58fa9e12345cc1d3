"""Opening uploaded documents in a separate, limited process (document_worker.py).

The web process never parses an uploaded PDF or renders a page itself: a hostile file (a
decompression bomb, 200,000 objects, a parser bug) can only exhaust or crash the child, which
runs with a memory and processor-time limit, no environment (so no keys), no file writing, and
a wall-clock timeout after which it is killed. Whatever goes wrong there is an answer here:
``SandboxRefusal`` with a reason the upload checks turn into a message for the person.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

WORKER = Path(__file__).with_name("document_worker.py")


@dataclass(frozen=True)
class Limits:
    """What one run of the worker may use. The defaults are far above any identity document
    (a few pages, a few hundred objects) and far below what would hurt the server."""

    memory_bytes: int = 768 * 1024 * 1024
    cpu_seconds: int = 20
    wall_seconds: float = 40.0
    max_objects: int = 50_000
    max_pages: int = 50
    # What the streams of a PDF may unpack to, in total, while they are searched.
    max_unpacked_bytes: int = 128 * 1024 * 1024
    # Each page image (A4 at 150 dpi), and an uploaded photo.
    max_page_pixels: int = 2_500_000
    max_image_pixels: int = 40_000_000
    # What the child may send back (all the page images together).
    max_output_bytes: int = 128 * 1024 * 1024


DEFAULT_LIMITS = Limits()
# Reasons a file is refused (the worker's, and the sandbox's own).
DAMAGED, TOO_COMPLEX, TOO_MANY_PAGES, ENCRYPTED = (
    "damaged",
    "too_complex",
    "too_many_pages",
    "encrypted",
)


class SandboxRefusal(Exception):
    """The worker refused the file, or was stopped by its limits; ``reason`` says which."""

    def __init__(self, reason: str, limits: dict[str, int] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # What the child ran with, when it could say (the tests read it).
        self.limits = limits or {}


@dataclass(frozen=True)
class Inspection:
    # "javascript", "launch", "embedded", "active": what the PDF holds that we refuse.
    findings: frozenset[str]
    pages: int
    # The limits the kernel applied to the child, as it read them back.
    limits: dict[str, int]


def run_worker(
    operation: str, data: bytes, limits: Limits = DEFAULT_LIMITS
) -> tuple[dict[str, Any], bytes]:
    """The worker's header and what followed it; ``SandboxRefusal`` when it refused the file
    or did not finish within its limits."""
    returncode, output = _run(
        [sys.executable, "-I", str(WORKER), operation, json.dumps(asdict(limits))], data, limits
    )
    line, _, rest = output.partition(b"\n")
    try:
        header = json.loads(line) if returncode == 0 else None
    except ValueError:
        header = None
    if not isinstance(header, dict):
        # Killed by a limit (SIGXCPU, SIGKILL), or crashed in a parser: too much to check.
        raise SandboxRefusal(TOO_COMPLEX)
    if not header.get("ok"):
        raise SandboxRefusal(str(header.get("reason", DAMAGED)), header.get("limits"))
    return header, rest


def _run(argv: list[str], data: bytes, limits: Limits) -> tuple[int, bytes]:
    """The child's exit status and output. Killed, and refused, once past its wall-clock time
    or once it has written more than ``limits.max_output_bytes``: even a child taken over by a
    hostile file cannot make this process wait or grow."""
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        # Nothing of ours: no keys, no database address, no settings.
        env={"PATH": os.defpath, "LC_ALL": "C.UTF-8"},
        close_fds=True,
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    feeder = threading.Thread(target=_feed, args=(process.stdin, data), daemon=True)
    feeder.start()
    deadline = time.monotonic() + limits.wall_seconds
    chunks: list[bytes] = []
    size = 0
    try:
        descriptor = process.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxRefusal(TOO_COMPLEX)
            ready, _, _ = select.select([descriptor], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(descriptor, 1024 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limits.max_output_bytes:
                raise SandboxRefusal(TOO_COMPLEX)
            chunks.append(chunk)
        returncode = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except (SandboxRefusal, subprocess.TimeoutExpired):
        process.kill()
        process.wait()
        raise SandboxRefusal(TOO_COMPLEX) from None
    finally:
        feeder.join()
        process.stdout.close()
    return returncode, b"".join(chunks)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except OSError:
        pass  # the child stopped reading: its answer (or its end) says why
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def inspect_pdf(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Inspection:
    """What active content a PDF holds, wherever it sits (see document_worker.py)."""
    header, _rest = run_worker("inspect", data, limits)
    return Inspection(
        findings=frozenset(header["findings"]), pages=int(header["pages"]), limits=header["limits"]
    )


def render_pages(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[bytes]:
    """Each page of a PDF (or the image of a JPEG or PNG) as a PNG image, rendered by the
    worker; at most ``limits.max_pages`` pages."""
    header, rest = run_worker("render", data, limits)
    images, position = [], 0
    for size in header["pages"]:
        images.append(rest[position : position + size])
        position += size
    if position != len(rest) or not images:
        raise SandboxRefusal(DAMAGED)
    return images


def limits_with(**changes: Any) -> Limits:
    return replace(DEFAULT_LIMITS, **changes)
