"""All models, imported here so Alembic and the app see one metadata."""

from crm.models.catalogue import CarModel
from crm.models.customer import Consent, Customer
from crm.models.imports import ImportBatch, ImportStatus
from crm.models.org import ROLE_LABELS, Group, Role, Staff, Store, Team
from crm.models.sales import (
    CHANNEL_LABELS,
    LEAD_CLASS_LABELS,
    LEAD_SOURCE_LABELS,
    LOST_REASON_LABELS,
    PURCHASE_TIMEFRAME_LABELS,
    Channel,
    Communication,
    Lead,
    LeadClass,
    LeadMove,
    LeadSource,
    LeadStatus,
    LostReason,
    MoveReason,
    PurchaseTimeframe,
    TestDrive,
    TestDriveStatus,
)
from crm.models.service import ServiceKind, ServiceOrder
from crm.models.vehicle import Vehicle
from crm.models.wechat import (
    AutoReply,
    BindingInvitation,
    CallbackReceipt,
    SandboxMessage,
    WeChatApp,
    WeChatIdentity,
)

__all__ = [
    "CHANNEL_LABELS",
    "LOST_REASON_LABELS",
    "PURCHASE_TIMEFRAME_LABELS",
    "CarModel",
    "ImportBatch",
    "ImportStatus",
    "LeadMove",
    "LostReason",
    "MoveReason",
    "PurchaseTimeframe",
    "TestDrive",
    "TestDriveStatus",
    "AutoReply",
    "BindingInvitation",
    "CallbackReceipt",
    "SandboxMessage",
    "WeChatApp",
    "WeChatIdentity",
    "LEAD_CLASS_LABELS",
    "LEAD_SOURCE_LABELS",
    "ROLE_LABELS",
    "Channel",
    "Communication",
    "Consent",
    "Customer",
    "Group",
    "Lead",
    "LeadClass",
    "LeadSource",
    "LeadStatus",
    "Role",
    "ServiceKind",
    "ServiceOrder",
    "Staff",
    "Store",
    "Team",
    "Vehicle",
]
