"""The wechatpy client factory: every call goes to ``WECHAT_API_BASE_URL`` (paths unchanged).

wechatpy hard-codes ``https://api.weixin.qq.com`` in a few places (the token fetch among them);
the subclass below rebases those so tests and staging can point at a fake WeChat server.
"""

from __future__ import annotations

from wechatpy import WeChatClient

from crm.config import Settings


class RebasedWeChatClient(WeChatClient):
    def __init__(self, appid: str, secret: str, api_base: str, **kwargs):
        self.API_BASE_URL = f"{api_base}/cgi-bin/"
        self._api_base = api_base
        super().__init__(appid, secret, **kwargs)

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=f"{self._api_base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def official_account_client(settings: Settings, timeout: float = 5) -> RebasedWeChatClient:
    if settings.wechat_sandbox:
        raise RuntimeError("no WeChat credentials: the sandbox answers instead")
    return RebasedWeChatClient(
        settings.wechat_app_id,
        settings.wechat_app_secret,
        settings.wechat_api_base_url,
        timeout=timeout,
    )
