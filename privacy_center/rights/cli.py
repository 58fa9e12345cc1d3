"""``flask --app wsgi requests ...``: the commands about requests to exercise a right.

Each command lives in a module of its own and is added to this one group here.
"""

from __future__ import annotations

from flask.cli import AppGroup

from .intake_cli import intake_command
from .lapse_cli import lapse_command

requests_cli = AppGroup("requests", help="Requests to exercise a right.")
requests_cli.add_command(intake_command)
requests_cli.add_command(lapse_command)
