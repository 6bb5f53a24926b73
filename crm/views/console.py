"""The desktop console: log-in and the organisation (group, stores, teams, staff).

Views parse the form, call one service, and render; a DomainError from the service is shown
beside the offending field and nothing is changed.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from crm import access, clock, phones, web_security
from crm.errors import ValidationError
from crm.extensions import db, limiter
from crm.models import ROLE_LABELS, Customer, Group, Lead, LeadStatus, Role, Staff, Store, Team
from crm.services import auth, auto_replies, care_opt_outs, handover, membership, org
from crm.services.console_lists import customers, listing
from crm.services.console_lists import staff as staff_members
from crm.services.console_lists import stores as store_list
from crm.views import downloads, invitations
from crm.views.forms import form_page, form_values, int_arg, local_target

bp = Blueprint("console", __name__, url_prefix="/console")
PER_PAGE = 20


def _login_limit() -> str:
    return current_app.extensions["crm_settings"].login_rate_limit


def _login_account() -> str:
    """The account a log-in attempt is for, so guessing one password from many addresses is
    counted too; spacing or a +86 prefix does not make it another account."""
    raw = request.form.get("phone", "")
    try:
        return "console-login:" + phones.normalise(raw)
    except ValidationError:
        return "console-login:" + raw.strip()


def _failed_login(response) -> bool:
    # A wrong phone or password answers 400; a log-in refused by the address limit (429) was
    # never tried against the account, so it does not use up the account's attempts.
    return response.status_code == 400


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="尝试次数过多，请稍后再试")
@limiter.limit(
    _login_limit,
    key_func=_login_account,
    methods=["POST"],
    deduct_when=_failed_login,
    error_message="尝试次数过多，请稍后再试",
)
def login():
    values, errors = form_values(("phone",)), {}
    if request.method == "POST":
        try:
            staff = auth.authenticate(db.session, values["phone"], request.form.get("password", ""))
        except ValidationError as error:
            errors[error.field or "password"] = error.message
        else:
            web_security.begin_login_session()
            login_user(staff)
            return redirect(_safe_next() or url_for("console.dashboard"))
    return form_page("console/login.html", errors, values=values)


def _safe_next() -> str | None:
    return local_target(request.args.get("next"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        auth.end_all_sessions(db.session, current_user)
    web_security.end_session()
    logout_user()
    flash("已退出登录")
    return redirect(url_for("console.login"))


@bp.get("/")
@login_required
def dashboard():
    actor = current_user

    def count(model, *where):
        query = access.scope(select(func.count()).select_from(model).where(*where), actor, model)
        return db.session.scalar(query) or 0

    figures = {
        "stores": count(Store, Store.active.is_(True)),
        "staff": count(Staff, Staff.active.is_(True)),
        "customers": count(Customer),
        "open_leads": count(Lead, Lead.status == LeadStatus.OPEN),
        "pool_leads": count(Lead, Lead.status == LeadStatus.OPEN, Lead.owner_id.is_(None)),
    }
    return render_template("console/dashboard.html", figures=figures)


# --- group -----------------------------------------------------------------------------------


@bp.route("/group", methods=["GET", "POST"])
@login_required
def group():
    access.require(current_user, "store.create")
    record = db.session.get(Group, current_user.group_id)
    errors = {}
    if request.method == "POST":
        try:
            org.rename_group(db.session, current_user, request.form.get("name", ""))
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash("集团信息已保存")
            return redirect(url_for("console.group"))
    values = form_values(("name",)) if errors else {"name": record.name}
    return form_page("console/group.html", errors, values=values)


# --- WeChat auto-replies -------------------------------------------------------------------


@bp.route("/auto-replies", methods=["GET", "POST"])
@login_required
def auto_replies_page():
    values, errors = form_values(("keyword", "reply")), {}
    if request.method == "POST":
        try:
            rule = auto_replies.create(
                db.session, current_user, values["keyword"], values["reply"], clock.now()
            )
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash(f"已添加关键词：{rule.keyword}")
            return redirect(url_for("console.auto_replies_page"))
    rules = auto_replies.list_all(db.session, current_user)
    return form_page("console/auto_replies.html", errors, rules=rules, values=values)


@bp.post("/auto-replies/<int:rule_id>/active")
@login_required
def auto_reply_active(rule_id: int):
    active = request.form.get("active") == "1"
    rule = auto_replies.set_active(db.session, current_user, rule_id, active)
    flash(f"关键词“{rule.keyword}”已{'启用' if active else '停用'}")
    return redirect(url_for("console.auto_replies_page"))


@bp.post("/auto-replies/<int:rule_id>/delete")
@login_required
def auto_reply_delete(rule_id: int):
    auto_replies.delete(db.session, current_user, rule_id)
    flash("关键词已删除")
    return redirect(url_for("console.auto_replies_page"))


# --- stores ----------------------------------------------------------------------------------

STORE_FIELDS = ("code", "name", "city", "address", "phone", "rescue_phone")


@bp.get("/stores")
@login_required
def stores():
    query = store_list.list_query(current_user)
    page = db.paginate(query, page=int_arg("page", 1), per_page=PER_PAGE, error_out=False)
    return render_template(
        "console/stores.html",
        page=page,
        may_export=access.allowed(current_user, listing.EXPORT_PERMISSION),
    )


@bp.get("/stores/export.xlsx")
@login_required
def stores_export():
    return downloads.list_export(
        store_list.SHEET.title,
        lambda: store_list.export(db.session, current_user, clock.now()),
        url_for("console.stores"),
    )


@bp.route("/stores/new", methods=["GET", "POST"])
@login_required
def store_new():
    access.require(current_user, "store.create")
    values, errors = form_values(STORE_FIELDS), {}
    if request.method == "POST":
        try:
            store = org.create_store(
                db.session, current_user, org.StoreInput(**values), clock.now()
            )
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash(f"已创建分店：{store.name}")
            return redirect(url_for("console.store_detail", store_id=store.id))
    return _form("console/store_form.html", values, errors, store=None)


@bp.get("/stores/<int:store_id>")
@login_required
def store_detail(store_id: int):
    store = access.get_or_404(Store, store_id, current_user)
    staff = db.session.scalars(
        access.scope(select(Staff).where(Staff.store_id == store.id), current_user).order_by(
            Staff.active.desc(), Staff.role, Staff.name
        )
    ).all()
    return render_template("console/store_detail.html", store=store, staff=staff, errors={})


@bp.route("/stores/<int:store_id>/edit", methods=["GET", "POST"])
@login_required
def store_edit(store_id: int):
    store = access.get_or_404(Store, store_id, current_user, "store.edit")
    errors = {}
    if request.method == "POST":
        values = form_values(STORE_FIELDS)
        try:
            org.update_store(
                db.session, current_user, store_id, org.StoreInput(**values), clock.now()
            )
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash("分店信息已保存")
            return redirect(url_for("console.store_detail", store_id=store_id))
    else:
        values = {name: getattr(store, name) or "" for name in STORE_FIELDS}
    return _form("console/store_form.html", values, errors, store=store)


@bp.post("/stores/<int:store_id>/active")
@login_required
def store_active(store_id: int):
    active = request.form.get("active") == "1"
    store = org.set_store_active(db.session, current_user, store_id, active, clock.now())
    flash(f"{store.name}已{'启用' if active else '停用'}")
    return redirect(url_for("console.store_detail", store_id=store_id))


@bp.post("/stores/<int:store_id>/teams")
@login_required
def team_new(store_id: int):
    try:
        team = org.create_team(db.session, current_user, store_id, request.form.get("name", ""))
    except ValidationError as error:
        store = access.get_or_404(Store, store_id, current_user)
        staff = db.session.scalars(
            access.scope(select(Staff).where(Staff.store_id == store.id), current_user)
        ).all()
        errors = {f"team_{error.field}": error.message}
        page = render_template("console/store_detail.html", store=store, staff=staff, errors=errors)
        return page, 400
    flash(f"已创建团队：{team.name}")
    return redirect(url_for("console.store_detail", store_id=store_id))


# --- staff -----------------------------------------------------------------------------------

STAFF_FIELDS = ("name", "phone", "role", "store_id", "team_id")


@bp.get("/staff")
@login_required
def staff_list():
    access.require(current_user, staff_members.PERMISSION)
    errors: dict[str, str] = {}
    try:
        filters = staff_members.parse_filters(request.args)
    except ValidationError as error:
        filters, errors = staff_members.Filters(), {error.field: error.message}
    query = staff_members.list_query(current_user, filters)
    page = db.paginate(query, page=int_arg("page", 1), per_page=PER_PAGE, error_out=False)
    chosen = {"store": filters.store or "", "role": filters.role, "status": filters.status}
    return form_page(
        "console/staff_list.html",
        errors,
        page=page,
        stores=_stores_in_scope(),
        filters=chosen,
        roles=ROLE_LABELS,
        statuses=staff_members.STATUSES,
        may_export=access.allowed(current_user, listing.EXPORT_PERMISSION),
        export_url=url_for("console.staff_export", **{k: v for k, v in chosen.items() if v}),
    )


@bp.get("/staff/export.xlsx")
@login_required
def staff_export():
    return downloads.list_export(
        staff_members.SHEET.title,
        lambda: staff_members.export(db.session, current_user, request.args, clock.now()),
        url_for("console.staff_list", **request.args.to_dict()),
    )


@bp.route("/staff/new", methods=["GET", "POST"])
@login_required
def staff_new():
    access.require(current_user, "staff.create")
    values, errors = form_values(STAFF_FIELDS), {}
    if request.method == "GET" and not values["store_id"] and current_user.store_id:
        values["store_id"] = str(current_user.store_id)
    if request.method == "POST":
        data = org.StaffInput(**values, password=request.form.get("password") or None)
        try:
            staff = org.create_staff(db.session, current_user, data, clock.now())
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash(f"已添加员工：{staff.name}")
            return redirect(url_for("console.staff_detail", staff_id=staff.id))
    return _staff_form(values, errors, staff=None)


@bp.route("/staff/<int:staff_id>", methods=["GET", "POST"])
@login_required
def staff_detail(staff_id: int):
    staff = access.get_or_404(Staff, staff_id, current_user)
    errors = {}
    if request.method == "POST":
        values = form_values(STAFF_FIELDS)
        data = org.StaffInput(**values, password=request.form.get("password") or None)
        try:
            org.update_staff(db.session, current_user, staff_id, data, clock.now())
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash("员工信息已保存")
            return redirect(url_for("console.staff_detail", staff_id=staff_id))
    else:
        values = {
            "name": staff.name,
            "phone": staff.phone,
            "role": staff.role,
            "store_id": str(staff.store_id or ""),
            "team_id": str(staff.team_id or ""),
        }
    return _staff_form(values, errors, staff=staff)


@bp.post("/staff/<int:staff_id>/leave")
@login_required
def staff_leave(staff_id: int):
    hand_to = request.form.get("hand_to", "")
    try:
        staff, moved = org.set_staff_left(
            db.session,
            current_user,
            staff_id,
            clock.now(),
            hand_to=int(hand_to) if hand_to.isdigit() else None,
        )
    except ValidationError as error:
        flash(error.message, "error")
    else:
        receiver = "客户池" if not hand_to.isdigit() else "指定同事"
        flash(f"{staff.name}已设为离职，其登录立即失效；{moved} 条线索已移交{receiver}")
    return redirect(url_for("console.staff_detail", staff_id=staff_id))


@bp.post("/staff/<int:staff_id>/reinstate")
@login_required
def staff_reinstate(staff_id: int):
    staff = org.reinstate_staff(db.session, current_user, staff_id, clock.now())
    flash(f"{staff.name}已恢复在职")
    return redirect(url_for("console.staff_detail", staff_id=staff_id))


@bp.post("/staff/<int:staff_id>/invitation")
@login_required
def staff_invitation(staff_id: int):
    """A one-time QR code the new staff member scans in WeChat to bind their account."""
    return invitations.show_new_invitation("console/invitation.html", staff_id=staff_id)


# --- customers (read-only here; deals and service records add to them) --------------------


@bp.get("/customers/<int:customer_id>")
@login_required
def customer_detail(customer_id: int):
    # The list is in crm.views.console_lists; opening a customer is logged in the audit log.
    customer, entries = customers.open_detail(db.session, current_user, customer_id, clock.now())
    may_assign = access.allowed(current_user, "advisor.assign")
    return render_template(
        "console/customer_detail.html",
        customer=customer,
        entries=entries,
        card=membership.card_view(db.session, customer),
        advisors=handover.advisors_of_store(db.session, customer.store_id) if may_assign else [],
        care_choices=care_opt_outs.for_customer(db.session, current_user, customer.id),
    )


@bp.post("/customers/<int:customer_id>/invitation")
@login_required
def customer_invitation(customer_id: int):
    """A one-time member-binding QR code for the customer to scan."""
    return invitations.show_new_invitation("console/invitation.html", customer_id=customer_id)


# --- helpers ---------------------------------------------------------------------------------


def _stores_in_scope() -> list[Store]:
    return db.session.scalars(access.scope(select(Store).order_by(Store.code), current_user)).all()


def _form(template: str, values: dict, errors: dict, **context):
    return form_page(template, errors, values=values, **context)


def _staff_form(values: dict, errors: dict, staff: Staff | None):
    stores = _stores_in_scope()
    teams = db.session.scalars(
        access.scope(select(Team).order_by(Team.store_id, Team.name), current_user)
    ).all()
    roles = {
        role: label
        for role, label in ROLE_LABELS.items()
        if role != Role.GROUP_ADMIN or current_user.role == Role.GROUP_ADMIN
    }
    colleagues = []
    if staff is not None and staff.store_id is not None:
        colleagues = db.session.scalars(
            access.scope(
                select(Staff).where(
                    Staff.store_id == staff.store_id,
                    Staff.id != staff.id,
                    Staff.active.is_(True),
                    Staff.role.in_(access.SALES_ROLES),
                ),
                current_user,
            ).order_by(Staff.name)
        ).all()
    return _form(
        "console/staff_form.html",
        values,
        errors,
        staff=staff,
        colleagues=colleagues,
        roles=roles,
        store_options=[(store.id, store.name) for store in stores],
        team_options=[(team.id, f"{team.store.name} · {team.name}") for team in teams],
    )
