"""gunicorn's settings for the privacy center (docs/deployment.md):

    gunicorn -c gunicorn.conf.py --workers N --threads 8 --worker-class gthread \
        --access-logfile - wsgi:app

The access log never writes the secret of an emailed link (status, sign-in, download,
tracked-link and acknowledgement links): ``privacy_center.access_log`` rewrites it to ``…``.
The filter is put on gunicorn's access logger here, in the master before any worker forks, and
again by ``create_app`` in each worker, which teaches it the application's links.

``X-Forwarded-Proto`` (and the other scheme headers) are believed from the proxies that
``TRUSTED_PROXIES`` names and from no one else, as the application believes ``X-Forwarded-*``
(privacy_center/hosts.py): gunicorn's own default would believe 127.0.0.1, so that anything
running on the host could claim https. gunicorn's answers carry ``Server: gunicorn``, without
its version (since gunicorn 20.1; tests/test_security_hosts.py keeps it so).
"""

import os

from privacy_center import access_log
from privacy_center.config import trusted_proxies

# Empty (TRUSTED_PROXIES unset): nobody's forwarding headers are believed. gunicorn wants a
# comma-separated string; FORWARDED_ALLOW_IPS, its own variable, is overridden on purpose.
forwarded_allow_ips = ",".join(trusted_proxies(os.environ.get("TRUSTED_PROXIES", "")))
proxy_allow_ips = forwarded_allow_ips


def on_starting(server: object) -> None:
    access_log.install()
