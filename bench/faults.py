"""Fault runs: SIGKILL in the middle of an export, an upload and a retention batch; PostgreSQL
restarted under load. Each scenario prints PASS or FAIL with what it checked.

- export: a copy of a subject with many browsing events is prepared by the job path
  (exports.serving.prepare_export, as an RQ worker runs it) in a child process, killed with
  SIGKILL while it builds the zip (encrypted into a temporary file as it is built), then killed
  again the moment that temporary appears. No incomplete file may be visible (every stored file
  decrypts), no copy may be "ready" without its file; a temporary left by the kill is removed
  by the sweep (flask exports purge / storage sweep); the copy left "running" is marked failed
  by the purge once stale; a new copy asked after the restart completes and decrypts to a
  valid zip.
- upload: a child files requests with an identity document (rights.filing.file_request, the
  service behind the form) in a loop and is killed with SIGKILL at random moments, several
  times. No row may lack its file; a file without a row (killed between the file and the
  commit) is removed by the sweep; filing works again afterwards.
- retention: `flask retention run` over 200,000 old visit rows in batches, killed with SIGKILL
  after some batches; the next run marks it interrupted and finishes. The batches (audit events'
  id ranges) of both runs do not overlap, their counts add up to the old rows, nothing old is
  left and every recent row is kept.
- postgresql-restart: a private PostgreSQL cluster (initdb in a temporary folder, its own port;
  the shared server is never touched) serves gunicorn while clients post receipts; the cluster
  is stopped (fast), left down 3 s, started. While down, answers are 5xx (503 from the receipts
  API) within the client's timeout and no worker dies; after, receipts succeed again within a
  few seconds; every receipt acknowledged with a 2xx is in the database.

Everything (processes, clusters, databases, folders) is removed at the end, also on failure.

    python bench/faults.py [--only export upload retention postgresql-restart]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, VENV_BIN, children, free_port, gunicorn_process, production_env

EXPORT_ROWS = 150_000
RETENTION_ROWS = 200_000
RETENTION_RECENT = 10_000
RETENTION_BATCH = 2_000
CLIENT_TIMEOUT = 10.0


# --- shared helpers -----------------------------------------------------------------------------


@contextmanager
def scratch_database(folder: str) -> Iterator[str]:
    """A throw-away database on the shared PostgreSQL server, migrated."""
    from consent_throughput import database

    with database("postgresql", folder) as url:
        # The parent loads the application too (seeding, checks): same settings as the children.
        os.environ.update(production_env(url, folder))
        flask("db", "upgrade", env=app_env(url, folder))
        yield url


def app_env(url: str, folder: str, **extra: str) -> dict[str, str]:
    return {**os.environ, **production_env(url, folder), **extra}


def flask(*command: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *command],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(command)} failed: {result.stderr[-2000:]}")
    return result.stdout


def child(name: str, env: dict[str, str], *args: str) -> subprocess.Popen:
    """This script in a child process, running one side of a scenario."""
    return subprocess.Popen(
        [sys.executable, __file__, "--child", name, *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def in_app(url: str) -> Any:
    from privacy_center import create_app

    return create_app(overrides={"SQLALCHEMY_DATABASE_URI": url})


def check(lines: list[str], label: str, passed: bool) -> bool:
    lines.append(f"  [{'ok' if passed else 'FAILED'}] {label}")
    return passed


# --- SIGKILL during an export -------------------------------------------------------------------


def child_export(account_id: str) -> None:
    """Ask for a copy and prepare it by the job path (as a worker does); print its id first."""
    from privacy_center.connectors import get_connectors
    from privacy_center.content import get_content
    from privacy_center.exports.copies import start_export
    from privacy_center.exports.serving import prepare_export
    from privacy_center.extensions import db
    from privacy_center.models import Account

    app = in_app(os.environ["DATABASE_URL"])
    with app.app_context():
        export = start_export(
            db.session, account=db.session.get(Account, int(account_id)), language="fr",
            fee_acknowledged=True, operator=get_content().operator, connectors=get_connectors(),
        )  # fmt: skip
        print(f"EXPORT {export.id}", flush=True)
        prepare_export(export.id, "http://127.0.0.1/")
        print("DONE", flush=True)


def seed_subject(url: str, rows: int) -> int:
    import sqlalchemy as sa
    from export_memory import insert_events

    from privacy_center.extensions import db
    from privacy_center.models import Account

    app = in_app(url)
    with app.app_context():
        account = Account(email="faults@example.org", first_name="Zoé", last_name="Faults")
        db.session.add(account)
        db.session.commit()
        with db.engine.begin() as connection:
            insert_events(connection, account.id, rows, datetime(2025, 1, 1, tzinfo=UTC))
        with db.engine.connect() as connection:
            connection.execute(sa.text("ANALYZE browsing_event"))
        account_id = account.id
        db.engine.dispose()
    return account_id


def export_rows(url: str) -> list[tuple[int, str, str | None]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT id, state, stored_name FROM data_export ORDER BY id")
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def scenario_export(folder: str) -> tuple[bool, str, list[str]]:
    from privacy_center.segmented import read_stored
    from privacy_center.storage import SWEEP_GRACE_SECONDS, sweep_folder
    from privacy_center.uploads.storage import StoredDocumentError, stored_names

    lines: list[str] = []
    ok = True
    with scratch_database(folder) as url:
        env = app_env(url, folder, EXPORT_INLINE_MAX_ROWS="1000")
        directory = Path(folder) / "exports"
        key = in_app(url).config["EXPORT_KEY"]
        account_id = seed_subject(url, EXPORT_ROWS)
        lines.append(f"  seeded one subject with {EXPORT_ROWS:,} browsing events")

        # 1. Killed while it builds the zip (1.5 s after it started running).
        worker = child("export", env, str(account_id))
        assert worker.stdout is not None
        first_line = worker.stdout.readline()
        wait_for(lambda: any(state == "running" for _, state, _ in export_rows(url)), 30)
        time.sleep(1.5)
        kill(worker)
        states = export_rows(url)
        lines.append(f"  killed while building ({first_line.strip()}): copies {states}")

        # 2. Killed while it writes the encrypted file: the moment a temporary appears.
        worker = child("export", env, str(account_id))
        caught = wait_for(
            lambda: (
                any(p.name.endswith(".partial") for p in directory.glob(".*"))
                or worker.poll() is not None
            ),
            180,
            0.002,
        )
        kill(worker)
        temporaries = [p.name for p in directory.glob(".*.partial")] if directory.is_dir() else []
        lines.append(
            f"  killed while writing the file: caught={caught}, temporaries left "
            f"{len(temporaries)}, copies {export_rows(url)}"
        )

        # What a person or a download could see now.
        rows = export_rows(url)
        named = {stored for _, _, stored in rows if stored}
        ok &= check(lines, "no copy 'ready' without its file", all(
            stored and (directory / stored).exists() for _, state, stored in rows
            if state == "ready"
        ))  # fmt: skip
        readable = True
        for name in stored_names(directory):
            try:
                zipfile.ZipFile(io.BytesIO(read_stored(name, directory=directory, key=key)))
            except (StoredDocumentError, zipfile.BadZipFile):
                readable = False
        ok &= check(lines, "every stored (visible) file is complete and decrypts", readable)
        orphans = [name for name in stored_names(directory) if name not in named]
        lines.append(f"  files without a row: {len(orphans)}; temporaries: {len(temporaries)}")

        # The sweep (flask exports purge, on its timer) once the grace period is over.
        report = sweep_folder(directory, named, now=time.time() + SWEEP_GRACE_SECONDS + 1)
        left = [p.name for p in directory.iterdir()] if directory.is_dir() else []
        ok &= check(
            lines,
            f"sweep removed {report.temporaries} temporary and {report.orphans} orphaned "
            "file(s); only named files remain",
            set(left) <= named,
        )

        # The copies left "running" by the kills: failed by the purge once stale.
        from privacy_center.exports.copies import STALE_AFTER, purge_expired_exports
        from privacy_center.extensions import db
        from privacy_center.models.types import utcnow

        app = in_app(url)
        with app.app_context():
            purge_expired_exports(
                db.session, utcnow() + STALE_AFTER + timedelta(minutes=1), export_dir=directory
            )
            db.engine.dispose()
        stuck = [row for row in export_rows(url) if row[1] in ("queued", "running")]
        ok &= check(lines, f"copies left running are failed by the purge after {STALE_AFTER}",
                    not stuck)  # fmt: skip

        # After the restart: a copy asked again completes.
        worker = child("export", env, str(account_id))
        _out, err = worker.communicate(timeout=600)
        last = export_rows(url)[-1]
        complete = worker.returncode == 0 and last[1] == "ready" and last[2] is not None
        if complete:
            archive = zipfile.ZipFile(
                io.BytesIO(read_stored(last[2], directory=directory, key=key))
            )
            complete = archive.testzip() is None and len(archive.namelist()) > 1
        else:
            lines.append(f"  the new copy: {last}, {err[-500:]}")
        ok &= check(lines, "a copy asked again completes and decrypts to a valid zip", complete)
    figure = f"{EXPORT_ROWS:,} rows, killed building and writing; stuck copy failed by purge"
    return ok, figure, lines


# --- SIGKILL during an upload -------------------------------------------------------------------


def document_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    # Noise compresses badly: a file of a few hundred KB, slower to seal and write.
    Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def child_upload(count: str) -> None:
    from privacy_center.extensions import db
    from privacy_center.rights.filing import file_request

    app = in_app(os.environ["DATABASE_URL"])
    data = document_bytes()
    with app.app_context():
        for number in range(int(count)):
            file_request(
                db.session, kind="access", email=f"up-{uuid.uuid4().hex[:12]}@example.org",
                name="Camille Martin", language="fr", details="", specifics={}, account=None,
                document=("id.png", data), today=datetime.now(UTC).date(), settings=app.config,
            )  # fmt: skip
            print(f"FILED {number}", flush=True)


def document_state(url: str, directory: Path) -> tuple[set[str], set[str]]:
    import sqlalchemy as sa

    from privacy_center.uploads.storage import stored_names

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        named = set(
            connection.execute(sa.text("SELECT stored_name FROM identity_document")).scalars()
        )
    engine.dispose()
    return named, set(stored_names(directory))


def scenario_upload(folder: str) -> tuple[bool, str, list[str]]:
    from privacy_center.storage import SWEEP_GRACE_SECONDS, sweep_folder

    lines: list[str] = []
    ok = True
    directory = Path(folder) / "identity-documents"
    kills = 8
    with scratch_database(folder) as url:
        env = app_env(url, folder)
        for _ in range(kills):
            uploader = child("upload", env, "100000")
            assert uploader.stdout is not None
            uploader.stdout.readline()  # the first request is filed: the loop is warm
            time.sleep(random.uniform(0.2, 1.5))
            kill(uploader)
        named, files = document_state(url, directory)
        temporaries = len(list(directory.glob(".*.partial")))
        orphans_before = len(files - named)
        lines.append(
            f"  {kills} kills; {len(named)} documents recorded, {len(files)} files, "
            f"{len(files - named)} without a row, {temporaries} temporaries"
        )
        ok &= check(lines, "no document row without its file", named <= files)
        report = sweep_folder(directory, named, now=time.time() + SWEEP_GRACE_SECONDS + 1)
        named, files = document_state(url, directory)
        ok &= check(
            lines,
            f"sweep removed {report.orphans} orphaned file(s) and {report.temporaries} "
            "temporaries; every file has its row",
            files == named and not list(directory.glob(".*.partial")),
        )
        uploader = child("upload", env, "1")
        uploader.communicate(timeout=120)
        after, _ = document_state(url, directory)
        ok &= check(lines, "filing with a document works after the kills",
                    uploader.returncode == 0 and len(after) == len(named) + 1)  # fmt: skip
    figure = f"{kills} kills, {orphans_before} orphaned file(s) swept, 0 rows without file"
    return ok, figure, lines


# --- SIGKILL during a retention batch -----------------------------------------------------------


def scenario_retention(folder: str) -> tuple[bool, str, list[str]]:
    import sqlalchemy as sa
    from dateutil.relativedelta import relativedelta
    from retention import load_rows

    lines: list[str] = []
    ok = True
    with scratch_database(folder) as url:
        env = app_env(url, folder)
        from privacy_center.extensions import db
        from privacy_center.models import Account

        now = datetime.now(UTC)
        with in_app(url).app_context():
            account = Account(email="ret@example.org", first_name="Zoé", last_name="Faults")
            db.session.add(account)
            db.session.commit()
            with db.engine.begin() as connection:
                load_rows(connection, account.id, RETENTION_ROWS, RETENTION_RECENT, now)
            db.engine.dispose()
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            connection.execute(sa.text("ANALYZE browsing_event"))
        lines.append(f"  loaded {RETENTION_ROWS:,} old and {RETENTION_RECENT:,} recent rows")

        command = [str(VENV_BIN / "flask"), "--app", "wsgi", "retention", "run",
                   "--batch-size", str(RETENTION_BATCH)]  # fmt: skip
        first = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        assert first.stderr is not None
        batches = 0
        for line in first.stderr:
            if "browsing_event" in line and "batch:" in line:
                batches += 1
                if batches == 30:
                    break
        time.sleep(random.uniform(0, 0.2))  # into the next batch, most of the time
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)

        def audited() -> list[tuple[int, int, int, int]]:
            with engine.connect() as connection:
                events = connection.execute(
                    sa.text("SELECT details FROM audit_event WHERE action = 'retention.batch'")
                ).scalars()
                return sorted(
                    (int(d["first_id"]), int(d["last_id"]), int(d["count"]), int(d["run"]))
                    for d in (e if isinstance(e, dict) else json.loads(e) for e in events)
                    if d["table"] == "browsing_event"
                )

        def remaining() -> tuple[int, int]:
            limit = now - relativedelta(months=13)
            with engine.connect() as connection:
                old = connection.execute(
                    sa.text("SELECT count(*) FROM browsing_event WHERE occurred_at <= :limit"),
                    {"limit": limit},
                ).scalar_one()
                total = connection.execute(
                    sa.text("SELECT count(*) FROM browsing_event")
                ).scalar_one()
            return old, total - old

        done_first = sum(item[2] for item in audited())
        old_left, recent_left = remaining()
        lines.append(
            f"  first run killed after {batches} batches seen: {done_first:,} rows in committed "
            f"batches, {old_left:,} old rows left"
        )
        ok &= check(lines, "committed batches stay done, the batch under way rolled back",
                    old_left == RETENTION_ROWS - done_first)  # fmt: skip

        flask("retention", "run", "--batch-size", str(RETENTION_BATCH), env=env)
        with engine.connect() as connection:
            runs = connection.execute(
                sa.text("SELECT id, status FROM retention_run ORDER BY id")
            ).all()
        lines.append(f"  runs: {[tuple(run) for run in runs]}")
        ok &= check(lines, "the killed run is marked interrupted, the next one completed",
                    [run[1] for run in runs] == ["interrupted", "completed"])  # fmt: skip
        ranges = audited()
        overlap = any(ranges[i][1] >= ranges[i + 1][0] for i in range(len(ranges) - 1))
        ok &= check(lines, f"nothing done twice: {len(ranges)} batches, id ranges disjoint",
                    not overlap)  # fmt: skip
        total = sum(item[2] for item in ranges)
        old_left, recent_left = remaining()
        ok &= check(
            lines,
            f"nothing lost: {total:,} deleted in all, old left {old_left}, recent kept "
            f"{recent_left:,}/{RETENTION_RECENT:,}",
            total == RETENTION_ROWS and old_left == 0 and recent_left == RETENTION_RECENT,
        )
        engine.dispose()
    return ok, f"{RETENTION_ROWS:,} rows, killed after {done_first:,}; resumed, no overlap", lines


# --- PostgreSQL restarted under load ------------------------------------------------------------


@contextmanager
def private_cluster(folder: str) -> Iterator[tuple[int, Callable[..., None]]]:
    """A PostgreSQL cluster of our own on a free loopback port; yields (port, pg_ctl)."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        raise RuntimeError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)")
    bindir = binaries[-1].parent
    base = Path(folder) / "cluster"
    base.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        # mkdtemp gives 0700, which would keep the postgres user out (read stays closed).
        os.chmod(folder, 0o711)  # noqa: S103
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, sockets, log = base / "data", base / "sockets", base / "server.log"
    subprocess.run([*as_user, "mkdir", str(sockets)], check=True)
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth", "trust"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=on"

    def pg_ctl(*arguments: str) -> None:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
             "-t", "60", *arguments],
            check=True, capture_output=True,
        )  # fmt: skip

    pg_ctl("-o", options, "start")
    try:
        yield port, lambda *arguments: pg_ctl(*arguments, "-o", options)
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip


def receipt(receipt_id: str) -> bytes:
    return json.dumps(
        {
            "receiptId": receipt_id, "visitorId": str(uuid.uuid4()), "site": "demo",
            "policyVersion": 2, "build": "0123456789ab", "textsHash": "a" * 64,
            "language": "fr", "action": "save", "gpc": False,
            "choices": {"functional": True, "analytics": False, "advertising": False,
                        "personalization": True, "social": False},
        }
    ).encode()  # fmt: skip


def scenario_postgresql_restart(folder: str) -> tuple[bool, str, list[str]]:
    import sqlalchemy as sa

    lines: list[str] = []
    ok = True
    with private_cluster(folder) as (port, pg_ctl):
        admin = sa.create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.execute(sa.text('CREATE DATABASE "pc_faults"'))
        admin.dispose()
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/pc_faults"
        env = app_env(url, folder, CONSENT_RATE_LIMIT="100000000 per minute")
        flask("db", "upgrade", env=env)
        flask("demo", "seed", "--allow-production", env=env)
        results: list[tuple[float, float, int, str]] = []  # (sent at, seconds, status, id)
        lock = threading.Lock()
        with gunicorn_process("wsgi:app", env) as (center, master):
            workers_before = children(master.pid)
            began = time.monotonic()
            stop_at = began + 30
            endpoint = center + "/api/v1/consents"

            def client() -> None:
                while time.monotonic() < stop_at:
                    receipt_id = str(uuid.uuid4())
                    request = urllib.request.Request(
                        endpoint, data=receipt(receipt_id),
                        headers={"Content-Type": "application/json",
                                 "Origin": "http://127.0.0.1:5001"},
                    )  # fmt: skip
                    sent = time.monotonic()
                    try:
                        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as answer:
                            status = answer.status
                    except urllib.error.HTTPError as error:
                        status = error.code
                    except OSError:
                        status = 0  # no answer within the client's timeout, or refused
                    with lock:
                        results.append((sent - began, time.monotonic() - sent, status, receipt_id))
                    if status >= 500 or status == 0:
                        time.sleep(0.1)  # a client retrying after a failure, not a hot loop

            threads = [threading.Thread(target=client) for _ in range(8)]
            for thread in threads:
                thread.start()
            time.sleep(8)
            down_at = time.monotonic() - began
            pg_ctl("-m", "fast", "stop")
            time.sleep(3)
            pg_ctl("start")
            up_at = time.monotonic() - began
            for thread in threads:
                thread.join()
            workers_after = children(master.pid)
            master_alive = master.poll() is None

        engine = sa.create_engine(url)
        with engine.connect() as connection:
            stored = set(
                str(value)
                for value in connection.execute(
                    sa.text("SELECT receipt_id FROM consent_receipt")
                ).scalars()
            )
        engine.dispose()

    acknowledged = [r for r in results if 200 <= r[2] < 300]
    failed = [r for r in results if not 200 <= r[2] < 300]
    statuses = sorted({r[2] for r in failed})
    lines.append(
        f"  {len(results)} posts: {len(acknowledged)} 2xx, {len(failed)} failed (statuses "
        f"{statuses}); PostgreSQL down {down_at:.1f} s to {up_at:.1f} s"
    )
    ok &= check(lines, "failures are clean 5xx answers (none unanswered)",
                all(500 <= r[2] < 600 for r in failed))  # fmt: skip
    slowest = max((r[1] for r in results), default=0.0)
    ok &= check(lines, f"no answer slower than the client's timeout ({slowest:.1f} s at most)",
                slowest < CLIENT_TIMEOUT)  # fmt: skip
    ok &= check(lines, "some posts failed while PostgreSQL was down (the outage was seen)",
                any(down_at - 1 <= r[0] <= up_at + 1 for r in failed))  # fmt: skip
    back = [r[0] + r[1] for r in acknowledged if r[0] > up_at]
    recovery = (min(back) - up_at) if back else float("inf")
    ok &= check(lines, f"receipts succeed again {recovery:.1f} s after PostgreSQL is back "
                "(budget 5 s)", recovery <= 5)  # fmt: skip
    late_failures = [r for r in failed if r[0] > up_at + 5]
    ok &= check(lines, f"no failure from 5 s after the restart on ({len(late_failures)})",
                not late_failures)  # fmt: skip
    ok &= check(lines, f"gunicorn kept its workers ({workers_before} -> {workers_after})",
                master_alive and workers_before == workers_after)  # fmt: skip
    lost = [r[3] for r in acknowledged if r[3] not in stored]
    ok &= check(lines, f"every 2xx receipt is in the database (lost {len(lost)})", not lost)
    figure = (
        f"{len(acknowledged)} 2xx, {len(failed)} 5xx while down, back in {recovery:.1f} s, "
        f"lost {len(lost)}"
    )
    return ok, figure, lines


# --- runner -------------------------------------------------------------------------------------

SCENARIOS: dict[str, tuple[str, Callable[[str], tuple[bool, str, list[str]]]]] = {
    "export": (
        "fault: SIGKILL during an export: no partial file, retried cleanly",
        scenario_export,
    ),
    "upload": (
        "fault: SIGKILL during an upload: no file without row or row without file",
        scenario_upload,
    ),
    "retention": (
        "fault: SIGKILL during a retention batch: resumed, nothing twice or lost",
        scenario_retention,
    ),
    "postgresql-restart": (
        "fault: PostgreSQL restarted under load: clean 5xx, recovers, no 2xx lost",
        scenario_postgresql_restart,
    ),
}
CHILDREN = {"export": child_export, "upload": child_upload}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments, rest = parser.parse_known_args()
    if arguments.child:
        CHILDREN[arguments.child](*rest)
        return 0

    rows = []
    for name in arguments.only or list(SCENARIOS):
        budget, run = SCENARIOS[name]
        print(f"-- {name}", flush=True)
        started = time.monotonic()
        folder = tempfile.mkdtemp(prefix=f"pc-bench-faults-{name}-")
        try:
            passed, figure, lines = run(folder)
        except Exception as error:  # a crashed scenario is a FAIL row; the others still run
            traceback.print_exc()
            passed, figure, lines = False, f"error: {type(error).__name__}: {error}"[:200], []
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for line in lines:
            print(line)
        print(f"{name}: {'PASS' if passed else 'FAIL'} ({time.monotonic() - started:.0f} s)",
              flush=True)  # fmt: skip
        rows.append({"budget": budget, "figure": figure, "pass": passed})
    print(json.dumps(rows))
    return 0 if all(row["pass"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
