"""Typed SQLAlchemy models, one module per area."""

from .consent import ConsentReceipt
from .site import Site

__all__ = ["ConsentReceipt", "Site"]
