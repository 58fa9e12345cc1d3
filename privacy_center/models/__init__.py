"""Typed SQLAlchemy models, one module per area."""

from .account import (
    Account,
    AudienceStatistic,
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
from .activity import AccountActivity
from .audit import AuditEvent
from .consent import ConsentDay, ConsentReceipt
from .cookie_scan import CookieScan
from .export import DataExport
from .letter import Letter, ReminderSent, RequestNote
from .mail import OutgoingMail
from .postmortem import PostmortemDelivery, PostmortemDirective
from .recipient import RecipientNotification
from .request import EmailToken, IdentityDocument, PrivacyRequest, RequestTransition
from .retention import RetentionRun
from .site import Site
from .staff import STAFF_ROLES, StaffMember, StaffSignInFailure

__all__ = [
    "STAFF_ROLES",
    "Account",
    "AccountActivity",
    "AudienceStatistic",
    "AuditEvent",
    "BrowsingEvent",
    "CommunicationPreference",
    "Complaint",
    "ConsentDay",
    "ConsentLink",
    "ConsentReceipt",
    "CookieScan",
    "DataExport",
    "EmailToken",
    "IdentityDocument",
    "Interest",
    "Invoice",
    "Letter",
    "OutgoingMail",
    "PostmortemDelivery",
    "PostmortemDirective",
    "PreferenceChange",
    "PrivacyRequest",
    "RecipientNotification",
    "ReminderSent",
    "RequestNote",
    "RequestTransition",
    "RetentionRun",
    "Site",
    "StaffMember",
    "StaffSignInFailure",
    "Subscription",
    "SupportConversation",
]
