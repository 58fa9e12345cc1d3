"""Background jobs: run inline by default, queued on Redis with RQ when ``REDIS_URL`` is set.

A job is named by its function's path, ``"package.module:function"``, and takes plain arguments
(ids, strings): it loads what it needs itself, inside the application. ``flask jobs worker``
runs the queued jobs, each in a fresh application context of the worker's app.

:func:`after_response` starts a job only once the answer to the current request has been sent
(queued for the worker, or run in this process after the last byte went out): what the job
does can neither delay nor change that answer.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import click
from flask import Flask, after_this_request, current_app, has_app_context
from flask.cli import AppGroup
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "privacy-center"
# Seconds a queued job may run before the worker stops it.
DEFAULT_TIMEOUT = 3600

jobs_cli = AppGroup("jobs", help="Background jobs (RQ on Redis when REDIS_URL is set).")


def resolve(func_path: str) -> Callable[..., Any]:
    """The function named ``"package.module:function"``."""
    module_name, _, name = func_path.partition(":")
    if not module_name or not name:
        raise ValueError(f"{func_path!r}: a job is named like 'package.module:function'")
    function = getattr(importlib.import_module(module_name), name, None)
    if not callable(function):
        raise ValueError(f"{func_path!r}: no such function")
    return function


def enqueue(app_config: Mapping[str, Any], func_path: str, *args: Any) -> str | None:
    """Run ``func_path(*args)`` in the background; returns the RQ job id, or None when the job
    ran inline (no ``REDIS_URL``: at once, in the caller's application context)."""
    function = resolve(func_path)  # a wrong name fails here, not later in a worker
    url = app_config.get("REDIS_URL")
    if not url:
        function(*args)
        return None
    from redis import Redis
    from rq import Queue

    queue = Queue(app_config.get("JOBS_QUEUE", DEFAULT_QUEUE), connection=Redis.from_url(url))
    job = queue.enqueue(
        run_job,
        func_path,
        *args,
        job_timeout=app_config.get("JOBS_TIMEOUT", DEFAULT_TIMEOUT),
        description=func_path,
    )
    return job.id


def _context_of(app: Flask) -> AbstractContextManager[Any]:
    """The app's context: the current one when it is this app's (a test's), else a new one."""
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        return nullcontext()
    return app.app_context()


def after_response(func_path: str, *args: Any) -> None:
    """Start the job ``func_path(*args)`` once the current response has been sent: queued on
    Redis when ``REDIS_URL`` is set, else run in this process after the last byte went out (the
    WSGI server closes the response then). Never raises once started: a job that fails is
    logged, and what it works on must be durable (e.g. a row that ``flask mail deliver`` picks
    up). Not started at all when the view raises. Needs a request context."""
    resolve(func_path)  # a wrong name fails here, in the request
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        try:
            with _context_of(app):
                enqueue(app.config, func_path, *args)
        except Exception:  # the work is durable: the next run of its command does it
            log.exception("the job %s after the response failed", func_path)

    @after_this_request
    def when_sent(response: Response) -> Response:
        response.call_on_close(run)
        close_connection(response)
        return response


def close_connection(response: Response) -> None:
    """Ask the server to close the connection after this answer. The job runs in the thread
    that served it (the server closes the response there), which takes the next request of a
    kept-alive connection only afterwards: that request's wait would tell what the job did. A
    view whose job only some inputs start sets this on every answer, whatever the input."""
    response.headers["Connection"] = "close"


def run_job(func_path: str, *args: Any) -> Any:
    """What a worker runs: the job in its own application context (its own database session,
    removed when the job ends)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with app.app_context():
        return resolve(func_path)(*args)


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting in the queue, then stop.")
def worker_command(burst: bool) -> None:
    """Run queued jobs (needs REDIS_URL)."""
    config = current_app.config
    if not config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not set: jobs run inline, in the request that starts them, and no "
            "worker is needed."
        )
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(config["REDIS_URL"])
    queue = Queue(config.get("JOBS_QUEUE", DEFAULT_QUEUE), connection=connection)
    # SimpleWorker runs each job in this process, where the application is loaded (a forking
    # worker would share the database connections of its parent).
    SimpleWorker([queue], connection=connection).work(burst=burst)


def init_app(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
