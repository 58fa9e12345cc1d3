"""gunicorn's settings for the privacy center (docs/deployment.md):

    gunicorn -c gunicorn.conf.py --workers N --threads 8 --worker-class gthread \
        --access-logfile - wsgi:app

The access log never writes the secret of an emailed link (status, sign-in, download,
tracked-link and acknowledgement links): ``privacy_center.access_log`` rewrites it to ``…``.
The filter is put on gunicorn's access logger here, in the master before any worker forks, and
again by ``create_app`` in each worker, which teaches it the application's links.
"""

from privacy_center import access_log


def on_starting(server: object) -> None:
    access_log.install()
