"""Weather warnings (PRODUCT "The care calendar": thunderstorm, typhoon, cold snap, heat wave in
the customer's city — message + "call us"; issue 8). QWeather is the fake QWeather server,
asked through real HTTP calls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import CareTemplate, OutboxMessage, WeatherWarning
from crm.services import dispatcher, qweather
from crm.services.care import planner, policy, weather
from crm.services.care.kinds import CareItem, CareKind, Rank
from crm.services.qweather import Alert, QWeather, QWeatherError
from jobs import weather as weather_job
from tests import factories as f
from tests.test_outbox import SITE, following
from wechat.client import SharedTokenClient

HANGZHOU, SHANGHAI = "101210101", "101020100"


@pytest.fixture
def cities(org, session, fake_qweather):
    """Customers A1, A2 (store A) and B (store B, 宁波) live in 杭州; one more in 上海."""
    org.store_a.rescue_phone = "0571-88889999"
    org.store_b.rescue_phone, org.store_b.phone = "", "0574-87650000"
    for customer in (org.customer_a1, org.customer_a2, org.customer_b):
        customer.city = "杭州"
    session.commit()
    shanghai = f.CustomerFactory(store=org.store_a, group_id=org.store_a.group_id, city="上海")
    fake_qweather.fake.add_city("杭州", HANGZHOU)
    fake_qweather.fake.add_city("上海", SHANGHAI)
    return shanghai


@pytest.fixture
def api(fake_qweather):
    return QWeather(fake_qweather.fake.key, fake_qweather.base_url)


def typhoon(fake_qweather, location=HANGZHOU, **fields) -> dict:
    return fake_qweather.fake.warn(location, "1001", "台风", **fields)


def messages(session) -> list[OutboxMessage]:
    return session.scalars(select(OutboxMessage).order_by(OutboxMessage.customer_id)).all()


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_typhoon_warning_reaches_every_customer_of_the_city_with_their_stores_rescue_phone(
    org, session, frozen_now, cities, api, fake_qweather
):
    warning = typhoon(fake_qweather)

    assert weather.poll(session, api, clock.now()) == {"warnings": 1, "queued": 3}

    sent = messages(session)
    assert [m.customer_id for m in sent] == sorted(
        [org.customer_a1.id, org.customer_a2.id, org.customer_b.id]
    )
    assert cities.id not in {m.customer_id for m in sent}  # 上海 has no warning
    by_customer = {m.customer_id: m for m in sent}
    message = by_customer[org.customer_a1.id]
    assert (message.kind, message.state, message.priority) == ("weather", "pending", Rank.CRITICAL)
    assert message.dedupe_key == f"weather:{org.customer_a1.id}:{warning['id']}"
    assert message.not_before == clock.now()
    assert message.payload["data"] == {
        "keyword1": "台风蓝色预警[Ⅳ级/一般]",
        "keyword2": "6月15日09:30至16日09:30",
        "keyword3": "请将车停在高处，远离大树和广告牌",
        "keyword4": "0571-88889999",
    }
    # Store B has no rescue line: its customer is given the store's phone.
    assert by_customer[org.customer_b.id].payload["data"]["keyword4"] == "0574-87650000"
    seen = session.get(WeatherWarning, warning["id"])
    assert (seen.city, seen.kind, seen.title) == ("杭州", "typhoon", warning["title"])


def test_polling_again_sends_nothing_new(session, frozen_now, cities, api, fake_qweather):
    typhoon(fake_qweather)
    weather.poll(session, api, clock.now())

    assert weather.poll(session, api, clock.now()) == {"warnings": 0, "queued": 0}
    assert count(session, OutboxMessage) == 3
    assert count(session, WeatherWarning) == 1


def test_the_key_travels_in_a_header_never_in_a_url(
    session, frozen_now, cities, api, fake_qweather
):
    typhoon(fake_qweather)
    weather.poll(session, api, clock.now())

    asked = fake_qweather.fake.requests
    assert [path for path, _ in asked] == [
        "/geo/v2/city/lookup",
        "/geo/v2/city/lookup",
        "/v7/warning/now",
        "/v7/warning/now",
    ]
    assert all("key" not in params for _, params in asked)
    assert set(fake_qweather.fake.keys_seen) == {fake_qweather.fake.key}


def test_two_spellings_of_one_city_share_its_warning(
    org, session, frozen_now, cities, api, fake_qweather
):
    org.customer_b.city = "杭州市"
    session.commit()
    fake_qweather.fake.add_city("杭州市", HANGZHOU)
    typhoon(fake_qweather)

    assert weather.poll(session, api, clock.now()) == {"warnings": 1, "queued": 3}
    assert count(session, WeatherWarning) == 1


def test_warnings_that_are_not_for_drivers_now_are_ignored(
    session, frozen_now, cities, api, fake_qweather
):
    fake = fake_qweather.fake
    fake.warn(HANGZHOU, "1017", "大雾")
    fake.warn(HANGZHOU, "1055", "海上台风")
    typhoon(fake_qweather, status="cancel")
    fake.warn(HANGZHOU, "1014", "雷电", endTime="2026-06-15T09:45+08:00")  # over at 10:00

    assert weather.poll(session, api, clock.now()) == {"warnings": 0, "queued": 0}
    assert count(session, OutboxMessage) == 0
    assert count(session, WeatherWarning) == 0


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        ("1014", "雷电", "thunderstorm"),
        ("1001", "台风", "typhoon"),
        ("1005", "寒潮", "cold"),
        ("1009", "高温", "heat"),
        ("1010", "热浪", "heat"),
        ("1099", "强雷暴", "thunderstorm"),  # a code QWeather adds later, read by its name
        ("1017", "大雾", None),
        ("1003", "暴雨", None),
        ("1052", "海上雷雨大风", None),
    ],
)
def test_only_the_four_hazards_count(code, name, expected):
    alert = Alert.from_json({"id": "w1", "type": code, "typeName": name})
    assert weather.hazard(alert) == expected


def test_an_update_of_a_warning_already_sent_is_not_sent_again(
    session, frozen_now, cities, api, fake_qweather
):
    first = typhoon(fake_qweather)
    weather.poll(session, api, clock.now())
    fake_qweather.fake.warnings[HANGZHOU] = []
    typhoon(
        fake_qweather,
        status="update",
        related=first["id"],
        pubTime="2026-06-15T10:30+08:00",
        title="杭州市气象台发布台风黄色预警[Ⅲ级/较重]",
    )

    assert weather.poll(session, api, clock.now()) == {"warnings": 1, "queued": 0}
    assert count(session, OutboxMessage) == 3


def test_a_refused_key_is_a_clear_error_and_writes_nothing(
    session, frozen_now, cities, fake_qweather
):
    typhoon(fake_qweather)
    wrong = QWeather("wrong-key-7731", fake_qweather.base_url)

    with pytest.raises(QWeatherError) as refused:
        weather.poll(session, wrong, clock.now())

    assert refused.value.code == "401"
    assert "authentication failed: check QWEATHER_KEY" in str(refused.value)
    assert "wrong-key-7731" not in str(refused.value)
    assert count(session, OutboxMessage) == 0
    assert count(session, WeatherWarning) == 0


def test_without_a_key_the_job_does_nothing_and_says_not_configured(
    app, cli, session, frozen_now, cities, fake_qweather
):
    typhoon(fake_qweather)

    with app.app_context():
        assert (
            weather_job.poll(session, clock.now())
            == "未配置（未设置 QWEATHER_KEY），天气预警不会发送"
        )

    assert fake_qweather.fake.requests == []
    assert count(session, OutboxMessage) == 0
    doctor = cli.invoke(args=["doctor"])
    assert "WARN weather: 未配置（未设置 QWEATHER_KEY）" in doctor.output


def test_the_job_polls_with_the_configured_key(
    app, session, frozen_now, cities, fake_qweather, monkeypatch
):
    settings = app.extensions["crm_settings"].with_overrides(
        qweather_key=fake_qweather.fake.key, qweather_api_base_url=fake_qweather.base_url
    )
    monkeypatch.setitem(app.extensions, "crm_settings", settings)
    typhoon(fake_qweather)

    with app.app_context():
        assert weather_job.poll(session, clock.now()) == {"warnings": 1, "queued": 3}


def test_doctor_proves_the_key_or_names_the_refusal(app, fake_qweather):
    settings = app.extensions["crm_settings"].with_overrides(
        qweather_key=fake_qweather.fake.key, qweather_api_base_url=fake_qweather.base_url
    )
    fake_qweather.fake.add_city("北京", "101010100")
    assert (
        qweather.check(settings).line()
        == f"OK   weather: QWeather answers at {fake_qweather.base_url}"
    )

    refused = qweather.check(settings.with_overrides(qweather_key="wrong"))
    assert not refused.ok
    assert refused.line() == (
        "FAIL weather: QWeather 401: /geo/v2/city/lookup: authentication failed: check QWEATHER_KEY"
    )


def test_weather_is_a_kind_the_dispatcher_and_console_know():
    assert planner.kind("weather") is weather.KIND
    assert weather.KIND in planner.all_kinds()
    assert "weather" not in planner.KINDS  # polled, not planned by the day


GREETING = CareKind(name="greeting", label="节日祝福", priority=Rank.GREETING, fields={}, sample={})


def greet(session, org, send_at: datetime, now: datetime) -> OutboxMessage:
    """A greeting for customer A1 through the policy, as the daily planner queues one."""
    item = CareItem(
        kind=GREETING,
        customer_id=org.customer_a1.id,
        store_id=org.store_a.id,
        occasion="2026",
        due_on=clock.today(send_at),
        send_at=send_at,
    )
    policy.apply(session, clock.today(now), [item], now)
    session.commit()
    return session.scalar(select(OutboxMessage).where(OutboxMessage.kind == GREETING.name))


def warning_for(session, customer) -> OutboxMessage:
    return session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.kind == "weather", OutboxMessage.customer_id == customer.id
        )
    )


def test_a_warning_at_night_goes_out_at_eight_and_that_days_greeting_rides_along(
    org, session, cities, api, fake_qweather
):
    typhoon(fake_qweather, pubTime="2026-06-15T00:30+08:00", startTime="2026-06-15T00:30+08:00")
    weather.poll(session, api, datetime(2026, 6, 14, 17, 0, tzinfo=UTC))  # 01:00 in Beijing
    warning = warning_for(session, org.customer_a1)
    assert warning.not_before == datetime(2026, 6, 15, 0, 0, tzinfo=UTC)  # 08:00

    # The planner at 06:00 queues a greeting for 09:00 the same day.
    greeting = greet(
        session,
        org,
        send_at=datetime(2026, 6, 15, 1, 0, tzinfo=UTC),
        now=datetime(2026, 6, 14, 22, 0, tzinfo=UTC),
    )
    assert (greeting.state, greeting.bundled_into_id) == ("bundled", warning.id)


def test_a_warning_goes_out_the_same_day_even_when_a_greeting_holds_the_day(
    org, session, frozen_now, cities, api, fake_qweather
):
    greeting = greet(session, org, send_at=clock.now(), now=clock.now())
    assert greeting.state == "pending"
    typhoon(fake_qweather)

    weather.poll(session, api, clock.now())

    warning = warning_for(session, org.customer_a1)
    assert (warning.state, warning.not_before) == ("pending", clock.now())


def test_a_following_customer_receives_the_warning_as_a_template_message(
    org, session, frozen_now, cities, api, fake_qweather, fake_wechat
):
    following(session, fake_wechat, org.customer_a1.id)
    session.add(
        CareTemplate(group_id=org.store_a.group_id, kind="weather", template_id="tmpl-weather")
    )
    session.commit()
    typhoon(fake_qweather)
    weather.poll(session, api, clock.now())
    fake = fake_wechat.fake
    client = SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)
    dispatcher.dispatch(session, client, SITE, clock.now())

    [sent] = fake.sent
    assert (sent["touser"], sent["template_id"]) == ("o-customer-1", "tmpl-weather")
    assert sent["data"]["keyword4"] == {"value": "0571-88889999"}
