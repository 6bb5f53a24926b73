"""Blueprints, registered in one place, and the mapping of domain errors to pages."""

from __future__ import annotations

from contextlib import suppress

from flask import Flask, jsonify, make_response, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from crm import clock, money, phones
from crm.errors import DomainError
from crm.extensions import db, login_manager
from crm.models import Staff


def register(app: Flask) -> None:
    from crm import api as json_api
    from crm.views import (
        console,
        console_aftersales,
        console_audit,
        console_care_channels,
        console_catalogue,
        console_complaints,
        console_imports,
        console_lists,
        console_outbox,
        console_privacy,
        console_reports,
        console_segments,
        console_surveys,
        enquiry,
        main,
        member_bookings,
        member_complaints,
        member_contacts,
        member_h5,
        member_preferences,
        member_surveys,
        member_vehicles,
        sandbox,
        staff_bookings,
        staff_care_tasks,
        staff_complaints,
        staff_deals,
        staff_h5,
        staff_leads,
        staff_member_cards,
        staff_vehicles,
    )
    from wechat import callback as wechat_callback
    from wechat import jssdk

    app.register_blueprint(main.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(console_imports.bp)
    app.register_blueprint(console_lists.bp)
    app.register_blueprint(console_audit.bp)
    app.register_blueprint(console_catalogue.bp)
    app.register_blueprint(console_aftersales.bp)
    app.register_blueprint(console_segments.bp)
    app.register_blueprint(console_outbox.bp)
    app.register_blueprint(console_care_channels.bp)
    app.register_blueprint(console_complaints.bp)
    app.register_blueprint(console_surveys.bp)
    app.register_blueprint(console_reports.bp)
    app.register_blueprint(console_privacy.bp)
    app.register_blueprint(staff_h5.bp)
    app.register_blueprint(staff_leads.bp)
    app.register_blueprint(staff_vehicles.bp)
    app.register_blueprint(staff_deals.bp)
    app.register_blueprint(staff_bookings.bp)
    app.register_blueprint(staff_care_tasks.bp)
    app.register_blueprint(staff_complaints.bp)
    app.register_blueprint(enquiry.bp)
    app.register_blueprint(member_h5.bp)
    app.register_blueprint(member_bookings.bp)
    app.register_blueprint(member_complaints.bp)
    app.register_blueprint(member_surveys.bp)
    app.register_blueprint(member_vehicles.bp)
    app.register_blueprint(member_contacts.bp)
    app.register_blueprint(member_preferences.bp)
    app.register_blueprint(staff_member_cards.bp)
    app.register_blueprint(sandbox.bp)
    json_api.register(app)
    app.register_blueprint(wechat_callback.bp)
    app.register_blueprint(jssdk.bp)

    app.add_template_filter(phones.masked, "masked_phone")
    app.add_template_filter(money.yuan, "yuan")
    app.add_template_filter(lambda t: clock.local(t).strftime("%Y-%m-%d %H:%M"), "local_time")
    app.add_template_filter(lambda t: clock.local(t).strftime("%m-%d %H:%M"), "local_short")
    app.add_template_filter(lambda t: clock.local(t).strftime("%H:%M"), "local_clock")

    app.add_template_global(_page_url, "page_url")

    login_manager.login_view = "console.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_staff(session_id: str):
        staff_id, _, epoch = session_id.partition(":")
        if not (staff_id.isdigit() and epoch.isdigit()):
            return None
        staff = db.session.get(Staff, int(staff_id))
        # A left staff member is logged out on their very next request; a cookie from before
        # a log-out (an older epoch) is refused.
        if staff is None or not staff.active or staff.session_epoch != int(epoch):
            return None
        return staff

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return _error_page(error.http_status, error.message)

    @app.errorhandler(404)
    def not_found(_error):
        return _error_page(404, "页面或记录不存在")

    @app.errorhandler(405)
    def method_not_allowed(_error):
        return _error_page(405, "不支持该请求方式")

    @app.errorhandler(429)
    def too_many(_error):
        return _error_page(429, "尝试次数过多，请稍后再试")

    @app.errorhandler(CSRFError)
    def csrf_failed(_error):
        return _error_page(400, "页面已过期，请刷新后重试")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error):
        # The database is restarting or unreachable: say so at once (the pool's pre-ping and
        # connect timeout keep this from hanging) and let the client retry; the next request
        # after the database is back gets a fresh connection, no app restart needed.
        app.logger.warning("database unavailable: %s", type(error.orig or error).__name__)
        with suppress(SQLAlchemyError):
            db.session.rollback()
        message = "系统繁忙，请稍后再试"
        if request.path.startswith("/api/"):
            response = make_response(_error_page(503, message))
        else:
            # Rendered without the context processors: Flask-Login's would look the logged-in
            # user up in the very database that is down.
            page = app.jinja_env.get_template("unavailable.html").render(message=message)
            response = make_response(page, 503)
        response.headers["Retry-After"] = "5"
        return response


def _page_url(number: int) -> str:
    """This page's URL with ``page=number``, other query arguments kept."""
    args = {**request.args.to_dict(), "page": number}
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def _error_page(status: int, message: str):
    if request.path.startswith("/api/"):
        code = {
            404: "not_found",
            405: "method_not_allowed",
            429: "rate_limited",
            503: "unavailable",
        }.get(status, "error")
        return jsonify(error={"code": code, "message": message, "field": None}), status
    layout = "h5" if request.path.startswith(("/h5", "/m")) else "console"
    return render_template("error.html", status=status, message=message, layout=layout), status
