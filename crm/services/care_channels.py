"""Channels of care, configured per group in the console 关怀渠道 (issue 8 "Channels and
WeChat's rules"; PRODUCT "The care calendar").

Each care kind goes out through one channel the group admin chooses ("care.configure"):

* 公众号模板消息 — an Official Account template for service notices, or 订阅消息 — a
  one-time subscription the customer granted: both need the template id, which of the kind's
  fields fills each of the template's keywords, and the member page (under ``/m/``) it opens;
* 员工代发 — a staff task: the salesperson (else the advisor) sends the ready text personally;
* 不发送 — the group does not send the kind.

Without a configuration a greeting (a marketing kind) goes through staff and any other kind has
no channel: shown red as 未配置, never skipped silently (``dispatcher.channel_of``).

Since May 2023 WeChat shows a template message without its ``first`` and ``remark`` lines and
without colours, each value cut to 20 characters; the preview shows exactly that, from the
kind's sample customer, through the same cut the outbox applies (``outbox.shown``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import NotFound, ValidationError
from crm.models import CARE_CHANNEL_LABELS, CareChannel, CareTemplate, Group, Staff
from crm.services import dispatcher, outbox
from crm.services.care import planner
from crm.services.care.kinds import CareKind

CONFIGURED = "configured"
NOT_CONFIGURED = "not configured"
NO_CHANNEL = "no channel"
STATUS_LABELS = {CONFIGURED: "已配置", NOT_CONFIGURED: "未配置", NO_CHANNEL: "不发送"}

WECHAT_CHANNELS = (CareChannel.TEMPLATE, CareChannel.SUBSCRIBE)
HIDDEN_KEYWORDS = frozenset({"first", "remark"})  # no longer shown by WeChat (May 2023)
KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MEMBER_PAGES = "/m/"
PAGE_MAX = 200
MAPPING_MAX = 20  # WeChat templates have a handful of keywords


def get_kind(name: str) -> CareKind:
    """The registered kind called ``name``; NotFound otherwise."""
    kind = planner.kind(name)
    if kind is None:
        raise NotFound("没有这种关怀类型")
    return kind


@dataclass(frozen=True)
class KindChannel:
    """One kind's channel in a group: configured, defaulted, or missing."""

    kind: CareKind
    config: CareTemplate | None
    channel: CareChannel | None
    status: str

    @property
    def channel_label(self) -> str:
        if self.channel is None:
            return STATUS_LABELS[NOT_CONFIGURED]
        label = CARE_CHANNEL_LABELS[self.channel]
        return f"{label}（默认）" if self.config is None else label

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def _status(channel: CareChannel | None, config: CareTemplate | None) -> str:
    if channel is None:
        return NOT_CONFIGURED
    if channel == CareChannel.OFF:
        return NO_CHANNEL
    if channel in WECHAT_CHANNELS and not (config and config.template_id):
        return NOT_CONFIGURED  # the dispatcher would find no template to send
    return CONFIGURED


def status_for_group(session: Session, group_id: int) -> dict[str, KindChannel]:
    """Every kind's channel in the group, in the planner's order: "configured", "not
    configured" (no usable channel: 未配置) or "no channel" (the group chose 不发送)."""
    configs = {
        config.kind: config
        for config in session.scalars(select(CareTemplate).where(CareTemplate.group_id == group_id))
    }
    result = {}
    for kind in planner.all_kinds():
        config = configs.get(kind.name)
        channel = dispatcher.channel_of(kind, config)
        result[kind.name] = KindChannel(kind, config, channel, _status(channel, config))
    return result


def unconfigured_by_group(session: Session) -> list[tuple[Group, list[CareKind]]]:
    """For ``doctor``: each group with the kinds it has no usable channel for."""
    groups = session.scalars(select(Group).order_by(Group.id)).all()
    return [
        (
            group,
            [
                entry.kind
                for entry in status_for_group(session, group.id).values()
                if entry.status == NOT_CONFIGURED
            ],
        )
        for group in groups
    ]


def current(session: Session, actor: Staff, kind_name: str) -> tuple[CareKind, CareTemplate | None]:
    """The kind and the actor's group's configuration of it, for the edit form."""
    access.require(actor, "care.configure")
    kind = get_kind(kind_name)
    return kind, dispatcher.configuration(session, actor.group_id, kind.name)


# --- the form --------------------------------------------------------------------------------


def _field_names(kind: CareKind) -> str:
    return "、".join(kind.fields.values())


def parse_mapping(kind: CareKind, text: str) -> dict[str, str]:
    """The field mapping typed as one line per "template keyword: our field" (the field by its
    Chinese label or its name), as {keyword: field name}. Empty: the fields keep their own
    names. A line that cannot be read, a hidden keyword, a repeated keyword or a field the kind
    does not have is a ``ValidationError`` on ``field_map`` naming it."""
    by_label = {label: name for name, label in kind.fields.items()}
    mapping: dict[str, str] = {}
    lines = [line.strip() for line in (text or "").splitlines()]
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        keyword, colon, field = line.replace("：", ":").partition(":")
        keyword, field = keyword.strip(), field.strip()
        if not colon or not keyword or not field:
            raise ValidationError(
                f"第{number}行应写成“模板关键词: 字段”，如 thing1: 门店地址", "field_map"
            )
        if not KEYWORD.match(keyword):
            raise ValidationError(
                f"第{number}行的模板关键词“{keyword}”不正确：应为模板详情中的字母数字，如 thing1",
                "field_map",
            )
        if keyword.lower() in HIDDEN_KEYWORDS:
            raise ValidationError(
                f"第{number}行：微信自2023年5月起不再显示 {keyword}，请删除这一行", "field_map"
            )
        if keyword in mapping:
            raise ValidationError(f"模板关键词“{keyword}”重复填写了", "field_map")
        name = field if field in kind.fields else by_label.get(field)
        if name is None:
            raise ValidationError(
                f"“{field}”不是{kind.label}的字段，可用的字段：{_field_names(kind)}", "field_map"
            )
        mapping[keyword] = name
    if len(mapping) > MAPPING_MAX:
        raise ValidationError(f"最多映射 {MAPPING_MAX} 个模板关键词", "field_map")
    return mapping


def mapping_text(kind: CareKind, mapping: Mapping[str, str]) -> str:
    """A stored mapping as the form shows it: "keyword: 中文字段名" per line."""
    return "\n".join(
        f"{keyword}: {kind.fields.get(field, field)}" for keyword, field in mapping.items()
    )


def form_values(kind: CareKind, config: CareTemplate | None) -> dict[str, str]:
    """The edit form's values for the current configuration (or the kind's default)."""
    channel = dispatcher.channel_of(kind, config)
    return {
        "channel": channel.value if channel else "",
        "template_id": config.template_id if config else "",
        "field_map": mapping_text(kind, config.field_map or {}) if config else "",
        "page": (config.page if config and config.page else kind.page),
    }


def _page(raw: str) -> str:
    page = (raw or "").strip()
    if not page:
        raise ValidationError("请填写点击消息后打开的页面", "page")
    if (
        not page.startswith(MEMBER_PAGES)
        or "//" in page
        or any(ch.isspace() for ch in page)
        or len(page) > PAGE_MAX
    ):
        raise ValidationError("页面路径须以 /m/ 开头（会员页面），不含空格", "page")
    return page


def configure(
    session: Session, actor: Staff, kind_name: str, form: Mapping[str, str], now: datetime
) -> CareTemplate:
    """Save the group's channel for one kind from the console form (``channel``,
    ``template_id``, ``field_map``, ``page``). A WeChat channel needs the template id; every
    mapped field must be one of the kind's; the page must be a member page. Bad input raises a
    ``ValidationError`` naming the field and changes nothing."""
    access.require(actor, "care.configure")
    kind = get_kind(kind_name)
    raw_channel = (form.get("channel") or "").strip()
    if raw_channel not in CareChannel.__members__.values():
        raise ValidationError("请选择发送渠道", "channel")
    channel = CareChannel(raw_channel)
    template_id = (form.get("template_id") or "").strip()
    if channel in WECHAT_CHANNELS and not template_id:
        raise ValidationError(f"{CARE_CHANNEL_LABELS[channel]}需要填写模板ID", "template_id")
    if template_id and not TEMPLATE_ID.match(template_id):
        raise ValidationError("模板ID只能包含字母、数字、下划线和短横线（最多64位）", "template_id")
    mapping = parse_mapping(kind, form.get("field_map") or "")
    page = _page(form.get("page") or "")
    config = dispatcher.configuration(session, actor.group_id, kind.name)
    if config is None:
        config = CareTemplate(group_id=actor.group_id, kind=kind.name)
        session.add(config)
    config.channel = channel.value
    config.template_id = template_id
    config.field_map = mapping
    config.page = page
    session.commit()
    return config


# --- the preview -----------------------------------------------------------------------------


def preview(
    kind: CareKind, mapping: Mapping[str, str], sample: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """The message as WeChat shows it to the sample customer: (label, shown value) per
    keyword, in the mapping's order (the kind's own fields when there is none); no
    ``first``/``remark`` lines; each value cut to 20 characters. ``sample`` overrides the
    kind's sample values (the admin trying a long address)."""
    values = {**kind.sample, **{k: v for k, v in (sample or {}).items() if k in kind.fields}}
    pairs = list(mapping.items()) if mapping else [(name, name) for name in kind.fields]
    return [
        (kind.fields.get(field, field), outbox.shown(values.get(field, "")))
        for keyword, field in pairs
        if keyword.lower() not in HIDDEN_KEYWORDS
    ]


def preview_of_form(
    kind: CareKind, field_map: str, sample: Mapping[str, str] | None = None
) -> tuple[list[tuple[str, str]], str]:
    """The preview of a mapping as typed so far, or (nothing, the error naming what is wrong)
    while it cannot be read: the console shows either as the admin types."""
    try:
        mapping = parse_mapping(kind, field_map)
    except ValidationError as error:
        return [], error.message
    return preview(kind, mapping, sample), ""
