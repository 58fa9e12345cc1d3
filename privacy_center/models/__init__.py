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
from .mail import MailIntent, OutgoingMail
from .postmortem import PostmortemDelivery, PostmortemDirective
from .recipient import RecipientNotification
from .request import EmailToken, IdentityDocument, PrivacyRequest, RequestTransition
from .retention import RetentionRun
from .session import SESSION_KINDS, SessionRecord
from .site import Site
from .staff import STAFF_ROLES, StaffMember, StaffSignInFailure

__all__ = [
    "SESSION_KINDS",
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
    "MailIntent",
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
    "SessionRecord",
    "Site",
    "StaffMember",
    "StaffSignInFailure",
    "Subscription",
    "SupportConversation",
]
