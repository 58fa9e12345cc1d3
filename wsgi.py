"""Entry point for ``flask --app wsgi`` and WSGI servers (``gunicorn wsgi:app``)."""

from privacy_center import create_app

app = create_app()
