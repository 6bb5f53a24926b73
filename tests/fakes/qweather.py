"""A fake QWeather on a loopback port, written from QWeather's public API docs.

Real sockets, real ``requests`` calls: the app is pointed at it with
``QWEATHER_API_BASE_URL``. It serves the GeoAPI city lookup (``/geo/v2/city/lookup``) and
the weather warnings (``/v7/warning/now``) the way QWeather does: ``{"code": "200", ...}``,
"404" for an unknown city, an empty ``warning`` list where nothing is in force, and "401"
(HTTP 401) when the API KEY — ``X-QW-Api-Key`` header or ``key=`` parameter — is wrong.

Tests arrange the world (``add_city``, ``warn``) and inspect what was asked (``requests``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from tests.fakes.loopback import JsonHandler, LoopbackServer

_ids = itertools.count(1)


@dataclass
class FakeQWeather:
    key: str = "test-qweather-key"
    cities: dict[str, str] = field(default_factory=dict)  # city name -> LocationID
    warnings: dict[str, list[dict]] = field(default_factory=dict)  # LocationID -> warnings
    requests: list[tuple[str, dict]] = field(default_factory=list)  # (path, query parameters)
    keys_seen: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.cities.clear()
        self.warnings.clear()
        self.requests.clear()
        self.keys_seen.clear()

    def add_city(self, name: str, location_id: str) -> None:
        self.cities[name] = location_id

    def warn(self, location_id: str, type_code: str, type_name: str, **fields) -> dict:
        """Put a warning in force at ``location_id``; QWeather's fields, overridable."""
        number = next(_ids)
        warning = {
            "id": f"10121010120260615{number:06d}",
            "sender": "杭州市气象台",
            "pubTime": "2026-06-15T09:30+08:00",
            "title": f"杭州市气象台发布{type_name}蓝色预警[Ⅳ级/一般]",
            "startTime": "2026-06-15T09:30+08:00",
            "endTime": "2026-06-16T09:30+08:00",
            "status": "active",
            "level": "",
            "severity": "Minor",
            "severityColor": "Blue",
            "type": type_code,
            "typeName": type_name,
            "urgency": "",
            "certainty": "",
            "text": f"杭州市气象台发布{type_name}蓝色预警，请注意防范。",
            "related": "",
        }
        warning.update(fields)
        self.warnings.setdefault(location_id, []).append(warning)
        return warning

    # --- answers ------------------------------------------------------------------------

    def city_lookup(self, params: dict) -> dict:
        name = params.get("location", "")
        if name not in self.cities:
            return {"code": "404"}
        return {
            "code": "200",
            "location": [
                {
                    "name": name,
                    "id": self.cities[name],
                    "lat": "30.28746",
                    "lon": "120.15358",
                    "adm2": name,
                    "adm1": "浙江省",
                    "country": "中国",
                    "tz": "Asia/Shanghai",
                    "utcOffset": "+08:00",
                    "isDst": "0",
                    "type": "city",
                    "rank": "11",
                    "fxLink": "https://www.qweather.com/weather/example.html",
                }
            ],
            "refer": {"sources": ["QWeather"], "license": ["QWeather Developers License"]},
        }

    def warning_now(self, params: dict) -> dict:
        return {
            "code": "200",
            "updateTime": "2026-06-15T10:00+08:00",
            "fxLink": "https://www.qweather.com/severe-weather/example.html",
            "warning": list(self.warnings.get(params.get("location", ""), [])),
            "refer": {"sources": ["12379"], "license": ["QWeather Developers License"]},
        }


ROUTES = {
    "/geo/v2/city/lookup": FakeQWeather.city_lookup,
    "/v7/warning/now": FakeQWeather.warning_now,
}


class _Handler(JsonHandler):
    fake: FakeQWeather

    def do_GET(self):
        url = urlparse(self.path)
        params = {key: values[0] for key, values in parse_qs(url.query).items()}
        key = self.headers.get("X-QW-Api-Key") or params.pop("key", "")
        fake = self.fake
        fake.requests.append((url.path, params))
        fake.keys_seen.append(key)
        route = ROUTES.get(url.path)
        if route is None:
            self._json({"code": "404"}, status=404)
        elif key != fake.key:
            self._json({"code": "401"}, status=401)
        else:
            self._json(route(fake, params))


class FakeQWeatherServer(LoopbackServer):
    def __init__(self, fake: FakeQWeather | None = None):
        super().__init__(fake or FakeQWeather(), _Handler)
