"""All models, imported here so Alembic and the app see one metadata."""

from crm.models.customer import Consent, Customer
from crm.models.org import ROLE_LABELS, Group, Role, Staff, Store, Team
from crm.models.sales import (
    LEAD_CLASS_LABELS,
    LEAD_SOURCE_LABELS,
    Channel,
    Communication,
    Lead,
    LeadClass,
    LeadSource,
    LeadStatus,
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
