"""The Official Account menu, defined in code and pushed with ``flask --app app wechat
push-menu`` (the WeChat issue, "Official Account server")."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from wechatpy.exceptions import WeChatClientException

from wechat.client import official_account_client

# Click keys answered by the callback (crm.services.wechat_inbound).
MY_SALESPERSON_KEY = "MY_SALES"


def menu(public_base_url: str) -> dict:
    """The menu: members' pages, booking, their salesperson; staff reach the work-bench."""
    base = public_base_url.rstrip("/")
    return {
        "button": [
            {"type": "view", "name": "会员中心", "url": f"{base}/m/"},
            {"type": "view", "name": "预约保养", "url": f"{base}/m/"},
            {
                "name": "服务",
                "sub_button": [
                    {"type": "click", "name": "我的销售顾问", "key": MY_SALESPERSON_KEY},
                    {"type": "view", "name": "工作台", "url": f"{base}/h5/"},
                ],
            },
        ]
    }


wechat_cli = AppGroup("wechat", help="The Official Account: menu and set-up.")


@wechat_cli.command("push-menu")
def push_menu():
    """Replace the Official Account menu with the one defined in code."""
    settings = current_app.extensions["crm_settings"]
    definition = menu(settings.public_base_url)
    try:
        official_account_client(settings).menu.create(definition)
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}") from exc
    names = ", ".join(button["name"] for button in definition["button"])
    target = "the sandbox" if settings.wechat_sandbox else settings.wechat_app_id
    click.echo(f"menu pushed to {target}: {names}")
