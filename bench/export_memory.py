"""Memory and time of the data download for one person with 1,000,000 browsing events.

Budget (DESIGN.md): a copy of one subject with 1,000,000 browsing events costs under 200 MB of
memory, and time grows linearly with rows (time per row at 1M within 1.5x of the time per row
at 250k), on the path production takes at that size. Three subjects (250k, 500k and 1M events)
are exported along both paths, each run in a child process whose peak resident memory
(getrusage's ru_maxrss) is measured against its level once the application is loaded:

- background (what production does above EXPORT_INLINE_MAX_ROWS, 20,000 rows by default, so at
  every size here): exports.serving.prepare_export, as the job runs it, builds the zip and
  encrypts it in segments into its file as it goes; then the download (exports.stored,
  as the download view does) checks the file and streams it to /dev/null while decrypting it;
  its SHA-256 must equal the one recorded when it was written. Time is both together.
- inline (what production does at or below EXPORT_INLINE_MAX_ROWS): the zip streamed to
  /dev/null as it is made (exports.serving.stream_to_person, as the download view does).

    python bench/export_memory.py [--database-url postgresql://...] [--rows 1000000]

Without --database-url, a SQLite file in a temporary folder; with it, the database is migrated
and the bench's subjects are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import production_env

MEMORY_BUDGET_MB = 200
LINEARITY_BUDGET = 1.5


def rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_app(database_url: str) -> Any:
    from privacy_center import create_app

    return create_app(overrides={"SQLALCHEMY_DATABASE_URI": database_url})


# --- the child: one export, measured ----------------------------------------------------------

PATHS = ("background", "inline")


def export_once(database_url: str, account_id: int, path: str) -> dict[str, float]:
    import hashlib

    from privacy_center.connectors import get_connectors
    from privacy_center.content import get_content
    from privacy_center.exports.copies import start_export
    from privacy_center.exports.serving import prepare_export, stream_to_person
    from privacy_center.exports.stored import open_download
    from privacy_center.extensions import db
    from privacy_center.models import Account, DataExport

    app = load_app(database_url)
    figures: dict[str, float] = {}
    with app.app_context():
        account = db.session.get(Account, account_id)
        baseline = rss_mb()
        started = time.perf_counter()
        export = start_export(
            db.session,
            account=account,
            language="fr",
            fee_acknowledged=True,
            operator=get_content().operator,
            connectors=get_connectors(),
        )
        export_id = export.id
        size = 0
        hasher = hashlib.sha256()
        with open(os.devnull, "wb") as sink:
            if path == "inline":
                chunks = stream_to_person(db.session, export_id, base_url="http://bench/")
            else:
                prepare_export(export_id, "http://bench/")
                figures["prepare_seconds"] = time.perf_counter() - started
                export = db.session.get(DataExport, export_id)
                if export.state != "ready":
                    raise SystemExit(f"the preparation ended {export.state!r}: {export.error}")
                stored_mb = (Path(app.config["EXPORT_DIR"]) / export.stored_name).stat().st_size
                figures["stored_mb"] = stored_mb / 2**20
                download = open_download(db.session, export, app.config)
                if download is None:
                    raise SystemExit("the stored copy failed its check")
                chunks = download.chunks()
            for chunk in chunks:
                hasher.update(chunk)
                sink.write(chunk)
                size += len(chunk)
        seconds = time.perf_counter() - started
        export = db.session.get(DataExport, export_id)
        state = export.state
        if path == "background" and (hasher.hexdigest(), size) != (
            export.sha256,
            export.size_bytes,
        ):
            raise SystemExit("the downloaded copy differs from the one prepared")
        inline_max = app.config["EXPORT_INLINE_MAX_ROWS"]
        db.engine.dispose()
    if state != "ready":
        raise SystemExit(f"the export ended {state!r}")
    peak = rss_mb()
    return {
        **figures,
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "delta_mb": peak - baseline,
        "zip_mb": size / 2**20,
        "inline_max_rows": inline_max,
    }


# --- the parent: data, children, verdict ------------------------------------------------------


COLUMNS = "browsing_event (account_id, occurred_at, path, referrer, device)"


def insert_events(connection: Any, account_id: int, count: int, start: datetime) -> None:
    """Bulk insert through the driver: COPY on PostgreSQL, executemany on SQLite."""

    def rows(moment: Any) -> Any:
        for number in range(count):
            yield (
                account_id,
                moment(start + timedelta(seconds=number)),
                f"/services/{number % 500}?page={number % 7}",
                None if number % 3 else "https://www.example.org/",
                "mobile" if number % 2 else "desktop",
            )

    driver = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {COLUMNS} FROM STDIN") as copy:
            for row in rows(lambda value: value):
                copy.write_row(row)
    else:
        # How SQLAlchemy stores a UTC datetime in SQLite.
        cursor = driver.cursor()
        cursor.executemany(
            f"INSERT INTO {COLUMNS} VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            rows(lambda value: value.strftime("%Y-%m-%d %H:%M:%S.%f")),
        )
        cursor.close()


def seed(database_url: str, sizes: list[int]) -> dict[int, int]:
    """One subject per size, each with that many browsing events; returns size -> account id."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from privacy_center.extensions import db
    from privacy_center.models import Account

    app = load_app(database_url)
    accounts: dict[int, int] = {}
    with app.app_context():
        upgrade()
        tag = secrets.token_hex(4)
        for size in sizes:
            account = Account(
                email=f"bench-{tag}-{size}@example.org", first_name="Zoé", last_name="Bench"
            )
            db.session.add(account)
            db.session.flush()
            accounts[size] = account.id
        db.session.commit()
        largest = max(sizes)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        began = time.perf_counter()
        with db.engine.begin() as connection:
            insert_events(connection, accounts[largest], largest, start)
            # The smaller subjects get the first events of the largest one.
            for size in sizes:
                if size == largest:
                    continue
                connection.execute(
                    sa.text(
                        "INSERT INTO browsing_event (account_id, occurred_at, path, referrer, "
                        "device) SELECT :target, occurred_at, path, referrer, device "
                        "FROM browsing_event WHERE account_id = :source ORDER BY id LIMIT :size"
                    ),
                    {"target": accounts[size], "source": accounts[largest], "size": size},
                )
        print(f"seeded {sum(sizes):,} browsing events in {time.perf_counter() - began:.1f} s")
        db.engine.dispose()
    return accounts


def clean(database_url: str, accounts: dict[int, int]) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        for account_id in accounts.values():
            connection.execute(
                sa.text("DELETE FROM browsing_event WHERE account_id = :id"), {"id": account_id}
            )
            connection.execute(
                sa.text("DELETE FROM data_export WHERE account_id = :id"), {"id": account_id}
            )
            connection.execute(sa.text("DELETE FROM account WHERE id = :id"), {"id": account_id})
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=PATHS, default="background", help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pc-bench-export-") as folder:
        from privacy_center.config import database_url as normalise

        if arguments.child is not None:
            # The parent's settings and database, inherited through the environment.
            figures = export_once(normalise(folder), arguments.child, arguments.path)
            print(json.dumps(figures))
            return 0
        database = arguments.database_url or f"sqlite:///{folder}/bench.sqlite3"
        os.environ.update(production_env(database, folder))
        url = normalise(folder)

        sizes = [arguments.rows // 4, arguments.rows // 2, arguments.rows]
        accounts = seed(url, sizes)
        results: dict[str, dict[int, dict[str, float]]] = {path: {} for path in PATHS}
        try:
            for path in PATHS:
                for size in sizes:
                    results[path][size] = run_child(accounts[size], path, size)
                    report(path, size, results[path][size])
        finally:
            if arguments.database_url:
                clean(url, accounts)

    rows = []
    passed = True
    for path in PATHS:
        verdict = budgets(path, sizes, results[path])
        passed &= all(row["pass"] for row in verdict)
        rows.extend(verdict)
    print(json.dumps(rows))
    return 0 if passed else 1


def run_child(account_id: int, path: str, size: int) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(account_id), "--path", path],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
    )
    if child.returncode != 0:
        print(child.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"the {path} export of {size:,} rows failed: {child.stdout[-500:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def report(path: str, size: int, figures: dict[str, float]) -> None:
    per_row = figures["seconds"] / size * 1e6
    production = "background" if size > figures["inline_max_rows"] else "inline"
    detail = ""
    if path == "background":
        detail = (
            f" (prepared and stored in {figures['prepare_seconds']:.1f} s, "
            f"{figures['stored_mb']:.1f} MB encrypted; downloaded in "
            f"{figures['seconds'] - figures['prepare_seconds']:.1f} s)"
        )
    print(
        f"{path:>10} {size:>9,} rows: {figures['seconds']:6.1f} s{detail}, "
        f"{per_row:5.2f} µs/row, zip {figures['zip_mb']:.1f} MB, "
        f"memory +{figures['delta_mb']:.0f} MB (peak {figures['peak_mb']:.0f} MB, "
        f"{figures['baseline_mb']:.0f} MB once loaded)"
        + ("  <- the path production takes at this size" if production == path else ""),
        flush=True,
    )


def budgets(path: str, sizes: list[int], results: dict[int, dict[str, float]]) -> list[dict]:
    smallest, largest = sizes[0], sizes[-1]
    per_row = {size: results[size]["seconds"] / size for size in sizes}
    linearity = per_row[largest] / per_row[smallest]
    memory = max(figures["delta_mb"] for figures in results.values())
    what = {
        "background": "background copy: zip encrypted in segments as it is built, then "
        "downloaded decrypting",
        "inline": "inline: zip streamed as it is made",
    }[path]
    print(
        f"{path}: memory +{memory:.0f} MB at most (budget < {MEMORY_BUDGET_MB} MB); time per row "
        f"at {largest:,} vs {smallest:,}: {linearity:.2f}x (budget <= {LINEARITY_BUDGET}x): "
        f"{'PASS' if memory < MEMORY_BUDGET_MB and linearity <= LINEARITY_BUDGET else 'FAIL'}"
    )
    return [
        {
            "budget": f"export {largest:,} rows ({what}): peak memory < {MEMORY_BUDGET_MB} MB",
            "figure": f"+{memory:.0f} MB",
            "pass": memory < MEMORY_BUDGET_MB,
        },
        {
            "budget": f"export time linear in rows ({path}; per-row time at {largest:,} <= "
            f"{LINEARITY_BUDGET}x that at {smallest:,})",
            "figure": f"{linearity:.2f}x ({results[largest]['seconds']:.1f} s for {largest:,})",
            "pass": linearity <= LINEARITY_BUDGET,
        },
    ]


if __name__ == "__main__":
    sys.exit(main())
