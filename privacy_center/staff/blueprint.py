"""The one blueprint of the staff console, shared by its modules (auth.views, views...)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")
