"""Showing a one-time WeChat binding QR code: staff invitations in the console, member-binding
codes on the console and on a salesperson's phone."""

from __future__ import annotations

import io

import segno
from flask import current_app, render_template
from flask_login import current_user
from markupsafe import Markup

from crm import clock
from crm.extensions import db
from crm.services import binding
from wechat.client import official_account_client


def qr_svg(content: str) -> Markup:
    """The QR code of ``content`` as inline SVG (drawn here: no image from WeChat's servers)."""
    buffer = io.BytesIO()
    segno.make(content, error="m").save(buffer, kind="svg", scale=6, xmldecl=False, svgns=True)
    return Markup(buffer.getvalue().decode())


def show_new_invitation(template: str, **target):
    """Create an invitation for ``staff_id=`` or ``customer_id=`` and render its QR code."""
    invitation = binding.create_invitation(
        db.session,
        current_user,
        now=clock.now(),
        qr_client=official_account_client(current_app.extensions["crm_settings"]),
        **target,
    )
    person = invitation.staff or invitation.customer
    return render_template(
        template, invitation=invitation, person=person, qr=qr_svg(invitation.qr_url)
    )
