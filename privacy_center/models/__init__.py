"""Typed SQLAlchemy models, one module per area."""

from .site import Site

__all__ = ["Site"]
