"""The wechatpy clients of the deployment, sharing one access token per WeChat app.

Every call goes to ``WECHAT_API_BASE_URL`` (paths unchanged), so tests and staging can point
at a fake WeChat server. wechatpy 2.0.0a26 keeps its token per process, fetches it with
``cgi-bin/token`` (which cancels the token every other process holds) and, on 40001/42001,
fetches a new one itself: several workers would then cancel each other in a loop. Here:

- the token lives in the shared storage (Redis in production, in-process when embedded);
- it is fetched with ``cgi-bin/stable_token`` (which does not cancel a valid token) by one
  process at a time under a lock; the others wait and read the shared value;
- on 40001/42001 the client re-reads the shared token and retries with it if another process
  has replaced it; only if it is unchanged does it refresh once, and it retries once.
"""

from __future__ import annotations

import logging
import time

from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from crm import coordination
from crm.config import WECHAT_DEFAULT_API_BASE, Settings
from wechat import sandbox

log = logging.getLogger(__name__)

TOKEN_REJECTED = frozenset({40001, 42001})
# A token this close to its expiry is treated as expired, so no call carries a dying token.
EXPIRY_MARGIN = 300


class SharedTokenClient(WeChatClient):
    """A wechatpy client whose access token is shared by every process of the deployment."""

    def __init__(self, appid: str, secret: str, api_base: str, redis_url: str = "", timeout=10):
        self.API_BASE_URL = f"{api_base}/cgi-bin/"
        self._api_base = api_base
        self._redis_url = redis_url
        storage = coordination.wechat_storage(redis_url)
        super().__init__(appid, secret, session=storage, timeout=timeout, auto_retry=False)

    # --- the shared token -------------------------------------------------------------------

    def _shared_token(self) -> str | None:
        token = self.session.get(self.access_token_key)
        expires_at = self.session.get(self.access_token_expires_at_key) or 0
        if token and expires_at - time.time() > EXPIRY_MARGIN:
            return token
        return None

    @property
    def access_token(self) -> str:
        return self._shared_token() or self._refresh(rejected=None)

    def fetch_access_token(self) -> dict:
        """Kept for wechatpy's callers: refresh the shared token under the lock."""
        token = self._refresh(rejected=None)
        return {"access_token": token}

    def _refresh(self, rejected: str | None) -> str:
        with coordination.lock(self._redis_url, f"wechat-token:{self.appid}"):
            # Whoever held the lock before us may already have stored a good token.
            current = self._shared_token()
            if current and current != rejected:
                return current
            result = self._stable_token(force_refresh=False)
            if result["access_token"] == rejected:
                # WeChat still hands out the token it just refused: force a new one.
                result = self._stable_token(force_refresh=True)
            token = result["access_token"]
            expires_in = int(result.get("expires_in", 7200))
            self.session.set(self.access_token_key, token, expires_in)
            self.session.set(self.access_token_expires_at_key, int(time.time()) + expires_in)
            return token

    def _stable_token(self, force_refresh: bool) -> dict:
        response = self._http.post(
            f"{self._api_base}/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force_refresh,
            },
            timeout=self.timeout,
        )
        response.raise_for_status()
        result = response.json()
        if result.get("errcode"):
            raise WeChatClientException(result["errcode"], result.get("errmsg"), client=self)
        log.info("WeChat token for %s refreshed (force=%s)", self.appid, force_refresh)
        return result

    # --- every call -------------------------------------------------------------------------

    def _rebase(self, url: str) -> str:
        """Some wechatpy API groups (wxa, template...) carry WeChat's own address: rebase it."""
        if url.startswith(WECHAT_DEFAULT_API_BASE):
            return self._api_base + url[len(WECHAT_DEFAULT_API_BASE) :]
        return url

    def _request(self, method, url_or_endpoint, **kwargs):
        url_or_endpoint = self._rebase(url_or_endpoint)
        if "api_base_url" in kwargs:
            kwargs["api_base_url"] = self._rebase(kwargs["api_base_url"])
        params = dict(kwargs.pop("params", None) or {})
        used = params.setdefault("access_token", self.access_token)
        try:
            return super()._request(method, url_or_endpoint, params=dict(params), **kwargs)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_REJECTED:
                raise
            shared = self._shared_token()
            params["access_token"] = (
                shared if shared and shared != used else self._refresh(rejected=used)
            )
            return super()._request(method, url_or_endpoint, params=params, **kwargs)


def official_account_client(settings: Settings, timeout: float = 10) -> SharedTokenClient:
    """The Official Account client; with no credentials, the same client over the sandbox."""
    if settings.wechat_sandbox:
        if settings.production:
            raise RuntimeError("the WeChat sandbox is refused in production mode")
        client = SharedTokenClient(
            sandbox.SANDBOX_APP_ID,
            sandbox.SANDBOX_SECRET,
            sandbox.SANDBOX_API_BASE,
            timeout=timeout,
        )
        sandbox.install(client._http)
        return client
    return SharedTokenClient(
        settings.wechat_app_id,
        settings.wechat_app_secret,
        settings.wechat_api_base_url,
        redis_url=settings.redis_url,
        timeout=timeout,
    )


def miniprogram_client(settings: Settings, timeout: float = 10) -> SharedTokenClient:
    if not (settings.miniprogram_app_id and settings.miniprogram_app_secret):
        raise RuntimeError("MINIPROGRAM_APP_ID/MINIPROGRAM_APP_SECRET are not set")
    return SharedTokenClient(
        settings.miniprogram_app_id,
        settings.miniprogram_app_secret,
        settings.wechat_api_base_url,
        redis_url=settings.redis_url,
        timeout=timeout,
    )
