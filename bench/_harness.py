"""Shared by the benchmarks: start gunicorn, wait for it, drive it with wrk (loopback only)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
GUNICORN_SETTINGS = [
    "--workers", "2", "--threads", "8", "--worker-class", "gthread", "--log-level", "warning",
]  # fmt: skip


# What the server's background thread runs (policy.views.prerender_pdfs), run to its end.
PRERENDER_PDFS = (
    "from wsgi import app; from privacy_center.policy.views import prerender_pdfs; "
    "list(prerender_pdfs(app))"
)


def production_env(database_url: str, instance: str) -> dict[str, str]:
    """The settings production refuses to start without, with throw-away secrets."""
    key = "A" * 43 + "="  # URL-safe base64 of 32 bytes
    return {
        "PC_ENV": "production",
        "SECRET_KEY": "bench-" + "k" * 40,
        "TRUSTED_HOSTS": "127.0.0.1",
        "PC_IDENTITY_DOCUMENT_KEY": key,
        "PC_IDENTITY_DOCUMENT_DIR": f"{instance}/identity-documents",
        "PC_EXPORT_KEY": key,
        "PC_AUDIT_KEY": key,
        "PC_AUDIT_CHECKPOINT_FILE": f"{instance}/audit-checkpoints.jsonl",
        "PC_EXPORT_DIR": f"{instance}/exports",
        "DATABASE_URL": database_url,
    }


def demo_center_env(database_url: str, instance: str) -> dict[str, str]:
    """The production settings on a migrated database holding the demo operator, with the
    consent rate limit lifted (the guard against one abusive address: this load comes from one
    address), and the policy's PDFs already made.

    A server makes the PDFs it lacks in a background thread of one worker after its first
    request: minutes of CPU, and of that worker's interpreter lock, once per deployment or
    published change. They are made here first, into the PDF folder the server reads (kept
    between runs), so that what is measured is the steady state, not that one-off.
    """
    env = {
        **os.environ,
        **production_env(database_url, instance),
        "CONSENT_RATE_LIMIT": "100000000 per minute",
    }
    # A throw-away database under the production settings: the demo seed is asked for on purpose.
    for command in (["db", "upgrade"], ["demo", "seed", "--allow-production"]):
        subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "wsgi", *command],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
    subprocess.run([str(VENV_BIN / "python"), "-c", PRERENDER_PDFS], cwd=ROOT, env=env, check=True)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(app: str, env: dict[str, str], cwd: Path = ROOT) -> Iterator[str]:
    """Serve ``app`` (module:variable) with gunicorn on a free loopback port."""
    with gunicorn_process(app, env, cwd) as (base, _process):
        yield base


@contextmanager
def gunicorn_process(
    app: str, env: dict[str, str], cwd: Path = ROOT, extra: list[str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like :func:`gunicorn`, also giving the master process (to find its workers, or to stop
    it gracefully before counting what it stored). Stopped with SIGTERM (gunicorn's graceful
    shutdown: requests under way finish), killed if it does not stop in time."""
    port = free_port()
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), *GUNICORN_SETTINGS, *(extra or []),
         "--bind", f"127.0.0.1:{port}", app],
        cwd=cwd,
        env={**os.environ, **env},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start for {app}") from None
                time.sleep(0.2)
        yield base, process
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop gunicorn gracefully (SIGTERM), or kill it when it does not stop in time."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (gunicorn's workers), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(item) for item in task.read_text().split()]
        except OSError:
            continue
    return sorted(set(found))


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MB (VmRSS of /proc/<pid>/status), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def wrk(
    url: str,
    seconds: int,
    connections: int = 16,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
) -> dict:
    """Requests per second and non-2xx/3xx answers of one bounded wrk run against loopback."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("benchmarks only target the loopback interface")
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {"rps": rate, "bad_status": int(errors.group(1)) if errors else 0, "raw": output}


def warm(url: str, times: int = 50, headers: dict[str, str] | None = None) -> None:
    for _ in range(times):
        request = urllib.request.Request(url, headers=headers or {})
        urllib.request.urlopen(request, timeout=10).close()
