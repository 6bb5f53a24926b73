"""QWeather (和风天气), the source of the weather warnings (PRODUCT "The care calendar": weather —
thunderstorm, typhoon, cold snap, heat wave in the customer's city; issue 8).

Two calls, both to ``QWEATHER_API_BASE_URL`` (an account's API Host serves both paths):

- GeoAPI city lookup, ``GET /geo/v2/city/lookup?location=<city>&range=cn&number=1``: the
  city's LocationID;
- weather warnings, ``GET /v7/warning/now?location=<LocationID>&lang=zh``: the warnings in
  force there, each with QWeather's id (which tells a warning already seen).

The key goes in the ``X-QW-Api-Key`` header (QWeather's documented alternative to ``key=``),
so it is never part of a URL that an error message or a log line could carry. QWeather
answers ``{"code": "200", ...}``; "204" (no data for the place) means no warnings, a city
lookup's "404" an unknown city, and any other code — or the newer ``{"error": {...}}``
body — raises :class:`QWeatherError` naming the code and what it means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from crm.config import Settings
from crm.services.health import Check

TIMEOUT = (3.05, 10)  # (connect, read) seconds: a poll never hangs the scheduler
KEY_HEADER = "X-QW-Api-Key"
# The retired shared hosts served GeoAPI from its own host; an account's API Host serves all.
PUBLIC_GEO_HOSTS = {
    "https://devapi.qweather.com": "https://geoapi.qweather.com",
    "https://api.qweather.com": "https://geoapi.qweather.com",
}
NOT_CONFIGURED = "未配置（未设置 QWEATHER_KEY），天气预警不会发送"

# QWeather's status codes (dev.qweather.com "状态码"), for the error messages.
CODES = {
    "204": "no data for this place",
    "400": "bad request",
    "401": "authentication failed: check QWEATHER_KEY",
    "402": "quota used up or balance insufficient",
    "403": "no permission for this data or API host",
    "404": "no such data or place",
    "429": "over the requests-per-minute limit",
    "500": "QWeather did not answer in time",
}


class QWeatherError(RuntimeError):
    """QWeather refused or could not answer a call; ``code`` is its status code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"QWeather {code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Alert:
    """One warning of ``/v7/warning/now``, with QWeather's field names in snake case."""

    id: str
    sender: str
    title: str
    text: str
    type: str  # the event code, e.g. "1001" typhoon
    type_name: str  # e.g. "台风"
    severity: str
    severity_color: str
    status: str  # active / update / cancel
    related: str  # for update and cancel: the warning it replaces
    pub_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None

    @classmethod
    def from_json(cls, item: dict) -> Alert:
        return cls(
            id=str(item["id"]),
            sender=item.get("sender") or "",
            title=item.get("title") or "",
            text=item.get("text") or "",
            type=str(item.get("type") or ""),
            type_name=item.get("typeName") or "",
            severity=item.get("severity") or "",
            severity_color=item.get("severityColor") or "",
            status=item.get("status") or "active",
            related=item.get("related") or "",
            pub_time=_time(item.get("pubTime")),
            start_time=_time(item.get("startTime")),
            end_time=_time(item.get("endTime")),
        )


def _time(value: str | None) -> datetime | None:
    """QWeather's "2023-04-03T10:30+08:00" as a UTC instant (None when empty or unreadable)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


class QWeather:
    """The two calls the weather warnings need."""

    def __init__(self, key: str, base_url: str, timeout=TIMEOUT, http=None):
        self.base_url = base_url.rstrip("/")
        self.geo_url = PUBLIC_GEO_HOSTS.get(self.base_url, self.base_url)
        self.timeout = timeout
        self.http = http or requests.Session()
        self.http.headers[KEY_HEADER] = key

    def city_id(self, city: str) -> str | None:
        """The LocationID of a Chinese city by name; None when QWeather does not know it."""
        body = self._get(
            self.geo_url,
            "/geo/v2/city/lookup",
            {"location": city, "range": "cn", "number": 1},
            missing=("204", "404"),
        )
        locations = body.get("location") or []
        return str(locations[0]["id"]) if locations else None

    def warnings(self, location_id: str) -> list[Alert]:
        """The warnings in force at a LocationID (none: an empty list)."""
        body = self._get(
            self.base_url,
            "/v7/warning/now",
            {"location": location_id, "lang": "zh"},
            missing=("204",),
        )
        return [Alert.from_json(item) for item in body.get("warning") or []]

    def _get(self, base: str, path: str, params: dict, missing: tuple[str, ...]) -> dict:
        try:
            response = self.http.get(base + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise QWeatherError("network", f"cannot reach {base}: {type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise QWeatherError(
                str(response.status_code), f"{path} answered HTTP {response.status_code}"
            ) from exc
        if isinstance(body.get("error"), dict):  # error code v2: the HTTP status and a title
            error = body["error"]
            code = str(error.get("status") or response.status_code)
            raise QWeatherError(code, error.get("title") or CODES.get(code, "error"))
        code = str(body.get("code", response.status_code))
        if code in missing:
            return {}
        if code != "200":
            raise QWeatherError(code, f"{path}: {CODES.get(code, 'unexpected answer')}")
        return body


def client(settings: Settings) -> QWeather | None:
    """The deployment's QWeather client; None when no key is set (weather alerts are off)."""
    if not settings.qweather_key:
        return None
    return QWeather(settings.qweather_key, settings.qweather_api_base_url)


def check(settings: Settings) -> Check:
    """``flask doctor``'s weather line: 未配置 without a key (a warning, not a failure: weather
    alerts are optional, but never silently off), else a city lookup proves key and host."""
    api = client(settings)
    if api is None:
        return Check("weather", True, NOT_CONFIGURED, warning=True)
    try:
        api.city_id("北京")
    except QWeatherError as exc:
        return Check("weather", False, str(exc))
    return Check("weather", True, f"QWeather answers at {api.base_url}")
