"""Staff H5 pages (WeUI, phone-sized): log-in, the work-bench, the pool, my leads, a new lead
and the salesperson's personal QR code. A lead's own pages are in ``staff_leads``.

Staff enter through WeChat OAuth, or the sandbox log-in in embedded mode. Every other page
needs a logged-in staff member: strangers go to the log-in, a customer's session gets 403.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from crm import access, clock, web_security
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import (
    LEAD_CLASS_LABELS,
    LEAD_SOURCE_LABELS,
    PURCHASE_TIMEFRAME_LABELS,
    Lead,
    LeadSource,
    LeadStatus,
    Staff,
    Store,
)
from crm.services import auth, catalogue, enquiry_links, leads, pool, workbench
from crm.services.care import tasks as care_tasks
from crm.services.identity import find_staff_by_phone
from crm.views import invitations, member_h5, wechat_oauth
from crm.views.forms import form_page, form_values, int_arg

bp = Blueprint("staff_h5", __name__, url_prefix="/h5")
PER_PAGE = 20
OPEN_TO_ALL = frozenset({"staff_h5.login", "staff_h5.oauth_return", "staff_h5.logout"})
STATUS_LABELS = {
    LeadStatus.OPEN: "跟进中",
    LeadStatus.DEAL: "已下定",
    LeadStatus.WON: "已成交",
    LeadStatus.LOST: "已战败",
}
# Sources a salesperson enters by hand (imports come from the console).
ENTERED_SOURCES = {
    source: label for source, label in LEAD_SOURCE_LABELS.items() if source != LeadSource.IMPORT
}
LEAD_FIELDS = (
    "name",
    "phone",
    "source",
    "referrer",
    "model_of_interest",
    "purchase_timeframe",
    "note",
)


def require_staff():
    """Before every staff page: a logged-in staff member, else the log-in (or 403 for a
    customer who is logged into the member pages)."""
    if request.endpoint in OPEN_TO_ALL or current_user.is_authenticated:
        return None
    if session.get(member_h5.SESSION_KEY):
        page = render_template(
            "h5/message.html",
            heading="员工工作台",
            text="该页面仅供门店员工使用，会员请进入会员中心",
        )
        return page, 403
    return redirect(url_for("staff_h5.login"))


bp.before_request(require_staff)


def model_names() -> list[str]:
    """The group's car models on sale, for selects."""
    return sorted(catalogue.active_model_names(db.session, current_user.group_id))


@bp.get("/")
def home():
    now = clock.now()
    bench = workbench.summary(db.session, current_user, now)
    return render_template(
        "h5/home.html",
        bench=bench,
        labels=LEAD_CLASS_LABELS,
        care_tasks=care_tasks.open_tasks(db.session, current_user, now),
        now=now,
    )


@bp.get("/pool")
def pool_page():
    values = form_values(("model_of_interest", "source", "lead_class", "age", "phone"))
    now, errors, page = clock.now(), {}, None
    try:
        query = pool.browse_query(current_user, pool.PoolFilters(**values), now)
    except ValidationError as error:
        errors[error.field or "phone"] = error.message
    else:
        page = db.paginate(query, page=int_arg("page", 1), per_page=PER_PAGE, error_out=False)
    return form_page(
        "h5/pool.html",
        errors,
        page=page,
        values=values,
        now=now,
        models=model_names(),
        sources=LEAD_SOURCE_LABELS,
        classes=LEAD_CLASS_LABELS,
        ages=pool.AGE_LABELS,
        can_claim=access.allowed(current_user, "lead.follow_up"),
    )


@bp.get("/leads")
def leads_page():
    values = form_values(("lead_class", "status"))
    if "status" not in request.args:
        values["status"] = LeadStatus.OPEN.value
    if values["lead_class"] not in LEAD_CLASS_LABELS:
        values["lead_class"] = ""
    if values["status"] not in STATUS_LABELS:
        values["status"] = ""
    query = leads.my_leads_query(current_user, leads.LeadFilters(**values))
    page = db.paginate(query, page=int_arg("page", 1), per_page=PER_PAGE, error_out=False)
    return render_template(
        "h5/leads.html",
        page=page,
        values=values,
        classes=LEAD_CLASS_LABELS,
        statuses=STATUS_LABELS,
        now=clock.now(),
    )


@bp.route("/leads/new", methods=["GET", "POST"])
def lead_new():
    values, errors, duplicate = form_values(LEAD_FIELDS), {}, None
    to_pool = request.form.get("to_pool") == "1"
    if request.method == "GET":
        values["source"] = LeadSource.SHOWROOM.value
    else:
        try:
            lead = leads.create_lead(
                db.session, current_user, leads.LeadInput(**values), clock.now(), to_pool=to_pool
            )
        except leads.DuplicateLead as error:
            duplicate = error.duplicate
        except ValidationError as error:
            errors[error.field or "name"] = error.message
        else:
            where = "，已放入客户池" if lead.owner_id is None else "，请在1小时内首次联系"
            flash(f"已新建线索：{lead.name}{where}")
            return redirect(url_for("staff_leads.lead_detail", lead_id=lead.id))
    rendered = render_template(
        "h5/lead_form.html",
        values=values,
        errors=errors,
        to_pool=to_pool,
        duplicate=duplicate,
        duplicate_visible=duplicate is not None and _visible_lead_id(duplicate),
        sources=ENTERED_SOURCES,
        models=model_names(),
        timeframes=PURCHASE_TIMEFRAME_LABELS,
        may_choose_pool=current_user.role in access.SALES_ROLES,
    )
    return rendered, 409 if duplicate else 400 if errors else 200


def _visible_lead_id(duplicate: leads.Duplicate) -> bool:
    """Whether the existing record a duplicate names is a lead the actor may open."""
    if duplicate.kind != "lead":
        return False
    query = access.scope(select(Lead.id).where(Lead.id == duplicate.record_id), current_user, Lead)
    return db.session.scalar(query) is not None


@bp.get("/my-qr")
def my_qr():
    """The salesperson's personal QR code: prospects who scan it send an enquiry that becomes
    the salesperson's lead; without a sales role, the store's own enquiry form."""
    store = db.session.get(Store, current_user.store_id) if current_user.store_id else None
    if store is None:
        return render_template(
            "h5/message.html", heading="我的二维码", text="只有分店员工有门店询价二维码"
        )
    personal = current_user.role in access.SALES_ROLES
    args = {"store_code": store.code}
    if personal:
        args["ref"] = enquiry_links.sign(current_app.config["SECRET_KEY"], current_user.id)
    settings = current_app.extensions["crm_settings"]
    link = settings.public_base_url + url_for("enquiry.form", **args)
    return render_template(
        "h5/my_qr.html",
        store=store,
        link=link,
        personal=personal,
        qr=invitations.qr_svg(link),
    )


@bp.post("/customers/<int:customer_id>/binding-qr")
def customer_binding_qr(customer_id: int):
    """Shown on the salesperson's phone at delivery: the customer scans it to become a member."""
    return invitations.show_new_invitation("h5/binding_qr.html", customer_id=customer_id)


def _active_staff(db_session, phone):
    staff = find_staff_by_phone(db_session, phone)
    if staff is None or not staff.active:
        raise ValidationError("该手机号不是在职员工", "phone")
    return staff


def _enter(person):
    if not isinstance(person, Staff):
        return render_template(
            "h5/message.html", heading="员工工作台", text="该微信绑定的是会员身份，请进入会员中心"
        ), 403
    # The OAuth code stays marked as used, so a refresh of the return URL cannot replay it.
    web_security.begin_login_session(wechat_oauth.USED_CODE_KEY)
    login_user(person)
    return redirect(url_for("staff_h5.home"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        auth.end_all_sessions(db.session, current_user)
    web_security.end_session()
    logout_user()
    return redirect(url_for("staff_h5.login"))


@bp.get("/oauth")
def oauth_return():
    return wechat_oauth.finish("staff_h5.oauth_return", "staff_h5.home", _enter, "员工工作台")


@bp.route("/login", methods=["GET", "POST"])
def login():
    return wechat_oauth.login(
        "staff_h5.oauth_return",
        people="staff",
        find_person=_active_staff,
        enter=_enter,
        heading="员工工作台",
        placeholder="员工登记的手机号",
        button="进入工作台",
        menu_entry="员工工作台",
    )
