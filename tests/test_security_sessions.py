"""Sessions and CSRF (issue 12 "Security", ASVS 3.2, 3.3, 3.4, 4.2.2).

Session fixation: whatever the session held before a log-in (a planted value, the anonymous
CSRF token, another identity) is gone after it, for the console, the staff H5 and the member
log-ins, through the sandbox and through WeChat OAuth. Log-out forgets the whole session and
moves the person to a new session epoch, so a cookie copied before it stops working. The
cookie is HttpOnly and SameSite=Lax everywhere, and Secure in production. A POST without the
CSRF token is refused with 400 and changes nothing, on the console, the staff H5 and the member
pages. (The console log-in form's own CSRF tests are in test_console.py.)
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from crm import clock, create_app
from crm.extensions import db, limiter
from crm.models import Complaint, Lead, Store, WeChatApp, WeChatIdentity
from tests.conftest import app_config, login
from tests.factories import PASSWORD

COOKIE = "crm_session"
PLANTED = "planted_by_someone_else"


def _session_of(client) -> dict:
    """The session the client's cookie carries, decoded with the app's own serializer."""
    cookie = client.get_cookie(COOKIE)
    if cookie is None:
        return {}
    app = client.application
    return dict(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def _plant(client) -> str:
    """An anonymous session with a value in it and a CSRF token (the log-in page renders one);
    returns the anonymous cookie."""
    with client.session_transaction() as anonymous:
        anonymous[PLANTED] = "x"
    return client.get_cookie(COOKIE).value


def _csrf_token(session: dict) -> str | None:
    return session.get("csrf_token")


# --- session fixation ------------------------------------------------------------------------


def test_console_log_in_starts_a_new_session(client, org):
    client.get("/console/login")  # renders a CSRF token into the anonymous session
    before = _plant(client)
    anonymous_token = _csrf_token(_session_of(client))
    assert anonymous_token

    assert login(client, org.store_admin_a).status_code == 302

    after = _session_of(client)
    assert client.get_cookie(COOKIE).value != before
    assert PLANTED not in after
    assert after["_user_id"] == org.store_admin_a.get_id()
    client.get("/console/")  # the logged-in page renders a token of its own: a new one
    assert _csrf_token(_session_of(client)) not in (None, anonymous_token)


def test_the_anonymous_cookie_does_not_become_a_logged_in_one(client, app, org):
    client.get("/console/login")
    before = _plant(client)
    login(client, org.store_admin_a)
    replayed = app.test_client()
    replayed.set_cookie(COOKIE, before)
    response = replayed.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.location


def test_staff_h5_log_in_starts_a_new_session(client, org):
    client.get("/h5/login")
    before = _plant(client)
    assert client.post("/h5/login", data={"phone": org.sales_a1.phone}).status_code == 302
    after = _session_of(client)
    assert client.get_cookie(COOKIE).value != before
    assert PLANTED not in after and after["_user_id"] == org.sales_a1.get_id()


def test_member_log_in_starts_a_new_session(client, org):
    client.get("/m/login")
    before = _plant(client)
    assert client.post("/m/login", data={"phone": org.customer_a1.phone}).status_code == 302
    after = _session_of(client)
    assert client.get_cookie(COOKIE).value != before
    assert PLANTED not in after and after["customer_id"] == org.customer_a1.id


def test_a_member_log_in_in_a_staff_browser_drops_the_staff_identity(client, org):
    """One identity per session: the member pages never run beside a staff log-in."""
    login(client, org.store_admin_a)
    client.post("/m/login", data={"phone": org.customer_a1.phone})
    assert "_user_id" not in _session_of(client)
    assert client.get("/console/").status_code == 302


@pytest.fixture
def web(tmp_path, app, session, fake_wechat):
    """An app with an Official Account (the fake WeChat): the H5 pages log in by OAuth."""
    configured = create_app(
        app_config(
            tmp_path,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID=fake_wechat.fake.app_id,
            WECHAT_APP_SECRET=fake_wechat.fake.app_secret,
            WECHAT_API_BASE_URL=fake_wechat.base_url,
        )
    )
    return configured.test_client()


def _bind(session, openid: str, **person):
    session.add(
        WeChatIdentity(
            app=WeChatApp.OFFICIAL_ACCOUNT.value, openid=openid, bound_at=clock.now(), **person
        )
    )
    session.commit()


def _oauth_state(web, login_path: str) -> str:
    response = web.get(login_path)
    return parse_qs(urlparse(response.location).query)["state"][0]


@pytest.mark.parametrize(
    ("prefix", "person"), [("/h5", "sales_a1"), ("/m", "customer_a1")], ids=["staff", "member"]
)
def test_an_oauth_log_in_starts_a_new_session_and_still_refuses_a_replayed_code(
    web, fake_wechat, org, session, prefix, person
):
    who = getattr(org, person)
    _bind(session, "o-1", **({"staff_id": who.id} if prefix == "/h5" else {"customer_id": who.id}))
    fake_wechat.fake.add_oauth_code("c-1", openid="o-1")
    state = _oauth_state(web, f"{prefix}/login")
    before = _plant(web)

    assert web.get(f"{prefix}/oauth?code=c-1&state={state}").status_code == 302

    after = _session_of(web)
    assert web.get_cookie(COOKIE).value != before
    assert PLANTED not in after and "oauth_state" not in after
    # The used code is the one thing kept: a refreshed return page must not exchange it again.
    again = web.get(f"{prefix}/oauth?code=c-1&state={state}")
    assert again.status_code == 302 and again.location.endswith(f"{prefix}/")
    assert fake_wechat.fake.requests.count(("GET", "/sns/oauth2/access_token")) == 1


@pytest.mark.parametrize(
    ("log_in", "logout", "home"),
    [
        ("console", "/console/logout", "/console/"),
        ("h5", "/h5/logout", "/h5/"),
        ("m", "/m/logout", "/m/"),
    ],
)
def test_log_out_forgets_the_whole_session(client, org, log_in, logout, home):
    if log_in == "console":
        login(client, org.store_admin_a)
    elif log_in == "h5":
        client.post("/h5/login", data={"phone": org.sales_a1.phone})
    else:
        client.post("/m/login", data={"phone": org.customer_a1.phone})
    client.get(home)  # renders a CSRF token into the logged-in session
    assert _csrf_token(_session_of(client))

    assert client.post(logout).status_code == 302

    left = _session_of(client)
    assert set(left) <= {"_flashes"}, left  # the console's "已退出登录" notice only
    response = client.get(home)
    assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize(
    ("log_in", "logout", "home"),
    [
        ("console", "/console/logout", "/console/"),
        ("h5", "/h5/logout", "/h5/"),
        ("m", "/m/logout", "/m/"),
    ],
)
def test_a_cookie_copied_before_log_out_stops_working_after_it(
    app, client, org, log_in, logout, home
):
    if log_in == "console":
        login(client, org.store_admin_a)
    elif log_in == "h5":
        client.post("/h5/login", data={"phone": org.sales_a1.phone})
    else:
        client.post("/m/login", data={"phone": org.customer_a1.phone})
    assert client.get(home).status_code == 200
    copied = client.get_cookie(COOKIE).value
    thief = app.test_client()
    thief.set_cookie(COOKIE, copied)
    assert thief.get(home).status_code == 200

    assert client.post(logout).status_code == 302

    refused = thief.get(home)
    assert refused.status_code == 302 and "login" in refused.location


# --- cookie flags ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "person"),
    [("/h5/login", "sales_a1"), ("/m/login", "customer_a1")],
    ids=["staff", "member"],
)
def test_h5_session_cookies_are_httponly_and_samesite_lax(client, org, path, person):
    cookie = client.post(path, data={"phone": getattr(org, person).phone}).headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development serves plain http


def test_production_sets_the_secure_flag_on_the_log_in_cookie(tmp_path, app, session, org):
    production = create_app(
        app_config(
            tmp_path,
            CRM_ENV="production",
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID="wx-prod",
            WECHAT_APP_SECRET="prod-secret",
        )
    ).test_client()
    response = production.post(
        "/console/login",
        data={"phone": org.store_admin_a.phone, "password": PASSWORD},
        base_url="https://crm.example.com",
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- CSRF ------------------------------------------------------------------------------------


@pytest.fixture
def guarded(tmp_path, app, session):
    """A client of an app with CSRF protection on (the test app turns it off)."""
    return create_app(
        app_config(
            tmp_path, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], WTF_CSRF_ENABLED=True
        )
    ).test_client()


def _token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_console_post_without_the_token_is_refused_and_changes_nothing(guarded, org, session):
    token = _token(guarded, "/console/login")
    data = {"phone": org.group_admin.phone, "password": PASSWORD, "csrf_token": token}
    assert guarded.post("/console/login", data=data).status_code == 302

    refused = guarded.post(f"/console/stores/{org.store_a.id}/active", data={"active": "0"})

    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(Store, org.store_a.id).active is True
    forged = guarded.post(
        f"/console/stores/{org.store_a.id}/active", data={"active": "0", "csrf_token": "forged"}
    )
    assert forged.status_code == 400
    session.expire_all()
    assert session.get(Store, org.store_a.id).active is True
    token = _token(guarded, f"/console/stores/{org.store_a.id}")
    accepted = guarded.post(
        f"/console/stores/{org.store_a.id}/active", data={"active": "0", "csrf_token": token}
    )
    assert accepted.status_code == 302
    session.expire_all()
    assert session.get(Store, org.store_a.id).active is False


def test_a_staff_h5_post_without_the_token_is_refused_and_changes_nothing(guarded, org, session):
    token = _token(guarded, "/h5/login")
    guarded.post("/h5/login", data={"phone": org.sales_a1.phone, "csrf_token": token})
    leads = _count(session, Lead)
    data = {"name": "伪造线索", "phone": "13811112222", "source": "showroom"}
    refused = guarded.post("/h5/leads/new", data=data)
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert _count(session, Lead) == leads
    # The same form with the page's token goes through: only the token was missing.
    accepted = guarded.post("/h5/leads/new", data={**data, "csrf_token": _token(guarded, "/h5/")})
    assert accepted.status_code == 302 and _count(session, Lead) == leads + 1


def test_a_member_post_without_the_token_is_refused_and_changes_nothing(guarded, org, session):
    token = _token(guarded, "/m/login")
    guarded.post("/m/login", data={"phone": org.customer_a1.phone, "csrf_token": token})
    data = {"text": "伪造的投诉内容，要求回电"}
    refused = guarded.post("/m/complaints/new", data=data)
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert _count(session, Complaint) == 0
    token = _token(guarded, "/m/complaints/new")
    accepted = guarded.post("/m/complaints/new", data={**data, "csrf_token": token})
    assert accepted.status_code == 302 and _count(session, Complaint) == 1


def test_the_sandbox_log_in_itself_needs_the_token(guarded, org):
    refused = guarded.post("/m/login", data={"phone": org.customer_a1.phone})
    assert refused.status_code == 400
    assert "customer_id" not in _session_of(guarded)


# --- log-in brute force ----------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def limited(request, tmp_path, app, session):
    """A client of an app whose log-in limits count in-process (no Redis) or in Redis; the
    process-wide limiter is handed back to the session app afterwards."""
    redis_url = ""
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
    other = create_app(
        app_config(
            tmp_path, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis_url
        )
    )
    with other.app_context():
        limiter.reset()  # a count left in the shared Redis by an earlier run
    yield other.test_client()
    with other.app_context():
        limiter.reset()
        db.session.remove()
        db.engine.dispose()
    limiter.init_app(app)


def _attempt(client, phone: str, password: str, address: str, **headers):
    return client.post(
        "/console/login",
        data={"phone": phone, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def test_five_failures_from_one_address_block_it_for_every_account(limited, org):
    accounts = [org.store_admin_a, org.store_admin_b, org.sales_a1, org.sales_a2, org.sales_b]
    for staff in accounts:
        assert _attempt(limited, staff.phone, "wrong-password", "10.1.1.1").status_code == 400
    blocked = _attempt(limited, org.group_admin.phone, PASSWORD, "10.1.1.1")
    assert blocked.status_code == 429
    assert "尝试次数过多，请稍后再试" in blocked.get_data(as_text=True)
    assert _attempt(limited, org.group_admin.phone, PASSWORD, "10.1.1.2").status_code == 302


def test_five_failures_on_one_account_from_many_addresses_block_that_account(limited, org):
    phone = org.store_admin_a.phone
    for n in range(5):
        assert _attempt(limited, phone, "wrong-password", f"10.2.0.{n}").status_code == 400
    spaced = " ".join([phone[:3], phone[3:7], phone[7:]])  # the same account, typed otherwise
    blocked = _attempt(limited, spaced, PASSWORD, "10.2.1.1")
    assert blocked.status_code == 429
    assert "尝试次数过多" in blocked.get_data(as_text=True)
    assert _attempt(limited, org.store_admin_b.phone, PASSWORD, "10.2.1.2").status_code == 302


def test_successful_log_ins_do_not_use_up_the_accounts_attempts(limited, org):
    for n in range(7):
        answer = _attempt(limited, org.store_admin_a.phone, PASSWORD, f"10.3.0.{n}")
        assert answer.status_code == 302


def test_behind_nginx_each_client_address_is_counted_on_its_own(tmp_path, app, session, org):
    """In production every request comes from nginx on 127.0.0.1; the client is the address
    nginx appends to X-Forwarded-For, so one client's failures do not lock out the others."""
    production = create_app(
        app_config(
            tmp_path,
            CRM_ENV="production",
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID="wx-prod",
            WECHAT_APP_SECRET="prod-secret",
        )
    )
    client = production.test_client()
    try:
        with production.app_context():
            limiter.reset()
        accounts = [org.store_admin_b, org.sales_a1, org.sales_a2, org.sales_b, org.care_a]
        for staff in accounts:
            answer = _attempt(
                client, staff.phone, "wrong", "127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}
            )
            assert answer.status_code == 400
        again = _attempt(
            client,
            org.group_admin.phone,
            PASSWORD,
            "127.0.0.1",
            **{"X-Forwarded-For": "203.0.113.9"},
        )
        assert again.status_code == 429
        other = _attempt(
            client,
            org.group_admin.phone,
            PASSWORD,
            "127.0.0.1",
            **{"X-Forwarded-For": "198.51.100.7"},
        )
        assert other.status_code == 302
    finally:
        with production.app_context():
            limiter.reset()
        limiter.init_app(app)
