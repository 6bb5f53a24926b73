"""Member pages for complaints (issue 9 "Complaints"): my complaints with their status, a new
complaint (text, optionally a vehicle, photos — through the JS-SDK inside WeChat, a file input
elsewhere), and one complaint with its timeline. Another customer's complaint is not found.

Each view parses input, calls one service in ``crm.services.complaints`` and renders.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from crm import clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.services import complaint_photos, complaints
from crm.views import member_h5
from crm.views.forms import form_page, form_values
from crm.views.staff_bookings import vehicle_arg, vehicle_options
from wechat.client import official_account_client

bp = Blueprint("member_complaints", __name__, url_prefix="/m/complaints")
FIELDS = ("text", "vehicle")
# Nine photos of 5 MB and the form around them (nginx allows the same on /m/complaints/).
UPLOAD_LIMIT = complaint_photos.MAX_PHOTOS * complaint_photos.MAX_BYTES + 1024 * 1024


@bp.url_value_preprocessor
def allow_photo_uploads(endpoint, _values):
    """A logged-in customer's new complaint may carry nine photos: more than the app-wide
    request limit. Set here because URL preprocessors run before every ``before_request``
    (the CSRF check reads the body there)."""
    posting = endpoint == "member_complaints.new" and request.method == "POST"
    if posting and session.get(member_h5.SESSION_KEY):
        request.max_content_length = UPLOAD_LIMIT


@bp.before_request
def require_customer():
    """Every page needs a customer logged into the member pages."""
    if member_h5._current_customer() is None:
        return redirect(url_for("member_h5.login"))
    return None


def photo_response(photo) -> Response:
    """A stored photo as its own type; never sniffed into anything else, kept private."""
    response = Response(photo.data, mimetype=photo.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.get("/")
def index():
    customer = member_h5._current_customer()
    listed = complaints.my_complaints(db.session, customer)
    return render_template("member/complaints.html", complaints=listed)


def _uploads() -> list[bytes]:
    """The files of the ``photos`` input; an input left empty sends one nameless empty part."""
    files = []
    for storage in request.files.getlist("photos"):
        data = storage.read()
        if storage.filename or data:
            files.append(data)
    return files


def _wechat_client(media_ids: list[str]):
    if not media_ids:
        return None
    return official_account_client(current_app.extensions["crm_settings"])


@bp.route("/new", methods=["GET", "POST"])
def new():
    customer = member_h5._current_customer()
    values, errors = form_values(FIELDS), {}
    if request.method == "POST":
        media_ids = [m.strip() for m in request.form.getlist("media_id") if m.strip()]
        try:
            complaint = complaints.file_from_member(
                db.session,
                customer,
                complaints.ComplaintInput(values["text"], vehicle_arg(values["vehicle"])),
                _uploads(),
                media_ids,
                _wechat_client(media_ids),
                clock.now(),
            )
        except ValidationError as error:
            errors[error.field or "text"] = error.message
        else:
            flash("投诉已提交，客服会尽快与您联系")
            return redirect(url_for("member_complaints.detail", complaint_id=complaint.id))
    return form_page(
        "member/complaint_form.html",
        errors,
        values=values,
        vehicle_options=vehicle_options(customer.vehicles),
        max_photos=complaint_photos.MAX_PHOTOS,
        # The JS-SDK picker only inside WeChat: other browsers get the file input and no script.
        in_wechat="MicroMessenger" in request.user_agent.string,
    )


@bp.get("/<int:complaint_id>")
def detail(complaint_id: int):
    customer = member_h5._current_customer()
    complaint = complaints.my_complaint(db.session, customer, complaint_id)
    return render_template(
        "member/complaint.html",
        complaint=complaint,
        steps=complaints.customer_timeline(complaint),
    )


@bp.get("/<int:complaint_id>/photos/<int:photo_id>")
def photo(complaint_id: int, photo_id: int):
    customer = member_h5._current_customer()
    return photo_response(complaints.my_photo(db.session, customer, complaint_id, photo_id))
