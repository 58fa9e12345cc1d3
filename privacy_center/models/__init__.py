"""Typed SQLAlchemy models, one module per area."""

from .account import (
    Account,
    BrowsingEvent,
    CommunicationPreference,
    Complaint,
    ConsentLink,
    Interest,
    Invoice,
    PreferenceChange,
    Subscription,
    SupportConversation,
)
from .consent import ConsentReceipt
from .export import DataExport
from .request import EmailToken, IdentityDocument, PrivacyRequest, RequestTransition
from .site import Site

__all__ = [
    "Account",
    "BrowsingEvent",
    "CommunicationPreference",
    "Complaint",
    "ConsentLink",
    "ConsentReceipt",
    "DataExport",
    "EmailToken",
    "IdentityDocument",
    "Interest",
    "Invoice",
    "PreferenceChange",
    "PrivacyRequest",
    "RequestTransition",
    "Site",
    "Subscription",
    "SupportConversation",
]
